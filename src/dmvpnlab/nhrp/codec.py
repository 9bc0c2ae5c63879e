"""NHRP wire codec: RFC 2332 packets plus Cisco's Traffic Indication, in pure Python.

Why pure ``struct`` and no scapy: this sits on the agent's data path (every NHRP
packet a router sends or receives goes through it), so it uses precompiled
``struct.Struct`` objects and plain slots dataclasses. The scapy layer
(:mod:`dmvpnlab.nhrp.scapy`) wraps this codec for analysis, never the other way round.

Public API (other modules code against this; keep it stable)
------------------------------------------------------------
Errors
    ``NhrpDecodeError(ValueError)``: the only exception :func:`decode` raises
    (truncated packet, inconsistent lengths, bad checksum, unsupported afn/version or
    address lengths, malformed CIE or extension).
    ``NhrpTooLarge(ValueError)``: what :func:`encode` raises for a packet over
    ``MAX_PACKET`` (65,535) bytes, the most ar$pktsz can say. The engine builds a reply
    before it commits any state, so this is the one error it must expect from encode.

Enums and constants
    ``PacketType`` (IntEnum): RESOLUTION_REQUEST=1, RESOLUTION_REPLY=2,
    REGISTRATION_REQUEST=3, REGISTRATION_REPLY=4, PURGE_REQUEST=5, PURGE_REPLY=6,
    ERROR_INDICATION=7, TRAFFIC_INDICATION=8 (Cisco, the Phase 3 redirect).
    ``PACKET_NAMES``: PacketType -> the name IOS prints ("Resolution Request"); the
    one table of type names (debug, show ip nhrp traffic, ladders, the scapy layer).
    ``ExtensionType`` (IntEnum): END=0, RESPONDER_ADDRESS=3, FORWARD_TRANSIT_NHS=4,
    REVERSE_TRANSIT_NHS=5, AUTHENTICATION=7, VENDOR_PRIVATE=8, CISCO_NAT=9.
    ``EXT_COMPULSORY`` = 0x8000 (the bit in the extension type field).
    Flags (mandatory part): Resolution ``RES_Q``=0x8000, ``RES_A``=0x4000,
    ``RES_D``=0x2000, ``RES_U``=0x1000, ``RES_S``=0x0800; Registration
    ``REG_UNIQUE``=0x8000; Purge ``PURGE_N``=0x8000; Cisco ``NAT``=0x0002 (any type).
    ``CieCode`` (IntEnum, RFC 2332 5.2.0.1 + Registration Reply): SUCCESS=0,
    ADMIN_PROHIBITED=4, INSUFFICIENT_RESOURCES=5, NO_BINDING=12, NOT_UNIQUE=13,
    ALREADY_REGISTERED=14 (unique address already registered by another NBMA);
    the same names exist as module constants ``CIE_SUCCESS`` ... ``CIE_ALREADY_REGISTERED``.
    ``ErrorCode`` (IntEnum, RFC 2332 5.2.7, Error Indication): UNRECOGNIZED_EXTENSION=1,
    LOOP_DETECTED=3, PROTOCOL_ADDRESS_UNREACHABLE=6, PROTOCOL_ERROR=7,
    SDU_SIZE_EXCEEDED=8, INVALID_EXTENSION=9, INVALID_RESOLUTION_REPLY=10,
    AUTHENTICATION_FAILURE=11, HOP_COUNT_EXCEEDED=15.
    ``TRAFFIC_REDIRECT`` = 0 (Traffic Indication code Cisco sends).
    ``flag_names(type, flags) -> list[str]``: e.g. ``["Q", "A", "S", "NAT"]``.

Dataclasses (addresses are ``IPv4Address`` or ``None`` = zero-length on the wire)
    ``Cie(code=0, prefix_len=32, mtu=0, holdtime=0, preference=0, nbma=None,
    proto=None, nbma_subaddr=b"", unused=0)``: a Client Information Entry.
    ``Extension(type, compulsory, payload)``: one extension, payload raw bytes.
        ``Extension.from_cies(type, cies, compulsory=True)``, ``.cies() -> list[Cie]``
        (raises NhrpDecodeError if the payload is not a CIE list),
        ``Extension.authentication(password, compulsory=True)`` (Cisco: 4-byte auth
        type 1 = cleartext, then the password), ``.auth_password() -> bytes | None``,
        ``Extension.end()``.
    ``NhrpPacket(type, src_nbma, src_proto, dst_proto, flags=0, request_id=0, cies=[],
    extensions=[], hop_count=255, afn=1, pro_type=0x0800, pro_snap=bytes(5), version=1,
    src_nbma_subaddr=b"", error_code=0, error_offset=0, traffic_code=0, payload=b"",
    trailer=b"", checksum=None)``
        ``.extension(type) -> Extension | None`` (first of that type),
        ``.auth_password() -> bytes | None``, ``.packet_type`` (PacketType or int).

    Per-type meaning of the 6 bytes after the protocol lengths in the mandatory part:
    types 1..6: ``flags`` + ``request_id``; Error Indication (7): 2 unused bytes
    (kept in ``flags`` so odd senders round-trip), ``error_code``, ``error_offset``;
    Traffic Indication (8): ``traffic_code`` then 4 unused bytes (kept in
    ``request_id``). Types 7 and 8 carry no CIEs: the bytes after the addresses up
    to the extensions are ``payload`` (the packet in error / the triggering packet's
    IP header + 8 bytes).

    ``extensions`` is the list exactly as on the wire, *including* the End extension
    when decoded. :func:`encode` appends an End extension if the list is non-empty and
    does not already end with one, so builders may leave it out. ``trailer`` holds
    bytes after End inside pktsz (seen in no capture; kept for exact round-trip).
    ``checksum`` is ar$chksum as decoded (None when built), left out of ``==``; see
    :func:`encode` for the one case it matters.

Functions
    ``decode(data, *, verify_checksum=True) -> NhrpPacket``: ``data`` starts at the
    NHRP fixed header (the GRE payload); bytes beyond ar$pktsz (link padding) are
    ignored.
    ``encode(pkt) -> bytes``: computes ar$pktsz, ar$extoff and the checksum (RFC 1071
    over the whole NHRP packet). Decode then encode gives the received bytes back,
    byte for byte (up to ar$pktsz), including a checksum sent as 0xFFFF: in ones'
    complement 0x0000 and 0xFFFF are both zero, so a packet whose checksum computes to
    0x0000 is equally valid with 0xFFFF (RFC 1071, RFC 1624 section 3). The encoder
    writes 0x0000 (what the RFC 1071 computation gives), except that a decoded packet
    that carried 0xFFFF keeps it: a packet re-encoded unchanged (quoted in an Error
    Indication, replayed, fuzzed) is the packet that was received.
    ``checksum(data) -> int``: the RFC 1071 checksum used above.

Only IPv4 over IPv4 (afn 1, protocol type 0x0800) is supported, as in DMVPN labs; any
address length other than 0 or 4 is a decode error rather than a silent mis-parse.
Imports nothing of the project (the checksum is its own: nhrp may not import tunnel).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv4Address
from typing import Iterable

__all__ = [
    "NhrpDecodeError", "NhrpTooLarge", "MAX_PACKET",
    "PacketType", "PACKET_NAMES", "ExtensionType", "CieCode", "ErrorCode",
    "Cie", "Extension", "NhrpPacket", "decode", "encode", "checksum", "flag_names",
    "EXT_COMPULSORY", "RES_Q", "RES_A", "RES_D", "RES_U", "RES_S", "REG_UNIQUE",
    "PURGE_N", "NAT", "TRAFFIC_REDIRECT", "AFN_IPV4", "PROTO_IPV4",
    "CIE_SUCCESS", "CIE_ADMIN_PROHIBITED", "CIE_INSUFFICIENT_RESOURCES",
    "CIE_NO_BINDING", "CIE_NOT_UNIQUE", "CIE_ALREADY_REGISTERED",
]


class NhrpDecodeError(ValueError):
    """Bytes that are not a well-formed NHRP packet (the only error decode raises)."""


class NhrpTooLarge(ValueError):
    """A packet that would not fit ar$pktsz (over MAX_PACKET bytes): encode refuses it."""


#: The largest NHRP packet ar$pktsz can describe.
MAX_PACKET = 0xFFFF


class PacketType(IntEnum):
    RESOLUTION_REQUEST = 1
    RESOLUTION_REPLY = 2
    REGISTRATION_REQUEST = 3
    REGISTRATION_REPLY = 4
    PURGE_REQUEST = 5
    PURGE_REPLY = 6
    ERROR_INDICATION = 7
    TRAFFIC_INDICATION = 8


#: The name of each packet type as IOS prints it: "Resolution Request" ... "Traffic Indication".
PACKET_NAMES: dict[int, str] = {t: t.name.replace("_", " ").title() for t in PacketType}


class ExtensionType(IntEnum):
    END = 0
    RESPONDER_ADDRESS = 3
    FORWARD_TRANSIT_NHS = 4
    REVERSE_TRANSIT_NHS = 5
    AUTHENTICATION = 7
    VENDOR_PRIVATE = 8
    CISCO_NAT = 9


class CieCode(IntEnum):
    """CIE codes (RFC 2332 5.2.0.1 and 5.2.4)."""

    SUCCESS = 0
    ADMIN_PROHIBITED = 4
    INSUFFICIENT_RESOURCES = 5
    NO_BINDING = 12            # no internetworking-layer-address-to-NBMA binding exists
    NOT_UNIQUE = 13            # binding exists but is not unique
    ALREADY_REGISTERED = 14    # unique internetworking layer address already registered


class ErrorCode(IntEnum):
    """Error Indication codes (RFC 2332 5.2.7)."""

    UNRECOGNIZED_EXTENSION = 1
    LOOP_DETECTED = 3
    PROTOCOL_ADDRESS_UNREACHABLE = 6
    PROTOCOL_ERROR = 7
    SDU_SIZE_EXCEEDED = 8
    INVALID_EXTENSION = 9
    INVALID_RESOLUTION_REPLY = 10
    AUTHENTICATION_FAILURE = 11
    HOP_COUNT_EXCEEDED = 15


CIE_SUCCESS = CieCode.SUCCESS
CIE_ADMIN_PROHIBITED = CieCode.ADMIN_PROHIBITED
CIE_INSUFFICIENT_RESOURCES = CieCode.INSUFFICIENT_RESOURCES
CIE_NO_BINDING = CieCode.NO_BINDING
CIE_NOT_UNIQUE = CieCode.NOT_UNIQUE
CIE_ALREADY_REGISTERED = CieCode.ALREADY_REGISTERED

EXT_COMPULSORY = 0x8000
RES_Q = 0x8000   # requester is a router
RES_A = 0x4000   # authoritative
RES_D = 0x2000   # destination is stable
RES_U = 0x1000   # unique
RES_S = 0x0800   # source binding is stable
REG_UNIQUE = 0x8000
PURGE_N = 0x8000  # no reply expected
NAT = 0x0002      # Cisco: sender knows about NAT / supports the NAT extension
TRAFFIC_REDIRECT = 0
AFN_IPV4 = 1
PROTO_IPV4 = 0x0800
AUTH_CLEARTEXT = 1

_RESOLUTION_FLAGS = ((RES_Q, "Q"), (RES_A, "A"), (RES_D, "D"), (RES_U, "U"), (RES_S, "S"), (NAT, "NAT"))
_REGISTRATION_FLAGS = ((REG_UNIQUE, "U"), (NAT, "NAT"))
_PURGE_FLAGS = ((PURGE_N, "N"), (NAT, "NAT"))


def flag_names(ptype: int, flags: int) -> list[str]:
    """Names of the flag bits set, as the type defines them (for show/debug output)."""
    if ptype in (PacketType.RESOLUTION_REQUEST, PacketType.RESOLUTION_REPLY):
        table = _RESOLUTION_FLAGS
    elif ptype in (PacketType.REGISTRATION_REQUEST, PacketType.REGISTRATION_REPLY):
        table = _REGISTRATION_FLAGS
    elif ptype in (PacketType.PURGE_REQUEST, PacketType.PURGE_REPLY):
        table = _PURGE_FLAGS
    else:
        return []
    names = [name for bit, name in table if flags & bit]
    known = 0
    for bit, _ in table:
        known |= bit
    if flags & ~known & 0xFFFF:
        names.append(f"0x{flags & ~known & 0xFFFF:04x}")
    return names


# --- wire layouts (precompiled: decode runs for every NHRP packet) -------------------
_FIXED = struct.Struct("!HH5sBHHHBBBB")     # 20 bytes: afn .. sstl
_MAND = struct.Struct("!BBHI")              # src/dst proto len, flags, request id
_MAND_ERR = struct.Struct("!BBHHH")         # src/dst proto len, unused, code, offset
_CIE = struct.Struct("!BBHHHBBBB")          # 12 bytes before the CIE addresses
_EXT = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_FIXED_LEN = 20
_MAND_LEN = 8

_IP_CACHE: dict[bytes, IPv4Address] = {}


def _ip(raw: bytes) -> IPv4Address:
    """IPv4Address from 4 bytes, memoised: a lab has few distinct addresses."""
    addr = _IP_CACHE.get(raw)
    if addr is None:
        addr = IPv4Address(raw)
        if len(_IP_CACHE) < 65536:
            _IP_CACHE[raw] = addr
    return addr


def _addr_bytes(addr: IPv4Address | str | None) -> bytes:
    if addr is None:
        return b""
    if not isinstance(addr, IPv4Address):
        addr = IPv4Address(addr)
    return addr.packed


# --- checksum ----------------------------------------------------------------------
_LITTLE = sys.byteorder == "little"


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of ``data`` (0 when ``data`` already carries a valid one).

    The one's-complement sum is byte-order independent, so we sum native 16-bit words
    (fast, via memoryview.cast) and swap once at the end.
    """
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    total = ~total & 0xFFFF
    if _LITTLE:
        total = ((total & 0xFF) << 8) | (total >> 8)
    return total


