"""IOS ACLs, access-groups and NAT as the agent's nftables table (text only, no kernel).

The rules a lab relies on: entries in order with a counter each and IOS's implicit deny
last; an inbound access-group also filters what the router itself receives (prerouting,
before destination NAT), an outbound one runs after source NAT and lets the router's own
traffic pass; `ip nat inside source list ... overload` masquerades only packets from
inside interfaces that the ACL permits; static NAT is a dnat/snat pair plus the global
address on the outside interface; whatever cannot be applied is said, not guessed.
"""

from __future__ import annotations

import copy
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from dmvpnlab.agent.conntrack import parse_line
from dmvpnlab.agent.filter_rules import build_ruleset, entry_match
from dmvpnlab.config.model import AccessList, AccessListEntry, Interface, NatRule, RouterConfig

N = IPv4Network
LINUX = {"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1", "Tunnel0": "Tunnel0"}


def resolve(name: str) -> str | None:
    return LINUX.get(name)


def E(action: str, source: str, protocol: str | None = None, destination: str | None = None, **kw) -> AccessListEntry:
    return AccessListEntry(action, N(source), protocol, N(destination) if destination else None, **kw)  # type: ignore[arg-type]


WAN_ACL = AccessList("101", "extended", [
    E("permit", "0.0.0.0/0", "gre", "198.51.100.2/32"),
    E("permit", "0.0.0.0/0", "udp", "0.0.0.0/0", destination_ports=(500, 500)),
    E("permit", "0.0.0.0/0", "esp", "0.0.0.0/0"),
    E("permit", "0.0.0.0/0", "tcp", "0.0.0.0/0", established=True),
    E("permit", "0.0.0.0/0", "icmp", "0.0.0.0/0", text="permit icmp any any echo-reply"),
    E("deny", "0.0.0.0/0", "ip", "0.0.0.0/0", log=True),
])
NAT_ACL = AccessList("1", "standard", [E("deny", "192.168.1.99/32"), E("permit", "192.168.1.0/24")])


def lab_config() -> RouterConfig:
    return RouterConfig(
        interfaces=[
            Interface("GigabitEthernet0/0", address=IPv4Interface("198.51.100.2/24"), nat="outside",
                      access_group_in="101"),
            Interface("GigabitEthernet0/1", address=IPv4Interface("192.168.1.1/24"), nat="inside",
                      access_group_out="1"),
        ],
        access_lists=[NAT_ACL, WAN_ACL],
        nat_rules=[NatRule("list", access_list="1", interface="GigabitEthernet0/0", overload=True),
                   NatRule("static", local=IPv4Address("192.168.1.10"), global_address=IPv4Address("198.51.100.10"))],
    )


def test_entries_become_nft_matches() -> None:
    assert entry_match(WAN_ACL.entries[0], False) == "ip protocol 47 ip daddr 198.51.100.2/32"
    assert entry_match(WAN_ACL.entries[1], False) == "ip protocol 17 udp dport 500"
    assert entry_match(WAN_ACL.entries[3], False) == "ip protocol 6 tcp flags & (ack | rst) != 0"
    assert entry_match(WAN_ACL.entries[4], False) == "ip protocol 1 icmp type 0"
    assert entry_match(WAN_ACL.entries[5], False) == ""
    assert entry_match(E("permit", "10.0.0.0/8", "tcp", "0.0.0.0/0", source_ports=(1024, 65535)), False) == \
        "ip protocol 6 ip saddr 10.0.0.0/8 tcp sport 1024-65535"
    assert entry_match(NAT_ACL.entries[1], True) == "ip saddr 192.168.1.0/24"
    assert entry_match(E("permit", "0.0.0.0/0", "103", "0.0.0.0/0"), False) == "ip protocol 103"


