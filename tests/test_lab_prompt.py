"""Which `mininet>` lines go to a router's IOS CLI and which stay Linux commands (no root)."""

from __future__ import annotations

import logging

import pytest

from dmvpnlab.lab.prompt import ios_lines, prompt_hint


@pytest.mark.parametrize("line", ["show dmvpn", "sh dmvpn", "sh ip nhrp", "show ?", "debug nhrp", "undebug all",
                                  "clear ip nhrp", "conf t", "configure terminal", "write memory", "wr",
                                  "SHOW DMVPN"])
def test_ios_exec_words_and_their_abbreviations_go_to_the_router_cli(line):
    assert ios_lines(line) == [line]


@pytest.mark.parametrize("line", ["ping -c1 10.0.0.1", "ip route", "ping h2", "traceroute -n 10.0.0.3",
                                  "sh -c 'ip route'", "sh script.sh", "sh", "clear", "s", "cat /etc/hosts",
                                  "tcpdump -ni Tunnel0"])
def test_linux_commands_stay_linux_commands(line):
    assert ios_lines(line) is None


@pytest.mark.parametrize("line", ["ping 10.0.2.1", "ping 10.0.2.1 source Loopback0 repeat 20",
                                  "traceroute 10.0.0.3", "traceroute 10.0.0.3 numeric", "PING 10.0.2.1"])
def test_ping_and_traceroute_to_an_address_without_linux_options_are_the_routers(line):
    assert ios_lines(line) == [line]


def test_the_prompt_hint_names_this_labs_own_nodes():
    from types import SimpleNamespace as N

    cml = N(routers=[N(name="Hub"), N(name="Spoke1")], hubs=[N(name="Hub")], spokes=[N(name="Spoke1")], hosts=[])
    hint = prompt_hint(cml)
    assert "`Spoke1 show dmvpn`" in hint and "`Hub sh ip nhrp`" in hint and "h1" not in hint
    native = N(routers=[N(name="hub"), N(name="spoke1")], hubs=[N(name="hub")], spokes=[N(name="spoke1")],
               hosts=[N(name="h1")])
    assert "`h1 ip route`" in prompt_hint(native)


def test_semicolons_make_one_session_of_several_lines():
    assert ios_lines("conf t ; interface Tunnel0 ; ip nhrp redirect ; end") == [
        "conf t", "interface Tunnel0", "ip nhrp redirect", "end"]


def test_a_linux_command_with_semicolons_is_left_to_the_shell():
    assert ios_lines("ip route ; show dmvpn") is None


def test_host_output_reaches_the_stream_the_prompt_runs_on_even_if_mininet_was_imported_under_a_proxy() -> None:
    """Mininet binds its output handler to the sys.stderr of its import; the lab imports it
    while the progress bar's proxy stands in for sys.stderr (the bug: `h1 ping h2` printed
    nothing at a terminal). The prompt re-attaches the handler to the real stream."""
    import io

    from mininet.log import lg, output

    from dmvpnlab.lab.prompt import attach_mininet_output

    lost, shown = io.StringIO(), io.StringIO()
    handlers = [h for h in lg.handlers if isinstance(h, logging.StreamHandler)]
    before = [h.stream for h in handlers]
    level = lg.level
    try:
        for handler in handlers:
            handler.setStream(lost)
        attach_mininet_output(shown)
        lg.setLevel(logging.INFO)
        output("64 bytes from 192.168.2.10\n")
    finally:
        for handler, stream in zip(handlers, before):
            handler.setStream(stream)
        lg.setLevel(level)
    assert handlers, "Mininet's logger has a stream handler"
    assert "64 bytes from 192.168.2.10" in shown.getvalue() and lost.getvalue() == ""