# --- dataclasses -------------------------------------------------------------------
@dataclass(slots=True)
class Cie:
    """Client Information Entry (RFC 2332 5.2.0.1)."""

    code: int = 0
    prefix_len: int = 32
    mtu: int = 0
    holdtime: int = 0
    preference: int = 0
    nbma: IPv4Address | None = None
    proto: IPv4Address | None = None
    nbma_subaddr: bytes = b""
    unused: int = 0

    def to_bytes(self) -> bytes:
        nbma = _addr_bytes(self.nbma)
        proto = _addr_bytes(self.proto)
        sub = bytes(self.nbma_subaddr)
        return _CIE.pack(self.code, self.prefix_len, self.unused, self.mtu, self.holdtime,
                         len(nbma), len(sub), len(proto), self.preference) + nbma + sub + proto


@dataclass(slots=True)
class Extension:
    """One NHRP extension; ``type`` is the 14-bit type (ExtensionType where known)."""

    type: int
    compulsory: bool
    payload: bytes = b""

    @classmethod
    def from_cies(cls, type: int, cies: Iterable[Cie], compulsory: bool = True) -> "Extension":
        return cls(type, compulsory, b"".join(c.to_bytes() for c in cies))

    @classmethod
    def authentication(cls, password: bytes, compulsory: bool = True) -> "Extension":
        """Cisco's cleartext authentication: 4-byte auth type 1, then the password."""
        if isinstance(password, str):
            password = password.encode()
        return cls(ExtensionType.AUTHENTICATION, compulsory, _U32.pack(AUTH_CLEARTEXT) + password)

    @classmethod
    def end(cls) -> "Extension":
        return cls(ExtensionType.END, True, b"")

    def cies(self) -> list[Cie]:
        """The payload as a CIE list (Responder, Transit NHS records, Cisco NAT)."""
        return _decode_cies(self.payload, 0, len(self.payload))

    def auth_password(self) -> bytes | None:
        """Password of a cleartext authentication extension, else None."""
        if self.type != ExtensionType.AUTHENTICATION or len(self.payload) < 4:
            return None
        if _U32.unpack_from(self.payload)[0] != AUTH_CLEARTEXT:
            return None
        return bytes(self.payload[4:])


