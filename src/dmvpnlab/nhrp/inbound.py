"""What a peer's NHRP packet must be before the engine acts on it, and what a refusal says.

The engine never raises on what a peer sends, and never changes its state for a packet
it then cannot answer. The codec accepts any well-framed bytes (zero-length addresses,
any prefix length, extension payloads kept raw); the builders in `messages` parse the
extensions they copy (Cisco NAT, Forward Transit). So everything a handler will read
is checked here first, once, on the decoded packet, before any handler runs:

- the addresses its type implies are present, and CIE prefix lengths are IPv4 ones;
- every CIE-list extension (Responder Address, Forward/Reverse Transit NHS Record,
  Cisco NAT) is a CIE list;
- every NBMA address in it is one a reply or data can be sent to (unicast), since the
  engine answers, and the data path sends, to the addresses peers claim;
- for a packet the router answers or consumes (not one it only passes on: RFC 2332
  5.2.7, "a transit NHS ... SHALL ignore the extension"), no compulsory extension of a
  type it does not know (`unrecognized`, called by the handlers that know their role).

A failed check is a `Refusal`: the drop counter's reason (`NhrpEngine.dropped`, shown
as "dropped" in the JSON state and `show ip nhrp traffic | json`), the line `debug
nhrp` prints, and the RFC 2332 5.2.7 Error Indication code when one goes back.

When an Error Indication goes back: for a request (Registration, Resolution, Purge)
whose mandatory part decoded, to where it came from, naming its sender; with Protocol
Error for an extension that is not what its type says, Unrecognized Extension for an
unknown compulsory one, SDU Size Exceeded for an answer (or a forwarded copy) that
would not fit in one datagram. Never for an Error Indication, a reply or a Traffic
Indication (there is no request to refuse: a counted drop), never for bytes that do
not decode (no sender to name), never to a peer that failed authentication. It quotes
at most ERROR_QUOTE bytes of the packet in error. Imports only `nhrp.codec`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from dmvpnlab.nhrp.codec import (
    MAX_PACKET, ErrorCode, ExtensionType, NhrpDecodeError, NhrpPacket, NhrpTooLarge, PacketType, encode,
)

#: The largest NHRP packet the NBMA side carries: one IPv4 datagram (65,535 bytes) less
#: its 20-byte header and a GRE header with a key. The path MTU is no limit (the GRE
#: socket sends with DF clear, so the kernel fragments, as IOS does for GRE); the
#: datagram is. An encrypting transport carries less; the engine's `max_packet` says it.
MAX_SEND = MAX_PACKET - 20 - 8
#: How much of a packet in error an Error Indication quotes: its fixed header, mandatory
#: part and first CIEs and extensions, where errors are, in one unfragmented packet.
ERROR_QUOTE = 1024
#: An Error Indication without its quote: fixed header, mandatory part, three IPv4 addresses.
ERROR_OVERHEAD = 20 + 8 + 3 * 4

REQUESTS = frozenset({PacketType.RESOLUTION_REQUEST, PacketType.REGISTRATION_REQUEST, PacketType.PURGE_REQUEST})
CIE_LISTS = frozenset({ExtensionType.RESPONDER_ADDRESS, ExtensionType.FORWARD_TRANSIT_NHS,
                       ExtensionType.REVERSE_TRANSIT_NHS, ExtensionType.CISCO_NAT})
_KNOWN = frozenset(int(t) for t in ExtensionType)
_NEEDS_ADDRESSES = frozenset({
    PacketType.RESOLUTION_REQUEST, PacketType.RESOLUTION_REPLY, PacketType.REGISTRATION_REQUEST,
    PacketType.REGISTRATION_REPLY, PacketType.PURGE_REQUEST, PacketType.TRAFFIC_INDICATION,
    PacketType.ERROR_INDICATION,
})
_EXT = struct.Struct("!HH")
_PKTSZ_AT, _EXTOFF_AT = 10, 14  # ar$pktsz and ar$extoff in the fixed header


@dataclass(frozen=True)
class Refusal:
    """Why the engine will not act on a packet, and what it tells the sender."""

    reason: str  # key of the drop counter: stable words
    detail: str  # for `debug nhrp`
    error_code: int | None = None  # the Error Indication to send back (requests only), or None
    offset: int = 0  # where in the packet (from the fixed header) the error is


def sendable(address: IPv4Address | None) -> bool:
    """True for an NBMA address a packet can be sent to (absent counts as fine)."""
    return address is None or not (address.is_unspecified or address.is_loopback
                                   or address.is_multicast or address.is_reserved)


def refusal(packet: NhrpPacket, data: bytes, outer_src: IPv4Address) -> Refusal | None:
    """The checks that hold whatever role this router plays for `packet` (see module doc);
    `outer_src` is where it came from, where answers go."""
    if packet.type in _NEEDS_ADDRESSES and None in (packet.src_nbma, packet.src_proto, packet.dst_proto):
        return Refusal("malformed", "missing source NBMA, source or destination protocol address")
    if any(cie.prefix_len > 32 for cie in packet.cies):
        return Refusal("malformed", "CIE prefix length above 32")
    nbmas = [outer_src, packet.src_nbma] + [cie.nbma for cie in packet.cies]
    for ext, at in zip(packet.extensions, extension_offsets(data)):
        if ext.type in CIE_LISTS:
            try:
                nbmas += [cie.nbma for cie in ext.cies()]
            except NhrpDecodeError as error:
                return Refusal("malformed extension", f"extension {int(ext.type)} at offset {at}: {error}",
                               ErrorCode.PROTOCOL_ERROR, at)
    bad = next((a for a in nbmas if not sendable(a)), None)
    if bad is not None:
        return Refusal("bad nbma address", f"NBMA address {bad} is not a unicast address")
    return None


def unrecognized(packet: NhrpPacket, data: bytes) -> Refusal | None:
    """A compulsory extension of a type this router does not know, for a packet it answers."""
    for ext, at in zip(packet.extensions, extension_offsets(data)):
        if ext.compulsory and int(ext.type) not in _KNOWN:
            return Refusal("unrecognized extension", f"compulsory extension type {int(ext.type)} at offset {at}",
                           ErrorCode.UNRECOGNIZED_EXTENSION, at)
    return None


def too_large(size: int | None, limit: int) -> Refusal:
    """An answer (or a forwarded copy) of `size` bytes (None: over MAX_PACKET) over `limit`."""
    said = "over 65535" if size is None else str(size)
    return Refusal("too large", f"the answer would be {said} bytes, at most {limit} fit",
                   ErrorCode.SDU_SIZE_EXCEEDED, _PKTSZ_AT)


def encoded(packet: NhrpPacket, limit: int) -> bytes | Refusal:
    """`packet` on the wire, or the refusal to send when it would exceed `limit` bytes."""
    try:
        data = encode(packet)
    except NhrpTooLarge:
        return too_large(None, limit)
    return data if len(data) <= limit else too_large(len(data), limit)


def extension_offsets(data: bytes) -> list[int]:
    """Where each extension starts (from the fixed header) in a packet that decoded."""
    if len(data) < _EXTOFF_AT + 2:
        return []
    end = min(len(data), int.from_bytes(data[_PKTSZ_AT:_PKTSZ_AT + 2], "big"))
    off = int.from_bytes(data[_EXTOFF_AT:_EXTOFF_AT + 2], "big")
    offsets: list[int] = []
    while off and off + 4 <= end:
        offsets.append(off)
        type_code, length = _EXT.unpack_from(data, off)
        if type_code & 0x3FFF == ExtensionType.END:
            break
        off += 4 + length
    return offsets


def quote(data: bytes, limit: int) -> bytes:
    """What an Error Indication carries of the packet in error (no link padding), so that
    the indication stays within `limit` bytes."""
    size = int.from_bytes(data[_PKTSZ_AT:_PKTSZ_AT + 2], "big") if len(data) >= _PKTSZ_AT + 2 else len(data)
    return bytes(data[:max(0, min(size, ERROR_QUOTE, limit - ERROR_OVERHEAD))])
