"""Minimal IPv4 helpers for the tunnel data path: what a router does to a packet.

The tunnel behaves like an IOS tunnel interface: `ip mtu` (fragment, or answer
"fragmentation needed" when DF is set, RFC 1191/1812), `ip tcp adjust-mss` (rewrite the
MSS option of SYNs). Written for per-packet use: precompiled structs, a checksum that
sums 16-bit words with C-speed `sum(array)` instead of a Python loop, no scapy.
Imports nothing of the project.
"""

from __future__ import annotations

import struct
import sys
from array import array
from ipaddress import IPv4Address
from typing import NamedTuple

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17

IPV4_MIN_HEADER = 20
FLAG_DF = 0x4000
FLAG_MF = 0x2000
OFFSET_MASK = 0x1FFF
MIN_MTU = 68  # RFC 791: every IPv4 module must forward 68 bytes without fragmenting

_IP = struct.Struct("!BBHHHBBH4s4s")
_U16 = struct.Struct("!H")
_ICMP_HDR = struct.Struct("!BBHHH")  # type, code, checksum, rest (2 x 16 bits)
_TCP_PORTS_FLAGS = struct.Struct("!HHIIBB")  # sport dport seq ack dataoff flags
_UDP = struct.Struct("!HHHH")

_LITTLE = sys.byteorder == "little"


class Ipv4Error(ValueError):
    """Bytes that are not a well-formed IPv4 packet (or not one we can process)."""


class Ipv4Header(NamedTuple):
    """The IPv4 header fields the tunnel needs. `ihl` is in bytes."""

    ihl: int
    tos: int
    total_length: int
    ident: int
    df: bool
    mf: bool
    frag_offset: int  # in bytes
    ttl: int
    proto: int
    src: IPv4Address
    dst: IPv4Address


