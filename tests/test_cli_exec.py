"""The exec interpreter behaves like IOS: abbreviations, carets, help, pipes, modes, robustness."""

from __future__ import annotations

import random
import string

import pytest

from test_cli_fakes import lab
from dmvpnlab.cli.exec import ExecSession, apply_pipe


@pytest.fixture
def spoke():
    return lab(3)["spoke1"]


@pytest.fixture
def session(spoke):
    return ExecSession(spoke)


def test_prompt_is_hostname_and_hash(session) -> None:
    assert session.prompt == "spoke1#"


@pytest.mark.parametrize("short,full", [("sh dm", "show dmvpn"), ("sh ip nh", "show ip nhrp"),
                                        ("sh ip nh tr", "show ip nhrp traffic"), ("sh ip ro", "show ip route"),
                                        ("sh int tu0", "show interfaces Tunnel0"), ("sh int tunnel 0", "show interfaces Tunnel0"),
                                        ("sh ip int br", "show ip interface brief"), ("SH DMVPN DET", "show dmvpn detail")])
def test_unique_prefixes_run_the_full_command(session, short: str, full: str) -> None:
    assert session.handle(short).output == session.handle(full).output


def test_invalid_word_gets_a_caret_under_the_first_bad_character(session) -> None:
    result = session.handle("show ip interfaces brief")
    assert result.error
    caret, message = result.output.splitlines()[:2]
    echo = "spoke1#show ip interfaces brief"
    assert message == "% Invalid input detected at '^' marker."
    assert echo[caret.index("^")] == "s" and caret.index("^") == len("spoke1#show ip interface")
    caret = session.handle("  sh dmvpx").output.splitlines()[0]
    assert caret.index("^") == len("spoke1#  sh dmvp")


def test_invalid_parameter_caret_is_under_the_parameter(session) -> None:
    caret = session.handle("clear ip nhrp 10.0.0.300").output.splitlines()[0]
    assert caret.index("^") == len("spoke1#clear ip nhrp ")


def test_incomplete_and_ambiguous_commands(session) -> None:
    assert session.handle("show").output == "% Incomplete command.\n\n"
    assert session.handle("sh ip").error
    result = session.handle("sh i")
    assert result.error and result.output == '% Ambiguous command:  "sh i"\n'


def test_question_mark_lists_next_words_with_help_and_cr(session) -> None:
    result = session.handle("show dmvpn ?")
    assert result.output.splitlines()[:3] == ["  detail     Detailed information of DMVPN sessions",
                                              "  interface  Interface", "  <cr>"]
    assert result.retype == "show dmvpn "
    assert session.handle("sh d?").output.split() == ["debugging", "dhcp", "dmvpn"]  # `show dhcp lease` (l2)
    top = session.handle("?").output
    assert "  show" in top and "  configure" in top


def test_pipes_include_exclude_begin_section_count(session) -> None:
    text = session.handle("show ip nhrp | include via").output
    assert text.splitlines() == ["10.0.0.1/32 via 10.0.0.1", "10.0.0.3/32 via 10.0.0.3", "192.168.2.0/24 via 10.0.0.3"]
    assert "via" not in session.handle("show ip nhrp | exclude via").output
    assert session.handle("show ip route | begin Gateway").output.startswith("Gateway of last resort")
    section = session.handle("show running-config | section interface Tunnel0").output
    assert section.splitlines()[0] == "interface Tunnel0" and " ip nhrp shortcut" in section
    assert "interface GigabitEthernet" not in section
    assert session.handle("sh ip nhrp | count via").output == "Number of lines which match regexp = 3\n"
    assert session.handle("sh ip nhrp | i via|NBMA").output.count("\n") == 6


def test_apply_pipe_section_keeps_children_of_matching_parents() -> None:
    text = "interface A\n x\n y\ninterface B\n z\n"
    assert apply_pipe(text, "section", "A") == "interface A\n x\n y\n"


def test_bad_pipe_option_is_an_ios_error(session) -> None:
    result = session.handle("show dmvpn | grep x")
    assert result.error and result.output.splitlines()[0].index("^") == len("spoke1#show dmvpn | ")


def test_terminal_settings_as_netmiko_sends_them(session) -> None:
    assert session.handle("terminal length 0").output == ""
    assert session.handle("terminal width 511").output == ""
    assert session.length == 0 and session.width == 511
    assert session.handle("terminal length 600").error


def test_enable_exit_and_disable(session) -> None:
    assert not session.handle("enable").error
    session.handle("disable")
    assert session.prompt == "spoke1>"
    session.handle("enable")
    assert session.handle("exit").closed


