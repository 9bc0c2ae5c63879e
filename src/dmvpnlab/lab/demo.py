"""`dmvpnlab demo`: bring a lab up, run the demo steps, print what happened, tear down.

Why steps as data: the demo is the project's story told on a live lab, and each area adds
its chapter (the underlay, then the Phase 3 story: registration, redirect, shortcut, the
direct path) by appending a `Step` to `STEPS` or calling `register_step`. A step returns
a list of items: `Check`s (a claim and whether it held), and what happened as the lab
showed it: `Output` (a router's CLI output, verbatim) and `Ladder` (packets in time
order, from the captures). The demo exits 0 only if every check of every step held.

Why the story is told from the captures: the claims a network engineer cares about
("the reply never crossed the hub") are about packets on wires, so every Phase 3 check
reads the pcapng files the user can open afterwards, not the agents' logs. The reading
and judging is pure (`registration_story`, `redirect_story`, `direct_path_story`, the
`show` parsers): unit tests feed them recorded sightings; the live steps only make the
traffic, collect captures and CLI outputs, and hand them over.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, Union

from scapy.utils import PcapNgReader

from dmvpnlab.nhrp.codec import PACKET_NAMES
from dmvpnlab.analysis.paths import ICMP_ECHO_REPLY, CaptureSet, IcmpSighting, NhrpSighting
from dmvpnlab.lab.topology import ISP_NAME, Host, Router, Topology

RESOLUTION_REQUEST, RESOLUTION_REPLY = 1, 2
REGISTRATION_REQUEST, REGISTRATION_REPLY = 3, 4
TRAFFIC_INDICATION = 8
STORY_PINGS = 10          # echo requests h1 -> h2 in the story: the first via the hub, the rest direct
STORY_PING_INTERVAL = 0.2  # seconds; the shortcut forms within milliseconds of the first one
DIRECT_MARGIN = 0.05      # a packet sent this long after the last Resolution Reply must go direct
ROUTE_WAIT = 3.0          # seconds to wait for the kernel shortcut routes to appear


# ------------------------------------------------------------------ what a step returns


@dataclass
class Check:
    """A claim about the lab and whether it held."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class Output:
    """Text a router printed (a `show` command), shown verbatim under a title."""

    title: str
    text: str


@dataclass
class Ladder:
    """Rows in time order (packets seen on links), shown as a table under a title."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


Item = Union[Check, Output, Ladder]


@dataclass
class Step:
    title: str
    run: Callable[[Any], list[Item]]


# ------------------------------------------------------------------ underlay steps


def step_routers_reach_hub(lab: Any) -> list[Item]:
    """Every router reaches the hub's NBMA address through the ISP (NAT boxes included)."""
    hub = lab.topology.hub
    checks: list[Item] = []
    for r in lab.topology.routers:
        res = lab.ping(r.name, str(hub.nbma_address), count=2)
        checks.append(Check(f"{r.name} -> hub NBMA {hub.nbma_address}", res.ok, _ping_summary(res)))
    return checks


def step_hosts_reach_router(lab: Any) -> list[Item]:
    """Every LAN host reaches its router's LAN address."""
    checks: list[Item] = []
    for r in lab.topology.routers:
        if not r.lan:
            continue
        for h in r.lan.hosts:
            res = lab.ping(h.name, str(r.lan.router_address.ip), count=2)
            checks.append(Check(f"{h.name} -> {r.name} {r.lan.router_address.ip}", res.ok, _ping_summary(res)))
    return checks


def step_capture_summary(lab: Any) -> list[Item]:
    """Every capture file is a readable pcapng; lists its packet count and how to open it."""
    lab.flush_captures()
    items: list[Item] = []
    for path in sorted(lab.capture_files()):
        try:
            with PcapNgReader(str(path)) as reader:
                count = sum(1 for _ in reader)
            items.append(Check(f"capture {path.name}", True, f"{count} packets"))
        except Exception as e:  # noqa: BLE001 - any unreadable file is a failed check
            items.append(Check(f"capture {path.name}", False, f"unreadable: {e}"))
    hub_isp = lab.capture_path(lab.topology.hub.name, ISP_NAME) if lab.captures else None
    if hub_isp is not None:
        items.append(Check("hub-isp capture saw the pings", hub_isp.exists() and hub_isp.stat().st_size > 300,
                           str(hub_isp)))
        items.append(Output("Open the captures (they stay after the lab is down)",
                            open_commands(lab.captures.directory, hub_isp)))
    return items


