"""Hostile config text: numbers IOS would refuse, characters that do not print, huge inputs.

Each test names an input of the "hostile input" issue (or one the config fuzz targets
found); the same inputs are in fuzz/corpus/config-parser/, replayed by every fuzz run.
The parser answers them the documented way (an IOS error naming the line, or a kept
line), renders what it kept, and reads its own rendering back to the same model.
"""

from __future__ import annotations

import re
import time
from ipaddress import IPv4Address

import pytest

from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.config.parser import ConfigSession, ParseResult, parse_config, strip_comment
from dmvpnlab.config.render import render_config_body, render_running_config
from dmvpnlab.config.text import decode_config, printable
from dmvpnlab.config.tokens import parse_integer, parse_ipv4
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname

INVALID = "% Invalid input detected at '^' marker."


def _round_trip(result: ParseResult) -> str:
    """The rendering, after checking it reads back with no error to the same model and text."""
    text = render_running_config(result.config)
    text.encode("utf-8")  # strict
    again = parse_config(text, source="rendered")
    assert again.errors == []
    assert again.config == result.config
    assert render_running_config(again.config) == text
    return text


def _refused_at(result: ParseResult, line_no: int, token: str) -> None:
    """One IOS error, on line `line_no`, with the caret under `token`."""
    [error] = result.errors
    assert (error.line_no, error.message) == (line_no, INVALID)
    assert error.column == error.text.index(token)


# -- numbers are ASCII and bounded ------------------------------------------------------


@pytest.mark.parametrize(("text", "line_no", "token"), [
    ("interface Tunnel0\n ip mtu \u00b2\n", 2, "\u00b2"),
    ("ip route \u00b2.0.0.0 255.0.0.0 192.0.2.1\n", 1, "\u00b2"),
    ("crypto isakmp policy 10\n group \u00b2\n", 2, "\u00b2"),
    ("ip route 0.0.0.0 0.0.0.0 100.64.4.2 \u0663\n", 1, "\u0663"),
    ("crypto isakmp keepalive 10 \u0663\n", 1, "\u0663"),
    ("interface Tunnel0\n ip nhrp nhs 10.0.0.1 priority \U0001d7d8\n", 2, "\U0001d7d8"),
    ("interface Tunnel0\n tunnel key " + "9" * 5000 + "\n", 2, "9" * 5000),
    ("interface Tunnel0\n ip nhrp network-id 4294967296\n", 2, "4294967296"),
])
def test_digits_int_refuses_and_numbers_past_4300_digits_are_invalid_input_naming_the_line(
        text: str, line_no: int, token: str) -> None:
    result = parse_config(text)
    _refused_at(result, line_no, token)
    _round_trip(result)


def test_the_number_reader_takes_ascii_digits_and_leading_zeros_and_never_converts_a_huge_token() -> None:
    assert parse_integer("0" * 5000 + "1400", 68, 17912) == 1400
    assert parse_integer("9" * 100_000, 0, 4294967295) is None
    assert [parse_integer(t, 0, 9) for t in ("\u00b2", "\u0663", "\U0001d7d8", "+1", "-1", " 1", "")] == [None] * 7
    assert parse_ipv4("010.000.001.255") == IPv4Address("10.0.1.255")
    assert [parse_ipv4(t) for t in ("\u00b2.0.0.0", "1.2.3.\u0663", "1.2.3.0256", "1.2.3")] == [None] * 4


def test_a_huge_or_non_ascii_interface_number_is_no_interface_of_ours() -> None:
    for name in ("Tunnel" + "1" * 5000, "Tunnel\u0661", "Gi0/\u0663", "Loopbac\u212a0"):
        with pytest.raises(InterfaceNameError):
            canonical_ios_ifname(name)
    assert canonical_ios_ifname("Tunnel" + "0" * 5000 + "7") == "Tunnel7"
    result = parse_config("interface Tunnel" + "1" * 5000 + "\n ip mtu 1400\ninterface Tunnel\u0661\n")
    assert result.errors == [] and result.config.interfaces == []
    assert len(result.ignored) == 3  # kept verbatim, like Vlan1 or Serial0/0/0
    _round_trip(result)


# -- what is stored prints, and reads back ------------------------------------------------


def test_a_lone_surrogate_in_a_description_from_the_control_socket_renders_as_a_visible_escape() -> None:
    session = ConfigSession(source="console", strict_families=True)
    assert session.apply("interface Tunnel0") == []
    assert session.apply(" description bad \udcff here") == []
    assert session.config.interfaces[0].description == "bad \\udcff here"
    assert " description bad \\udcff here" in render_running_config(session.config)
    assert render_config_body(session.config)  # `write memory` renders the same way
    _round_trip(ParseResult(session.config))


def test_characters_that_end_a_line_are_escaped_so_a_kept_line_never_reads_back_as_two() -> None:
    session = ConfigSession()
    session.apply("interface Tunnel0")
    session.apply(" description a\u2028b\x85c\x0bd\re\nf")
    assert session.config.interfaces[0].description == "a\\u2028b\\x85c\\x0bd\\x0de\\x0af"
    _round_trip(ParseResult(session.config))


