"""ISAKMP wire codec (RFC 2408 with the IPsec DOI of RFC 2407 and NAT-T of RFC 3947).

Why our own: no Python IKE daemon is usable, scapy's ISAKMP layer is GPL and lossy
(it does not round-trip attributes or reserved fields), and the IKEv1 state machine to
come must hash payload bodies exactly as they were on the wire (SAi_b, IDii_b, the
Quick Mode HASH(1) input). So every decoded message re-encodes byte for byte: TV and
TLV attribute forms, SPI and value lengths, reserved bytes and padding are kept.

Public API
----------
Errors
    ``IsakmpDecodeError(ValueError)``: the only exception :func:`decode` and
    :func:`decode_payloads` raise, whatever the input.

Messages
    ``IsakmpMessage(icookie, rcookie, exchange, flags=0, message_id=0, payloads=[],
    next_payload=0, version=0x10, encrypted=None)``. When the E flag is set, ``decode``
    keeps the body after the header in ``encrypted`` (ciphertext) and ``payloads`` is
    empty; ``next_payload`` (the header field) is then the type of the first encrypted
    payload. For a plaintext message it stays 0: the header field is the first payload's
    type by construction (``first_payload_type`` answers in both cases). Once the state
    machine has decrypted the body, ``decode_payloads(msg.next_payload, plain)`` gives
    ``(payloads, padding)``.
    ``decode(data) -> IsakmpMessage``: ``data`` starts at the ISAKMP header (strip the
    four-byte non-ESP marker first on UDP 4500: see ``isakmp_const.NON_ESP_MARKER``);
    bytes beyond the header's length field are ignored. A plaintext chain must end
    exactly at that length. Only version 1.x is accepted (IKEv2 is another codec).
    ``encode(msg) -> bytes``: computes the length field; for a plaintext message the
    header's next payload is the first payload's type.
    ``decode_payloads(first, data, allow_padding=True) -> (payloads, padding)`` and
    ``encode_payloads(payloads) -> bytes``: a payload chain alone (decrypted bodies; the
    RFC 2409 5.3 padding after the last payload is returned, never parsed).

Payloads (each has ``type`` and ``reserved``, the generic header's reserved byte)
    ``SaPayload(doi=1, situation=1, proposals=[], opaque=None)``: for the IPsec DOI with
    the identity-only situation the proposals are parsed; for any other DOI or situation
    the bytes after the situation stay in ``opaque``. ``.body()`` is SAi_b.
    ``Proposal(number, protocol, spi=b"", transforms=[])``,
    ``Transform(number, transform_id, attributes=[])``,
    ``Attribute(type, value)``: ``value`` an ``int`` is the TV (basic) form, ``bytes``
    the TLV (variable) form. ``Attribute.of(type, n)`` picks TV below 65536;
    ``.number`` reads either form. ``Transform.get(type)`` -> number or None.
    ``IdPayload(id_type, data, protocol=0, port=0)`` with ``IdPayload.ipv4(addr)``,
    ``.ipv4_subnet(net)``, ``.fqdn(name)`` and the readers ``.address()``, ``.network()``,
    ``.text()``.
    ``NotifyPayload(notify_type, doi=1, protocol=1, spi=b"", data=b"")``,
    ``DeletePayload(protocol, spis, doi=1, spi_size=None)``,
    ``CertPayload(encoding, data)``, ``CertRequestPayload(cert_type, authority)``,
    ``NatOaPayload(id_type, address, type=21)``,
    ``OpaquePayload(type, data)``: KE, HASH, SIG, NONCE, VENDOR_ID, NAT-D and every
    payload type this codec does not know (kept and re-encoded as they came).
    ``payload_names(payloads)``: short names ("SA", "V", "KE", "No", "NAT-D", ...).

Imports nothing of the project but the constant tables beside it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import ClassVar, Union

from dmvpnlab.ipsec.isakmp_const import (
    DOI_IPSEC, FLAG_ENCRYPTION, ISAKMP_VERSION, PAYLOAD_SHORT_NAMES, SIT_IDENTITY_ONLY, IdType,
    PayloadType, ProtocolId,
)

__all__ = [
    "IsakmpDecodeError", "IsakmpMessage", "Attribute", "Transform", "Proposal", "SaPayload", "IdPayload",
    "NotifyPayload", "DeletePayload", "CertPayload", "CertRequestPayload", "NatOaPayload", "OpaquePayload",
    "Payload", "decode", "encode", "decode_payloads", "encode_payloads", "payload_names", "HEADER_LEN",
]


class IsakmpDecodeError(ValueError):
    """Bytes that are not a well-formed ISAKMP message (the only error decode raises)."""


HEADER_LEN = 28
_HEADER = struct.Struct("!8s8sBBBBII")   # cookies, next, version, exchange, flags, M-ID, length
_GENERIC = struct.Struct("!BBH")          # next payload, reserved, payload length
_PROPOSAL = struct.Struct("!BBB")         # number, protocol id, SPI size (+ #transforms)
_TRANSFORM = struct.Struct("!BBH")        # number, transform id, reserved
_ATTR = struct.Struct("!HH")
_SA_FIXED = struct.Struct("!II")          # DOI, situation
_ID_FIXED = struct.Struct("!BBH")         # id type, protocol, port
_NOTIFY_FIXED = struct.Struct("!IBBH")    # DOI, protocol, SPI size, notify type
_DELETE_FIXED = struct.Struct("!IBBH")    # DOI, protocol, SPI size, number of SPIs
_AF_TV = 0x8000                           # attribute format bit: TV (basic) when set


# --- SA, proposals, transforms, attributes -----------------------------------------
@dataclass(slots=True, frozen=True)
class Attribute:
    """One SA attribute; ``int`` value = TV (basic) form, ``bytes`` = TLV (variable)."""

    type: int
    value: int | bytes

    @classmethod
    def of(cls, type: int, number: int) -> "Attribute":
        """TV form when the number fits 16 bits, else TLV in 4 bytes (how IOS sends
        86400 s lifetimes), or more if needed."""
        if 0 <= number <= 0xFFFF:
            return cls(type, number)
        size = max(4, (number.bit_length() + 7) // 8)
        return cls(type, number.to_bytes(size, "big"))

    @property
    def number(self) -> int:
        """The value as a number, whichever form it came in."""
        return self.value if isinstance(self.value, int) else int.from_bytes(self.value, "big")

    def to_bytes(self) -> bytes:
        if isinstance(self.value, int):
            return _ATTR.pack(_AF_TV | (self.type & 0x7FFF), self.value)
        return _ATTR.pack(self.type & 0x7FFF, len(self.value)) + bytes(self.value)


@dataclass(slots=True)
class Transform:
    """A Transform inside a Proposal: KEY_IKE for Phase 1, an ESP/AH id for Phase 2."""

    number: int
    transform_id: int
    attributes: list[Attribute] = field(default_factory=list)
    reserved: int = 0
    reserved2: int = 0          # the 16-bit field after the transform id

    def get(self, type: int) -> int | None:
        """The first attribute of ``type`` as a number, or None."""
        for attr in self.attributes:
            if attr.type == type:
                return attr.number
        return None

    def to_bytes(self, last: bool) -> bytes:
        body = _TRANSFORM.pack(self.number, self.transform_id, self.reserved2) + \
            b"".join(a.to_bytes() for a in self.attributes)
        return _generic(0 if last else PayloadType.TRANSFORM, self.reserved, body)


@dataclass(slots=True)
class Proposal:
    """A Proposal inside an SA: protocol, SPI (empty for Phase 1), transforms."""

    number: int
    protocol: int
    spi: bytes = b""
    transforms: list[Transform] = field(default_factory=list)
    reserved: int = 0

    def to_bytes(self, last: bool) -> bytes:
        count = len(self.transforms)
        if len(self.spi) > 0xFF or count > 0xFF:
            raise ValueError("proposal SPI or transform count too large")
        body = _PROPOSAL.pack(self.number, self.protocol, len(self.spi)) + bytes([count]) + bytes(self.spi) + \
            b"".join(t.to_bytes(i == count - 1) for i, t in enumerate(self.transforms))
        return _generic(0 if last else PayloadType.PROPOSAL, self.reserved, body)


@dataclass(slots=True)
class SaPayload:
    """Security Association payload (RFC 2408 3.4, RFC 2407 4.6.1)."""

    type: ClassVar[int] = PayloadType.SA
    doi: int = DOI_IPSEC
    situation: int = SIT_IDENTITY_ONLY
    proposals: list[Proposal] = field(default_factory=list)
    opaque: bytes | None = None     # bytes after the situation when not parsed (see module doc)
    reserved: int = 0

    def body(self) -> bytes:
        """The payload body without the generic header: SAi_b of RFC 2409 HASH_I."""
        head = _SA_FIXED.pack(self.doi, self.situation)
        if self.opaque is not None:
            return head + bytes(self.opaque)
        count = len(self.proposals)
        return head + b"".join(p.to_bytes(i == count - 1) for i, p in enumerate(self.proposals))


@dataclass(slots=True)
class IdPayload:
    """Identification payload (RFC 2407 4.6.2): Phase 1 identity or a Quick Mode proxy."""

    type: ClassVar[int] = PayloadType.ID
    id_type: int
    data: bytes
    protocol: int = 0
    port: int = 0
    reserved: int = 0

    @classmethod
    def ipv4(cls, address: IPv4Address | str, protocol: int = 0, port: int = 0) -> "IdPayload":
        return cls(IdType.IPV4_ADDR, IPv4Address(address).packed, protocol, port)

    @classmethod
    def ipv4_subnet(cls, network: IPv4Network | str, protocol: int = 0, port: int = 0) -> "IdPayload":
        net = IPv4Network(network)
        return cls(IdType.IPV4_ADDR_SUBNET, net.network_address.packed + net.netmask.packed, protocol, port)

    @classmethod
    def fqdn(cls, name: str, protocol: int = 0, port: int = 0) -> "IdPayload":
        return cls(IdType.FQDN, name.encode("ascii"), protocol, port)

    def address(self) -> IPv4Address | None:
        """The address of an IPV4_ADDR identity, else None."""
        if self.id_type == IdType.IPV4_ADDR and len(self.data) == 4:
            return IPv4Address(self.data)
        return None

    def network(self) -> IPv4Network | None:
        """The subnet of an IPV4_ADDR_SUBNET proxy (or a /32 for IPV4_ADDR), else None;
        None also when the mask is not contiguous (a peer's error, left to the caller)."""
        if self.id_type == IdType.IPV4_ADDR and len(self.data) == 4:
            return IPv4Network(IPv4Address(self.data))
        if self.id_type == IdType.IPV4_ADDR_SUBNET and len(self.data) == 8:
            try:
                return IPv4Network((IPv4Address(self.data[:4]), str(IPv4Address(self.data[4:]))), strict=False)
            except ValueError:
                return None
        return None

    def text(self) -> str | None:
        """The name of an FQDN / USER_FQDN identity, else None."""
        if self.id_type in (IdType.FQDN, IdType.USER_FQDN):
            return self.data.decode("ascii", "replace")
        return None

    def body(self) -> bytes:
        """IDii_b / IDir_b of RFC 2409: the body without the generic header."""
        return _ID_FIXED.pack(self.id_type, self.protocol, self.port) + bytes(self.data)


@dataclass(slots=True)
class NotifyPayload:
    """Notification payload (RFC 2408 3.14): errors, INITIAL-CONTACT, DPD."""

    type: ClassVar[int] = PayloadType.NOTIFY
    notify_type: int
    doi: int = DOI_IPSEC
    protocol: int = ProtocolId.ISAKMP
    spi: bytes = b""
    data: bytes = b""
    reserved: int = 0

    def body(self) -> bytes:
        if len(self.spi) > 0xFF:
            raise ValueError("notify SPI too long")
        return _NOTIFY_FIXED.pack(self.doi, self.protocol, len(self.spi), self.notify_type) + \
            bytes(self.spi) + bytes(self.data)


@dataclass(slots=True)
class DeletePayload:
    """Delete payload (RFC 2408 3.15): SPIs of one size (16 = the cookie pair for ISAKMP).

    ``spi_size`` is only needed when ``spis`` is empty (the wire still carries a size).
    """

    type: ClassVar[int] = PayloadType.DELETE
    protocol: int
    spis: list[bytes] = field(default_factory=list)
    doi: int = DOI_IPSEC
    spi_size: int | None = None
    reserved: int = 0

    def body(self) -> bytes:
        size = self.spi_size if self.spi_size is not None else (len(self.spis[0]) if self.spis else 0)
        if any(len(s) != size for s in self.spis) or size > 0xFF or len(self.spis) > 0xFFFF:
            raise ValueError("delete payload SPIs must all have spi_size bytes")
        return _DELETE_FIXED.pack(self.doi, self.protocol, size, len(self.spis)) + b"".join(map(bytes, self.spis))


@dataclass(slots=True)
class CertPayload:
    """Certificate payload (RFC 2408 3.9), contents opaque (DMVPN labs use PSKs)."""

    type: ClassVar[int] = PayloadType.CERT
    encoding: int
    data: bytes = b""
    reserved: int = 0

    def body(self) -> bytes:
        return bytes([self.encoding]) + bytes(self.data)


@dataclass(slots=True)
class CertRequestPayload:
    """Certificate Request payload (RFC 2408 3.10), authority opaque."""

    type: ClassVar[int] = PayloadType.CR
    cert_type: int
    authority: bytes = b""
    reserved: int = 0

    def body(self) -> bytes:
        return bytes([self.cert_type]) + bytes(self.authority)


@dataclass(slots=True)
class NatOaPayload:
    """NAT Original Address (RFC 3947 5.2; type 131 under the drafts)."""

    id_type: int
    address: bytes
    type: int = PayloadType.NAT_OA
    oa_reserved: int = 0        # the three bytes after the id type
    reserved: int = 0

    def ipv4(self) -> IPv4Address | None:
        return IPv4Address(self.address) if self.id_type == IdType.IPV4_ADDR and len(self.address) == 4 else None

    def body(self) -> bytes:
        return bytes([self.id_type]) + self.oa_reserved.to_bytes(3, "big") + bytes(self.address)


@dataclass(slots=True)
class OpaquePayload:
    """A payload whose body is data to this codec: KE (g^x), HASH, SIG, NONCE, VENDOR_ID,
    NAT-D, and any type we do not know (kept so the message re-encodes unchanged)."""

    type: int
    data: bytes = b""
    reserved: int = 0

    def body(self) -> bytes:
        return bytes(self.data)


Payload = Union[SaPayload, IdPayload, NotifyPayload, DeletePayload, CertPayload, CertRequestPayload,
                NatOaPayload, OpaquePayload]


@dataclass(slots=True)
class IsakmpMessage:
    """One ISAKMP message; see the module docstring for the encrypted case."""

    icookie: bytes
    rcookie: bytes
    exchange: int
    flags: int = 0
    message_id: int = 0
    payloads: list[Payload] = field(default_factory=list)
    next_payload: int = 0           # header field of an encrypted message (see module doc)
    version: int = ISAKMP_VERSION
    encrypted: bytes | None = None

    @property
    def is_encrypted(self) -> bool:
        return bool(self.flags & FLAG_ENCRYPTION)

    @property
    def first_payload_type(self) -> int:
        """The header's next-payload value, plaintext or encrypted."""
        if self.encrypted is not None:
            return self.next_payload
        return self.payloads[0].type if self.payloads else PayloadType.NONE

    def payload(self, type: int) -> Payload | None:
        """The first payload of ``type``, or None."""
        for p in self.payloads:
            if p.type == type:
                return p
        return None

    def all(self, type: int) -> list[Payload]:
        """Every payload of ``type``, in order."""
        return [p for p in self.payloads if p.type == type]


def payload_names(payloads: list[Payload]) -> list[str]:
    """Short names of a chain, in order ("SA", "V", ...): how debug logs print a message."""
    return [PAYLOAD_SHORT_NAMES.get(p.type, str(p.type)) for p in payloads]


# --- encode ------------------------------------------------------------------------
def _generic(next_payload: int, reserved: int, body: bytes) -> bytes:
    length = _GENERIC.size + len(body)
    if length > 0xFFFF:
        raise ValueError(f"payload too long ({length} bytes)")
    return _GENERIC.pack(next_payload, reserved, length) + body


def encode_payloads(payloads: list[Payload]) -> bytes:
    """A payload chain: each generic header names the type of the payload after it."""
    out = []
    for i, p in enumerate(payloads):
        nxt = payloads[i + 1].type if i + 1 < len(payloads) else PayloadType.NONE
        out.append(_generic(nxt, p.reserved, p.body()))
    return b"".join(out)


def encode(msg: IsakmpMessage) -> bytes:
    """Serialise ``msg`` with its length field computed."""
    if len(msg.icookie) != 8 or len(msg.rcookie) != 8:
        raise ValueError("cookies must be 8 bytes")
    body = bytes(msg.encrypted) if msg.encrypted is not None else encode_payloads(msg.payloads)
    return _HEADER.pack(bytes(msg.icookie), bytes(msg.rcookie), msg.first_payload_type, msg.version, msg.exchange, msg.flags,
                        msg.message_id, HEADER_LEN + len(body)) + body


# --- decode ------------------------------------------------------------------------
def decode(data: bytes) -> IsakmpMessage:
    """Decode one ISAKMP message. Raises only :class:`IsakmpDecodeError`."""
    try:
        return _decode(bytes(data))
    except IsakmpDecodeError:
        raise
    except (struct.error, ValueError, IndexError, TypeError, UnicodeError) as exc:  # defensive: never leak
        raise IsakmpDecodeError(f"malformed ISAKMP message: {exc}") from None


def decode_payloads(first: int, data: bytes, allow_padding: bool = True) -> tuple[list[Payload], bytes]:
    """Decode a payload chain starting with a payload of type ``first``.

    Returns the payloads and the bytes after the last one: RFC 2409 5.3 lets a sender pad
    the plaintext of an encrypted message up to the cipher block, and its length field
    counts the padding; refused (an error) when ``allow_padding`` is false.
    """
    try:
        data = bytes(data)
        payloads, end = _decode_chain(first, data, 0, len(data))
        padding = data[end:]
        if padding and not allow_padding:
            raise IsakmpDecodeError(f"{len(padding)} bytes after the last payload")
        return payloads, padding
    except IsakmpDecodeError:
        raise
    except (struct.error, ValueError, IndexError, TypeError, UnicodeError) as exc:
        raise IsakmpDecodeError(f"malformed payload chain: {exc}") from None


def _decode(data: bytes) -> IsakmpMessage:
    if len(data) < HEADER_LEN:
        raise IsakmpDecodeError(f"truncated: {len(data)} bytes, an ISAKMP header is {HEADER_LEN}")
    icookie, rcookie, first, version, exchange, flags, message_id, length = _HEADER.unpack_from(data)
    if version >> 4 != 1:
        raise IsakmpDecodeError(f"not IKEv1: version {version >> 4}.{version & 0xF}")
    if length < HEADER_LEN:
        raise IsakmpDecodeError(f"length field {length} shorter than the header")
    if length > len(data):
        raise IsakmpDecodeError(f"truncated: length field {length}, have {len(data)} bytes")
    msg = IsakmpMessage(icookie, rcookie, exchange, flags, message_id, version=version)
    if flags & FLAG_ENCRYPTION:
        msg.encrypted = data[HEADER_LEN:length]
        msg.next_payload = first
        return msg
    msg.payloads, end = _decode_chain(first, data, HEADER_LEN, length)
    if end != length:
        raise IsakmpDecodeError(f"payload chain ends at {end}, length field says {length}")
    return msg


def _decode_chain(first: int, data: bytes, off: int, end: int) -> tuple[list[Payload], int]:
    payloads: list[Payload] = []
    current = first
    while current != PayloadType.NONE:
        if end - off < _GENERIC.size:
            raise IsakmpDecodeError(f"payload type {current} announced but the chain ends at offset {off}")
        nxt, reserved, length = _GENERIC.unpack_from(data, off)
        if length < _GENERIC.size or off + length > end:
            raise IsakmpDecodeError(f"payload type {current} at offset {off}: bad length {length}")
        payloads.append(_decode_payload(current, reserved, data[off + _GENERIC.size:off + length]))
        off += length
        current = nxt
    return payloads, off


def _decode_payload(ptype: int, reserved: int, body: bytes) -> Payload:
    if ptype == PayloadType.SA:
        return _decode_sa(body, reserved)
    if ptype in (PayloadType.PROPOSAL, PayloadType.TRANSFORM):
        raise IsakmpDecodeError(f"payload type {ptype} outside an SA payload")
    if ptype == PayloadType.ID:
        _need(body, _ID_FIXED.size, "ID")
        id_type, protocol, port = _ID_FIXED.unpack_from(body)
        return IdPayload(id_type, body[_ID_FIXED.size:], protocol, port, reserved)
    if ptype == PayloadType.NOTIFY:
        _need(body, _NOTIFY_FIXED.size, "Notification")
        doi, protocol, spi_size, notify_type = _NOTIFY_FIXED.unpack_from(body)
        stop = _NOTIFY_FIXED.size + spi_size
        if stop > len(body):
            raise IsakmpDecodeError(f"Notification SPI size {spi_size} overruns the payload")
        return NotifyPayload(notify_type, doi, protocol, body[_NOTIFY_FIXED.size:stop], body[stop:], reserved)
    if ptype == PayloadType.DELETE:
        _need(body, _DELETE_FIXED.size, "Delete")
        doi, protocol, spi_size, count = _DELETE_FIXED.unpack_from(body)
        rest = body[_DELETE_FIXED.size:]
        if spi_size * count != len(rest):
            raise IsakmpDecodeError(f"Delete: {count} SPIs of {spi_size} bytes, have {len(rest)} bytes")
        spis = [rest[i * spi_size:(i + 1) * spi_size] for i in range(count)]
        return DeletePayload(protocol, spis, doi, None if spis else spi_size, reserved)
    if ptype == PayloadType.CERT:
        _need(body, 1, "Certificate")
        return CertPayload(body[0], body[1:], reserved)
    if ptype == PayloadType.CR:
        _need(body, 1, "Certificate Request")
        return CertRequestPayload(body[0], body[1:], reserved)
    if ptype in (PayloadType.NAT_OA, PayloadType.NAT_OA_DRAFT):
        _need(body, 4, "NAT-OA")
        return NatOaPayload(body[0], body[4:], ptype, int.from_bytes(body[1:4], "big"), reserved)
    return OpaquePayload(ptype, body, reserved)


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise IsakmpDecodeError(f"{what} payload body of {len(body)} bytes, need at least {size}")


def _decode_sa(body: bytes, reserved: int) -> SaPayload:
    _need(body, _SA_FIXED.size, "SA")
    doi, situation = _SA_FIXED.unpack_from(body)
    sa = SaPayload(doi, situation, reserved=reserved)
    if doi != DOI_IPSEC or situation & ~SIT_IDENTITY_ONLY:
        sa.opaque = body[_SA_FIXED.size:]     # labeled-domain situations or a foreign DOI
        return sa
    off, end = _SA_FIXED.size, len(body)
    more = off < end
    while more:
        proposal, nxt, off = _decode_proposal(body, off, end)
        sa.proposals.append(proposal)
        more = nxt == PayloadType.PROPOSAL
    if off != end:
        raise IsakmpDecodeError(f"SA payload: {end - off} bytes after the last proposal")
    return sa


def _sub_header(buf: bytes, off: int, end: int, what: str, chain_type: int) -> tuple[int, int, int]:
    """Generic header of a Proposal/Transform: (next, reserved, length), checked."""
    if end - off < _GENERIC.size:
        raise IsakmpDecodeError(f"truncated {what} at offset {off}")
    nxt, reserved, length = _GENERIC.unpack_from(buf, off)
    if nxt not in (PayloadType.NONE, chain_type):
        raise IsakmpDecodeError(f"{what} next payload {nxt}, must be {int(chain_type)} or 0")
    if length < _GENERIC.size or off + length > end:
        raise IsakmpDecodeError(f"{what} at offset {off}: bad length {length}")
    return nxt, reserved, length


def _decode_proposal(buf: bytes, off: int, end: int) -> tuple[Proposal, int, int]:
    nxt, reserved, length = _sub_header(buf, off, end, "Proposal", PayloadType.PROPOSAL)
    stop = off + length
    pos = off + _GENERIC.size
    if stop - pos < 4:
        raise IsakmpDecodeError(f"Proposal at offset {off} too short")
    number, protocol, spi_size = _PROPOSAL.unpack_from(buf, pos)
    count = buf[pos + 3]
    pos += 4
    if pos + spi_size > stop:
        raise IsakmpDecodeError(f"Proposal SPI size {spi_size} overruns the proposal")
    proposal = Proposal(number, protocol, buf[pos:pos + spi_size], reserved=reserved)
    pos += spi_size
    more = count > 0
    while more:
        transform, t_next, pos = _decode_transform(buf, pos, stop)
        proposal.transforms.append(transform)
        more = t_next == PayloadType.TRANSFORM
    if len(proposal.transforms) != count:
        raise IsakmpDecodeError(f"Proposal {number} announces {count} transforms, carries {len(proposal.transforms)}")
    if pos != stop:
        raise IsakmpDecodeError(f"Proposal {number}: {stop - pos} bytes after the last transform")
    return proposal, nxt, stop


def _decode_transform(buf: bytes, off: int, end: int) -> tuple[Transform, int, int]:
    nxt, reserved, length = _sub_header(buf, off, end, "Transform", PayloadType.TRANSFORM)
    stop = off + length
    pos = off + _GENERIC.size
    if stop - pos < _TRANSFORM.size:
        raise IsakmpDecodeError(f"Transform at offset {off} too short")
    number, transform_id, reserved2 = _TRANSFORM.unpack_from(buf, pos)
    attrs = _decode_attributes(buf, pos + _TRANSFORM.size, stop)
    return Transform(number, transform_id, attrs, reserved, reserved2), nxt, stop


def _decode_attributes(buf: bytes, off: int, end: int) -> list[Attribute]:
    attrs: list[Attribute] = []
    while off < end:
        if end - off < _ATTR.size:
            raise IsakmpDecodeError(f"truncated SA attribute at offset {off}")
        af_type, value = _ATTR.unpack_from(buf, off)
        off += _ATTR.size
        if af_type & _AF_TV:
            attrs.append(Attribute(af_type & 0x7FFF, value))
            continue
        if off + value > end:
            raise IsakmpDecodeError(f"SA attribute {af_type} of {value} bytes overruns the transform")
        attrs.append(Attribute(af_type, buf[off:off + value]))
        off += value
    return attrs
