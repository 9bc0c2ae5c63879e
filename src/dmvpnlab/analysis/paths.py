"""Which links did a packet cross? Answers from the lab's captures, not from logs.

Every underlay link is captured into `captures/<lab>/<owner>-<peer>.pcapng`. A packet
from a LAN host shows up plain on LAN links and inside GRE (protocol 47, maybe keyed)
on WAN links; this module looks through both and reports, per link, every sighting of
the flows a scenario asks about, with absolute timestamps so sightings on different
links can be ordered. NHRP messages are reported the same way.

With `tunnel protection` the GRE travels in ESP (protocol 50, or UDP 4500 behind a
NAT): when the capture directory holds the lab's `esp_sa` key table (the agents write
it there), ESP packets are opened with those keys (`esp_keys.EspKeyring`) and what is
inside is reported like cleartext GRE, with the SPI it came in (`esp_spi`; None for GRE
in the clear), so the same path questions hold on an encrypted lab. Imports the NHRP
codec, the GRE decoder, `capfile` (the record reader) and `esp_keys`; never the lab.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Iterable, Iterator

from dmvpnlab.analysis.capfile import CaptureDamaged, CaptureFormatError, CaptureReader
from dmvpnlab.analysis.esp_keys import EspKeyring
from dmvpnlab.nhrp.codec import NhrpDecodeError, NhrpPacket, decode
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, GreDecodeError, decode_gre

ETH_IPV4 = 0x0800
ETH_VLAN = 0x8100
IPPROTO_ICMP = 1
IPPROTO_GRE = 47
IPPROTO_ESP = 50
IPPROTO_UDP = 17
NAT_T_PORT = 4500
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8


@dataclass(frozen=True)
class IcmpSighting:
    """One ICMP packet seen on one link."""

    link: str
    time: float
    src: IPv4Address
    dst: IPv4Address
    icmp_type: int
    ident: int
    seq: int
    outer_src: IPv4Address | None = None  # set when the packet was inside GRE
    outer_dst: IPv4Address | None = None
    esp_spi: int | None = None  # set when that GRE was inside ESP
    frame: int = 0  # its record number in the link's capture (1-based): the proof a reader can open

    @property
    def encapsulated(self) -> bool:
        return self.outer_src is not None


@dataclass(frozen=True)
class NhrpSighting:
    link: str
    time: float
    outer_src: IPv4Address
    outer_dst: IPv4Address
    packet: NhrpPacket
    esp_spi: int | None = None  # the SPI of the ESP it came in; None: GRE in the clear


def link_name(path: Path) -> str:
    """`captures/default/hub-isp.pcapng` -> `hub-isp`."""
    return path.name.removesuffix(".pcapng").removesuffix(".pcap")


def _frames(path: Path) -> Iterator[tuple[int, float, bytes]]:
    """(frame number, time, frame) of every record of a capture that may still be being written.

    Unlike the inspector, a capture that ends in a damaged record is not an error here: a
    running lab's dumpcap may be half-way through writing its last block."""
    try:
        reader = CaptureReader(path)
    except (CaptureFormatError, OSError):  # an empty or half-written file: nothing seen yet
        return
    with reader:
        try:
            for record in reader:
                yield record.frame, record.time, record.data
        except CaptureDamaged:
            return


def _ipv4_of_frame(frame: bytes) -> bytes | None:
    if len(frame) < 34:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    offset = 14
    if ethertype == ETH_VLAN:
        ethertype = struct.unpack_from("!H", frame, 16)[0]
        offset = 18
    if ethertype != ETH_IPV4:
        return None
    return frame[offset:]


def _split_ipv4(ip: bytes) -> tuple[IPv4Address, IPv4Address, int, bytes] | None:
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:  # a non-first fragment has no L4 header
        return None
    return IPv4Address(ip[12:16]), IPv4Address(ip[16:20]), ip[9], ip[ihl:max(ihl, min(total, len(ip)))]


def read_link(path: Path, keyring: EspKeyring | None = None) -> Iterator[IcmpSighting | NhrpSighting]:
    """Every ICMP echo/reply (plain, in GRE, or in GRE in ESP that `keyring` opens) and
    every NHRP message of one capture."""
    link = link_name(path)
    for number, when, frame in _frames(path):
        ip = _ipv4_of_frame(frame)
        parts = _split_ipv4(ip) if ip is not None else None
        if parts is None:
            continue
        src, dst, proto, body = parts
        if proto == IPPROTO_ICMP:
            sighting = _icmp(link, when, src, dst, body)
            if sighting is not None:
                yield replace(sighting, frame=number)
        elif proto == IPPROTO_GRE:
            yield from _numbered(_gre(link, when, src, dst, body, None), number)
        elif keyring and (esp := _esp_payload(proto, body)) is not None:
            opened = keyring.open(str(src), str(dst), esp)
            if opened is not None and opened[1].next_header == IPPROTO_GRE:
                yield from _numbered(_gre(link, when, src, dst, opened[1].payload, opened[0]), number)