def test_control_characters_a_config_really_holds_are_kept_as_typed() -> None:
    assert printable("banner motd \x03") == "banner motd \x03"  # a real Ctrl-C delimiter
    assert printable("a\tb caf\u00e9") == "a\tb caf\u00e9"


def test_a_model_built_in_code_still_renders_one_line_per_line() -> None:
    cfg = RouterConfig(hostname="R1", interfaces=[Interface("Tunnel0", description="one\nhostname EVIL\udcff")])
    body = render_config_body(cfg)
    assert " description one\\x0ahostname EVIL\\udcff" in body
    assert "hostname EVIL" not in [line.strip() for line in body]
    assert parse_config("\n".join(body)).config.hostname == "R1"


def test_a_config_file_that_is_not_utf8_reads_with_escapes_and_a_warning_naming_the_line() -> None:
    decoded = decode_config(b"\xef\xbb\xbfhostname R1\ninterface GigabitEthernet0/0\n description caf\xe9\n",
                            source="startup-config")
    assert decoded.text == "hostname R1\ninterface GigabitEthernet0/0\n description caf\\xe9\n"
    assert decoded.warning == "startup-config line 3: bytes that are not UTF-8 are kept as \\xNN escapes"
    assert decode_config("caf\u00e9\n".encode()) == decode_config("caf\u00e9\n".encode("utf-8-sig"))
    assert decode_config("caf\u00e9\n".encode()).warning is None
    # An encoded surrogate is not UTF-8 either: it never reaches the parser as one.
    assert decode_config("\udcff".encode("utf-8", "surrogatepass")).text == "\\xed\\xb3\\xbf"
    result = parse_config(decoded.text)
    assert result.config.interfaces[0].description == "caf\\xe9"
    _round_trip(result)


def test_a_source_name_with_undecodable_bytes_is_escaped_in_errors() -> None:
    result = parse_config("interface Tunnel0\n tunnel key x\n", source="/tmp/config-\udcff")
    [error] = result.errors
    assert error.source == "/tmp/config-\\udcff"
    assert str(error).startswith("/tmp/config-\\udcff line 2: ")


# -- a refused line leaves the model as it was ----------------------------------------------


@pytest.mark.parametrize(("good", "bad"), [
    (" ip mtu 1300", " ip mtu 1400 extra"),
    (" tunnel key 5", " tunnel key 6 7"),
    (" tunnel source GigabitEthernet0/0", " tunnel source GigabitEthernet0/1 extra"),
])
def test_a_refused_interface_line_changes_nothing(good: str, bad: str) -> None:
    session = ConfigSession(strict_families=True)
    assert session.apply("interface Tunnel0") == [] and session.apply(good) == []
    before = repr(session.config)
    assert session.apply(bad) != []
    assert repr(session.config) == before


def test_a_refused_policy_or_username_line_changes_nothing() -> None:
    session = ConfigSession()
    for line in ("username bob privilege 15 secret x", "crypto isakmp policy 10", " hash sha256", " lifetime 3600"):
        assert session.apply(line) == []
    before = repr(session.config)
    for line in (" hash md5 extra", " authentication pre-share extra", " lifetime 120 extra", "username bob"):
        assert session.apply(line) != [], line
    assert repr(session.config) == before


def test_the_no_form_of_a_setting_may_repeat_its_value_as_on_ios() -> None:
    result = parse_config("interface Tunnel0\n ip mtu 1400\n tunnel key 5\n no ip mtu 1400\n no tunnel key 5\n")
    assert result.errors == []
    tun = result.config.interfaces[0]
    assert (tun.ip_mtu, tun.tunnel_key) == (None, None)
    assert parse_config("interface Tunnel0\n no tunnel key abc\n").errors[0].message == INVALID


# -- render -> parse -> render: what the config fuzz targets found ----------------------------


@pytest.mark.parametrize("text", [
    "interface Tunnel0\nend\n tunnel key 12345\n",
    "interface GigabitEthernet0/0\nhostname spoke1\n ip nhrp authentication DMVPN\n",
    "interface GigabitEthernet0/0\ninterface     \n ip nhrp x\n",
    "interface GigabitEthernet0/1\nip route 0.0.0.0 0.0.0.0 100.64.4.2 \u0663\n ip nhrp authentication DMVPN\n",
])
def test_a_stray_indented_line_is_kept_as_a_global_line_and_reads_back_as_one(text: str) -> None:
    result = parse_config(text)
    assert result.config.interfaces[0].extra_lines == []
    [block] = result.config.extra_tail
    rendered = _round_trip(result)
    assert f"!\n{block.lines[0]}\n!\nend" in rendered  # after the section's `!`, unindented


def test_a_kept_line_after_sections_with_no_body_reads_back_global() -> None:
    result = parse_config("crypto isakmp policy 10\nrouter rip\nhostname R\n x\nfoo\n")
    assert [b.lines for b in result.config.extra_tail] == [["x"], ["foo"]]
    assert result.config.router_sections[0].lines == []
    rendered = _round_trip(result)
    assert not any(line.startswith(" ") for line in rendered.splitlines())  # nothing says "dump" but `version`


