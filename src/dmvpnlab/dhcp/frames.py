"""DHCP in whole Ethernet/IPv4/UDP frames, for AF_PACKET sockets.

Why frames and not a UDP socket: a client without an address must send from 0.0.0.0 to
255.255.255.255 on one interface, and a Linux UDP socket picks the source address of
another interface when it has one (and the kernel drops an OFFER unicast to an address it
does not own yet). A server answers a client that has no address yet at the client's MAC
without ARP (RFC 2131 4.1). Both come down to writing the frame ourselves. Checksums are
real (IP header and UDP with its pseudo-header) so Wireshark and every stack accept them.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import NamedTuple

from dmvpnlab.tunnel.frames import BROADCAST_MAC, ETH_HEADER_LEN, build_ethernet
from dmvpnlab.tunnel.ipv4 import PROTO_UDP, Ipv4Error, build_ipv4, header_checksum_ok, internet_checksum, parse_header

ETHERTYPE_IPV4 = 0x0800
BROADCAST = IPv4Address("255.255.255.255")
_UDP = struct.Struct("!HHHH")
UDP_HEADER = _UDP.size


class FrameDecodeError(ValueError):
    """A frame that is not a well-formed IPv4/UDP packet (counted by the caller)."""


class UdpFrame(NamedTuple):
    src_mac: bytes
    dst_mac: bytes
    src: IPv4Address
    dst: IPv4Address
    sport: int
    dport: int
    payload: bytes


def udp_checksum(src: IPv4Address, dst: IPv4Address, segment: bytes) -> int:
    """RFC 768 checksum over the pseudo-header and `segment` (its checksum field zero);
    0 is sent as 0xFFFF (0 means "no checksum")."""
    pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, PROTO_UDP, len(segment))
    value = internet_checksum(pseudo + segment)
    return value or 0xFFFF


def build_udp_frame(src_mac: bytes, dst_mac: bytes, src: IPv4Address, dst: IPv4Address,
                    sport: int, dport: int, payload: bytes, ttl: int = 64) -> bytes:
    """Ethernet + IPv4 + UDP around `payload`, every checksum filled in."""
    segment = _UDP.pack(sport, dport, UDP_HEADER + len(payload), 0) + payload
    segment = segment[:6] + struct.pack("!H", udp_checksum(src, dst, segment)) + segment[8:]
    return build_ethernet(dst_mac, src_mac, ETHERTYPE_IPV4, build_ipv4(src, dst, PROTO_UDP, segment, ttl=ttl))


def parse_udp_frame(frame: bytes) -> UdpFrame:
    """The UDP datagram in an untagged Ethernet frame, or FrameDecodeError."""
    if len(frame) < ETH_HEADER_LEN + 20 + UDP_HEADER:
        raise FrameDecodeError(f"{len(frame)} bytes: too short for Ethernet/IPv4/UDP")
    if frame[12:14] != b"\x08\x00":
        raise FrameDecodeError(f"ethertype 0x{frame[12:14].hex()} is not IPv4")
    packet = frame[ETH_HEADER_LEN:]
    try:
        header = parse_header(packet)
    except Ipv4Error as error:
        raise FrameDecodeError(str(error)) from None
    if not header_checksum_ok(packet):
        raise FrameDecodeError("bad IPv4 header checksum")
    if header.proto != PROTO_UDP or header.mf or header.frag_offset:
        raise FrameDecodeError("not an unfragmented UDP packet")
    segment = packet[header.ihl:header.total_length]
    if len(segment) < UDP_HEADER:
        raise FrameDecodeError("UDP header truncated")
    sport, dport, length, checksum = _UDP.unpack_from(segment)
    if length < UDP_HEADER or length > len(segment):
        raise FrameDecodeError(f"UDP length {length} inconsistent with {len(segment)} bytes")
    segment = segment[:length]
    if checksum and internet_checksum(header.src.packed + header.dst.packed
                                      + struct.pack("!BBH", 0, PROTO_UDP, length) + segment) != 0:
        raise FrameDecodeError("bad UDP checksum")
    return UdpFrame(frame[6:12], frame[0:6], header.src, header.dst, sport, dport, segment[UDP_HEADER:])


__all__ = ["BROADCAST", "BROADCAST_MAC", "FrameDecodeError", "UdpFrame", "build_udp_frame", "parse_udp_frame",
           "udp_checksum"]
