"""The EIGRP packet (RFC 7868 section 6): 20-byte header + TLVs, checksum and MD5.

Sans-I/O: bytes in, `Packet` out and back. `decode` raises only `EigrpDecodeError`, and
what it returns re-encodes byte for byte (the checksum read is kept, so even a packet
whose checksum we refuse can be logged as it came). `encode` of a fresh Packet
(checksum None) computes the checksum; `sign_md5` fills the AUTHENTICATION TLV's
digest the way IOS does before the checksum is computed.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from dmvpnlab.routing.eigrp.tlvs import (
    AUTH_TYPE_MD5, Authentication, EigrpDecodeError, Tlv, decode_tlv, encode_tlv,
)

VERSION = 2
HEADER_LEN = 20
IP_PROTOCOL = 88
MULTICAST_GROUP = "224.0.0.10"

FLAG_INIT = 0x01
FLAG_CR = 0x02        # conditional receive
FLAG_RS = 0x04        # restart
FLAG_EOT = 0x08       # end of table

# Where IOS's MD5 input splits (the AUTHENTICATION TLV must be the first TLV).
_MD5_PREFIX = HEADER_LEN + 24   # header + auth TLV up to, not including, the digest
_MD5_AFTER = HEADER_LEN + 40    # the first byte after the auth TLV


class Opcode(IntEnum):
    UPDATE = 1
    REQUEST = 2
    QUERY = 3
    REPLY = 4
    HELLO = 5
    SIA_QUERY = 10
    SIA_REPLY = 11


@dataclass(frozen=True)
class Packet:
    """One EIGRP packet. `opcode` stays an int when unknown (kept, not refused).
    A hello with `ack` != 0 and no TLVs is an ACK (RFC 7868 section 5.3.1)."""

    opcode: int
    asn: int
    tlvs: tuple[Tlv, ...] = ()
    flags: int = 0
    sequence: int = 0
    ack: int = 0
    virtual_router_id: int = 0
    version: int = VERSION
    checksum: int | None = None

    @property
    def is_ack(self) -> bool:
        return self.opcode == Opcode.HELLO and self.ack != 0 and not self.tlvs

    def find(self, kind: type) -> Tlv | None:
        """The first TLV of this class, or None."""
        return next((t for t in self.tlvs if isinstance(t, kind)), None)


def ones_complement_checksum(data: bytes) -> int:
    """The IP checksum (RFC 1071) EIGRP uses over the whole packet."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _header(p: Packet, checksum: int) -> bytes:
    return struct.pack("!BBHIIIHH", p.version, p.opcode, checksum, p.flags, p.sequence, p.ack,
                       p.virtual_router_id, p.asn)


def encode(packet: Packet) -> bytes:
    """Wire bytes; the checksum is computed unless the Packet carries one (a decoded one)."""
    body = b"".join(encode_tlv(t) for t in packet.tlvs)
    if packet.checksum is not None:
        return _header(packet, packet.checksum) + body
    unsummed = _header(packet, 0) + body
    return _with_checksum(unsummed)


def _with_checksum(unsummed: bytes) -> bytes:
    csum = ones_complement_checksum(unsummed)
    return unsummed[:2] + struct.pack("!H", csum) + unsummed[4:]


def checksum_ok(data: bytes) -> bool:
    """True when the header's checksum matches the packet (a sum of 0 over all of it)."""
    return len(data) >= HEADER_LEN and ones_complement_checksum(data) == 0


def decode(data: bytes, *, verify_checksum: bool = False) -> Packet:
    """Parse one EIGRP packet (the IP payload). Raises only EigrpDecodeError."""
    # No catch-all here on purpose: any other exception is a parser bug the fuzzer must see.
    return _decode(bytes(data), verify_checksum)