@dataclass(slots=True)
class NhrpPacket:
    """A decoded NHRP packet; see the module docstring for per-type field meaning."""

    type: int
    src_nbma: IPv4Address | None
    src_proto: IPv4Address | None
    dst_proto: IPv4Address | None
    flags: int = 0
    request_id: int = 0
    cies: list[Cie] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    hop_count: int = 255
    afn: int = AFN_IPV4
    pro_type: int = PROTO_IPV4
    pro_snap: bytes = bytes(5)
    version: int = 1
    src_nbma_subaddr: bytes = b""
    error_code: int = 0
    error_offset: int = 0
    traffic_code: int = 0
    payload: bytes = b""
    trailer: bytes = b""
    # ar$chksum as received (None: built here). Not part of equality: two packets with
    # the same content are the same packet whichever zero their checksum used.
    checksum: int | None = field(default=None, compare=False, repr=False)

    @property
    def packet_type(self) -> PacketType | int:
        try:
            return PacketType(self.type)
        except ValueError:
            return self.type

    def extension(self, type: int) -> Extension | None:
        for ext in self.extensions:
            if ext.type == type:
                return ext
        return None

    def auth_password(self) -> bytes | None:
        ext = self.extension(ExtensionType.AUTHENTICATION)
        return ext.auth_password() if ext is not None else None


