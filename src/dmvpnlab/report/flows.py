"""ICMP flows and the path each echo took, node by node, from the links it was seen on.

Why from sightings and not from routing tables: the captures show where a packet really
went. An echo request seen on spoke1-h1, spoke1-isp, hub-isp (twice: in and out, the
hub hairpins it), spoke2-isp, spoke2-h2 walked h1 spoke1 isp hub isp spoke2 h2; after
the shortcut the same flow walks h1 spoke1 isp spoke2 h2. Consecutive echoes that took
the same walk form one phase of the flow; a flow with two phases is the shortcut forming.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from ipaddress import IPv4Address

from dmvpnlab.analysis.paths import ICMP_ECHO_REQUEST, IcmpSighting
from dmvpnlab.report.labinfo import LabInfo


@dataclass
class PathPhase:
    hops: list[str]  # node names from source to destination
    first_seq: int
    last_seq: int
    start: float  # epoch seconds of the first sighting of its first echo
    end: float
    echoes: int
    tunnelled: bool  # some hop carried it inside GRE (or ESP)
    encrypted: bool
    hop_times: list[float]  # per link crossed: when the first echo of the phase was seen there
    hop_kinds: list[str]  # per link crossed: "plain", "gre" or "esp"
    lost: int = 0  # echoes of the phase whose walk stopped short of the destination (loss, a link down)


@dataclass
class Flow:
    src: str
    dst: str
    src_name: str
    dst_name: str
    phases: list[PathPhase]

    @property
    def echoes(self) -> int:
        return sum(p.echoes for p in self.phases)

    @property
    def via_routers(self) -> bool:
        return any(p.tunnelled for p in self.phases)


def flows(icmp: list[IcmpSighting], lab: LabInfo) -> list[Flow]:
    """Echo-request flows src -> dst, with their path phases; tunnelled flows first, then by start."""
    by_flow: dict[tuple[IPv4Address, IPv4Address], dict[tuple[int, int], list[IcmpSighting]]] = defaultdict(dict)
    for s in icmp:
        if s.icmp_type != ICMP_ECHO_REQUEST:
            continue
        by_flow[(s.src, s.dst)].setdefault((s.ident, s.seq), []).append(s)
    out = []
    for (src, dst), echoes in by_flow.items():
        phases: list[PathPhase] = []
        walks = []
        for (_ident, seq), sightings in sorted(echoes.items(), key=lambda item: item[1][0].time):
            sightings.sort(key=lambda s: s.time)
            walks.append((seq, sightings, walk([s.link for s in sightings], lab,
                                               _start_node(str(src), sightings[0].link, lab))))
        ends = Counter(hops[-1] for _, _, hops in walks if hops).most_common(1)
        target = lab.owner_of(str(dst)) or (ends[0][0] if ends else None)  # where complete walks end
        for seq, sightings, hops in walks:
            last = phases[-1] if phases else None
            if last is not None and target is not None and hops and hops[-1] != target:  # lost on the way: not a new path
                last.lost += 1
                continue
            if last is not None and last.hops == hops:
                last.last_seq, last.end, last.echoes = seq, sightings[-1].time, last.echoes + 1
                continue
            phases.append(PathPhase(hops, seq, seq, sightings[0].time, sightings[-1].time, 1,
                                    any(s.encapsulated for s in sightings),
                                    any(s.esp_spi is not None for s in sightings),
                                    [s.time for s in sightings], [_kind(s) for s in sightings]))
        first_hops = phases[0].hops if phases else []
        out.append(Flow(str(src), str(dst), lab.owner_of(str(src)) or (first_hops[0] if first_hops else str(src)),
                        lab.owner_of(str(dst)) or (first_hops[-1] if first_hops else str(dst)), phases))
    out.sort(key=lambda f: (not f.via_routers, -len(f.phases), f.phases[0].start))
    return out


def _kind(s: IcmpSighting) -> str:
    return "esp" if s.esp_spi is not None else "gre" if s.encapsulated else "plain"


def _start_node(src: str, first_link: str, lab: LabInfo) -> str | None:
    """The node the flow starts at: the source address's owner, else the first link's end
    that is a host (a ping from h1 is first seen on spoke1-h1)."""
    owner = lab.owner_of(src)
    if owner is not None:
        return owner
    link = next((l for l in lab.links if l.stem == first_link), None)
    if link is None:
        return None
    for name in (link.peer, link.owner):
        if name in lab.nodes and lab.nodes[name].role == "host":
            return name
    return None


def walk(stems: list[str], lab: LabInfo, start: str | None) -> list[str]:
    """Node sequence of a packet seen on `stems` (in time order): each link takes the walk
    from the end it is at to its other end. A link not touching the current node (a
    capture missed a hop) jumps to whichever of its ends is nearer in the stems."""
    ends = {l.stem: (l.owner, l.peer) for l in lab.links}
    links = [ends[s] for s in stems if s in ends]
    if not links:
        return [start] if start else []
    first = links[0]
    if start not in first:
        nxt = links[1] if len(links) > 1 else ()
        start = first[0] if first[1] in nxt else first[1] if first[0] in nxt else first[0]
    hops = [start]
    for a, b in links:
        here = hops[-1]
        if here == a:
            hops.append(b)
        elif here == b:
            hops.append(a)
        else:  # a hop not captured: continue from the end that follows on
            hops += [a, b]
    return hops
