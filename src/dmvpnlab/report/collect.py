"""Read a lab's capture directory once: per-link counts, NHRP messages, ICMP sightings, faults.

Why our own pass over the analysis readers: a report needs three views of the same
files (how much of what crossed each link; every NHRP message once, not once per link
it crossed; ICMP sightings for the flow paths). Each capture is read with
`analysis.capfile` (frame count, damage), `analysis.ladder.read_events` (NHRP decoded
with our codec, also inside ESP the lab's `esp_sa` table opens) and
`analysis.paths.read_link` (ICMP plain, in GRE, in ESP). A damaged or unreadable
capture is a `ReportError` naming the file: a report drawn from half a capture would
look complete and be wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.analysis import capfile
from dmvpnlab.analysis.esp_keys import EspKeyring
from dmvpnlab.analysis.ladder import CaptureError, read_events, read_fault_record
from dmvpnlab.analysis.paths import IcmpSighting, read_link
from dmvpnlab.report.labinfo import LabInfo, load

FAULTS_FILE = "faults.jsonl"
SAME_PACKET_WINDOW = 1.0  # s: the same NHRP bytes seen on several links within this are one message
KINDS = ("nhrp", "gre", "esp", "isakmp", "plain")

#: progress(files_done, files_total, current file name)
Progress = Callable[[int, int, str], None]


class ReportError(Exception):
    """The capture directory cannot be reported on (missing, a capture damaged or unreadable)."""


@dataclass
class LinkCounts:
    stem: str
    frames: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # nhrp, gre, esp, isakmp, plain

    @property
    def dominant(self) -> str:
        """What the link mostly carried (tunnel kinds win over plain at equal counts)."""
        if not self.frames:
            return "none"
        return max(KINDS, key=lambda k: (self.kinds[k], -KINDS.index(k)))


@dataclass
class NhrpMessage:
    """One NHRP packet, however many links it crossed."""

    id: int
    at: float  # epoch seconds of its first sighting
    name: str  # Registration Request, Traffic Indication ...
    type: int
    fields: dict[str, Any]
    sender: str  # node names ("?" when no address is known)
    receiver: str
    links: list[str]  # capture stems it was seen on, first first
    outer: list[tuple[str, str]]  # (outer src, outer dst) per sighting
    size: int
    data: bytes = b""  # the NHRP packet as captured (the side panel decodes it again for its header)


@dataclass
class RunData:
    directory: Path
    lab: LabInfo
    links: dict[str, LinkCounts]
    nhrp: list[NhrpMessage]
    icmp: list[IcmpSighting]
    faults: list[tuple[float, str]]
    t0: float  # epoch seconds of the first frame of any capture
    t_end: float
    overlay: Counter[tuple[str, str]]  # (router, router) sorted -> GRE data packets between them
    encrypted: bool = False


@dataclass
class _Raw:
    link: str
    at: float
    src: str
    dst: str
    data: bytes
    message: str
    fields: dict[str, Any]


def collect(directory: Path, progress: Progress | None = None) -> RunData:
    """Everything the report draws, from `directory` (a lab's captures/<lab>/)."""
    if not directory.is_dir():
        raise ReportError(f"{directory}: no such directory")
    files = sorted(p for p in directory.glob("*.pcap*") if p.is_file())
    if not files:
        raise ReportError(f"{directory}: no captures (*.pcapng) in it")
    lab = load(directory)
    keyring = EspKeyring.load(directory) or None
    tunnel_stems = set(lab.tunnel_captures)
    links: dict[str, LinkCounts] = {}
    raws: list[_Raw] = []
    icmp: list[IcmpSighting] = []
    endpoints: dict[str, Counter[str]] = {}
    gre_pairs: dict[str, Counter[tuple[str, str]]] = {}
    times: list[float] = []
    for number, path in enumerate(files):
        stem = path.name.removesuffix(".pcapng").removesuffix(".pcap")
        counts, first, last = _count(path)
        if first is not None:
            times += [first, last]
        links[stem] = counts
        if stem not in tunnel_stems and counts.frames:
            seen = endpoints.setdefault(stem, Counter())
            pairs = gre_pairs.setdefault(stem, Counter())
            _read_tunnel_events(path, keyring, counts, raws, seen, pairs)
            icmp.extend(s for s in read_link(path, keyring) if isinstance(s, IcmpSighting))
        if progress is not None:
            progress(number + 1, len(files), path.name)
    _learn_owners(lab, endpoints)
    t0 = min(times) if times else 0.0
    return RunData(directory=directory, lab=lab, links=links, nhrp=_messages(lab, raws), icmp=sorted(icmp, key=lambda s: s.time),
                   faults=read_fault_record(directory / FAULTS_FILE), t0=t0, t_end=max(times) if times else 0.0,
                   overlay=_overlay(lab, gre_pairs), encrypted=any(c.kinds["esp"] for c in links.values()))


def _count(path: Path) -> tuple[LinkCounts, float | None, float | None]:
    """Frames of one capture, first and last time; ReportError if it is damaged or not a capture."""
    counts = LinkCounts(path.name.removesuffix(".pcapng").removesuffix(".pcap"))
    first = last = None
    if path.stat().st_size == 0:  # dumpcap had not written its header yet: an empty link, not damage
        return counts, None, None
    try:
        with capfile.CaptureReader(path) as reader:
            for record in reader:
                counts.frames += 1
                last = record.time
                if first is None:
                    first = last
    except capfile.CaptureFormatError as exc:
        raise ReportError(f"{path}: not a pcap or pcapng capture ({exc})") from None
    except capfile.CaptureDamaged as exc:
        raise ReportError(f"{path}: capture damaged at frame {exc.frame} (byte offset {exc.offset}): "
                          f"{exc.reason}") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    counts.kinds["plain"] = counts.frames
    return counts, first, last


def _read_tunnel_events(path: Path, keyring: EspKeyring | None, counts: LinkCounts, raws: list[_Raw],
                        endpoints: Counter[str], pairs: Counter[tuple[str, str]]) -> None:
    stem = counts.stem
    try:
        for event in read_events(path):
            counts.kinds[event.kind] += 1
            counts.kinds["plain"] -= 1
            endpoints[event.src] += 1
            endpoints[event.dst] += 1
            if event.kind == "nhrp" and event.nhrp_bytes is not None and "type" in event.fields:
                raws.append(_Raw(stem, event.at, event.src, event.dst, event.nhrp_bytes, event.message, event.fields))
            elif event.kind == "gre" and "inner_src" in event.fields:
                pairs[(event.src, event.dst)] += 1
        if keyring is not None:  # the same capture again, ESP opened: what the tunnels carried
            for event in read_events(path, path.parent):
                if "esp_spi" in event.fields and event.kind == "nhrp" and "type" in event.fields:
                    raws.append(_Raw(stem, event.at, event.src, event.dst, event.nhrp_bytes or b"", event.message,
                                     event.fields))
                elif "esp_spi" in event.fields and "inner_src" in event.fields:
                    pairs[(event.src, event.dst)] += 1
    except CaptureError as exc:  # _count read it whole already; only a file changing under us gets here
        raise ReportError(str(exc)) from None


def _learn_owners(lab: LabInfo, endpoints: dict[str, Counter[str]]) -> None:
    """On a router's own link the address in most tunnel packets is the router's: learn it
    (what a lab without lab.json knows of its addresses; with lab.json it changes nothing)."""
    for link in lab.links:
        owner = lab.nodes.get(link.owner)
        seen = endpoints.get(link.stem)
        if owner is None or not owner.is_router or not seen:
            continue
        address, _count = seen.most_common(1)[0]
        lab.learn_address(address, owner.name)


def _name(lab: LabInfo, address: str) -> str | None:
    """The router an underlay address stands for: its own, or the NAT box's in front of it
    when exactly one router is behind that box."""
    name = lab.owner_of(address)
    if name is None:
        return None
    node = lab.nodes.get(name)
    if node is not None and node.role == "nat":
        behind = [n.name for n in lab.nodes.values() if n.behind == name]
        if len(behind) == 1:
            return behind[0]
    return name


def _messages(lab: LabInfo, raws: list[_Raw]) -> list[NhrpMessage]:
    """One message per NHRP packet: sightings of the same bytes close in time are merged,
    its sender and receiver are the routers among the sightings' addresses."""
    out: list[NhrpMessage] = []
    recent: dict[bytes, NhrpMessage] = {}
    for raw in sorted(raws, key=lambda r: r.at):
        message = recent.get(raw.data)
        if message is not None and raw.at - message.at <= SAME_PACKET_WINDOW and raw.link not in message.links:
            message.links.append(raw.link)
            message.outer.append((raw.src, raw.dst))
            continue
        message = NhrpMessage(id=len(out), at=raw.at, name=raw.message, type=int(raw.fields["type"]),
                              fields=raw.fields, sender="?", receiver="?", links=[raw.link],
                              outer=[(raw.src, raw.dst)], size=len(raw.data), data=raw.data)
        recent[raw.data] = message
        out.append(message)
    for message in out:
        message.sender = _pick(lab, [s for s, _ in message.outer])
        message.receiver = _pick(lab, [d for _, d in message.outer])
    return out


def _pick(lab: LabInfo, addresses: list[str]) -> str:
    names = [n for n in (_name(lab, a) for a in addresses) if n is not None]
    routers = [n for n in names if n in lab.nodes and lab.nodes[n].is_router]
    return (routers or names or addresses or ["?"])[0]


def _overlay(lab: LabInfo, pairs: dict[str, Counter[tuple[str, str]]]) -> Counter[tuple[str, str]]:
    """GRE data packets between router pairs, each packet counted on its sender's own link."""
    out: Counter[tuple[str, str]] = Counter()
    for link in lab.links:
        for (src, dst), count in pairs.get(link.stem, Counter()).items():
            a, b = _name(lab, src), _name(lab, dst)
            if a == link.owner and b is not None and a != b:
                out[(min(a, b), max(a, b))] += count
    return out