# --- decode ------------------------------------------------------------------------
def _decode_cies(buf: bytes, off: int, end: int) -> list[Cie]:
    cies: list[Cie] = []
    unpack = _CIE.unpack_from
    while off < end:
        if end - off < 12:
            raise NhrpDecodeError(f"truncated CIE at offset {off}")
        code, plen, unused, mtu, hold, ntl, stl, plen_proto, pref = unpack(buf, off)
        if ntl not in (0, 4) or plen_proto not in (0, 4) or stl & 0xC0:
            raise NhrpDecodeError(f"unsupported CIE address lengths at offset {off}")
        off += 12
        stop = off + ntl + stl + plen_proto
        if stop > end:
            raise NhrpDecodeError(f"CIE addresses overrun at offset {off}")
        nbma = _ip(buf[off:off + 4]) if ntl else None
        off += ntl
        sub = bytes(buf[off:off + stl]) if stl else b""
        off += stl
        proto = _ip(buf[off:off + 4]) if plen_proto else None
        off = stop
        cies.append(Cie(code, plen, mtu, hold, pref, nbma, proto, sub, unused))
    return cies


def decode(data: bytes, *, verify_checksum: bool = True) -> NhrpPacket:
    """Decode one NHRP packet (GRE payload). Raises only :class:`NhrpDecodeError`."""
    try:
        return _decode(bytes(data), verify_checksum)
    except NhrpDecodeError:
        raise
    except (struct.error, ValueError, IndexError, TypeError) as exc:  # defensive: never leak
        raise NhrpDecodeError(f"malformed NHRP packet: {exc}") from None


