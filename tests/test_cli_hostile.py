"""Hostile input to the CLI interpreter: regex pipes that backtrack, lone surrogates and
control characters in lines, lines that would leave the running config unshowable.

Each test names the input that once broke the router; the same inputs are in
fuzz/corpus/cli-exec/ (replayed by every fuzz run). The transports' side (control socket,
SSH, `dmvpnlab cli`) is in test_cli_hostile_transports.py.
"""

from __future__ import annotations

import copy
import time

import pytest

from test_cli_fakes import lab
from dmvpnlab.cli import exec as cli_exec
from dmvpnlab.cli import show_running
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.pipes import REGEX_BUDGET, BadRegex, TooComplex, apply_pipe, ios_pattern
from dmvpnlab.cli.printable import printable
from dmvpnlab.config.parser import load_config, parse_config

QUICK = REGEX_BUDGET + 0.4  # seconds: the budget plus rendering, on a slow CI machine


@pytest.fixture
def spoke(tmp_path):
    agent = lab(3)["spoke1"]
    agent.config_path = tmp_path / "startup-config"
    return agent


def _describe(agent, text: str) -> ExecSession:
    session = ExecSession(agent)
    for line in ("configure terminal", "interface Tunnel0", f"description {text}", "end"):
        result = session.handle(line)
        assert not result.error, (line, result.output)
    return session


def _timed(session: ExecSession, line: str):
    started = time.monotonic()
    result = session.handle(line)
    return result, time.monotonic() - started


def _router_still_works(agent) -> None:
    """A new session can show and save the config, and the saved file loads back."""
    fresh = ExecSession(agent)
    for command in ("show running-config", "write terminal"):
        result = fresh.handle(command)
        assert not result.error and "Current configuration :" in result.output, result.output
        result.output.encode("utf-8")
    assert fresh.handle("write memory").output == "Building configuration...\n[OK]\n"
    assert load_config(agent.config_path.read_text(encoding="utf-8")) == agent.config


# --- regex pipes ---------------------------------------------------------------------


def test_issue_24_a_description_with_nested_plus_answers_quickly(spoke) -> None:
    session = _describe(spoke, "a" * 24)
    result, took = _timed(session, "show running-config | include (a+)+$")
    assert took < QUICK
    assert result.output == " description " + "a" * 24 + "\n" or "too complex" in result.output


@pytest.mark.parametrize("description,regex", [("a" * 24 + "!", "(a+)+$"), ("a" * 40 + "!", "(a|aa)+$"),
                                                ("a" * 40 + "!", "(a|a)+$")])
def test_catastrophic_backtracking_gives_up_within_the_budget(spoke, description: str, regex: str) -> None:
    session = _describe(spoke, description)
    for pipe in ("include", "exclude", "begin", "section", "count"):
        result, took = _timed(session, f"show running-config | {pipe} {regex}")
        assert took < QUICK, (pipe, took)
        if result.error:
            assert result.output == f"% Regular expression too complex: no answer within {REGEX_BUDGET:g} s of matching\n"
    assert session.handle("show running-config | include (a|aa)+$").prompt == "spoke1#"
    assert "Type:Spoke" in session.handle("show dmvpn").output  # the session goes on
    _router_still_works(spoke)


def test_a_too_complex_filter_answers_with_the_ios_style_error(spoke) -> None:
    session = _describe(spoke, "a" * 40 + "!")
    result = session.handle("show running-config | include (a|aa)+$")
    assert result.error and result.output.startswith("% Regular expression too complex")


@pytest.mark.parametrize("regex", ["(", "a)", "[abc", "[z-a]", "\\", "(?i)x", "*a", "a**", "\\9"])
def test_an_invalid_regex_is_an_ios_error_not_a_traceback(session_for_spoke, regex: str) -> None:
    result = session_for_spoke.handle(f"show dmvpn | include {regex}")
    assert result.error and result.output.startswith("% Invalid regular expression"), result.output
    assert "Internal" not in result.output


@pytest.fixture
def session_for_spoke(spoke):
    return ExecSession(spoke)


def test_a_bad_filter_is_refused_before_the_command_runs(spoke) -> None:
    session = ExecSession(spoke)
    before = len(spoke.tunnel.engine.cache)
    assert session.handle("clear ip nhrp | include (").error
    assert len(spoke.tunnel.engine.cache) == before


