"""IOS ACLs, `ip access-group` and `ip nat` -> one nftables table, as text (no I/O here).

Why one table (`ip dmvpnlab`) rebuilt whole on every apply: `nft -f -` replaces it in one
transaction, so a config change never leaves half a filter, and the agent deletes it
when it exits. nat_node.py runs the text; this module only says what it is, so every rule
is testable without a namespace.

How IOS's semantics map:
- An ACL is a regular chain: its entries in order, each with a counter (IOS's `(N
  matches)`), `accept` for permit, `drop` for deny, then IOS's implicit deny. Interfaces
  jump to it, so the counters of one ACL add up over every interface using it, as on IOS.
- `ip access-group A in` is checked in prerouting before destination NAT (IOS checks an
  inbound ACL before the outside-to-inside translation), so it sees traffic to the router
  itself too: NHRP/GRE, ESP, IKE are filtered as on IOS (a lab ACL that forgets `permit
  gre` breaks its tunnel). `out` is checked in postrouting after source NAT (IOS checks
  the outbound ACL after inside-to-outside translation); what the router originates is
  not filtered by it (IOS neither), recognised by a mark set in the output hook.
- `ip nat inside source list A interface IF overload`: in the forward hook, a packet from
  an `ip nat inside` interface to IF (an `ip nat outside` one) runs through A as a NAT
  chain (permit marks it for translation, deny or no match leaves it alone); postrouting
  masquerades marked packets on IF. `ip nat inside source static L G`: dnat G -> L for
  packets arriving on an outside interface, snat L -> G for packets leaving one; the
  router owns G on the outside interface whose subnet holds it (IOS's NAT alias), so it
  answers ARP for it (`aliases`, added by nat_node).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.config.model import AccessList, AccessListEntry, Interface, RouterConfig

TABLE = "dmvpnlab"
LOCAL_MARK = 0x10000000  # set on what the router originates: outbound ACLs let it through
NAT_MARK = 0x20000000  # set on packets `ip nat inside source list` translates
PROTOCOLS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ahp": 51, "eigrp": 88,
             "ospf": 89, "pim": 103}
# IOS's ICMP message names -> (type, code or None). A name or number not here is not
# guessed at: the entry is left out (never widened to every ICMP message).
ICMP_TYPES: dict[str, tuple[int, int | None]] = {
    "echo-reply": (0, None), "unreachable": (3, None), "net-unreachable": (3, 0), "host-unreachable": (3, 1),
    "protocol-unreachable": (3, 2), "port-unreachable": (3, 3), "packet-too-big": (3, 4),
    "source-route-failed": (3, 5), "network-unknown": (3, 6), "host-unknown": (3, 7), "host-isolated": (3, 8),
    "dod-net-prohibited": (3, 9), "dod-host-prohibited": (3, 10), "net-tos-unreachable": (3, 11),
    "host-tos-unreachable": (3, 12), "administratively-prohibited": (3, 13),
    "host-precedence-unreachable": (3, 14), "precedence-unreachable": (3, 15), "source-quench": (4, None),
    "redirect": (5, None), "net-redirect": (5, 0), "host-redirect": (5, 1), "net-tos-redirect": (5, 2),
    "host-tos-redirect": (5, 3), "alternate-address": (6, None), "echo": (8, None),
    "router-advertisement": (9, None), "router-solicitation": (10, None), "time-exceeded": (11, None),
    "ttl-exceeded": (11, 0), "reassembly-timeout": (11, 1), "parameter-problem": (12, None),
    "option-missing": (12, 1), "timestamp-request": (13, None), "timestamp-reply": (14, None),
    "information-request": (15, None), "information-reply": (16, None), "mask-request": (17, None),
    "mask-reply": (18, None), "traceroute": (30, None), "conversion-error": (31, None),
    "mobile-redirect": (32, None),
}
ANY = IPv4Network("0.0.0.0/0")

Resolver = Callable[[str], "str | None"]  # IOS interface name -> Linux name if it exists here


@dataclass
class Ruleset:
    """The table's text for `nft -f -`, and what the counters and the user need to know."""

    text: str
    # rule comment -> (ACL name, entry sequence number); implicit deny is -1. By sequence, not
    # position: an entry typed in between keeps the others' counts, as on IOS.
    counters: dict[str, tuple[str, int]] = field(default_factory=dict)
    aliases: list[tuple[str, IPv4Address]] = field(default_factory=list)  # (Linux ifname, global address)
    not_applied: list[str] = field(default_factory=list)


def _quote(name: str) -> str:
    return json.dumps(name)  # nft takes a double-quoted string with JSON-like escapes


