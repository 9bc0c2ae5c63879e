"""The routers and links one flow crossed, worked out from the captures alone.

`paths.CaptureSet` finds every sighting of an ICMP echo per link (plain, in GRE, in GRE in
ESP). This module groups the sightings of one echo request (same source, destination,
ICMP id and sequence) and orders the routers it went through:

* a plain sighting on `owner-peer` means router `owner` handled it (its LAN, or its WAN in
  the clear);
* an encapsulated sighting means a tunnel hop from the router whose NBMA address is the
  outer source to the router whose NBMA address is the outer destination. The ISP is the
  underlay: it carries the hop, it is never a hop itself.

Sightings are taken in time order, each adding its routers unless one is already the last
in the path, so `spoke1-h1`, GRE spoke1->hub, GRE hub->spoke2, `spoke2-h2` read
`spoke1, hub, spoke2`. The NBMA -> router map comes from the caller (the lab knows its
routers); without one it is inferred from the capture names: on `owner-isp` the owner's
address is the one every tunnel packet there carries as outer source or destination.

Why a `FlowPath` compares equal to a list of router names: scenarios read
`lab.path("h1", "h2") == ["spoke1", "spoke2"]`. An empty path carries a `reason`, so "no
packet seen" is never mistaken for "a path of no routers". Never imports the lab.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from dmvpnlab.analysis.paths import ICMP_ECHO_REQUEST, CaptureSet, IcmpSighting, echoes


@dataclass(frozen=True)
class Proof:
    """Where one hop of a flow can be seen: a capture file, a frame number, its time."""

    link: str
    file: Path
    frame: int
    time: float
    outer: str = ""  # "100.64.1.1 -> 203.0.113.1" for a tunnel packet, "" when plain
    esp_spi: int | None = None

    def __str__(self) -> str:
        where = f"{self.file.name}:{self.frame} at {self.time:.6f}"
        if self.outer:
            where += f" (GRE {self.outer}" + (f", ESP SPI 0x{self.esp_spi:08x})" if self.esp_spi is not None else ")")
        return where


@dataclass(frozen=True, eq=False)
class FlowPath:
    """The ordered routers and links one echo request crossed, with the frames that prove it."""

    routers: list[str]
    links: list[str]
    frames: list[Proof] = field(default_factory=list)  # per link and tunnel hop (a hub's link: in and out), in time order
    first: float | None = None  # time of its first and last sighting
    last: float | None = None
    reason: str = ""  # why the path is empty
    ident: int | None = None  # the ICMP id and sequence of the packet it describes
    seq: int | None = None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlowPath):
            return self.routers == other.routers and self.links == other.links
        if isinstance(other, (list, tuple)):
            return self.routers == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.routers))

    def __bool__(self) -> bool:
        return bool(self.routers)

    def __str__(self) -> str:
        return " -> ".join(self.routers) if self.routers else f"(nothing: {self.reason})"

    @property
    def via(self) -> str:
        """`direct`, or `via hub` (the routers between the first and the last)."""
        middle = self.routers[1:-1]
        return "via " + ", ".join(middle) if middle else "direct"


@dataclass(frozen=True)
class PathCount:
    """A run of consecutive packets that took the same path."""

    path: FlowPath  # the last packet of the run
    count: int

    def __str__(self) -> str:
        return f"{self.count} {self.path.via} ({self.path})"


def describe_runs(runs: Sequence[PathCount]) -> str:
    """`first 1 via hub (spoke1 -> hub -> spoke2), then 9 direct (spoke1 -> spoke2)`."""
    if not runs:
        return "no packet seen"
    parts = [str(run) for run in runs]
    return "first " + ", then ".join(parts) if len(parts) > 1 else parts[0]


def infer_nbma(captures: CaptureSet) -> dict[IPv4Address, str]:
    """The NBMA address of each capture's owner: the outer address every tunnel packet on its
    link carries (owner-isp sees only the owner's own tunnel traffic); a link that saw
    one peer only is settled once the peer's own link is."""
    common: dict[str, set[IPv4Address]] = {}
    for s in captures.icmp:
        if s.outer_src is None or s.outer_dst is None:
            continue
        pair = {s.outer_src, s.outer_dst}
        common[s.link] = common[s.link] & pair if s.link in common else pair
    owners: dict[IPv4Address, str] = {}
    progress = True
    while progress:  # a link with one packet has two candidates: drop those other links already own
        progress = False
        for link, addresses in common.items():
            owner = link.split("-", 1)[0]
            left = {a for a in addresses if owners.get(a, owner) == owner}
            if len(left) == 1 and (address := next(iter(left))) not in owners:
                owners[address] = owner
                progress = True
    return owners


def _router_order(sightings: Sequence[IcmpSighting], nbma: Mapping[IPv4Address, str],
                  routers: set[str] | None) -> list[str]:
    order: list[str] = []
    hops: set[tuple[str | None, str | None]] = set()  # a tunnel hop is seen on both of its links: once is enough
    handled: set[str] = set()

    def add(name: str | None) -> None:
        if name and (routers is None or name in routers) and (not order or order[-1] != name):
            order.append(name)

    for s in sightings:
        owner = s.link.split("-", 1)[0]
        if s.outer_src is not None and s.outer_dst is not None:
            ends = nbma.get(s.outer_src), nbma.get(s.outer_dst)
            if ends in hops:
                continue
            hops.add(ends)
            if ends == (None, None):  # NBMA unknown (behind a NAT): at least the capture's owner
                add(owner)
            for name in ends:
                add(name)
        elif owner not in handled:
            handled.add(owner)
            add(owner)
    return order


def packet_path(sightings: Sequence[IcmpSighting], files: Mapping[str, Path], nbma: Mapping[IPv4Address, str],
                routers: set[str] | None = None) -> FlowPath:
    """The path of one packet from all its sightings (any order)."""
    ordered = sorted(sightings, key=lambda s: (s.time, s.frame))
    if not ordered:
        return FlowPath([], [], reason="no sighting")
    links: list[str] = []
    proofs: list[Proof] = []
    seen: set[tuple[str, IPv4Address | None, IPv4Address | None]] = set()
    for s in ordered:
        if (s.link, s.outer_src, s.outer_dst) in seen:  # a hub's link sees the packet in and out: both prove
            continue
        seen.add((s.link, s.outer_src, s.outer_dst))
        if s.link not in links:
            links.append(s.link)
        outer = f"{s.outer_src} -> {s.outer_dst}" if s.outer_src is not None else ""
        proofs.append(Proof(s.link, files.get(s.link, Path(f"{s.link}.pcapng")), s.frame, s.time, outer, s.esp_spi))
    return FlowPath(_router_order(ordered, nbma, routers), links, proofs, ordered[0].time, ordered[-1].time,
                    ident=ordered[0].ident, seq=ordered[0].seq)


def flow_paths(captures: CaptureSet, src: str | None, dst: str, *, since: float = 0.0,
               nbma: Mapping[IPv4Address, str] | None = None, routers: Iterable[str] | None = None,
               ident: int | None = None) -> list[FlowPath]:
    """One path per echo request src -> dst seen since `since` (optionally only ICMP id `ident`),
    in the order they were first seen. `src` None: any source (a probe known by its id)."""
    names = set(routers) if routers is not None else None
    owners = dict(infer_nbma(captures))
    owners.update(nbma or {})
    packets: dict[tuple[int, int], list[IcmpSighting]] = defaultdict(list)
    wanted = IPv4Address(dst)
    requests = (echoes(captures.icmp, IPv4Address(src), wanted, since=since) if src is not None else
                [s for s in captures.icmp if s.dst == wanted and s.icmp_type == ICMP_ECHO_REQUEST and s.time >= since])
    for s in requests:
        if ident is None or s.ident == ident:
            packets[(s.ident, s.seq)].append(s)
    paths = [packet_path(seen, captures.files, owners, names) for seen in packets.values()]
    return sorted(paths, key=lambda p: p.first or 0.0)


def runs(paths: Sequence[FlowPath]) -> list[PathCount]:
    """Consecutive packets with the same routers folded into one run with a count, in order
    (a path that comes back after another one is a new run: flapping stays visible)."""
    out: list[PathCount] = []
    for p in paths:
        if out and out[-1].path == p:
            out[-1] = PathCount(p, out[-1].count + 1)
        else:
            out.append(PathCount(p, 1))
    return out


def nothing_seen(captures: CaptureSet, src: str, dst: str, since: float) -> FlowPath:
    """The empty path, saying why: no capture at all, or no echo request src -> dst since `since`."""
    if not captures.files:
        reason = f"no capture in {captures.directory}"
    else:
        reason = (f"no ICMP echo request {src} -> {dst} in the {len(captures.files)} captures of "
                  f"{captures.directory}" + (f" since {since:.3f}" if since else ""))
    return FlowPath([], [], reason=reason)