def _decode(data: bytes, verify_checksum: bool) -> Packet:
    if len(data) < HEADER_LEN:
        raise EigrpDecodeError(f"packet is {len(data)} bytes, header needs {HEADER_LEN}")
    version, opcode, checksum, flags, seq, ack, vrid, asn = struct.unpack_from("!BBHIIIHH", data)
    if version != VERSION:
        raise EigrpDecodeError(f"version {version}, only {VERSION} is spoken")
    if verify_checksum and not checksum_ok(data):
        raise EigrpDecodeError("bad checksum")
    tlvs = []
    pos = HEADER_LEN
    while pos < len(data):
        if pos + 4 > len(data):
            raise EigrpDecodeError("trailing bytes shorter than a TLV header")
        tlv_type, length = struct.unpack_from("!HH", data, pos)
        if length < 4 or pos + length > len(data):
            raise EigrpDecodeError(f"TLV 0x{tlv_type:04x} length {length} at {pos} is out of the packet")
        tlvs.append(decode_tlv(tlv_type, data[pos + 4:pos + length]))
        pos += length
    op: int = Opcode(opcode) if opcode in Opcode._value2member_map_ else opcode
    return Packet(op, asn, tuple(tlvs), flags, seq, ack, vrid, version, checksum)


def _md5_input(unsummed: bytes, key: bytes, basic: bool) -> bytes:
    """What IOS hashes: header (checksum 0) and the auth TLV up to its digest, the key
    padded with zeros to 16 bytes where the digest goes, then the TLVs after it.

    RFC 7868 leaves the byte order loose; this is FRR eigrpd's layout for updates (FRR
    8.4 stops hashing 20 bytes short of the end, which we take for its bug, and signs an
    INIT update over 40 bytes with no key at all). FRR also says Cisco signs a basic hello
    over its first 44 bytes and the key only (`basic=True`): neighbors.py signs hellos
    that way and accepts both forms on hellos. The FRR interop test could not settle it:
    FRR 8.4 verifies MD5 hellos over its receive buffer from the IP header on, so it
    accepts no MD5 hello from anyone (FRR issue #4663). A key longer than 16 bytes is
    hashed whole, not cut.
    """
    rest = b"" if basic else unsummed[_MD5_AFTER:]
    return unsummed[:_MD5_PREFIX] + key.ljust(16, b"\x00") + rest


def _auth_first(packet: Packet) -> Authentication:
    if not packet.tlvs or not isinstance(packet.tlvs[0], Authentication):
        raise ValueError("MD5 needs the AUTHENTICATION TLV as the first TLV")
    auth = packet.tlvs[0]
    if auth.auth_type != AUTH_TYPE_MD5 or len(auth.digest) != 16 or len(auth.padding) != 8:
        raise ValueError("the AUTHENTICATION TLV is not an IOS MD5 one")
    return auth


def md5_digest(packet: Packet, key: bytes, *, basic: bool = False) -> bytes:
    """The digest this packet must carry under `key` (its own digest and checksum ignored)."""
    auth = _auth_first(packet)
    blank = replace(packet, checksum=0, tlvs=(replace(auth, digest=bytes(16)),) + packet.tlvs[1:])
    return hashlib.md5(_md5_input(encode(blank), key, basic)).digest()


def sign_md5(packet: Packet, key: bytes, *, basic: bool = False) -> bytes:
    """Encode `packet` (first TLV: an MD5 Authentication) with its digest and checksum set."""
    auth = _auth_first(packet)
    digest = md5_digest(packet, key, basic=basic)
    return encode(replace(packet, checksum=None, tlvs=(replace(auth, digest=digest),) + packet.tlvs[1:]))


def verify_md5(data: bytes, key: bytes, *, basic: bool = False) -> bool:
    """True when `data` carries an IOS MD5 AUTHENTICATION TLV first and its digest is
    right for `key`. Never raises: malformed input is simply not authentic."""
    try:
        packet = _decode(bytes(data), verify_checksum=False)
        auth = _auth_first(packet)
    except (EigrpDecodeError, ValueError):
        return False
    return hmac.compare_digest(auth.digest, md5_digest(packet, key, basic=basic))


__all__ = [
    "EigrpDecodeError", "FLAG_CR", "FLAG_EOT", "FLAG_INIT", "FLAG_RS", "HEADER_LEN", "IP_PROTOCOL",
    "MULTICAST_GROUP", "Opcode", "Packet", "checksum_ok", "decode", "encode", "md5_digest",
    "ones_complement_checksum", "sign_md5", "verify_md5",
]
