"""The IPsec chapter of the demo judged from CLI text and decrypted captures: IKE with every spoke,
the first SAs, a WAN that carries only ISAKMP and ESP (every ESP packet decrypting), and the
spoke-to-spoke SA that carries the direct path after the redirect.

Pure: the functions take the topology, `show crypto ...` text, `protection_report`
counts (tshark with the exported keys) and path sightings (which carry the SPI of the
ESP they came in), and return items; `ipsec_steps` makes the traffic and collects them.
The parsers read IOS's formats (`show crypto isakmp sa`, `show crypto ipsec sa`), so
they read a real router's output as well as ours. Imports `items`, `ladders`,
`dmvpnlab.analysis.paths` and `dmvpnlab.lab.topology.model`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from dmvpnlab.analysis.paths import IcmpSighting
from dmvpnlab.lab.demo.items import Check, Item, Output
from dmvpnlab.lab.demo.ladders import public_nbma, wan_link
from dmvpnlab.lab.topology.model import Router, Topology

_PROTECTION = re.compile(r"^\s+tunnel protection ipsec profile \S+", re.MULTILINE)
_IP = r"\d+\.\d+\.\d+\.\d+"
_ISAKMP_ROW = re.compile(rf"^({_IP})\s+({_IP})\s+(\S+)\s+(\d+)\s*(\S*)\s*$")


def has_protection(configs: Iterable[str]) -> bool:
    """True if any router config puts `tunnel protection ipsec profile` on an interface."""
    return any(_PROTECTION.search(text) for text in configs)


@dataclass(frozen=True)
class IsakmpRow:
    """One line of `show crypto isakmp sa`."""

    dst: str
    src: str
    state: str
    conn_id: int
    status: str


def parse_isakmp_sa(text: str) -> list[IsakmpRow]:
    return [IsakmpRow(m[1], m[2], m[3], int(m[4]), m[5]) for line in text.splitlines()
            if (m := _ISAKMP_ROW.match(line.strip()))]


@dataclass
class IpsecPeer:
    """One peer block of `show crypto ipsec sa`: counters, SPIs, transform, mode."""

    peer: str
    port: int
    encaps: int = 0
    decaps: int = 0
    verify_failed: int = 0
    outbound_spi: int | None = None
    inbound_spis: list[int] = field(default_factory=list)
    outbound_spis: list[int] = field(default_factory=list)
    transform: str = ""
    mode: str = ""

    @property
    def spis(self) -> set[int]:
        return set(self.inbound_spis) | set(self.outbound_spis) | (
            {self.outbound_spi} if self.outbound_spi is not None else set())


_PEER = re.compile(rf"current_peer ({_IP}) port (\d+)")
_COUNTER = re.compile(r"#pkts (encaps|decaps|verify failed): (\d+)")
_OUT_SPI = re.compile(r"current outbound spi: 0x([0-9A-Fa-f]+)")
_SPI = re.compile(r"^\s*spi: 0x([0-9A-Fa-f]+)")
_TRANSFORM = re.compile(r"transform: (.+?)\s*,?\s*$")
_MODE = re.compile(r"in use settings =\{(\w+)")


def parse_ipsec_sa(text: str) -> list[IpsecPeer]:
    """The peer blocks of `show crypto ipsec sa` (what each SA list holds, per direction)."""
    peers: list[IpsecPeer] = []
    peer: IpsecPeer | None = None
    direction = ""
    for line in text.splitlines():
        if m := _PEER.search(line):
            peer = IpsecPeer(m[1], int(m[2]))
            peers.append(peer)
            direction = ""
            continue
        if peer is None:
            continue
        for name, value in _COUNTER.findall(line):
            setattr(peer, name.replace(" ", "_"), int(value))
        stripped = line.strip().lower()
        if stripped.startswith(("inbound esp sas", "outbound esp sas")):
            direction = stripped.split()[0]
        elif (m := _OUT_SPI.search(line)) and int(m[1], 16):
            peer.outbound_spi = int(m[1], 16)
        elif (m := _SPI.match(line)) and direction:
            (peer.inbound_spis if direction == "inbound" else peer.outbound_spis).append(int(m[1], 16))
        elif (m := _TRANSFORM.search(line)) and not peer.transform:
            peer.transform = m[1].rstrip(" ,")
        elif (m := _MODE.search(line)) and not peer.mode:
            peer.mode = m[1]
    return peers


def ike_story(topology: Topology, node: str, isakmp_text: str, reports: Mapping[str, Mapping[str, Any]]) -> list[Item]:
    """`node` (the hub) has an ISAKMP SA in QM_IDLE with every spoke, and each spoke's WAN link
    carried the ISAKMP exchange (UDP 500, or 4500 behind a NAT)."""
    rows = parse_isakmp_sa(isakmp_text)
    me = next((r for r in topology.routers if r.name == node), topology.hub)
    items: list[Item] = []
    for spoke in topology.spokes:
        peer = str(public_nbma(topology, spoke))
        mine = [r for r in rows if peer in (r.dst, r.src)]
        idle = [r for r in mine if r.state == "QM_IDLE" and r.status == "ACTIVE"]
        detail = (f"{idle[0].dst} <- {idle[0].src} QM_IDLE conn-id {idle[0].conn_id}" if idle
                  else f"state {mine[0].state} {mine[0].status}".rstrip() if mine else f"no ISAKMP SA with {peer}")
        items.append(Check(f"{me.name} show crypto isakmp sa: {spoke.name} ({peer}) QM_IDLE, ACTIVE", bool(idle), detail))
        link = wan_link(spoke)
        report = reports.get(link)
        count = int(report.get("isakmp", 0)) if report else 0
        items.append(Check(f"IKE (Main Mode + Quick Mode) seen on {link}", count > 0,
                           f"{count} ISAKMP packets" if report else f"no capture of {link}"))
    return items


def first_sa_story(topology: Topology, node: str, ipsec_text: str, exported_spis: set[int]) -> list[Item]:
    """`node` (the hub) has an ESP SA pair with every spoke that carried packets both ways,
    in transport mode, and the lab exported its keys (both SPIs are in `esp_sa`)."""
    peers = parse_ipsec_sa(ipsec_text)
    items: list[Item] = []
    for spoke in topology.spokes:
        address = str(public_nbma(topology, spoke))
        block = next((p for p in peers if p.peer == address), None)
        title = f"{node} show crypto ipsec sa: {spoke.name} ({address}) has an SA pair carrying packets"
        if block is None:
            items.append(Check(title, False, f"no current_peer {address}"))
            continue
        ok = block.encaps > 0 and block.decaps > 0 and bool(block.inbound_spis) and block.outbound_spi is not None
        items.append(Check(title, ok, f"encaps {block.encaps}, decaps {block.decaps}, {block.transform or '?'}, "
                                      f"{block.mode or '?'} mode, port {block.port}"))
        items.append(Check(f"{spoke.name}'s SA is transport mode (GRE between the NBMA addresses)",
                           block.mode.lower() == "transport", block.mode or "no `in use settings` line"))
        missing = sorted(block.spis - exported_spis)
        items.append(Check(f"the keys of {spoke.name}'s SAs are in esp_sa (Wireshark can decrypt them)",
                           bool(block.spis) and not missing,
                           ", ".join(f"0x{s:08x}" for s in sorted(block.spis)) if not missing
                           else f"missing {', '.join(f'0x{s:08x}' for s in missing)}"))
    return items


def wan_links(topology: Topology) -> list[str]:
    """Every captured link that is on the WAN side of a router (router-ISP, router-NAT, NAT-ISP)."""
    links = [wan_link(r) for r in topology.routers if r.template]
    links += [f"{box.name}-isp" for box in getattr(topology, "nat_boxes", [])]
    return links


def wan_story(topology: Topology, reports: Mapping[str, Mapping[str, Any]]) -> list[Item]:
    """Every WAN link carries only ISAKMP and ESP (no cleartext GRE or NHRP), every ESP packet
    decrypts in tshark with the exported keys with a good ICV, and the NHRP and the pings are
    found inside."""
    rows = ["link              ESP  decrypted  ICV bad  inner NHRP  inner ICMP  cleartext GRE  ISAKMP"]
    items: list[Item] = []
    inner_nhrp = inner_icmp = 0
    for link in wan_links(topology):
        report = reports.get(link)
        if report is None:
            items.append(Check(f"{link}: captured", False, "no capture of this link"))
            continue
        r = {k: int(v or 0) for k, v in report.items() if k != "damaged"}
        rows.append(f"{link:<16} {r['esp']:>4} {r['esp_decrypted_ok']:>10} {r['esp_icv_bad']:>8} "
                    f"{r['inner_nhrp']:>11} {r['inner_icmp']:>11} {r['cleartext_gre']:>14} {r['isakmp']:>7}")
        inner_nhrp += r["inner_nhrp"]
        inner_icmp += r["inner_icmp"]
        items.append(Check(f"{link}: no cleartext GRE or NHRP", r["cleartext_gre"] == 0 and r["cleartext_nhrp"] == 0,
                           f"{r['cleartext_gre']} cleartext GRE ({r['cleartext_nhrp']} NHRP)"))
        items.append(Check(f"{link}: every ESP packet decrypts, ICV good", r["esp"] > 0 and
                           r["esp_decrypted_ok"] == r["esp"],
                           f"{r['esp_decrypted_ok']} of {r['esp']} (ICV bad {r['esp_icv_bad']}, "
                           f"not decrypted {r['esp_undecrypted']})"))
    items.insert(0, Output("Per WAN link, decrypted by tshark with the exported keys", "\n".join(rows)))
    items.append(Check("NHRP and ICMP found inside ESP", inner_nhrp > 0 and inner_icmp > 0,
                       f"{inner_nhrp} NHRP, {inner_icmp} ICMP packets inside ESP on the WAN links"))
    return items


def spoke_sa_story(topology: Topology, requester: Router, owner: Router, isakmp_text: str, ipsec_text: str,
                   icmp: Sequence[IcmpSighting], direct_after: float | None) -> list[Item]:
    """After the redirect `requester` negotiated its own SAs with `owner` (ISAKMP QM_IDLE, an
    ESP pair), and the echoes after the shortcut travelled in ESP on those SAs between the two
    spokes' NBMA addresses."""
    owner_public = public_nbma(topology, owner)
    rows = [r for r in parse_isakmp_sa(isakmp_text) if str(owner_public) in (r.dst, r.src)]
    idle = [r for r in rows if r.state == "QM_IDLE"]
    items: list[Item] = [Check(f"{requester.name} show crypto isakmp sa: {owner.name} ({owner_public}) QM_IDLE",
                               bool(idle), f"conn-id {idle[0].conn_id}" if idle else
                               f"state {rows[0].state}" if rows else "no ISAKMP SA with the other spoke")]
    block = next((p for p in parse_ipsec_sa(ipsec_text) if p.peer == str(owner_public)), None)
    items.append(Check(f"{requester.name} show crypto ipsec sa: an SA pair with {owner.name}",
                       block is not None and block.encaps > 0 and block.decaps > 0,
                       f"encaps {block.encaps}, decaps {block.decaps}, spi in "
                       f"{', '.join(f'0x{s:08x}' for s in block.inbound_spis) or '?'}" if block
                       else f"no current_peer {owner_public}"))
    if direct_after is None:
        return items + [Check("echoes after the shortcut travel in the spoke-to-spoke SA", False,
                              "no Resolution Reply: no shortcut formed")]
    ours = {requester.nbma_address, public_nbma(topology, requester)}
    theirs = {owner.nbma_address, owner_public}
    direct = [s for s in icmp if s.time > direct_after and s.link in (wan_link(requester), wan_link(owner))
              and s.outer_src is not None and {s.outer_src, s.outer_dst} & ours and {s.outer_src, s.outer_dst} & theirs]
    in_esp = [s for s in direct if s.esp_spi is not None]
    on_sa = [s for s in in_esp if block is not None and s.esp_spi in block.spis]
    items.append(Check(f"echoes after the shortcut: ESP between {requester.name} and {owner.name} on that SA pair",
                       bool(direct) and len(on_sa) == len(direct),
                       f"{len(on_sa)} of {len(direct)} sightings on SPIs "
                       f"{', '.join(sorted({f'0x{s.esp_spi:08x}' for s in in_esp}))}" if in_esp
                       else f"{len(direct)} direct sightings, none in ESP"))
    return items


def exported_spis(lines: Iterable[str]) -> set[int]:
    """The SPIs named by `esp_sa` lines (the fourth field, `"0x..."`)."""
    spis: set[int] = set()
    for line in lines:
        fields = line.split(",")
        if len(fields) >= 4:
            try:
                spis.add(int(fields[3].strip('"'), 16))
            except ValueError:
                continue
    return spis