def test_counted_repeats_are_plain_braces_as_in_ios(spoke) -> None:
    """IOS has no `{m,n}`; the `regex` module compiles them in time and memory that grow
    with the count (`.{4294967294}` ran out of memory)."""
    session = _describe(spoke, "a{2} x")
    for regex in (".{4294967294}", "(a{1000}){1000}", "a{2}"):
        result, took = _timed(session, f"show running-config | include {regex}")
        assert took < QUICK and not result.error, (regex, result.output)
    assert session.handle("show running-config | include a{2}").output == " description a{2} x\n"


def test_ios_underscore_and_the_usual_patterns(spoke) -> None:
    session = ExecSession(spoke)
    assert session.handle("show running-config | include _Tunnel0$").output == "interface Tunnel0\n"
    assert session.handle("sh ip nhrp | i ^10\\.0\\.0\\.[13]/").output.count("\n") == 2
    assert session.handle("sh ip nhrp | i [0-9]+\\.[0-9]+\\.2\\.0/24").output == "192.168.2.0/24 via 10.0.0.3\n"
    assert session.handle("sh ip nhrp | count \\d+/32").output == "Number of lines which match regexp = 2\n"
    assert session.handle("show run | include (shortcut)|(redirect) \\1").output == " ip nhrp shortcut\n"


def test_long_or_deeply_nested_patterns_are_refused_cheaply() -> None:
    with pytest.raises(TooComplex):
        ios_pattern("x" * 256)
    with pytest.raises(TooComplex):
        ios_pattern("(" * 17 + "x" + ")" * 17)
    with pytest.raises(BadRegex):
        apply_pipe("a\n", "include", "(")
    assert apply_pipe("a\nb\n", "include", "(((((a)))))") == "a\n"


# --- untrusted characters in lines --------------------------------------------------


def test_lone_surrogate_description_then_show_and_write_work_in_a_new_session(spoke) -> None:
    _describe(spoke, "x\ud800y")
    assert spoke.config.tunnels[0].description == "x\\ud800y"
    _router_still_works(spoke)
    assert " description x\\ud800y\n" in ExecSession(spoke).handle("show running-config").output


def test_surrogate_escaped_bytes_show_as_the_byte(spoke) -> None:
    """What SSH and argv hand over for bytes that are not UTF-8."""
    _describe(spoke, "caf\udce9 \udcff")
    assert spoke.config.tunnels[0].description == "caf\\xe9 \\xff"
    _router_still_works(spoke)


def test_a_newline_inside_one_line_cannot_add_a_config_line(spoke) -> None:
    key = spoke.config.tunnels[0].tunnel_key
    _describe(spoke, "x\n tunnel key 99\r\n ip nhrp holdtime 5\u2028shutdown")
    itf = spoke.config.tunnels[0]
    assert itf.tunnel_key == key and not itf.shutdown and itf.nhrp.holdtime == 300
    assert itf.description == "x\\x0a tunnel key 99\\x0d\\x0a ip nhrp holdtime 5\\u2028shutdown"
    _router_still_works(spoke)
    assert "tunnel key 99" not in spoke.config_path.read_text().replace(itf.description, "")


def test_escape_sequences_never_reach_a_terminal_raw(spoke) -> None:
    _describe(spoke, "\x1b[2J\x1b]0;owned\x07\u202egnp.exe")
    output = ExecSession(spoke).handle("show running-config | include description").output
    assert output == " description \\x1b[2J\\x1b]0;owned\\x07\\u202egnp.exe\n"
    assert output.isascii() and output.rstrip("\n").isprintable()


def test_ctrl_z_and_tab_keep_their_meaning(spoke) -> None:
    session = ExecSession(spoke)
    session.handle("conf t")
    assert session.handle("interface\tTunnel0").prompt == "spoke1(config-if)#"
    assert session.handle("\x1a").prompt == "spoke1#"


def test_every_answer_is_printable_whatever_the_line() -> None:
    session = ExecSession(lab(3)["spoke1"])
    for line in ("sh\ud800", "show \x00dmvpn", "\x1b[A", "sh ip nh\udcff?", "show d\u0085?", "\ud83d"):
        result = session.handle(line)
        for text in (result.output, result.prompt, result.retype or ""):
            assert printable(text, keep="\n\t") == text, (line, text)
            text.encode("utf-8")