def test_configure_terminal_makes_phase2_spoke_phase3_live() -> None:
    agents = lab(2)
    spoke = agents["spoke1"]
    session = ExecSession(spoke)
    assert not spoke.tunnel.engine.config.shortcut
    assert session.handle("conf t").output == "Enter configuration commands, one per line.  End with CNTL/Z.\n"
    assert session.prompt == "spoke1(config)#"
    assert session.handle("interface Tunnel0").prompt == "spoke1(config-if)#"
    session.handle("ip nhrp shortcut")
    assert spoke.tunnel.engine.config.shortcut and spoke.applied == 1
    assert spoke.config.tunnels[0].nhrp.shortcut
    bad = session.handle("ip nhrp holdtime abc")
    assert bad.error and "% Invalid input detected at '^' marker." in bad.output
    assert bad.output.splitlines()[0].index("^") == len("spoke1(config-if)#ip nhrp holdtime ")
    assert session.handle("do show run | include shortcut").output == " ip nhrp shortcut\n"
    assert session.handle("end").prompt == "spoke1#"
    assert " ip nhrp shortcut" in session.handle("show running-config").output


def test_ctrl_z_and_exit_leave_configuration_mode(session) -> None:
    session.handle("configure terminal")
    session.handle("interface Tunnel0")
    assert session.handle("\x1a").prompt == "spoke1#"
    session.handle("conf t")
    assert session.handle("exit").prompt == "spoke1#"


def test_hostname_change_changes_the_prompt(session) -> None:
    session.handle("conf t")
    assert session.handle("hostname branch7").prompt == "branch7(config)#"


def test_write_memory_saves_the_running_config_to_the_startup_file(spoke, tmp_path) -> None:
    spoke.config_path = tmp_path / "startup-config"
    session = ExecSession(spoke)
    assert session.handle("write memory").output == "Building configuration...\n[OK]\n"
    saved = spoke.config_path.read_text()
    assert "hostname spoke1" in saved and " ip nhrp shortcut" in saved
    from dmvpnlab.config.parser import load_config
    assert load_config(saved) == spoke.config


def test_debug_nhrp_streams_lines_to_the_asking_session_until_undebug(spoke) -> None:
    lines: list[str] = []
    session = ExecSession(spoke, lines.append)
    assert session.handle("debug nhrp packet").output == "NHRP activity debugging is on\n"
    assert len(spoke.debug_sinks) == 1
    spoke.debug_sinks[0].write("NHRP: Send Registration Request via Tunnel0 vrf 0, packet size: 92")
    assert lines and lines[0].endswith("NHRP: Send Registration Request via Tunnel0 vrf 0, packet size: 92")
    assert lines[0].startswith("*")
    assert "NHRP activity debugging is on" in session.handle("show debugging").output
    assert session.handle("undebug all").output == "All possible debugging has been turned off\n"
    assert spoke.debug_sinks == []
    session.handle("debug dmvpn all")
    session.close()
    assert spoke.debug_sinks == []


def test_clear_ip_nhrp_drops_learned_entries_and_keeps_static(spoke) -> None:
    session = ExecSession(spoke)
    session.handle("clear ip nhrp")
    text = session.handle("show ip nhrp").output
    assert "10.0.0.1/32 via 10.0.0.1" in text and "10.0.0.3" not in text


def test_json_twin_is_refused_for_commands_without_one(session) -> None:
    result = session.handle("show version | json")
    assert result.error


def test_one_hundred_random_garbage_lines_never_break_the_session(spoke) -> None:
    rng = random.Random(4)
    session = ExecSession(spoke)
    words = ["show", "sh", "ip", "nhrp", "dmvpn", "|", "?", "conf", "t", "interface", "Tunnel0", "do", "no",
             "debug", "clear", "terminal", "length", "\x1a", "end", "exit", "route", "include", "json"]
    for _ in range(100):
        kind = rng.random()
        if kind < 0.4:
            line = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 60)))
        elif kind < 0.8:
            line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
        else:
            line = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30))).decode("latin-1")
        if line.strip().lower() in ("exit", "logout", "quit"):
            continue
        result = session.handle(line)
        assert isinstance(result.output, str) and result.prompt.startswith("spoke1")
        assert "Internal error" not in result.output, line
        if result.closed:
            session = ExecSession(spoke)
    session.handle("\x1a")
    final = session.handle("show dmvpn")
    assert not final.error and "Type:Spoke" in final.output
