"""Ethernet and ARP on the TAP side of the user-space mGRE interface.

The tunnel is a TAP device, so the kernel talks Ethernet to us. We never need real
Ethernet: we use the MAC addresses to carry one fact. The agent answers every ARP
request for a tunnel address with a MAC that *encodes* that address (02:00 + the four
address bytes), so every frame the kernel sends out of the TAP names, in its
destination MAC, the tunnel next hop the kernel's routing chose. That next hop is
exactly what mGRE hands to NHRP to find an NBMA address.

Everything here is pure (bytes in, bytes out) and cheap enough for the per-packet path:
precompiled structs, no scapy. Imports nothing of the project.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv4Interface
from typing import NamedTuple

ETH_HEADER_LEN = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD

BROADCAST_MAC = b"\xff" * 6
#: Prefix of the next-hop-encoding MACs: locally administered, unicast.
TUNNEL_MAC_PREFIX = b"\x02\x00"
#: Source MAC for frames we write into the TAP when the sender has no tunnel address.
ANONYMOUS_MAC = TUNNEL_MAC_PREFIX + b"\x00\x00\x00\x00"

_ETH = struct.Struct("!6s6sH")
# ARP for IPv4 over Ethernet: htype, ptype, hlen, plen, op, sha, spa, tha, tpa
_ARP = struct.Struct("!HHBBH6s4s6s4s")
ARP_LEN = _ARP.size  # 28
ARP_REQUEST = 1
ARP_REPLY = 2


class EthernetFrame(NamedTuple):
    """A parsed Ethernet II header plus its payload (a view-free bytes slice)."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes


class ArpPacket(NamedTuple):
    """An IPv4-over-Ethernet ARP packet."""

    op: int
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    target_ip: IPv4Address


class FrameError(ValueError):
    """A frame too short or otherwise not parseable as the layer asked for."""


def tunnel_mac(ip: IPv4Address | str) -> bytes:
    """The MAC that stands for tunnel address `ip`: 02:00:a:b:c:d."""
    return TUNNEL_MAC_PREFIX + IPv4Address(ip).packed


def ip_from_tunnel_mac(mac: bytes) -> IPv4Address | None:
    """The tunnel address a next-hop MAC encodes, or None if `mac` is not one of ours."""
    if len(mac) != 6 or mac[:2] != TUNNEL_MAC_PREFIX or mac == ANONYMOUS_MAC:
        return None
    return IPv4Address(mac[2:])


def is_multicast_mac(mac: bytes) -> bool:
    """True for group addresses (I/G bit set): IPv4 multicast 01:00:5e:*, broadcast, etc."""
    return bool(mac) and bool(mac[0] & 0x01)


def multicast_mac_for(ip: IPv4Address | bytes) -> bytes:
    """The Ethernet group MAC for an IPv4 multicast group (its low 23 bits behind
    01:00:5e, RFC 1112); `ip` may be the 4 address bytes as they sit in a header."""
    b = ip.packed if isinstance(ip, IPv4Address) else ip
    return b"\x01\x00\x5e" + bytes((b[1] & 0x7F, b[2], b[3]))


def ipv4_frame_header(dst: bytes, src: bytes = ANONYMOUS_MAC) -> bytes:
    """The Ethernet header that hands an IPv4 packet to the kernel through the TAP.

    Every frame the tunnel writes into the TAP starts with one of these; a constant one
    (dst = the TAP's MAC, src anonymous) is built once and prepended per packet.
    """
    return dst + src + b"\x08\x00"


def format_mac(mac: bytes) -> str:
    """aa:bb:cc:dd:ee:ff, for logs and show output."""
    return ":".join(f"{x:02x}" for x in mac)


def parse_mac(text: str) -> bytes:
    """Parse aa:bb:cc:dd:ee:ff (or with '-') into 6 bytes; FrameError if malformed."""
    parts = text.replace("-", ":").split(":")
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError as exc:
        raise FrameError(f"not a MAC address: {text!r}") from exc
    if len(mac) != 6 or any(len(p) not in (1, 2) for p in parts):
        raise FrameError(f"not a MAC address: {text!r}")
    return mac


def parse_ethernet(frame: bytes) -> EthernetFrame:
    """Split an Ethernet II frame; FrameError if shorter than a header."""
    if len(frame) < ETH_HEADER_LEN:
        raise FrameError(f"runt frame: {len(frame)} bytes")
    dst, src, ethertype = _ETH.unpack_from(frame)
    return EthernetFrame(dst, src, ethertype, frame[ETH_HEADER_LEN:])


def build_ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    """Prepend an Ethernet II header (no padding: TAP frames need none)."""
    return _ETH.pack(dst, src, ethertype) + payload


def parse_arp(payload: bytes) -> ArpPacket:
    """Parse IPv4-over-Ethernet ARP; FrameError for anything else."""
    if len(payload) < ARP_LEN:
        raise FrameError(f"short ARP packet: {len(payload)} bytes")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(payload)
    if htype != 1 or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4:
        raise FrameError(f"ARP not IPv4 over Ethernet (htype {htype}, ptype {ptype:#06x})")
    return ArpPacket(op, sha, IPv4Address(spa), tha, IPv4Address(tpa))


def build_arp(op: int, sender_mac: bytes, sender_ip: IPv4Address, target_mac: bytes,
              target_ip: IPv4Address) -> bytes:
    """IPv4-over-Ethernet ARP payload (28 bytes)."""
    return _ARP.pack(1, ETHERTYPE_IPV4, 6, 4, op, sender_mac, sender_ip.packed,
                     target_mac, target_ip.packed)


def arp_reply_for(frame: bytes, our_tap_mac: bytes,
                  tunnel: IPv4Interface | None = None,
                  any_target: bool = False) -> bytes | None:
    """The Ethernet frame answering an ARP request from the kernel, or None.

    Answered: requests (op 1) whose target is in `tunnel`'s subnet, other than the TAP's
    own address, with `tunnel_mac(target)`. With `any_target` (or no `tunnel` given) any
    target is answered, which is what a route pointing at the interface without a next
    hop needs (the kernel then ARPs for the final destination). Never answered:
    gratuitous ARP (target == sender), 0.0.0.0 probes' targets that are ours, replies,
    frames not sent by the TAP itself (`our_tap_mac`), malformed frames.
    """
    if len(frame) < ETH_HEADER_LEN + ARP_LEN:
        return None
    dst, src, ethertype = _ETH.unpack_from(frame)
    if ethertype != ETHERTYPE_ARP or src != our_tap_mac:
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = _ARP.unpack_from(frame, ETH_HEADER_LEN)
    if htype != 1 or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4 or op != ARP_REQUEST:
        return None
    if tpa == spa or tpa == b"\x00\x00\x00\x00":
        return None
    target = IPv4Address(tpa)
    if tunnel is not None:
        if target == tunnel.ip or (tunnel.network.prefixlen < 31
                                   and target == tunnel.network.broadcast_address):
            return None
        if not any_target and target not in tunnel.network:
            return None
    if target.is_multicast or target == IPv4Address("255.255.255.255"):
        return None
    mac = TUNNEL_MAC_PREFIX + tpa
    return _ETH.pack(sha, mac, ETHERTYPE_ARP) + _ARP.pack(
        1, ETHERTYPE_IPV4, 6, 4, ARP_REPLY, mac, tpa, sha, spa)