# --- a line leaves nothing behind ---------------------------------------------------


def test_a_line_that_would_leave_an_unrenderable_config_is_refused(spoke, monkeypatch) -> None:
    real = cli_exec.render_running_config

    def fragile(config):
        if any(itf.description == "boom" for itf in config.interfaces):
            raise ValueError("renderer bug")
        return real(config)

    monkeypatch.setattr(cli_exec, "render_running_config", fragile)
    before = spoke.config
    session = ExecSession(spoke)
    session.handle("conf t")
    session.handle("interface Tunnel0")
    result = session.handle("description boom")
    assert result.error and result.output.startswith("% Internal error: the running-config would not render")
    assert spoke.config is before and session.prompt == "spoke1(config-if)#"
    assert not session.handle("description fine").error
    _router_still_works(spoke)


def test_a_parser_exception_rolls_the_config_session_back(spoke, monkeypatch) -> None:
    session = ExecSession(spoke)
    session.handle("conf t")
    session.handle("interface Tunnel0")
    config_before = copy.deepcopy(session.config.config)
    real_apply = type(session.config).apply

    def half_done(self, line, line_no=None):
        self.config.tunnels[0].description = "half"
        raise RuntimeError("parser bug")

    monkeypatch.setattr(type(session.config), "apply", half_done)
    assert "Internal error" in session.handle("description x").output
    monkeypatch.setattr(type(session.config), "apply", real_apply)
    assert session.config.config == config_before and session.config.config.tunnels[0].description is None
    session.handle("ip nhrp holdtime 600")
    assert spoke.config.tunnels[0].description is None and spoke.config.tunnels[0].nhrp.holdtime == 600


def test_a_refused_config_line_changes_nothing(spoke) -> None:
    session = ExecSession(spoke)
    session.handle("conf t")
    session.handle("interface Tunnel0")
    before = spoke.config
    assert session.handle("ip nhrp holdtime abc").error
    assert spoke.config is before and session.prompt == "spoke1(config-if)#"


def test_an_open_banner_never_goes_live(spoke) -> None:
    """Fuzz finding: `banner motd ^C` then Ctrl-Z committed a banner without its closing
    delimiter, and `write memory` would have saved a startup file the agent cannot load."""
    session = ExecSession(spoke)
    for line in ("conf t", "banner motd ^C", "hello", "end"):
        session.handle(line)
    assert session.handle("\x1a").prompt == "spoke1#"
    assert "banner" not in ExecSession(spoke).handle("show running-config").output
    _router_still_works(spoke)
    session.handle("conf t")
    for line in ("banner motd ^C", "hello", "^C"):
        session.handle(line)
    session.handle("end")
    assert "banner motd ^C" in ExecSession(spoke).handle("show running-config").output
    _router_still_works(spoke)


def test_write_memory_keeps_the_old_file_when_the_text_would_not_load_back(spoke, monkeypatch) -> None:
    spoke.config_path.write_text("hostname spoke1\n")
    monkeypatch.setattr(show_running, "render_config_body", lambda config: ["interface Tunnel0", " ip nhrp holdtime abc"])
    result = ExecSession(spoke).handle("write memory")
    assert result.error and result.output.startswith("% Not saved: line 2 of the running-config would not load back")
    assert spoke.config_path.read_text() == "hostname spoke1\n"


def test_show_startup_config_shows_undecodable_bytes_as_escapes(spoke) -> None:
    spoke.config_path.write_bytes(b"hostname spoke1\ninterface Tunnel0\n description caf\xe9 \xff\x1b[2J\n")
    result = ExecSession(spoke).handle("show startup-config")
    assert not result.error
    assert result.output.startswith("Using 58 out of 262136 bytes\n")
    assert " description caf\\xe9 \\xff\\x1b[2J\n" in result.output


def test_the_saved_file_reparses_after_hostile_descriptions(spoke) -> None:
    _describe(spoke, "\ud800\udcff\x00\t\u2029 !x")
    _router_still_works(spoke)
    assert parse_config(spoke.config_path.read_text()).ok
