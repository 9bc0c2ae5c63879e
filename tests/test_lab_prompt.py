"""Which `mininet>` lines go to a router's IOS CLI and which stay Linux commands (no root)."""

from __future__ import annotations

import pytest

from dmvpnlab.lab.prompt import ios_lines


@pytest.mark.parametrize("line", ["show dmvpn", "sh dmvpn", "sh ip nhrp", "show ?", "debug nhrp", "undebug all",
                                  "clear ip nhrp", "conf t", "configure terminal", "write memory", "wr",
                                  "SHOW DMVPN"])
def test_ios_exec_words_and_their_abbreviations_go_to_the_router_cli(line):
    assert ios_lines(line) == [line]


@pytest.mark.parametrize("line", ["ping -c1 10.0.0.1", "ip route", "ping h2", "traceroute 10.0.0.3",
                                  "sh -c 'ip route'", "sh script.sh", "sh", "clear", "s", "cat /etc/hosts",
                                  "tcpdump -ni Tunnel0"])
def test_linux_commands_stay_linux_commands(line):
    assert ios_lines(line) is None


def test_semicolons_make_one_session_of_several_lines():
    assert ios_lines("conf t ; interface Tunnel0 ; ip nhrp redirect ; end") == [
        "conf t", "interface Tunnel0", "ip nhrp redirect", "end"]


def test_a_linux_command_with_semicolons_is_left_to_the_shell():
    assert ios_lines("ip route ; show dmvpn") is None