def entry_match(entry: AccessListEntry, standard: bool) -> str:
    """The nft match of one ACL entry ("" matches everything); ValueError for a protocol
    we cannot name to nft (the entry is then left out, never widened to all protocols)."""
    parts: list[str] = []
    protocol = (entry.protocol or "ip").lower()
    number = None if standard or protocol == "ip" else PROTOCOLS.get(protocol)
    if number is None and not standard and protocol.isascii() and protocol.isdigit() and len(protocol) <= 3 \
            and int(protocol) <= 255:
        number = int(protocol)
    if number is None and not standard and protocol != "ip":
        raise ValueError(f"protocol {protocol} is not known here")
    if number is not None:
        parts.append(f"ip protocol {number}")
    if entry.source != ANY:
        parts.append(f"ip saddr {entry.source}")
    if not standard and entry.destination is not None and entry.destination != ANY:
        parts.append(f"ip daddr {entry.destination}")
    if protocol in ("tcp", "udp") and not standard:
        for word, ports in (("sport", entry.source_ports), ("dport", entry.destination_ports)):
            if ports is not None:
                low, high = ports
                parts.append(f"{protocol} {word} {low}" if low == high else f"{protocol} {word} {low}-{high}")
        if protocol == "tcp" and entry.established:
            parts.append("tcp flags & (ack | rst) != 0")
    if protocol == "icmp" and not standard:
        icmp = icmp_type(entry.text)
        if icmp is not None:
            parts.append(f"icmp type {icmp[0]}" + (f" icmp code {icmp[1]}" if icmp[1] is not None else ""))
    return " ".join(parts)


def icmp_type(text: str) -> tuple[int, int | None] | None:
    """(type, code) an extended ICMP entry's text names after its destination (`permit icmp
    any host A echo`, `deny icmp any any 3 3`), None when it names none; ValueError for a
    word that is neither a known name nor a number (left out, not widened)."""
    words = text.lower().split()
    i = 2  # after the action and the protocol: the source, then the destination
    for _ in range(2):
        if i >= len(words):
            return None
        i += 1 if words[i] == "any" else 2
    if i >= len(words) or words[i] in ("log", "log-input"):
        return None
    word = words[i]
    if word in ICMP_TYPES:
        return ICMP_TYPES[word]
    if word.isascii() and word.isdigit() and int(word) <= 255:
        code = words[i + 1] if i + 1 < len(words) else ""
        return int(word), int(code) if code.isascii() and code.isdigit() and int(code) <= 255 else None
    raise ValueError(f"ICMP message {word} is not known here")


def _acl_chain(index: int, acl: AccessList, nat: bool, counters: dict[str, tuple[str, int]],
               skipped: list[str] | None = None) -> list[str]:
    """The chain of ACL `acl`: as a filter (accept/drop) or as a NAT selector (mark/return).
    An entry the parser flagged (`not_applied`: a non-contiguous wildcard...) is left out
    and listed in `skipped`, rather than guessed at."""
    prefix = "n" if nat else "a"
    lines = [f"  chain {prefix}cl_{index} {{"]
    standard = acl.kind == "standard"
    for number, entry in enumerate(acl.entries):
        try:
            why = getattr(entry, "not_applied", None)
            if why:
                raise ValueError(why.removesuffix(": not applied"))
            match = entry_match(entry, standard)
        except ValueError as error:
            if skipped is not None:
                skipped.append(f"access-list {acl.name} entry {entry.sequence or (number + 1) * 10} "
                               f"{entry.text or entry.action}: not applied ({error})")
            continue
        comment = f"{prefix}{index}e{number}"
        counters[comment] = (acl.name, entry.sequence or (number + 1) * 10)
        if nat:
            verdict = f"meta mark set meta mark | {NAT_MARK:#x} return" if entry.action == "permit" else "return"
        else:
            verdict = "accept" if entry.action == "permit" else "drop"
        lines.append(f"    {match + ' ' if match else ''}counter {verdict} comment \"{comment}\"")
    if not nat:
        comment = f"a{index}x"
        counters[comment] = (acl.name, -1)
        lines.append(f"    counter drop comment \"{comment}\"")
    lines.append("  }")
    return lines


def _hook(name: str, kind: str, hook: str, priority: int, rules: list[str]) -> list[str]:
    return [f"  chain {name} {{", f"    type {kind} hook {hook} priority {priority}; policy accept;",
            *[f"    {r}" for r in rules], "  }"]