def internet_checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 ones' complement checksum of `data`, as a host int to pack with '!H'.

    Summing native-order 16-bit words and swapping once at the end is exact (RFC 1071
    section 2(B), byte-order independence) and lets `sum()` run in C.
    """
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = sum(array("H", bytes(data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    total = ~total & 0xFFFF
    if _LITTLE:
        total = ((total >> 8) | (total << 8)) & 0xFFFF
    return total


def parse_header(packet: bytes) -> Ipv4Header:
    """Parse and sanity-check an IPv4 header; Ipv4Error if it is not one."""
    if len(packet) < IPV4_MIN_HEADER:
        raise Ipv4Error(f"IPv4 packet truncated: {len(packet)} bytes")
    vihl, tos, total, ident, frag, ttl, proto, _csum, src, dst = _IP.unpack_from(packet)
    if vihl >> 4 != 4:
        raise Ipv4Error(f"IP version {vihl >> 4}, not 4")
    ihl = (vihl & 0x0F) * 4
    if ihl < IPV4_MIN_HEADER:
        raise Ipv4Error(f"IPv4 header length {ihl} below 20")
    if total < ihl or total > len(packet):
        raise Ipv4Error(f"IPv4 total length {total} inconsistent (header {ihl}, have {len(packet)})")
    return Ipv4Header(ihl, tos, total, ident, bool(frag & FLAG_DF), bool(frag & FLAG_MF),
                      (frag & OFFSET_MASK) * 8, ttl, proto, IPv4Address(src), IPv4Address(dst))


def header_checksum_ok(packet: bytes) -> bool:
    """True when the IPv4 header checksum verifies."""
    ihl = (packet[0] & 0x0F) * 4
    return internet_checksum(packet[:ihl]) == 0


def _with_header_checksum(header: bytearray) -> bytearray:
    header[10:12] = b"\x00\x00"
    _U16.pack_into(header, 10, internet_checksum(header))
    return header


def _copied_options(options: bytes) -> bytes:
    """The options RFC 791 says go into every fragment (copy flag set), padded to 4."""
    out = bytearray()
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:  # end of option list
            break
        if kind == 1:  # NOP: not copied
            i += 1
            continue
        if i + 1 >= len(options):
            break
        length = options[i + 1]
        if length < 2 or i + length > len(options):
            break  # malformed option list: copy nothing further
        if kind & 0x80:
            out += options[i:i + length]
        i += length
    out += b"\x00" * (-len(out) % 4)
    return bytes(out)


def fragment(packet: bytes, mtu: int) -> list[bytes]:
    """Split `packet` into fragments of at most `mtu` bytes (RFC 791).

    Ignores DF: the caller decides whether to fragment or to answer "fragmentation
    needed". Works on packets that are fragments already (offsets and the last MF kept).
    Options with the copy flag go into every fragment; the others only into the first.
    """
    hdr = parse_header(packet)
    if len(packet) > hdr.total_length:
        packet = packet[:hdr.total_length]
    if len(packet) <= mtu:
        return [packet]
    if mtu < MIN_MTU:
        raise Ipv4Error(f"MTU {mtu} below the IPv4 minimum {MIN_MTU}")
    first_header = packet[:hdr.ihl]
    rest_header = bytearray(first_header[:IPV4_MIN_HEADER]) + _copied_options(
        packet[IPV4_MIN_HEADER:hdr.ihl])
    rest_header[0] = 0x40 | (len(rest_header) // 4)
    data = packet[hdr.ihl:]
    base_offset = hdr.frag_offset
    flags_keep = FLAG_DF if hdr.df else 0
    fragments: list[bytes] = []
    pos = 0
    while pos < len(data):
        header = bytearray(first_header if pos == 0 else rest_header)
        room = (mtu - len(header)) // 8 * 8
        if room <= 0:
            raise Ipv4Error(f"MTU {mtu} leaves no room for data after a {len(header)}-byte header")
        chunk = data[pos:pos + room]
        last = pos + len(chunk) >= len(data)
        mf = FLAG_MF if (not last or hdr.mf) else 0
        _U16.pack_into(header, 2, len(header) + len(chunk))
        _U16.pack_into(header, 6, flags_keep | mf | ((base_offset + pos) // 8))
        fragments.append(bytes(_with_header_checksum(header)) + chunk)
        pos += len(chunk)
    return fragments


def build_ipv4(src: IPv4Address, dst: IPv4Address, proto: int, payload: bytes, *,
               ttl: int = 64, tos: int = 0, ident: int = 0, df: bool = False) -> bytes:
    """A 20-byte-header IPv4 packet with a correct header checksum."""
    header = bytearray(_IP.pack(0x45, tos, IPV4_MIN_HEADER + len(payload), ident,
                                FLAG_DF if df else 0, ttl, proto, 0, src.packed, dst.packed))
    return bytes(_with_header_checksum(header)) + payload


def may_send_icmp_error_about(packet: bytes) -> bool:
    """RFC 1812 4.3.2.7: no ICMP error about ICMP errors, non-first fragments,
    packets from or to multicast/broadcast, or from unspecified/loopback sources."""
    try:
        hdr = parse_header(packet)
    except Ipv4Error:
        return False
    if hdr.frag_offset:
        return False
    if hdr.src.is_multicast or hdr.src.is_unspecified or hdr.src.is_loopback:
        return False
    if hdr.dst.is_multicast or hdr.src == IPv4Address("255.255.255.255") \
            or hdr.dst == IPv4Address("255.255.255.255"):
        return False
    if hdr.proto == PROTO_ICMP and len(packet) > hdr.ihl:
        icmp_type = packet[hdr.ihl]
        if icmp_type in (3, 4, 5, 11, 12):  # an ICMP error message
            return False
    return True


def icmp_frag_needed(packet: bytes, next_hop_mtu: int, src: IPv4Address) -> bytes:
    """ICMP Destination Unreachable / Fragmentation Needed (type 3 code 4, RFC 1191)
    from `src` (the tunnel address) to the packet's source, quoting header + 8 bytes.
    """
    hdr = parse_header(packet)
    quoted = packet[:hdr.ihl + 8]
    icmp = bytearray(_ICMP_HDR.pack(3, 4, 0, 0, next_hop_mtu & 0xFFFF)) + quoted
    _U16.pack_into(icmp, 2, internet_checksum(icmp))
    # TOS 0xc0 (internetwork control) as routers send their own control traffic.
    return build_ipv4(src, hdr.src, PROTO_ICMP, bytes(icmp), ttl=255, tos=0xC0)


def _tcp_pseudo_sum(packet: bytes, hdr: Ipv4Header, tcp: bytes | bytearray) -> int:
    pseudo = packet[12:20] + struct.pack("!BBH", 0, PROTO_TCP, len(tcp))
    return internet_checksum(pseudo + bytes(tcp))


def tcp_checksum_ok(packet: bytes) -> bool:
    """True when the TCP checksum of an unfragmented IPv4/TCP packet verifies."""
    hdr = parse_header(packet)
    return _tcp_pseudo_sum(packet, hdr, packet[hdr.ihl:hdr.total_length]) == 0


def _incremental_update(checksum: int, old: int, new: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one changed 16-bit word."""
    total = (~checksum & 0xFFFF) + (~old & 0xFFFF) + new
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def clamp_tcp_mss(packet: bytes, mss: int) -> bytes:
    """`ip tcp adjust-mss`: lower the MSS option of a TCP SYN to `mss`.

    Returns the packet itself when there is nothing to do (not TCP, not a SYN, a
    fragment, no MSS option, MSS already small enough, malformed options). The TCP
    checksum is updated incrementally (RFC 1624), so a bad checksum stays bad.
    """
    if len(packet) < IPV4_MIN_HEADER or packet[9] != PROTO_TCP:
        return packet
    try:
        hdr = parse_header(packet)
    except Ipv4Error:
        return packet
    if hdr.frag_offset or hdr.mf:
        return packet
    t = hdr.ihl
    if hdr.total_length < t + 20:
        return packet
    if not packet[t + 13] & 0x02:  # SYN
        return packet
    data_off = (packet[t + 12] >> 4) * 4
    if data_off < 20 or t + data_off > hdr.total_length:
        return packet
    i = t + 20
    end = t + data_off
    while i < end:
        kind = packet[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end:
            break
        length = packet[i + 1]
        if length < 2 or i + length > end:
            break
        if kind == 2 and length == 4:
            (current,) = _U16.unpack_from(packet, i + 2)
            if current <= mss:
                return packet
            out = bytearray(packet)
            _U16.pack_into(out, i + 2, mss)
            (old_sum,) = _U16.unpack_from(packet, t + 16)
            _U16.pack_into(out, t + 16, _incremental_update(old_sum, current, mss))
            return bytes(out)
        i += length
    return packet


_ICMP_NAMES = {0: "echo-reply", 3: "unreachable", 5: "redirect", 8: "echo-request",
               11: "time-exceeded", 12: "parameter-problem"}


def summary(packet: bytes) -> str:
    """One line for logs and `debug` output, e.g. 'ICMP 1.1.1.1 > 2.2.2.2 echo-request
    id=5 seq=0 len=100'. Never raises."""
    try:
        hdr = parse_header(packet)
    except Ipv4Error as exc:
        return f"malformed IPv4 ({exc})"
    base = f"{hdr.src} > {hdr.dst}"
    frag = ""
    if hdr.mf or hdr.frag_offset:
        frag = f" frag off={hdr.frag_offset}{'+' if hdr.mf else ''}"
        if hdr.frag_offset:
            return f"IP proto {hdr.proto} {base}{frag} len={hdr.total_length}"
    l4 = packet[hdr.ihl:hdr.total_length]
    if hdr.proto == PROTO_ICMP and len(l4) >= 8:
        typ, code, _c, ident, seq = _ICMP_HDR.unpack_from(l4)
        name = _ICMP_NAMES.get(typ, f"type {typ}")
        extra = f" id={ident} seq={seq}" if typ in (0, 8) else f" code {code}"
        if typ == 3 and code == 4:
            extra = f" frag-needed mtu={seq}"
        return f"ICMP {base} {name}{extra} len={hdr.total_length}{frag}"
    if hdr.proto == PROTO_TCP and len(l4) >= 14:
        sport, dport, seq, ack, _off, flags = _TCP_PORTS_FLAGS.unpack_from(l4)
        names = "".join(c for bit, c in ((0x02, "S"), (0x10, "."), (0x01, "F"), (0x04, "R"),
                                         (0x08, "P")) if flags & bit)
        return (f"TCP {hdr.src}:{sport} > {hdr.dst}:{dport} [{names}] seq={seq} "
                f"len={hdr.total_length}{frag}")
    if hdr.proto == PROTO_UDP and len(l4) >= 8:
        sport, dport, _ulen, _csum = _UDP.unpack_from(l4)
        return f"UDP {hdr.src}:{sport} > {hdr.dst}:{dport} len={hdr.total_length}{frag}"
    return f"IP proto {hdr.proto} {base} len={hdr.total_length}{frag}"