def open_commands(directory: Path, example: Path, cwd: Path | None = None) -> str:
    """Where the captures are and the one-line commands to open one (paths as the user types them)."""
    directory, example = _short_path(directory, cwd), _short_path(example, cwd)
    return (f"captures:  {directory}/\n"
            f"Wireshark: wireshark {example}\n"
            f"NHRP ladder in the terminal: dmvpnlab pcap {example}")


def _short_path(path: Path, cwd: Path | None = None) -> Path:
    """Relative to the current directory when it is below it (what `make demo` users type)."""
    try:
        return path.relative_to(cwd or Path.cwd())
    except ValueError:
        return path


# ------------------------------------------------------------------ names and links


def wan_link(router: Router) -> str:
    """The capture name of a router's WAN link (`spoke1-isp`, `spoke3-nat1`)."""
    return f"{router.name}-{router.wan.peer}"


def public_nbma(topology: Topology, router: Router) -> IPv4Address:
    """The address other routers see for `router`: its NAT box's outside address if it has one."""
    if router.nat:
        return topology.nat_box(router.nat).outside.ip
    return router.nbma_address


def address_names(topology: Topology) -> dict[IPv4Address, str]:
    """Address -> node name (routers' NBMA, public NBMA and tunnel address; hosts), for ladders."""
    names: dict[IPv4Address, str] = {}
    for r in topology.routers:
        names[r.nbma_address] = r.name
        names[public_nbma(topology, r)] = r.name
        names[r.tunnel_address.ip] = r.name
        for h in (r.lan.hosts if r.lan else []):
            names[h.address.ip] = h.name
    return names


def _who(address: IPv4Address | None, names: dict[IPv4Address, str]) -> str:
    if address is None:
        return "-"
    return f"{address} ({names[address]})" if address in names else str(address)


def clock(t: float) -> str:
    """Wall-clock time of a capture timestamp, to the millisecond (as Wireshark shows it)."""
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


# ------------------------------------------------------------------ NHRP in words


def traffic_indication_trigger(packet: Any) -> tuple[IPv4Address, IPv4Address] | None:
    """(source, destination) of the data packet that made the hub send a Traffic Indication."""
    if len(packet.payload) < 20:
        return None
    return IPv4Address(packet.payload[12:16]), IPv4Address(packet.payload[16:20])


def describe_nhrp(packet: Any, names: dict[IPv4Address, str]) -> str:
    """One line a network engineer reads: message, request id, hop count, what it says."""
    kind = PACKET_NAMES.get(int(packet.type), f"NHRP type {int(packet.type)}")
    t = int(packet.type)
    if t == TRAFFIC_INDICATION:
        trigger = traffic_indication_trigger(packet)
        what = (f"{names.get(trigger[0], trigger[0])} -> {names.get(trigger[1], trigger[1])} has a better path"
                if trigger else "(no trigger packet)")
        return f"{kind}: {what}"
    head = f"{kind} id {packet.request_id}"
    if t == RESOLUTION_REQUEST:  # the hop count tells the spoke's own request from the hub's forwarded copy
        return f"{head} hop {packet.hop_count}: {packet.src_proto} asks for {packet.dst_proto}"
    if t == RESOLUTION_REPLY and packet.cies:
        cie = packet.cies[0]
        network = IPv4Network(f"{packet.dst_proto}/{cie.prefix_len}", strict=False)
        return f"{head}: {network} via {cie.proto} at NBMA {cie.nbma}, hold {cie.holdtime}s"
    if t == REGISTRATION_REQUEST:
        return f"{head}: {packet.src_proto} is at NBMA {packet.src_nbma}"
    if t == REGISTRATION_REPLY:
        code = packet.cies[0].code if packet.cies else 0
        return f"{head}: {'accepted' if code == 0 else f'refused (code {code})'}"
    return head


NHRP_COLUMNS = ["time", "+ms", "link", "outer src -> dst", "message"]


def nhrp_ladder(title: str, sightings: Sequence[NhrpSighting], names: dict[IPv4Address, str]) -> Ladder:
    """NHRP messages in time order, one row per link each was seen on."""
    origin = sightings[0].time if sightings else 0.0
    rows = [[clock(s.time), f"{(s.time - origin) * 1000:.1f}", s.link,
             f"{_who(s.outer_src, names)} -> {_who(s.outer_dst, names)}", describe_nhrp(s.packet, names)]
            for s in sorted(sightings, key=lambda s: s.time)]
    return Ladder(title, list(NHRP_COLUMNS), rows)