def build_ruleset(config: RouterConfig, resolve: Resolver) -> Ruleset:
    """The whole `ip dmvpnlab` table for `config`; interfaces that do not exist are skipped."""
    out = Ruleset("")
    chains: list[str] = []
    acl_index: dict[str, int] = {}
    nat_acl: set[str] = set()

    def acl(name: str, where: str, nat: bool = False) -> str | None:
        found = config.access_list(name)
        if found is None or not found.entries:  # IOS: an undefined or empty ACL permits everything
            why = "is not defined" if found is None else "has no entries"
            out.not_applied.append(f"{where}: access list {name} {why} (permits all, as on IOS)")
            return None
        if name not in acl_index:
            acl_index[name] = len(acl_index)
            chains.extend(_acl_chain(acl_index[name], found, False, out.counters, out.not_applied))
        if nat and name not in nat_acl:
            nat_acl.add(name)
            chains.extend(_acl_chain(acl_index[name], found, True, out.counters))
        return f"{'n' if nat else 'a'}cl_{acl_index[name]}"

    linux: dict[str, str] = {}
    for itf in config.interfaces:
        if itf.name.startswith("Loopback"):
            continue
        ifname = resolve(itf.name)
        if ifname is not None:
            linux[itf.name] = ifname
    inbound, outbound = _access_groups(config, linux, acl, out)
    forward, prerouting, postrouting = _nat_rules(config, linux, acl, out)
    tables: list[str] = []
    if inbound:
        tables += _hook("acl_in", "filter", "prerouting", -150, inbound)
    if outbound:
        tables += _hook("mark_local", "filter", "output", -150, [f"meta mark set meta mark | {LOCAL_MARK:#x}"])
        tables += _hook("acl_out", "filter", "postrouting", 150,
                        [f"meta mark & {LOCAL_MARK:#x} == {LOCAL_MARK:#x} accept", *outbound])
    if forward:
        tables += _hook("nat_select", "filter", "forward", -150, forward)
    if prerouting:
        tables += _hook("nat_pre", "nat", "prerouting", -100, prerouting)
    if postrouting:
        tables += _hook("nat_post", "nat", "postrouting", 100, postrouting)
    body = chains + tables
    out.text = "\n".join([f"table ip {TABLE} {{", *body, "}"]) + "\n" if body else ""
    return out


def _access_groups(config: RouterConfig, linux: dict[str, str], acl: Callable[..., str | None],
                   out: Ruleset) -> tuple[list[str], list[str]]:
    inbound: list[str] = []
    outbound: list[str] = []
    for itf in config.interfaces:
        for direction, name, rules, word in (("in", itf.access_group_in, inbound, "iifname"),
                                             ("out", itf.access_group_out, outbound, "oifname")):
            if name is None:
                continue
            where = f"interface {itf.name} ip access-group {name} {direction}"
            if itf.name.startswith("Loopback"):
                out.not_applied.append(f"{where}: not applied (loopbacks share Linux lo)")
                continue
            ifname = linux.get(itf.name)
            if ifname is None:
                out.not_applied.append(f"{where}: not applied (interface not present)")
                continue
            chain = acl(name, where)
            if chain is not None:
                rules.append(f"{word} {_quote(ifname)} jump {chain}")
    return inbound, outbound


def _nat_interfaces(config: RouterConfig, linux: dict[str, str], side: str) -> list[str]:
    return [linux[i.name] for i in config.interfaces if i.nat == side and i.name in linux]


def _set(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "{ " + ", ".join(names) + " }"


def _nat_rules(config: RouterConfig, linux: dict[str, str], acl: Callable[..., str | None],
               out: Ruleset) -> tuple[list[str], list[str], list[str]]:
    inside = [_quote(n) for n in _nat_interfaces(config, linux, "inside")]
    outside_itfs = [i for i in config.interfaces if i.nat == "outside" and i.name in linux]
    outside = [_quote(linux[i.name]) for i in outside_itfs]
    forward: list[str] = []
    prerouting: list[str] = []
    postrouting: list[str] = []
    static_post: list[str] = []  # a static translation wins over the dynamic ones, as on IOS
    for rule in config.nat_rules:
        if rule.kind == "static" and rule.local is not None and rule.global_address is not None:
            where = f"ip nat inside source static {rule.local} {rule.global_address}"
            if not outside:
                out.not_applied.append(f"{where}: not applied (no 'ip nat outside' interface)")
                continue
            prerouting.append(f"iifname {_set(outside)} ip daddr {rule.global_address} dnat to {rule.local}")
            static_post.append(f"oifname {_set(outside)} ip saddr {rule.local} snat to {rule.global_address}")
            for itf in outside_itfs:
                if _holds(itf, rule.global_address):
                    out.aliases.append((linux[itf.name], rule.global_address))
        elif rule.kind == "list" and rule.access_list is not None and rule.interface is not None:
            where = f"ip nat inside source list {rule.access_list} interface {rule.interface}" + \
                (" overload" if rule.overload else "")
            ifname = linux.get(rule.interface)
            target = config.interface(rule.interface)
            if ifname is None or target is None:
                out.not_applied.append(f"{where}: not applied (interface {rule.interface} not present)")
                continue
            if target.nat != "outside":
                out.not_applied.append(f"{where}: not applied ({rule.interface} is not 'ip nat outside')")
                continue
            if not inside:
                out.not_applied.append(f"{where}: not applied (no 'ip nat inside' interface)")
                continue
            chain = acl(rule.access_list, where, nat=True)
            if chain is None:
                continue
            forward.append(f"iifname {_set(inside)} oifname {_quote(ifname)} jump {chain}")
            postrouting.append(f"oifname {_quote(ifname)} meta mark & {NAT_MARK:#x} == {NAT_MARK:#x} masquerade")
        else:
            out.not_applied.append(f"ip nat rule {rule}: not applied (incomplete)")
    return forward, prerouting, static_post + postrouting


def _holds(itf: Interface, address: IPv4Address) -> bool:
    addresses = ([itf.address] if itf.address else []) + list(itf.secondary_addresses)
    return any(address in a.network and address != a.ip for a in addresses)