def test_the_whole_table() -> None:
    ruleset = build_ruleset(lab_config(), resolve)
    text = ruleset.text
    assert text.startswith("table ip dmvpnlab {\n") and text.endswith("}\n")
    # ACL 101 as a filter chain: entries in order, counters, implicit deny last
    acl = text[text.index("chain acl_0 {"):]
    acl = acl[:acl.index("  }")]
    assert acl.splitlines()[1:] == [
        '    ip protocol 47 ip daddr 198.51.100.2/32 counter accept comment "a0e0"',
        '    ip protocol 17 udp dport 500 counter accept comment "a0e1"',
        '    ip protocol 50 counter accept comment "a0e2"',
        '    ip protocol 6 tcp flags & (ack | rst) != 0 counter accept comment "a0e3"',
        '    ip protocol 1 icmp type 0 counter accept comment "a0e4"',
        '    counter drop comment "a0e5"',
        '    counter drop comment "a0x"',
    ]
    assert "type filter hook prerouting priority -150; policy accept;\n    iifname \"Gi0-0\" jump acl_0" in text
    # outbound: after srcnat, the router's own packets pass
    assert "type filter hook output priority -150; policy accept;\n    meta mark set meta mark | 0x10000000" in text
    assert ("type filter hook postrouting priority 150; policy accept;\n    meta mark & 0x10000000 == 0x10000000 "
            "accept\n    oifname \"Gi0-1\" jump acl_1") in text
    # NAT overload: ACL 1 as a selector from inside to Gi0-0, then masquerade what it marked
    assert 'ip saddr 192.168.1.99/32 counter return comment "n1e0"' in text
    assert 'ip saddr 192.168.1.0/24 counter meta mark set meta mark | 0x20000000 return comment "n1e1"' in text
    assert 'iifname "Gi0-1" oifname "Gi0-0" jump ncl_1' in text
    assert 'oifname "Gi0-0" meta mark & 0x20000000 == 0x20000000 masquerade' in text
    # static NAT
    assert 'iifname "Gi0-0" ip daddr 198.51.100.10 dnat to 192.168.1.10' in text
    assert 'oifname "Gi0-0" ip saddr 192.168.1.10 snat to 198.51.100.10' in text
    assert ruleset.aliases == [("Gi0-0", IPv4Address("198.51.100.10"))]
    assert ruleset.counters["a0e2"] == ("101", 30) and ruleset.counters["a0x"] == ("101", -1)
    assert ruleset.counters["n1e1"] == ("1", 20)
    assert ruleset.not_applied == []


def test_what_cannot_be_applied_is_said() -> None:
    cfg = lab_config()
    cfg.interfaces[0].nat = None  # Gi0/0 no longer `ip nat outside`
    cfg.interfaces[1].access_group_out = "7"  # not defined: IOS permits all
    cfg.interfaces.append(Interface("GigabitEthernet0/5", access_group_in="101"))
    cfg.interfaces.append(Interface("Loopback0", access_group_in="101"))
    ruleset = build_ruleset(cfg, resolve)
    assert ruleset.not_applied == [
        "interface GigabitEthernet0/1 ip access-group 7 out: access list 7 is not defined (permits all, as on IOS)",
        "interface GigabitEthernet0/5 ip access-group 101 in: not applied (interface not present)",
        "interface Loopback0 ip access-group 101 in: not applied (loopbacks share Linux lo)",
        "ip nat inside source list 1 interface GigabitEthernet0/0 overload: not applied "
        "(GigabitEthernet0/0 is not 'ip nat outside')",
        "ip nat inside source static 192.168.1.10 198.51.100.10: not applied (no 'ip nat outside' interface)",
    ]
    assert "masquerade" not in ruleset.text


def test_a_config_without_acl_or_nat_has_no_table() -> None:
    assert build_ruleset(RouterConfig(interfaces=[Interface("GigabitEthernet0/0")]), resolve).text == ""