def icmp_ladder(title: str, sightings: Sequence[IcmpSighting], names: dict[IPv4Address, str]) -> Ladder:
    """One ping sequence hop by hop: plain on the LANs, inside GRE on the WAN links."""
    ordered = sorted(sightings, key=lambda s: s.time)
    origin = ordered[0].time if ordered else 0.0
    rows = []
    for s in ordered:
        kind = "echo reply" if s.icmp_type == ICMP_ECHO_REPLY else "echo request"
        what = f"{kind} {names.get(s.src, s.src)} -> {names.get(s.dst, s.dst)} seq {s.seq}"
        outer = (f"{_who(s.outer_src, names)} -> {_who(s.outer_dst, names)}" if s.encapsulated
                 else "(LAN, not encapsulated)")
        rows.append([clock(s.time), f"{(s.time - origin) * 1000:.1f}", s.link, outer,
                     what + (" in GRE" if s.encapsulated else "")])
    return Ladder(title, list(NHRP_COLUMNS[:4]) + ["what"], rows)


# ------------------------------------------------------------------ the Phase 3 story (pure)


def _nhrp_of(nhrp: Iterable[NhrpSighting], ptype: int, link: str | None = None, since: float = 0.0) -> list[NhrpSighting]:
    return [s for s in nhrp if int(s.packet.type) == ptype and s.time >= since and (link is None or s.link == link)]


def _echoes(icmp: Iterable[IcmpSighting], src: Host, dst: Host, *, reply: bool, since: float) -> list[IcmpSighting]:
    """Echo requests src -> dst (reply=False) or their replies dst -> src, seen since `since`."""
    a, b = (dst.address.ip, src.address.ip) if reply else (src.address.ip, dst.address.ip)
    return [s for s in icmp if s.src == a and s.dst == b and (s.icmp_type == ICMP_ECHO_REPLY) == reply
            and s.time >= since]


def registration_story(topology: Topology, nhrp: Sequence[NhrpSighting]) -> list[Item]:
    """Every spoke's Registration Request to the hub and the hub's Reply, on the spoke's WAN link."""
    hub = topology.hub
    names = address_names(topology)
    shown: list[NhrpSighting] = []
    checks: list[Item] = []
    for spoke in topology.spokes:
        link, me = wan_link(spoke), spoke.tunnel_address.ip
        what = f"{spoke.name} registered with {hub.name} ({me} at NBMA {spoke.nbma_address})"
        requests = [s for s in _nhrp_of(nhrp, REGISTRATION_REQUEST, link)
                    if s.packet.src_proto == me and s.packet.dst_proto == hub.tunnel_address.ip]
        if not requests:
            checks.append(Check(what, False, f"no Registration Request on {link}"))
            continue
        answered = [(q, r) for q in requests for r in _nhrp_of(nhrp, REGISTRATION_REPLY, link, since=q.time)
                    if r.packet.request_id == q.packet.request_id and r.packet.src_proto == me]
        if not answered:
            checks.append(Check(what, False, f"{len(requests)} Registration Request(s) on {link}, no Reply"))
            continue
        request, reply = answered[0]
        code = reply.packet.cies[0].code if reply.packet.cies else 0
        ok = (code == 0 and request.outer_src == spoke.nbma_address and reply.outer_dst == spoke.nbma_address)
        checks.append(Check(what, ok, f"request id {request.packet.request_id} at {clock(request.time)} on {link}, "
                                      f"{'accepted' if code == 0 else f'refused, code {code}'} "
                                      f"{(reply.time - request.time) * 1000:.1f} ms later"))
        shown += [request, reply]
    if shown:
        checks.insert(0, nhrp_ladder("Registration Request/Reply on each spoke's WAN link", shown, names))
    return checks


@dataclass(frozen=True)
class DmvpnPeer:
    """One row of `show dmvpn` (continuation rows inherit the NBMA address above them)."""

    nbma: str
    tunnel: str
    state: str
    attributes: str


_IP = r"\d+\.\d+\.\d+\.\d+"
_DMVPN_ROW = re.compile(rf"^\s*\d+\s+({_IP})\s+({_IP})\s+(\S+)\s+\S+\s*(\S*)\s*$")
_DMVPN_MORE = re.compile(rf"^\s+({_IP})\s+(\S+)\s+\S+\s*(\S*)\s*$")


