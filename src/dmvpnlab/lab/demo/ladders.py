"""Captured packets as a network engineer reads them: node names for addresses, NHRP in words, ladders.

Pure functions of the topology and the sightings (`dmvpnlab.analysis.paths`), shared
by every story and step that shows packets. Imports `items`, `dmvpnlab.lab.topology.model`,
`dmvpnlab.analysis` and the codec's packet types.
"""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Sequence

from dmvpnlab.analysis.paths import ICMP_ECHO_REPLY, IcmpSighting, NhrpSighting
from dmvpnlab.lab.demo.items import Ladder
from dmvpnlab.lab.topology.model import Router, Topology
from dmvpnlab.nhrp.codec import PACKET_NAMES, PacketType


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


def traffic_indication_trigger(packet: Any) -> tuple[IPv4Address, IPv4Address] | None:
    """(source, destination) of the data packet that made the hub send a Traffic Indication."""
    if len(packet.payload) < 20:
        return None
    return IPv4Address(packet.payload[12:16]), IPv4Address(packet.payload[16:20])


def describe_nhrp(packet: Any, names: dict[IPv4Address, str]) -> str:
    """One line a network engineer reads: message, request id, hop count, what it says."""
    kind = PACKET_NAMES.get(int(packet.type), f"NHRP type {int(packet.type)}")
    t = int(packet.type)
    if t == PacketType.TRAFFIC_INDICATION:
        trigger = traffic_indication_trigger(packet)
        what = (f"{names.get(trigger[0], trigger[0])} -> {names.get(trigger[1], trigger[1])} has a better path"
                if trigger else "(no trigger packet)")
        return f"{kind}: {what}"
    head = f"{kind} id {packet.request_id}"
    if t == PacketType.RESOLUTION_REQUEST:  # the hop count tells the spoke's own request from the hub's forwarded copy
        return f"{head} hop {packet.hop_count}: {packet.src_proto} asks for {packet.dst_proto}"
    if t == PacketType.RESOLUTION_REPLY and packet.cies:
        cie = packet.cies[0]
        network = IPv4Network(f"{packet.dst_proto}/{cie.prefix_len}", strict=False)
        return f"{head}: {network} via {cie.proto} at NBMA {cie.nbma}, hold {cie.holdtime}s"
    if t == PacketType.REGISTRATION_REQUEST:
        return f"{head}: {packet.src_proto} is at NBMA {packet.src_nbma}"
    if t == PacketType.REGISTRATION_REPLY:
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