def _numbered(sightings: Iterable[IcmpSighting | NhrpSighting], number: int) -> Iterator[IcmpSighting | NhrpSighting]:
    """The sightings of one record, the ICMP ones stamped with its frame number."""
    for s in sightings:
        yield replace(s, frame=number) if isinstance(s, IcmpSighting) else s


def _esp_payload(proto: int, body: bytes) -> bytes | None:
    """The ESP packet of an IP payload: protocol 50, or UDP 4500 that is not IKE (RFC 3948)."""
    if proto == IPPROTO_ESP:
        return body
    if proto == IPPROTO_UDP and len(body) > 16:
        sport, dport = struct.unpack_from("!HH", body)
        if NAT_T_PORT in (sport, dport) and body[8:12] != bytes(4):  # a zero marker: IKE
            return body[8:]
    return None


def _gre(link: str, when: float, src: IPv4Address, dst: IPv4Address, body: bytes,
         spi: int | None) -> Iterator[IcmpSighting | NhrpSighting]:
    try:
        gre = decode_gre(body, verify_checksum=False)
    except GreDecodeError:
        return
    if gre.proto == GRE_PROTO_NHRP:
        try:
            yield NhrpSighting(link, when, src, dst, decode(gre.payload), spi)
        except NhrpDecodeError:
            return
    elif gre.proto == GRE_PROTO_IPV4:
        inner = _split_ipv4(gre.payload)
        if inner is not None and inner[2] == IPPROTO_ICMP:
            sighting = _icmp(link, when, inner[0], inner[1], inner[3], src, dst, spi)
            if sighting is not None:
                yield sighting


def _icmp(link: str, when: float, src: IPv4Address, dst: IPv4Address, body: bytes,
          outer_src: IPv4Address | None = None, outer_dst: IPv4Address | None = None,
          spi: int | None = None) -> IcmpSighting | None:
    if len(body) < 8 or body[0] not in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
        return None
    ident, seq = struct.unpack_from("!HH", body, 4)
    return IcmpSighting(link, when, src, dst, body[0], ident, seq, outer_src, outer_dst, spi)


class CaptureSet:
    """All captures of a lab directory, read once and queried many ways.

    ESP is opened with the key table in `keys_dir` (default: the directory itself, where
    the agents write it); a lab without IPsec has no table and nothing changes."""

    def __init__(self, directory: Path, include_tunnels: bool = False, keys_dir: Path | None = None) -> None:
        self.directory = directory
        self.icmp: list[IcmpSighting] = []
        self.nhrp: list[NhrpSighting] = []
        self.files: dict[str, Path] = {}  # link name -> its capture file
        self.keyring = EspKeyring.load(keys_dir if keys_dir is not None else directory)
        for path in sorted(directory.glob("*.pcap*")):
            if not include_tunnels and link_name(path).endswith("Tunnel0"):
                continue
            self.files[link_name(path)] = path
            for sighting in read_link(path, self.keyring):
                (self.icmp if isinstance(sighting, IcmpSighting) else self.nhrp).append(sighting)
        self.icmp.sort(key=lambda s: s.time)
        self.nhrp.sort(key=lambda s: s.time)

    def echo(self, src: str, dst: str, *, reply: bool = False, since: float = 0.0) -> list[IcmpSighting]:
        """Echo requests src->dst (or the replies dst->src when reply=True)."""
        return echoes(self.icmp, IPv4Address(src), IPv4Address(dst), reply=reply, since=since)

    def links_per_seq(self, sightings: Iterable[IcmpSighting]) -> dict[int, set[str]]:
        """For each ICMP sequence number, the set of links it was seen on."""
        links: dict[int, set[str]] = defaultdict(set)
        for s in sightings:
            links[s.seq].add(s.link)
        return dict(links)

    def links(self, sightings: Iterable[IcmpSighting]) -> set[str]:
        return {s.link for s in sightings}

    def messages(self, packet_type: int, *, link: str | None = None, since: float = 0.0) -> list[NhrpSighting]:
        """NHRP messages of one type (on one link), deduplicated per link."""
        return nhrp_messages(self.nhrp, packet_type, link=link, since=since)


def echoes(icmp: Iterable[IcmpSighting], src: IPv4Address, dst: IPv4Address, *, reply: bool = False,
           since: float = 0.0) -> list[IcmpSighting]:
    """The echo requests src->dst among `icmp` (or the replies dst->src when reply=True), seen since `since`."""
    a, b = (dst, src) if reply else (src, dst)
    wanted = ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST
    return [s for s in icmp if s.src == a and s.dst == b and s.icmp_type == wanted and s.time >= since]


def nhrp_messages(nhrp: Iterable[NhrpSighting], packet_type: int, *, link: str | None = None,
                  since: float = 0.0) -> list[NhrpSighting]:
    """The NHRP messages of one type among `nhrp` (seen on `link`, if given), since `since`."""
    return [m for m in nhrp if int(m.packet.type) == packet_type and m.time >= since
            and (link is None or m.link == link)]