def parse_show_dmvpn(text: str) -> list[DmvpnPeer]:
    """The peer rows of IOS `show dmvpn` (all interfaces)."""
    peers: list[DmvpnPeer] = []
    nbma = ""
    for line in text.splitlines():
        if m := _DMVPN_ROW.match(line):
            nbma = m.group(1)
            peers.append(DmvpnPeer(nbma, m.group(2), m.group(3), m.group(4)))
        elif nbma and (m := _DMVPN_MORE.match(line)):
            peers.append(DmvpnPeer(nbma, m.group(1), m.group(2), m.group(3)))
    return peers


def dmvpn_peer_check(node: str, text: str, peer_name: str, nbma: IPv4Address, tunnel: IPv4Address) -> Check:
    """`show dmvpn` on `node` lists the peer (NBMA, tunnel address) in state UP."""
    rows = [p for p in parse_show_dmvpn(text) if p.nbma == str(nbma) and p.tunnel == str(tunnel)]
    up = [p for p in rows if p.state == "UP"]
    detail = (f"{nbma} / {tunnel} {up[0].state} {up[0].attributes}".rstrip() if up
              else f"{nbma} / {tunnel} state {rows[0].state}" if rows else f"no row for {nbma} / {tunnel}")
    return Check(f"{node} show dmvpn: {peer_name} is UP", bool(up), detail)


def without_legend(text: str, first_line: str) -> str:
    """The output from the line starting with `first_line` on (IOS legends are long and known)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(first_line):
            return "\n".join(lines[i:]).rstrip()
    return text.rstrip()


def hub_path_story(topology: Topology, icmp: Sequence[IcmpSighting], since: float,
                   requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """The first echo and its reply cross the hub's WAN link, in and out (no shortcut yet)."""
    hub, hub_link = topology.hub, wan_link(topology.hub)
    hub_public = public_nbma(topology, hub)
    items: list[Item] = []
    for reply, a, b in ((False, requester, owner), (True, owner, requester)):
        seen = _echoes(icmp, src, dst, reply=reply, since=since)
        kind = "echo reply" if reply else "echo request"
        what = (f"first {kind} {dst.name if reply else src.name} -> {src.name if reply else dst.name} "
                f"goes {a.name} -> {hub.name} -> {b.name}")
        if not seen:
            items.append(Check(what, False, "not seen on any link"))
            continue
        seq = min(s.seq for s in seen)
        hops = sorted((s for s in seen if s.seq == seq), key=lambda s: s.time)
        at_hub = [(s.outer_src, s.outer_dst) for s in hops if s.link == hub_link]
        ok = ((public_nbma(topology, a), hub_public) in at_hub and (hub.nbma_address, public_nbma(topology, b)) in at_hub)
        path = " -> ".join(s.link + (" (in)" if s.link == hub_link and s.outer_dst == hub.nbma_address else
                                     " (out)" if s.link == hub_link else "") for s in hops)
        items.append(Check(what, ok, f"seq {seq}: {path}"))
    return items