def test_conntrack_lines() -> None:
    tcp = parse_line("ipv4     2 tcp      6 431999 ESTABLISHED src=192.168.1.10 dst=203.0.113.9 sport=40000 "
                     "dport=80 src=203.0.113.9 dst=198.51.100.2 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2")
    assert tcp is not None and tcp.snat and not tcp.dnat
    assert (tcp.original.src, tcp.original.sport, tcp.reply.dst, tcp.reply.dport) == \
        ("192.168.1.10", 40000, "198.51.100.2", 40000)
    icmp = parse_line("ipv4     2 icmp     1 29 src=203.0.113.9 dst=198.51.100.10 type=8 code=0 id=7 "
                      "src=192.168.1.10 dst=203.0.113.9 type=0 code=0 id=7 mark=0 zone=0 use=2")
    assert icmp is not None and icmp.dnat and not icmp.snat and icmp.original.sport == 7
    for bad in ("", "ipv6 10 tcp 6 1 src=::1", "ipv4 2 tcp 6 1 src=1.2.3.4", "ipv4 2 tcp 6 src=a dst=b sport=x"):
        assert parse_line(bad) is None


def test_an_empty_acl_permits_all_as_on_ios() -> None:
    cfg = lab_config()
    cfg.access_lists.append(AccessList("EMPTY", "extended", []))
    cfg.interfaces[0].access_group_in = "EMPTY"
    ruleset = build_ruleset(cfg, resolve)
    assert "interface GigabitEthernet0/0 ip access-group EMPTY in: access list EMPTY has no entries " \
        "(permits all, as on IOS)" in ruleset.not_applied
    assert 'iifname "Gi0-0" jump' not in ruleset.text


def test_an_entry_with_an_unknown_protocol_is_left_out_not_widened() -> None:
    cfg = lab_config()
    cfg.access_lists[1] = copy.deepcopy(cfg.access_lists[1])
    cfg.access_lists[1].entries.insert(0, E("deny", "0.0.0.0/0", "igrp", "0.0.0.0/0", sequence=5, text="deny igrp any any"))
    ruleset = build_ruleset(cfg, resolve)
    assert "access-list 101 entry 5 deny igrp any any: not applied (protocol igrp is not known here)" in ruleset.not_applied
    assert "a0e0" not in ruleset.counters and ruleset.counters["a0e1"] == ("101", 20)


@pytest.mark.parametrize("text, match", [
    ("permit icmp any any echo", "ip protocol 1 icmp type 8"),
    ("permit icmp any any echo-reply", "ip protocol 1 icmp type 0"),
    ("deny icmp any any port-unreachable", "ip protocol 1 icmp type 3 icmp code 3"),
    ("deny icmp host 192.0.2.1 10.0.0.0 0.0.0.255 administratively-prohibited",
     "ip protocol 1 ip saddr 192.0.2.1/32 ip daddr 10.0.0.0/24 icmp type 3 icmp code 13"),
    ("permit icmp any any 8", "ip protocol 1 icmp type 8"),
    ("deny icmp any any 3 3 log", "ip protocol 1 icmp type 3 icmp code 3"),
    ("permit icmp any any log", "ip protocol 1"),
    ("permit icmp any any", "ip protocol 1"),
])
def test_icmp_entries_match_the_message_they_name_never_every_icmp_message(text, match):
    # `deny icmp any any port-unreachable` must not become "deny all ICMP"
    from dmvpnlab.config.parser import parse_config

    config = parse_config(f"ip access-list extended T\n {text}\n").config
    entry = config.access_list("T").entries[0]
    assert entry_match(entry, False) == match


def test_an_icmp_message_name_we_do_not_know_leaves_the_entry_out():
    from dmvpnlab.config.model import AccessListEntry as Entry

    entry = Entry("deny", IPv4Network("0.0.0.0/0"), protocol="icmp", destination=IPv4Network("0.0.0.0/0"),
                  text="deny icmp any any no-such-message")
    with pytest.raises(ValueError, match="ICMP message no-such-message"):
        entry_match(entry, False)
