"""Minimal GRE header parsing (RFC 2784/2890) for capture analysis.

Why not scapy's GRE layer: the inspector and the test fixtures need the exact GRE
payload bytes (the NHRP packet) and the key, independent of which scapy layers are
bound; a 20-line parser is simpler to trust than layer binding order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

GRE_PROTO_NHRP = 0x2001
GRE_PROTO_IPV4 = 0x0800

_HDR = struct.Struct("!HH")
_U32 = struct.Struct("!I")


class GreError(ValueError):
    """Bytes too short for the GRE header they announce."""


@dataclass(frozen=True, slots=True)
class GreHeader:
    flags: int
    proto: int
    key: int | None
    seq: int | None
    header_len: int


def parse_gre(buf: bytes) -> tuple[GreHeader, bytes]:
    """Split a GRE packet into its header fields and payload."""
    if len(buf) < 4:
        raise GreError("truncated GRE header")
    flags, proto = _HDR.unpack_from(buf)
    off = 4
    if flags & 0x8000 or flags & 0x4000:  # checksum (+ reserved1) present
        off += 4
    key = seq = None
    if flags & 0x2000:
        if len(buf) < off + 4:
            raise GreError("truncated GRE key")
        key = _U32.unpack_from(buf, off)[0]
        off += 4
    if flags & 0x1000:
        if len(buf) < off + 4:
            raise GreError("truncated GRE sequence number")
        seq = _U32.unpack_from(buf, off)[0]
        off += 4
    if len(buf) < off:
        raise GreError("truncated GRE header")
    return GreHeader(flags, proto, key, seq, off), bytes(buf[off:])