def _decode(data: bytes, verify_checksum: bool) -> NhrpPacket:
    if len(data) < _FIXED_LEN + _MAND_LEN:
        raise NhrpDecodeError(f"truncated: {len(data)} bytes, need at least {_FIXED_LEN + _MAND_LEN}")
    (afn, pro_type, snap, hops, pktsz, cksum, extoff, version, ptype, shtl, sstl) = _FIXED.unpack_from(data)
    if afn != AFN_IPV4:
        raise NhrpDecodeError(f"unsupported address family {afn} (only IPv4 NBMA, afn 1)")
    if pro_type != PROTO_IPV4:
        raise NhrpDecodeError(f"unsupported protocol type 0x{pro_type:04x}")
    if version != 1:
        raise NhrpDecodeError(f"unsupported NHRP version {version}")
    if pktsz < _FIXED_LEN + _MAND_LEN:
        raise NhrpDecodeError(f"packet size {pktsz} too small")
    if pktsz > len(data):
        raise NhrpDecodeError(f"truncated: packet size {pktsz}, have {len(data)} bytes")
    data = data[:pktsz]
    if verify_checksum and checksum(data) != 0:
        raise NhrpDecodeError(f"bad checksum 0x{cksum:04x}")
    if shtl not in (0, 4) or sstl & 0xC0:
        raise NhrpDecodeError("unsupported source NBMA address type/length")
    if extoff:
        if extoff < _FIXED_LEN + _MAND_LEN or extoff > pktsz:
            raise NhrpDecodeError(f"extension offset {extoff} outside packet")
        mand_end = extoff
    else:
        mand_end = pktsz

    pkt = NhrpPacket(ptype, None, None, None, hop_count=hops, afn=afn, pro_type=pro_type,
                     pro_snap=snap, version=version, checksum=cksum)
    if ptype == PacketType.ERROR_INDICATION:
        spl, dpl, pkt.flags, pkt.error_code, pkt.error_offset = _MAND_ERR.unpack_from(data, _FIXED_LEN)
    else:
        spl, dpl, flags, reqid = _MAND.unpack_from(data, _FIXED_LEN)
        pkt.request_id = reqid
        if ptype == PacketType.TRAFFIC_INDICATION:
            pkt.traffic_code = flags
        else:
            pkt.flags = flags
    if spl not in (0, 4) or dpl not in (0, 4):
        raise NhrpDecodeError(f"unsupported protocol address lengths {spl}/{dpl}")
    off = _FIXED_LEN + _MAND_LEN
    addr_end = off + shtl + sstl + spl + dpl
    if addr_end > mand_end:
        raise NhrpDecodeError("addresses overrun the mandatory part")
    if shtl:
        pkt.src_nbma = _ip(data[off:off + 4])
        off += 4
    if sstl:
        pkt.src_nbma_subaddr = data[off:off + sstl]
        off += sstl
    if spl:
        pkt.src_proto = _ip(data[off:off + 4])
        off += 4
    if dpl:
        pkt.dst_proto = _ip(data[off:off + 4])
        off += 4

    if ptype in (PacketType.ERROR_INDICATION, PacketType.TRAFFIC_INDICATION):
        pkt.payload = data[off:mand_end]
    else:
        pkt.cies = _decode_cies(data, off, mand_end)

    if extoff:
        pkt.extensions, pkt.trailer = _decode_extensions(data, extoff, pktsz)
    return pkt