def test_kept_blocks_after_the_last_removed_section_move_before_where_sections_would_be() -> None:
    session = ConfigSession(indented_input=True)
    for line in ("username a password b", "interface Loopback0", " x", "foo", "no interface Loopback0"):
        assert session.apply(line) == []
    assert session.config.extra_tail == []
    assert [b.lines for b in session.config.extra_head] == [["foo"]]
    _round_trip(ParseResult(session.config))


def test_in_a_dump_a_bang_closes_the_section_for_unindented_lines_only() -> None:
    cfg = parse_config("interface Tunnel0\n ip mtu 1400\n!\n tunnel key 5\n!\ntunnel key 6\n").config
    assert cfg.interfaces[0].tunnel_key == 5  # indented: still the interface's
    assert [b.lines for b in cfg.extra_tail] == [["tunnel key 6"]]
    flat = parse_config("interface Tunnel0\nip mtu 1400\n! NHRP\nip nhrp network-id 7\n").config
    assert flat.interfaces[0].nhrp.network_id == 7  # in flat input `!` is only a comment


# -- linear time ---------------------------------------------------------------------------


def test_a_trailing_comment_is_found_by_a_scan_with_the_regex_s_meaning() -> None:
    old = re.compile(r"\s+!(?:\s.*)?$")
    for line in ("ip mtu 1400 ! mtu", "tunnel key 7   ! key", "description a ! b ! c", "description a !b",
                 "description a!", "! x", " !", "a\t!", "a !\tb", "a  !!", "a ! ", "banner motd !x! ! y"):
        assert strip_comment(line) == old.sub("", line), line


def test_a_long_run_of_blanks_in_a_line_costs_linear_time() -> None:
    for tail in ("b", "!b", "! b"):
        text = "interface Tunnel0\n description a" + " " * 200_000 + tail + "\n"
        started = time.perf_counter()
        result = parse_config(text)
        assert time.perf_counter() - started < 1.0  # was 19 s at 100 kB (quadratic)
        assert result.errors == []


def _timed(text: str) -> tuple[float, RouterConfig]:
    started = time.perf_counter()
    result = parse_config(text)
    assert result.errors == []
    return time.perf_counter() - started, result.config


def test_ten_thousand_interfaces_routes_and_maps_parse_in_linear_time() -> None:
    # Generous bounds for a loaded CI machine; before, these took 79 s, 5 s and 6 s.
    seconds, cfg = _timed("".join(f"interface Loopback{i}\n ip address 10.0.{i // 256}.{i % 256} 255.255.255.255\n"
                                  for i in range(10_000, 0, -1)))
    assert seconds < 5 and [i.name for i in cfg.interfaces[:2]] == ["Loopback1", "Loopback2"]
    seconds, cfg = _timed("".join(f"ip route 10.{i // 256}.{i % 256}.0 255.255.255.0 192.0.2.1\n" for i in range(10_000)))
    assert seconds < 5 and len(cfg.static_routes) == 10_000
    seconds, cfg = _timed("interface Tunnel0\n" + "".join(f" ip nhrp map 10.0.{i // 256}.{i % 256} 100.64.0.1\n"
                                                          for i in range(10_000)))
    assert seconds < 5 and len(cfg.interfaces[0].nhrp.maps) == 10_000


def test_interface_routing_lines_are_found_by_key_so_many_of_them_parse_in_linear_time() -> None:
    seconds, cfg = _timed("interface Tunnel0\n" + "".join(f" ip ospf cost{i} 1\n" for i in range(10_000)))
    assert seconds < 5 and len(cfg.interfaces[0].routing_lines) == 10_000  # was 10 s at 8,000
    session = ConfigSession()
    for line in ("interface Tunnel0", "ip ospf cost 10", "ip ospf hello-interval 5", "ip ospf cost 20",
                 "no ip split-horizon eigrp 1", "no ip next-hop-self eigrp 1", "ip split-horizon eigrp 1"):
        assert session.apply(line) == []
    # The new cost replaces the old one where it stood; the EIGRP switch is undone by its positive form.
    assert session.config.interfaces[0].routing_lines == ["ip ospf cost 20", "ip ospf hello-interval 5",
                                                          "no ip next-hop-self eigrp 1"]
    session.apply("no ip ospf")
    assert session.config.interfaces[0].routing_lines == ["no ip next-hop-self eigrp 1"]


@pytest.mark.parametrize("text", ["banner motd ^C\n", "hostname R1\nbanner motd #\nWelcome\ninterface Tunnel0\n",
                                  "banner motd \U0001d7d8C\n"])
def test_a_banner_that_never_ends_is_refused_and_leaves_the_model(text: str) -> None:
    result = parse_config(text)
    [error] = result.errors
    assert error.message.startswith("% Banner text never ended")
    assert result.config.extra_head == result.config.extra_tail == []
    _round_trip(result)
