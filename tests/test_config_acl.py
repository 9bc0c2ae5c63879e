"""Access lists: numbered and named, standard and extended, as IOS reads and prints them."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from dmvpnlab.config.model import AccessList, AccessListEntry, RouterConfig
from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config


def acls(text: str) -> RouterConfig:
    result = parse_config(text)
    assert result.errors == [], [str(e) for e in result.errors]
    return result.config


def entry(text: str, number: str = "101") -> AccessListEntry:
    cfg = acls(f"access-list {number} {text}\n")
    return cfg.access_lists[0].entries[0]


def refused(*lines: str) -> list[str]:
    """The IOS messages the last line gets, typed at a prompt after the others."""
    session = ConfigSession(strict_families=True)
    for line in lines[:-1]:
        assert session.apply(line) == [], line
    return [e.message for e in session.apply(lines[-1])]


def roundtrip(cfg: RouterConfig) -> str:
    text = render_running_config(cfg)
    again = parse_config(text)
    assert again.errors == [] and again.config == cfg
    return text


# -- numbered lists ------------------------------------------------------------------------


@pytest.mark.parametrize("number, kind", [("1", "standard"), ("99", "standard"), ("1300", "standard"),
                                          ("1999", "standard"), ("100", "extended"), ("199", "extended"),
                                          ("2000", "extended"), ("2699", "extended")])
def test_the_number_says_the_kind_of_list(number: str, kind: str) -> None:
    line = "permit any" if kind == "standard" else "permit ip any any"
    acl = acls(f"access-list {number} {line}\n").access_lists[0]
    assert (acl.name, acl.kind, acl.numbered) == (number, kind, True)


def test_numbers_of_other_lists_are_kept_verbatim() -> None:
    result = parse_config("access-list 700 permit 0000.1111.2222 0000.0000.0000\n")
    assert result.errors == [] and result.config.access_lists == []
    assert [i.text for i in result.ignored] == ["access-list 700 permit 0000.1111.2222 0000.0000.0000"]


def test_entries_are_numbered_10_20_30_in_the_order_given() -> None:
    acl = acls("access-list 1 permit 10.1.0.0 0.0.255.255\naccess-list 1 deny 10.2.0.0 0.0.255.255\n"
               "access-list 1 permit any\n").access_lists[0]
    assert [(e.sequence, e.action, e.source) for e in acl.entries] == [
        (10, "permit", IPv4Network("10.1.0.0/16")), (20, "deny", IPv4Network("10.2.0.0/16")),
        (30, "permit", IPv4Network("0.0.0.0/0"))]


def test_no_access_list_removes_the_whole_list_whatever_follows_the_number() -> None:
    cfg = acls("access-list 10 permit any\naccess-list 11 permit any\nno access-list 10 permit any\n")
    assert [a.name for a in cfg.access_lists] == ["11"]


def test_standard_entries_take_any_host_an_address_alone_and_a_wildcard() -> None:
    cfg = acls("access-list 5 permit host 10.0.0.1\naccess-list 5 permit 10.0.0.2\n"
               "access-list 5 permit 10.1.1.7 0.0.0.255\naccess-list 5 deny any log\n")
    entries = cfg.access_lists[0].entries
    assert [e.text for e in entries] == ["permit 10.0.0.1", "permit 10.0.0.2", "permit 10.1.1.0 0.0.0.255",
                                         "deny any log"]
    assert [e.source for e in entries] == [IPv4Network("10.0.0.1/32"), IPv4Network("10.0.0.2/32"),
                                           IPv4Network("10.1.1.0/24"), IPv4Network("0.0.0.0/0")]
    assert entries[3].log and entries[0].protocol is None and entries[0].destination is None


def test_a_remark_joins_the_entry_after_it() -> None:
    acl = acls("access-list 110 remark web\naccess-list 110 permit tcp any any eq 80\n"
               "access-list 110 remark the rest\n").access_lists[0]
    assert acl.entries[0].remarks == ["remark web"] and acl.extra_lines == ["remark the rest"]


# -- extended entries ----------------------------------------------------------------------


@pytest.mark.parametrize("typed, text, dst_ports", [
    ("permit tcp any any eq 80", "permit tcp any any eq www", (80, 80)),
    ("permit tcp any any eq www", "permit tcp any any eq www", (80, 80)),
    ("permit tcp any any eq telnet", "permit tcp any any eq telnet", (23, 23)),
    ("permit udp any any eq 500", "permit udp any any eq isakmp", (500, 500)),
    ("permit udp any any eq non500-isakmp", "permit udp any any eq non500-isakmp", (4500, 4500)),
    ("permit tcp any any eq 22", "permit tcp any any eq 22", (22, 22)),
    ("permit tcp any any range 1000 2000", "permit tcp any any range 1000 2000", (1000, 2000)),
    ("permit tcp any any range 20 www", "permit tcp any any range ftp-data www", (20, 80)),
    ("permit tcp any any gt 1023", "permit tcp any any gt 1023", (1024, 65535)),
    ("permit udp any any lt 1024", "permit udp any any lt 1024", (0, 1023)),
])
def test_ports_are_read_as_ranges_and_printed_by_their_ios_names(typed: str, text: str, dst_ports) -> None:
    e = entry(typed)
    assert (e.text, e.destination_ports, e.source_ports, e.not_applied) == (text, dst_ports, None, None)


def test_source_ports_stand_between_the_source_and_the_destination() -> None:
    e = entry("permit udp host 10.0.0.1 eq 500 any eq 500")
    assert (e.source, e.source_ports, e.destination_ports) == (IPv4Network("10.0.0.1/32"), (500, 500), (500, 500))
    assert e.text == "permit udp host 10.0.0.1 eq isakmp any eq isakmp"


@pytest.mark.parametrize("typed, protocol", [("ip", "ip"), ("icmp", "icmp"), ("tcp", "tcp"), ("udp", "udp"),
                                             ("gre", "gre"), ("47", "gre"), ("esp", "esp"), ("50", "esp"),
                                             ("ahp", "ahp"), ("ospf", "ospf"), ("89", "ospf"), ("eigrp", "eigrp"),
                                             ("88", "eigrp"), ("112", "112")])
def test_protocols_by_name_or_number_print_by_name_when_they_have_one(typed: str, protocol: str) -> None:
    e = entry(f"permit {typed} any any")
    assert e.protocol == protocol and e.text == f"permit {protocol} any any"


def test_host_any_and_wildcards_in_extended_entries() -> None:
    e = entry("deny ip 10.1.2.3 0.0.0.255 host 192.0.2.1 log")
    assert (e.action, e.source, e.destination, e.log) == ("deny", IPv4Network("10.1.2.0/24"),
                                                          IPv4Network("192.0.2.1/32"), True)
    assert e.text == "deny ip 10.1.2.0 0.0.0.255 host 192.0.2.1 log"
    assert entry("permit ip 10.0.0.1 0.0.0.0 0.0.0.0 255.255.255.255").text == "permit ip host 10.0.0.1 any"


def test_established_and_icmp_types_stay_in_the_text() -> None:
    assert entry("permit tcp any any established").established
    e = entry("permit icmp any any echo-reply")
    assert (e.text, e.not_applied) == ("permit icmp any any echo-reply", None)
    assert entry("permit icmp any any 3 4").text == "permit icmp any any 3 4"


@pytest.mark.parametrize("typed, reason", [
    ("permit ip 10.0.0.0 0.255.0.255 any", "non-contiguous wildcard 0.255.0.255: not applied"),
    ("permit ip any 10.0.0.0 0.0.255.0", "non-contiguous wildcard 0.0.255.0: not applied"),
    ("permit tcp any any neq 80", "neq www: not applied"),
    ("permit tcp any any eq www 443", "several ports in one eq (www 443): not applied"),
    ("permit ip any any dscp ef", "dscp ef: not applied"),
    ("permit tcp any any syn", "TCP flag syn: not applied"),
    ("permit ip any any time-range WORK", "time-range WORK: not applied"),
])
def test_what_a_filter_cannot_use_is_kept_and_marked_not_applied(typed: str, reason: str) -> None:
    e = entry(typed)
    assert e.not_applied == reason
    assert typed.split()[0] in e.text


@pytest.mark.parametrize("line, message", [
    ("access-list 101 permit tcp any any eq 70000", "% Invalid input detected at '^' marker."),
    ("access-list 101 permit icmp any any eq 80", "% Invalid input detected at '^' marker."),
    ("access-list 101 permit bogus any any", "% Invalid input detected at '^' marker."),
    ("access-list 101 permit ip any", "% Incomplete command."),
    ("access-list 101 permit ip 10.0.0.300 0.0.0.255 any", "% Invalid input detected at '^' marker."),
    ("access-list 101 permit ip 10.0.0.0 any", "% Invalid input detected at '^' marker."),
    ("access-list 1 permit", "% Incomplete command."),
    ("access-list 1 permit any extra", "% Invalid input detected at '^' marker."),
    ("access-list 1", "% Incomplete command."),
    ("access-list 1 allow any", "% Invalid input detected at '^' marker."),
])
def test_malformed_entries_are_ios_errors_and_change_nothing(line: str, message: str) -> None:
    result = parse_config(line + "\n")
    assert [e.message for e in result.errors] == [message]
    assert result.config.access_lists == []


# -- named lists ---------------------------------------------------------------------------


def test_named_list_entries_get_ios_sequence_numbers_and_explicit_ones_go_in_order() -> None:
    cfg = acls("ip access-list extended EDGE\n permit tcp any any eq 22\n deny ip any any\n"
               " 15 permit udp any any eq 500\n permit icmp any any\n")
    acl = cfg.access_lists[0]
    assert (acl.name, acl.kind, acl.numbered) == ("EDGE", "extended", False)
    assert [(e.sequence, e.text) for e in acl.entries] == [
        (10, "permit tcp any any eq 22"), (15, "permit udp any any eq isakmp"), (20, "deny ip any any"),
        (30, "permit icmp any any")]


def test_named_list_no_sequence_and_no_entry_remove_one_entry() -> None:
    cfg = acls("ip access-list standard LAN\n permit 10.0.0.0 0.0.0.255\n permit 10.0.1.0 0.0.0.255\n"
               " permit 10.0.2.0 0.0.0.255\n no 20\n no permit 10.0.2.0 0.0.0.255\n")
    assert [e.text for e in cfg.access_lists[0].entries] == ["permit 10.0.0.0 0.0.0.255"]


def test_a_sequence_number_in_use_is_refused() -> None:
    assert refused("ip access-list extended X", "permit ip any any", "10 deny ip any any") == [
        "% Duplicate sequence number"]


def test_a_list_cannot_change_kind() -> None:
    messages = refused("ip access-list standard X", "permit any", "exit", "ip access-list extended X")
    assert len(messages) == 1 and "standard" in messages[0]


def test_a_name_that_is_a_number_must_be_of_the_lists_kind() -> None:
    assert refused("ip access-list extended 10") == ["% Invalid input detected at '^' marker."]
    acl = acls("ip access-list extended 150\n permit ip any any\n").access_lists[0]
    assert acl.numbered and acl.name == "150"


def test_sub_mode_prompts_are_ios_ones() -> None:
    session = ConfigSession()
    session.apply("ip access-list standard A")
    assert session.prompt_suffix == "(config-std-nacl)"
    session.apply("ip access-list extended B")
    assert session.prompt_suffix == "(config-ext-nacl)"


# -- the running-config --------------------------------------------------------------------


def test_named_lists_print_as_blocks_then_numbered_lists_by_number_after_the_routes() -> None:
    cfg = acls("access-list 110 permit ip any any\nip access-list extended WEB\n remark only web\n"
               " permit tcp any any eq 80\n deny ip any any log\naccess-list 2 deny any\n"
               "ip route 0.0.0.0 0.0.0.0 192.0.2.1\n")
    text = roundtrip(cfg)
    tail = text.split("ip route 0.0.0.0 0.0.0.0 192.0.2.1\n!\n", 1)[1]
    assert tail.startswith("ip access-list extended WEB\n remark only web\n permit tcp any any eq www\n"
                           " deny   ip any any log\n!\naccess-list 2 deny   any\naccess-list 110 permit ip any any\n!\n")


def test_sequence_numbers_print_only_where_reading_would_give_another() -> None:
    cfg = acls("ip access-list extended E\n permit ip host 10.0.0.1 any\n 15 permit ip host 10.0.0.2 any\n"
               " permit ip host 10.0.0.3 any\n")
    text = roundtrip(cfg)
    assert " permit ip host 10.0.0.1 any\n 15 permit ip host 10.0.0.2 any\n 25 permit ip host 10.0.0.3 any\n" in text


def test_a_list_built_in_code_renders_and_reads_back() -> None:
    cfg = RouterConfig(access_lists=[AccessList("OUT", "extended", [
        AccessListEntry("permit", IPv4Network("0.0.0.0/0"), "gre", IPv4Network("0.0.0.0/0"), sequence=10,
                        text="permit gre any any")], numbered=False)])
    assert "ip access-list extended OUT\n permit gre any any\n" in roundtrip(cfg)


def test_a_numbered_list_edited_as_a_named_one_reads_back_the_same() -> None:
    # Empty, with a sub-mode line, or renumbered: it prints as a block, not as lines.
    for text in ("ip access-list standard 12\n",
                 "ip access-list extended 120\n permit ip any any\n statistics per-entry\n",
                 "ip access-list extended 130\n 5 permit ip any any\n permit gre any any\n"):
        cfg = acls(text)
        assert cfg.access_lists[0].numbered
        assert f"ip access-list {cfg.access_lists[0].kind} {cfg.access_lists[0].name}\n" in roundtrip(cfg)