def _decode_extensions(data: bytes, off: int, end: int) -> tuple[list[Extension], bytes]:
    exts: list[Extension] = []
    unpack = _EXT.unpack_from
    while True:
        if end - off < 4:
            raise NhrpDecodeError(f"extensions not terminated by End (offset {off})")
        tc, length = unpack(data, off)
        off += 4
        if off + length > end:
            raise NhrpDecodeError(f"extension 0x{tc:04x} overruns the packet")
        etype = tc & 0x3FFF
        try:
            etype = ExtensionType(etype)
        except ValueError:
            pass
        if tc & 0x4000:
            raise NhrpDecodeError(f"reserved bit set in extension type 0x{tc:04x}")
        exts.append(Extension(etype, bool(tc & EXT_COMPULSORY), data[off:off + length]))
        off += length
        if etype == ExtensionType.END:
            if length:
                raise NhrpDecodeError("End extension with non-zero length")
            return exts, data[off:end]


# --- encode ------------------------------------------------------------------------
def encode(pkt: NhrpPacket) -> bytes:
    """Serialise ``pkt``: fills in ar$pktsz, ar$extoff and the checksum."""
    ptype = int(pkt.type)
    src_nbma = _addr_bytes(pkt.src_nbma)
    sub = bytes(pkt.src_nbma_subaddr)
    src_proto = _addr_bytes(pkt.src_proto)
    dst_proto = _addr_bytes(pkt.dst_proto)
    if ptype == PacketType.ERROR_INDICATION:
        mand = _MAND_ERR.pack(len(src_proto), len(dst_proto), pkt.flags, pkt.error_code, pkt.error_offset)
    elif ptype == PacketType.TRAFFIC_INDICATION:
        mand = _MAND.pack(len(src_proto), len(dst_proto), pkt.traffic_code, pkt.request_id)
    else:
        mand = _MAND.pack(len(src_proto), len(dst_proto), pkt.flags, pkt.request_id)
    parts = [mand, src_nbma, sub, src_proto, dst_proto]
    if ptype in (PacketType.ERROR_INDICATION, PacketType.TRAFFIC_INDICATION):
        parts.append(bytes(pkt.payload))
    else:
        parts.extend(c.to_bytes() for c in pkt.cies)
    body = b"".join(parts)

    exts = list(pkt.extensions)
    if exts and exts[-1].type != ExtensionType.END:
        exts.append(Extension.end())
    if exts:
        extoff = _FIXED_LEN + len(body)
        ext_bytes = b"".join(
            _EXT.pack((int(e.type) & 0x3FFF) | (EXT_COMPULSORY if e.compulsory else 0), len(e.payload))
            + bytes(e.payload) for e in exts) + bytes(pkt.trailer)
    else:
        extoff = 0
        ext_bytes = b""
    pktsz = _FIXED_LEN + len(body) + len(ext_bytes)
    if pktsz > MAX_PACKET:
        raise NhrpTooLarge(f"NHRP packet too large ({pktsz} bytes)")
    header = _FIXED.pack(pkt.afn, pkt.pro_type, bytes(pkt.pro_snap), pkt.hop_count, pktsz, 0, extoff,
                         pkt.version, ptype, len(src_nbma), len(sub))
    raw = bytearray(header + body + ext_bytes)
    value = checksum(raw)
    if value == 0 and pkt.checksum == 0xFFFF:
        value = 0xFFFF  # the other zero, as received: equally valid, and the bytes round-trip
    struct.pack_into("!H", raw, 12, value)  # ar$chksum
    return bytes(raw)