def redirect_story(topology: Topology, nhrp: Sequence[NhrpSighting], since: float,
                   requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """Traffic Indication to `requester`, its Resolution Request for `dst` forwarded by the hub
    (hop count down by one), and `owner`'s Resolution Reply straight to `requester`."""
    hub = topology.hub
    hub_link, req_link, own_link = wan_link(hub), wan_link(requester), wan_link(owner)
    hub_public, req_public, own_public = (public_nbma(topology, r) for r in (hub, requester, owner))
    me = requester.tunnel_address.ip
    target = dst.address.ip

    title = f"{hub.name} -> {requester.name}: Traffic Indication for {src.name} -> {dst.name}"
    indications = [s for s in _nhrp_of(nhrp, TRAFFIC_INDICATION, req_link, since)
                   if traffic_indication_trigger(s.packet) == (src.address.ip, target)]
    if not indications:
        return [Check(title, False, f"none on {req_link}")]
    ti = indications[0]
    checks: list[Item] = [Check(title, ti.outer_src == hub_public and ti.packet.dst_proto == src.address.ip,
                                f"{clock(ti.time)} on {req_link}, {ti.outer_src} -> {ti.outer_dst}, "
                                f"addressed to {ti.packet.dst_proto}")]

    title = f"{requester.name} asks {hub.name}: Resolution Request for {target}"
    asked = [s for s in _nhrp_of(nhrp, RESOLUTION_REQUEST, req_link, ti.time)
             if s.packet.src_proto == me and s.packet.dst_proto == target and s.outer_src == requester.nbma_address]
    if not asked:
        return checks + [Check(title, False, f"none on {req_link} after the Traffic Indication")]
    ask = asked[0]
    rid, hops = ask.packet.request_id, ask.packet.hop_count
    checks.append(Check(title, ask.outer_dst == hub_public,
                        f"id {rid}, hop count {hops}, {(ask.time - ti.time) * 1000:.1f} ms after the redirect"))

    def same(s: NhrpSighting) -> bool:
        return s.packet.request_id == rid and s.packet.src_proto == me

    forwarded = [s for s in _nhrp_of(nhrp, RESOLUTION_REQUEST, hub_link, ask.time)
                 if same(s) and s.outer_src == hub.nbma_address and s.outer_dst == own_public]
    title = f"{hub.name} forwards it to {owner.name}, hop count {hops - 1}"
    checks.append(Check(title, bool(forwarded) and forwarded[0].packet.hop_count == hops - 1,
                        f"on {hub_link}, {hub.nbma_address} -> {own_public}, hop count {hops} -> "
                        f"{forwarded[0].packet.hop_count}" if forwarded else f"not seen on {hub_link}"))

    title = f"{owner.name} answers {requester.name} directly: Resolution Reply, not via {hub_link}"
    at_owner = [s for s in _nhrp_of(nhrp, RESOLUTION_REPLY, own_link, ask.time) if same(s) and s.outer_src == owner.nbma_address]
    at_requester = [s for s in _nhrp_of(nhrp, RESOLUTION_REPLY, req_link, ask.time)
                    if same(s) and s.outer_dst == requester.nbma_address]
    at_hub = [s for s in _nhrp_of(nhrp, RESOLUTION_REPLY, hub_link, ask.time) if same(s)]
    if not at_requester:
        return checks + [Check(title, False, f"no Resolution Reply id {rid} reached {req_link}")]
    reply = at_requester[0]
    direct = bool(at_owner) and reply.outer_src == own_public and not at_hub
    checks.append(Check(title, direct, f"id {rid}, {reply.outer_src} -> {reply.outer_dst} on {own_link} and {req_link}, "
                                       + (f"but also on {hub_link}" if at_hub else f"never on {hub_link}")
                        if at_owner else f"seen on {req_link} but not on {own_link}"))

    cie = reply.packet.cies[0] if reply.packet.cies else None
    if cie is None:
        return checks + [Check("the Resolution Reply carries the owner's prefix", False, "no CIE")]
    network = IPv4Network(f"{target}/{cie.prefix_len}", strict=False)
    expected = owner.lan.network if owner.lan else IPv4Network(f"{target}/32")
    checks.append(Check(f"the answer: {network} via {cie.proto} at NBMA {cie.nbma}",
                        network == expected and cie.proto == owner.tunnel_address.ip
                        and cie.nbma in (owner.nbma_address, own_public),
                        f"{owner.name}'s whole LAN, holdtime {cie.holdtime} s" if network == expected
                        else f"expected {expected} via {owner.tunnel_address.ip}"))
    return checks


def last_resolution_reply(nhrp: Sequence[NhrpSighting], since: float) -> float | None:
    """When the last Resolution Reply of the story was seen: after it, packets go direct."""
    times = [s.time for s in _nhrp_of(nhrp, RESOLUTION_REPLY, since=since)]
    return max(times) if times else None


def route_check(node: str, command: str, text: str, network: IPv4Network, next_hop: IPv4Address) -> Check:
    """`show ip route nhrp` (an H line) or `ip route show proto nhrp` has network via next_hop."""
    if command.startswith("show"):
        lines = [l for l in text.splitlines() if l.startswith("H ") and f" {network} " in l and f"via {next_hop}" in l]
    else:
        lines = [l for l in text.splitlines() if l.startswith(f"{network} via {next_hop} ")]
    return Check(f"{node} {command}: {network} via {next_hop}", bool(lines),
                 " ".join(lines[0].split()) if lines else "no such route")


def direct_path_story(topology: Topology, icmp: Sequence[IcmpSighting], since: float, direct_after: float | None,
                      requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """After the shortcut: echoes and replies only on the two spokes' WAN links, never the hub's;
    with a ladder of one sequence before and one after."""
    hub_link, req_link, own_link = wan_link(topology.hub), wan_link(requester), wan_link(owner)
    names = address_names(topology)
    seen = _echoes(icmp, src, dst, reply=False, since=since) + _echoes(icmp, src, dst, reply=True, since=since)
    by_seq: dict[int, list[IcmpSighting]] = {}
    for s in sorted(seen, key=lambda s: s.time):
        by_seq.setdefault(s.seq, []).append(s)
    if not by_seq:
        return [Check(f"echoes {src.name} -> {dst.name} seen", False, "none in the captures")]
    if direct_after is None:
        return [Check("a shortcut formed (a Resolution Reply was seen)", False, "no Resolution Reply in the captures")]
    later = [seq for seq, hops in by_seq.items() if hops[0].time > direct_after + DIRECT_MARGIN]
    items: list[Item] = []
    first = min(by_seq)
    items.append(icmp_ladder(f"Before: seq {first}, request and reply (via the hub)", by_seq[first], names))
    if not later:
        return items + [Check("echoes sent after the shortcut formed", False, "none: every echo was before it")]
    last = max(later)
    items.append(icmp_ladder(f"After: seq {last}, request and reply (direct)", by_seq[last], names))
    crossed = [seq for seq in later if any(s.link == hub_link for s in by_seq[seq])]
    items.append(Check(f"seq {min(later)}-{last}: never on {hub_link}", not crossed,
                       f"{len(later)} echo requests and their replies" if not crossed
                       else f"seq {', '.join(map(str, crossed))} crossed the hub"))
    ours = {requester.nbma_address, public_nbma(topology, requester)}
    theirs = {owner.nbma_address, public_nbma(topology, owner)}
    endpoints = {(a, b) for a in ours for b in theirs} | {(b, a) for a in ours for b in theirs}
    missing = [seq for seq in later
               if not {req_link, own_link} <= {s.link for s in by_seq[seq]}
               or any(s.encapsulated and (s.outer_src, s.outer_dst) not in endpoints for s in by_seq[seq])]
    items.append(Check(f"seq {min(later)}-{last}: spoke to spoke, {req_link} and {own_link} only", not missing,
                       f"GRE {requester.nbma_address} <-> {owner.nbma_address}" if not missing
                       else f"seq {', '.join(map(str, missing))} took another path"))
    return items


# ------------------------------------------------------------------ the Phase 3 story (live)


@dataclass
class StoryRun:
    """The story's traffic, made once per lab and read by every story step."""

    since: float  # wall clock just before the first echo: bounds every capture query
    ping: Any  # the ExecResult of ping from the requester's host
    nhrp: list[NhrpSighting]
    icmp: list[IcmpSighting]
    requester: Router
    src: Host
    owner: Router
    dst: Host


_RUNS: dict[int, tuple[Any, StoryRun]] = {}


def story_cast(topology: Topology) -> tuple[Router, Host, Router, Host] | str:
    """(requester, its host, owner, its host) for the Phase 3 story, or why this lab has none."""
    phases = {r.vars.get("phase") for r in topology.routers if r.template}
    if phases != {3}:
        return f"not a Phase 3 lab (phase {', '.join(sorted(map(str, phases))) or 'none'})"
    spokes = [r for r in topology.spokes if r.lan and r.lan.hosts]
    if len(spokes) < 2:
        return "the story needs two spokes with LAN hosts"
    return spokes[0], spokes[0].lan.hosts[0], spokes[1], spokes[1].lan.hosts[0]  # type: ignore[union-attr]


def _story(lab: Any) -> StoryRun:
    """Ping requester host -> owner host once (first echo via the hub, the rest direct), wait for
    both shortcut routes, then read the captures."""
    cached = _RUNS.get(id(lab))
    if cached is not None and cached[0] is lab:
        return cached[1]
    cast = story_cast(lab.topology)
    if isinstance(cast, str):
        raise RuntimeError(cast)
    requester, src, owner, dst = cast
    since = time.time()
    result = lab.exec(src.name, ["ping", "-n", "-c", str(STORY_PINGS), "-i", str(STORY_PING_INTERVAL),
                                 "-W", "1", str(dst.address.ip)], timeout=STORY_PINGS * (STORY_PING_INTERVAL + 1) + 5)
    _wait_for(lambda: _has_route(lab, requester.name, owner) and _has_route(lab, owner.name, requester), ROUTE_WAIT)
    lab.flush_captures()
    seen = CaptureSet(lab.captures.directory)
    run = StoryRun(since, result, seen.nhrp, seen.icmp, requester, src, owner, dst)
    _RUNS[id(lab)] = (lab, run)
    return run


def _has_route(lab: Any, node: str, towards: Router) -> bool:
    if towards.lan is None:
        return False
    text = lab.exec(node, ["ip", "route", "show", "proto", "nhrp"]).stdout
    return any(l.startswith(f"{towards.lan.network} via {towards.tunnel_address.ip} ") for l in text.splitlines())


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _cli(lab: Any, node: str, command: str) -> str:
    """An IOS command on a router, through its control socket (as `dmvpnlab cli NODE -c` does)."""
    from dmvpnlab.cli.client import run_cli

    return run_cli(lab.records.directory / node, command)


def _skip(lab: Any) -> list[Item] | None:
    cast = story_cast(lab.topology)
    return [Output("Skipped", cast)] if isinstance(cast, str) else None


def step_registrations(lab: Any) -> list[Item]:
    """Every spoke registered with the hub at bring-up; the hub's `show dmvpn` lists them UP."""
    if not lab.agents:
        return [Output("Skipped", "no router agents run in this lab")]
    lab.flush_captures()
    seen = CaptureSet(lab.captures.directory)
    items = registration_story(lab.topology, seen.nhrp)
    hub = lab.topology.hub
    text = _cli(lab, hub.name, "show dmvpn")
    items.append(Output(f"{hub.name}# show dmvpn", without_legend(text, "Interface:")))
    for spoke in lab.topology.spokes:
        items.append(dmvpn_peer_check(hub.name, text, spoke.name, public_nbma(lab.topology, spoke),
                                      spoke.tunnel_address.ip))
    return items


def step_first_packets_via_hub(lab: Any) -> list[Item]:
    """The first echo h1 -> h2 (and its reply) cross the hub's WAN link."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story(lab)
    items: list[Item] = [Check(f"{run.src.name} pings {run.dst.name} {run.dst.address.ip} ({STORY_PINGS} echoes)",
                               run.ping.ok, _ping_summary(run.ping))]
    return items + hub_path_story(lab.topology, run.icmp, run.since, run.requester, run.src, run.owner, run.dst)


def step_redirect_and_resolution(lab: Any) -> list[Item]:
    """The hub redirects both spokes; each resolves the other's host through the hub and the
    other spoke answers it directly."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story(lab)
    topo = lab.topology
    story = sorted((s for s in run.nhrp if s.time >= run.since
                    and int(s.packet.type) in (TRAFFIC_INDICATION, RESOLUTION_REQUEST, RESOLUTION_REPLY)),
                   key=lambda s: s.time)
    items: list[Item] = [nhrp_ladder("NHRP after the first echo, on every WAN link it crossed", story,
                                     address_names(topo))]
    items += redirect_story(topo, run.nhrp, run.since, run.requester, run.src, run.owner, run.dst)
    items += redirect_story(topo, run.nhrp, run.since, run.owner, run.dst, run.requester, run.src)
    return items


def step_shortcuts(lab: Any) -> list[Item]:
    """Both spokes installed a shortcut route (H in IOS, `proto nhrp` in the kernel) and
    spoke1's `show dmvpn` lists spoke2 as a peer."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story(lab)
    items: list[Item] = []
    for node, peer in ((run.requester, run.owner), (run.owner, run.requester)):
        assert peer.lan is not None
        if node is run.requester:
            text = _cli(lab, node.name, "show ip route nhrp")
            items.append(Output(f"{node.name}# show ip route nhrp", without_legend(text, "Gateway")))
            items.append(route_check(node.name, "show ip route nhrp", text, peer.lan.network, peer.tunnel_address.ip))
        kernel = lab.exec(node.name, ["ip", "route", "show", "proto", "nhrp"]).stdout
        items.append(Output(f"{node.name}$ ip route show proto nhrp", kernel.rstrip() or "(none)"))
        items.append(route_check(node.name, "ip route show proto nhrp", kernel, peer.lan.network, peer.tunnel_address.ip))
    text = _cli(lab, run.requester.name, "show dmvpn")
    items.append(Output(f"{run.requester.name}# show dmvpn", without_legend(text, "Interface:")))
    items.append(dmvpn_peer_check(run.requester.name, text, run.owner.name, public_nbma(lab.topology, run.owner),
                                  run.owner.tunnel_address.ip))
    return items


def step_direct_path(lab: Any) -> list[Item]:
    """After the shortcut, echoes go spoke to spoke: only the spokes' WAN links, never the hub's."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story(lab)
    return direct_path_story(lab.topology, run.icmp, run.since, last_resolution_reply(run.nhrp, run.since),
                             run.requester, run.src, run.owner, run.dst)


CAPTURES_TITLE = "Captures: one pcapng per link, and how to open them"

STEPS: list[Step] = [
    Step("Underlay: every router reaches the hub NBMA through the ISP", step_routers_reach_hub),
    Step("Underlay: every LAN host reaches its router", step_hosts_reach_router),
    Step("NHRP registration: every spoke registers with the hub", step_registrations),
    Step("Phase 3: the first packets h1 -> h2 go through the hub", step_first_packets_via_hub),
    Step("Phase 3: the hub redirects (Traffic Indication), the spokes resolve", step_redirect_and_resolution),
    Step("Phase 3: shortcut routes installed", step_shortcuts),
    Step("Phase 3: the direct path, spoke to spoke", step_direct_path),
    Step(CAPTURES_TITLE, step_capture_summary),
]


def register_step(step: Step, before: str | None = None) -> None:
    """Add a step (at the end, or before the step titled `before`)."""
    if before is None:
        STEPS.append(step)
        return
    for i, s in enumerate(STEPS):
        if s.title == before:
            STEPS.insert(i, step)
            return
    STEPS.append(step)


# ------------------------------------------------------------------ printing


class PlainPrinter:
    """Plain text: logs, pipes, CI (and tests)."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    def step(self, number: int, title: str) -> None:
        self.out(f"\n[{number}] {title}")

    def check(self, check: Check) -> None:
        mark = "ok  " if check.ok else "FAIL"
        self.out(f"    {mark} {check.what}" + (f"  ({check.detail})" if check.detail else ""))

    def output(self, item: Output) -> None:
        self.out(f"    {item.title}")
        for line in item.text.splitlines():
            self.out(f"      {line}".rstrip())

    def ladder(self, item: Ladder) -> None:
        self.out(f"    {item.title}")
        for line in format_table(item.columns, item.rows):
            self.out(f"      {line}")


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return [line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows]


class RichPrinter:
    """A terminal: colours, real tables (rich); CLI outputs stay verbatim."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)

    def step(self, number: int, title: str) -> None:
        from rich.text import Text

        self.console.print()
        self.console.print(Text(f"[{number}] {title}", style="bold cyan"))

    def check(self, check: Check) -> None:
        from rich.text import Text

        line = Text("    ")
        line.append("ok  " if check.ok else "FAIL", style="bold green" if check.ok else "bold red")
        line.append(f" {check.what}")
        if check.detail:
            line.append(f"  ({check.detail})", style="dim")
        self.console.print(line)

    def output(self, item: Output) -> None:
        from rich.padding import Padding
        from rich.text import Text

        self.console.print(Text(f"    {item.title}", style="bold"))
        self.console.print(Padding(Text(item.text), (0, 0, 0, 6)))

    def ladder(self, item: Ladder) -> None:
        from rich import box
        from rich.padding import Padding
        from rich.table import Table
        from rich.text import Text

        self.console.print(Text(f"    {item.title}", style="bold"))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in item.columns:
            table.add_column(column, justify="right" if column == "+ms" else "left")
        for row in item.rows:
            table.add_row(*(Text(cell) for cell in row))
        self.console.print(Padding(table, (0, 0, 0, 6)))


def run_steps(lab: Any, out: Callable[[str], None] = print, steps: list[Step] | None = None,
              rich: bool | None = None) -> bool:
    """Run the steps, printing what each showed and each check; True if all held (a crashing
    step is a failure). rich=None: rich on a terminal when printing to stdout, plain otherwise."""
    if rich is None:
        rich = out is print and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
    printer: PlainPrinter | RichPrinter = RichPrinter() if rich else PlainPrinter(out)
    all_ok = True
    for n, step in enumerate(steps if steps is not None else STEPS, 1):
        printer.step(n, step.title)
        try:
            items = step.run(lab)
        except Exception as e:  # noqa: BLE001 - the demo reports, it does not crash
            items = [Check("step ran", False, f"{type(e).__name__}: {e}")]
        for item in items:
            if isinstance(item, Check):
                printer.check(item)
                all_ok &= item.ok
            elif isinstance(item, Ladder):
                printer.ladder(item)
            else:
                printer.output(item)
    return all_ok


def _ping_summary(res: Any) -> str:
    for line in res.stdout.splitlines():
        if "packets transmitted" in line:
            return line.strip()
    return (res.stderr or res.stdout).strip().splitlines()[-1] if (res.stderr or res.stdout).strip() else f"rc {res.rc}"
