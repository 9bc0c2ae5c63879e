"""GRE encapsulation (RFC 2784 with the RFC 2890 key and sequence extensions).

What DMVPN puts on the wire: version 0, no checksum, the key when `tunnel key` is
configured, protocol 0x0800 for data and 0x2001 for NHRP. We decode what other
implementations may send too (checksum present: verified; sequence number: parsed and
returned, not enforced), and refuse routing-present / non-zero versions (RFC 1701
source routing and PPTP's enhanced GRE) with a typed error.

GRE_PROTO_IPV4 and GRE_PROTO_NHRP are defined here and nowhere else. Hot path:
`gre_header` is cached per (proto, key); the transport prepends it, one bytes
concatenation per packet. Imports only `tunnel.ipv4` (the RFC 1071 checksum).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import NamedTuple

from dmvpnlab.tunnel.ipv4 import internet_checksum

GRE_PROTO_IPV4 = 0x0800
GRE_PROTO_NHRP = 0x2001

FLAG_CHECKSUM = 0x8000
FLAG_ROUTING = 0x4000
FLAG_KEY = 0x2000
FLAG_SEQUENCE = 0x1000
_VERSION_MASK = 0x0007
# Bits that RFC 2784 says a receiver must see as zero (reserved0, bits 5..12) beyond
# C/K/S. Strict source route (0x0800) and recursion control (0x0700) of RFC 1701 are
# tolerated by Linux and IOS; we tolerate them too.

_BASE = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")

GRE_BASE_LEN = 4


class GreDecodeError(ValueError):
    """GRE bytes we cannot or will not decode (truncated, bad version, bad checksum)."""


class GrePacket(NamedTuple):
    """A decoded GRE packet: payload protocol, key (None if absent), payload bytes."""

    proto: int
    key: int | None
    payload: bytes
    sequence: int | None = None
    checksum_present: bool = False


def decode_gre(data: bytes, verify_checksum: bool = True) -> GrePacket:
    """Decode one GRE packet (outer IP header already removed).

    Raises GreDecodeError, never anything else, for any input.
    """
    if len(data) < GRE_BASE_LEN:
        raise GreDecodeError(f"GRE header truncated: {len(data)} bytes")
    flags, proto = _BASE.unpack_from(data)
    if flags & _VERSION_MASK:
        raise GreDecodeError(f"GRE version {flags & _VERSION_MASK} not supported")
    if flags & FLAG_ROUTING:
        raise GreDecodeError("GRE routing present (RFC 1701 source routing) not supported")
    # The optional 32-bit fields follow the base header in this order when their flag is set.
    fields: list[int | None] = []
    offset = GRE_BASE_LEN
    for flag, name in ((FLAG_CHECKSUM, "checksum"), (FLAG_KEY, "key"), (FLAG_SEQUENCE, "sequence")):
        if not flags & flag:
            fields.append(None)
            continue
        if len(data) < offset + 4:
            raise GreDecodeError(f"GRE {name} field truncated")
        if flag == FLAG_CHECKSUM and verify_checksum and internet_checksum(data) != 0:
            raise GreDecodeError("GRE checksum mismatch")
        fields.append(_U32.unpack_from(data, offset)[0])
        offset += 4
    checksum, key, sequence = fields
    return GrePacket(proto, key, data[offset:], sequence, checksum is not None)


@lru_cache(maxsize=64)
def gre_header(proto: int, key: int | None = None) -> bytes:
    """The fixed GRE header for (proto, key): what the data path prepends per packet."""
    if not 0 <= proto <= 0xFFFF:
        raise ValueError(f"GRE protocol type out of range: {proto}")
    if key is None:
        return _BASE.pack(0, proto)
    if not 0 <= key <= 0xFFFFFFFF:
        raise ValueError(f"GRE key out of range: {key}")
    return _BASE.pack(FLAG_KEY, proto) + _U32.pack(key)


def encode_gre(proto: int, payload: bytes, key: int | None = None, *,
               checksum: bool = False, sequence: int | None = None) -> bytes:
    """Encapsulate `payload` in GRE. Only `key` is used by DMVPN; `checksum` and
    `sequence` exist so tests and interop fixtures can build what others send."""
    if not checksum and sequence is None:
        return gre_header(proto, key) + payload
    flags = (FLAG_CHECKSUM if checksum else 0) | (FLAG_KEY if key is not None else 0)
    flags |= FLAG_SEQUENCE if sequence is not None else 0
    parts = [_BASE.pack(flags, proto)]
    if checksum:
        parts.append(b"\x00\x00\x00\x00")
    if key is not None:
        parts.append(_U32.pack(key))
    if sequence is not None:
        parts.append(_U32.pack(sequence & 0xFFFFFFFF))
    parts.append(payload)
    packet = bytearray(b"".join(parts))
    if checksum:
        _U16.pack_into(packet, 4, internet_checksum(packet))
    return bytes(packet)
