"""ISAKMP wire codec (RFC 2408 with the IPsec DOI of RFC 2407 and NAT-T of RFC 3947).

Why our own: no Python IKE daemon is usable, scapy's ISAKMP layer is GPL (a test
oracle at most, see DESIGN.md), and the IKEv1 state machine to come must hash payload
bodies exactly as they were on the wire (SAi_b, IDii_b, the Quick Mode HASH(1) input). So every decoded message re-encodes byte for byte: TV and
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
    RFC 2409 padding after the last payload is returned, never parsed).

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
    ``CertPayload(encoding, data, type=CERT)``, also the Certificate Request (``type=CR``,
    ``data`` the authority),
    ``NatOaPayload(id_type, address, type=21)``,
    ``OpaquePayload(type, data)``: KE, HASH, SIG, NONCE, VENDOR_ID, NAT-D and every
    payload type this codec does not know (kept and re-encoded as they came).
    ``payload_names(payloads)``: short names ("SA", "V", "KE", "No", "NAT-D", ...).

The payload dataclasses live in :mod:`dmvpnlab.ipsec.isakmp_payloads` (re-exported here);
imports nothing of the project but those and the constant tables beside it.
"""

from __future__ import annotations

import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from dmvpnlab.ipsec.isakmp_const import DOI_IPSEC, FLAG_ENCRYPTION, ISAKMP_VERSION, PAYLOAD_SHORT_NAMES, \
    SIT_IDENTITY_ONLY, PayloadType
from dmvpnlab.ipsec.isakmp_payloads import (
    AF_TV, ATTR_HEADER, DELETE_FIXED, GENERIC, ID_FIXED, NOTIFY_FIXED, PROPOSAL_FIXED, SA_FIXED, TRANSFORM_FIXED,
    Attribute, CertPayload, DeletePayload, IdPayload, NatOaPayload, NotifyPayload, OpaquePayload, Payload, Proposal,
    SaPayload, Transform, generic_payload,
)

__all__ = [
    "IsakmpDecodeError", "IsakmpMessage", "Attribute", "Transform", "Proposal", "SaPayload", "IdPayload",
    "NotifyPayload", "DeletePayload", "CertPayload", "NatOaPayload", "OpaquePayload",
    "Payload", "decode", "encode", "decode_payloads", "encode_payloads", "payload_names", "HEADER_LEN",
]


class IsakmpDecodeError(ValueError):
    """Bytes that are not a well-formed ISAKMP message (the only error decode raises)."""


HEADER_LEN = 28
_HEADER = struct.Struct("!8s8sBBBBII")   # cookies, next, version, exchange, flags, M-ID, length


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
def encode_payloads(payloads: list[Payload]) -> bytes:
    """A payload chain: each generic header names the type of the payload after it."""
    out = []
    for i, p in enumerate(payloads):
        nxt = payloads[i + 1].type if i + 1 < len(payloads) else PayloadType.NONE
        out.append(generic_payload(nxt, p.reserved, p.body()))
    return b"".join(out)


def encode(msg: IsakmpMessage) -> bytes:
    """Serialise ``msg`` with its length field computed."""
    if len(msg.icookie) != 8 or len(msg.rcookie) != 8:
        raise ValueError("cookies must be 8 bytes")
    body = bytes(msg.encrypted) if msg.encrypted is not None else encode_payloads(msg.payloads)
    return _HEADER.pack(bytes(msg.icookie), bytes(msg.rcookie), msg.first_payload_type, msg.version, msg.exchange, msg.flags,
                        msg.message_id, HEADER_LEN + len(body)) + body


# --- decode ------------------------------------------------------------------------
@contextmanager
def _typed_errors(what: str) -> Iterator[None]:
    """Turn a slip of ours that lets a Python error through into the documented error
    (defensive: the parsers below check every length first, the fuzz targets hold them to it)."""
    try:
        yield
    except IsakmpDecodeError:
        raise
    except (struct.error, ValueError, IndexError, TypeError, UnicodeError) as exc:
        raise IsakmpDecodeError(f"malformed {what}: {exc}") from None


def decode(data: bytes) -> IsakmpMessage:
    """Decode one ISAKMP message. Raises only :class:`IsakmpDecodeError`."""
    with _typed_errors("ISAKMP message"):
        return _decode(bytes(data))


def decode_payloads(first: int, data: bytes, allow_padding: bool = True) -> tuple[list[Payload], bytes]:
    """Decode a payload chain starting with a payload of type ``first``.

    Returns the payloads and the bytes after the last one: under RFC 2409 a sender pads
    the plaintext of an encrypted message to whole cipher blocks, and the header's length
    field counts the padding; refused (an error) when ``allow_padding`` is false.
    """
    with _typed_errors("payload chain"):
        data = bytes(data)
        payloads, end = _decode_chain(first, data, 0, len(data))
        padding = data[end:]
        if padding and not allow_padding:
            raise IsakmpDecodeError(f"{len(padding)} bytes after the last payload")
        return payloads, padding


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
        if end - off < GENERIC.size:
            raise IsakmpDecodeError(f"payload type {current} announced but the chain ends at offset {off}")
        nxt, reserved, length = GENERIC.unpack_from(data, off)
        if length < GENERIC.size or off + length > end:
            raise IsakmpDecodeError(f"payload type {current} at offset {off}: bad length {length}")
        payloads.append(_decode_payload(current, reserved, data[off + GENERIC.size:off + length]))
        off += length
        current = nxt
    return payloads, off


def _decode_payload(ptype: int, reserved: int, body: bytes) -> Payload:
    if ptype == PayloadType.SA:
        return _decode_sa(body, reserved)
    if ptype in (PayloadType.PROPOSAL, PayloadType.TRANSFORM):
        raise IsakmpDecodeError(f"payload type {ptype} outside an SA payload")
    if ptype == PayloadType.ID:
        _need(body, ID_FIXED.size, "ID")
        id_type, protocol, port = ID_FIXED.unpack_from(body)
        return IdPayload(id_type, body[ID_FIXED.size:], protocol, port, reserved)
    if ptype == PayloadType.NOTIFY:
        _need(body, NOTIFY_FIXED.size, "Notification")
        doi, protocol, spi_size, notify_type = NOTIFY_FIXED.unpack_from(body)
        stop = NOTIFY_FIXED.size + spi_size
        if stop > len(body):
            raise IsakmpDecodeError(f"Notification SPI size {spi_size} overruns the payload")
        return NotifyPayload(notify_type, doi, protocol, body[NOTIFY_FIXED.size:stop], body[stop:], reserved)
    if ptype == PayloadType.DELETE:
        _need(body, DELETE_FIXED.size, "Delete")
        doi, protocol, spi_size, count = DELETE_FIXED.unpack_from(body)
        rest = body[DELETE_FIXED.size:]
        if spi_size * count != len(rest):
            raise IsakmpDecodeError(f"Delete: {count} SPIs of {spi_size} bytes, have {len(rest)} bytes")
        spis = [rest[i * spi_size:(i + 1) * spi_size] for i in range(count)]
        return DeletePayload(protocol, spis, doi, None if spis else spi_size, reserved)
    if ptype in (PayloadType.CERT, PayloadType.CR):
        _need(body, 1, "Certificate")
        return CertPayload(body[0], body[1:], ptype, reserved)
    if ptype in (PayloadType.NAT_OA, PayloadType.NAT_OA_DRAFT):
        _need(body, 4, "NAT-OA")
        return NatOaPayload(body[0], body[4:], ptype, int.from_bytes(body[1:4], "big"), reserved)
    return OpaquePayload(ptype, body, reserved)


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise IsakmpDecodeError(f"{what} payload body of {len(body)} bytes, need at least {size}")


def _decode_sa(body: bytes, reserved: int) -> SaPayload:
    _need(body, SA_FIXED.size, "SA")
    doi, situation = SA_FIXED.unpack_from(body)
    sa = SaPayload(doi, situation, reserved=reserved)
    if doi != DOI_IPSEC or situation & ~SIT_IDENTITY_ONLY:
        sa.opaque = body[SA_FIXED.size:]     # labeled-domain situations or a foreign DOI
        return sa
    off, end = SA_FIXED.size, len(body)
    more = off < end
    while more:
        proposal, nxt, off = _decode_proposal(body, off, end)
        sa.proposals.append(proposal)
        more = nxt == PayloadType.PROPOSAL
    if off != end:
        raise IsakmpDecodeError(f"SA payload: {end - off} bytes after the last proposal")
    return sa


def _sub_payload(buf: bytes, off: int, end: int, what: str, chain_type: int,
                 fixed: int) -> tuple[int, int, int, int]:
    """A Proposal's or Transform's generic header, checked: its next field may only name
    another of its kind or end the chain, it must fit ``end`` and hold ``fixed`` bytes.
    Returns (next, reserved, offset of its fixed part, offset past it)."""
    if end - off < GENERIC.size:
        raise IsakmpDecodeError(f"truncated {what} at offset {off}")
    nxt, reserved, length = GENERIC.unpack_from(buf, off)
    if nxt not in (PayloadType.NONE, chain_type):
        raise IsakmpDecodeError(f"{what} next payload {nxt}, must be {int(chain_type)} or 0")
    if length < GENERIC.size + fixed or off + length > end:
        raise IsakmpDecodeError(f"{what} at offset {off}: bad length {length}")
    return nxt, reserved, off + GENERIC.size, off + length


def _decode_proposal(buf: bytes, off: int, end: int) -> tuple[Proposal, int, int]:
    nxt, reserved, pos, stop = _sub_payload(buf, off, end, "Proposal", PayloadType.PROPOSAL, PROPOSAL_FIXED.size)
    number, protocol, spi_size, count = PROPOSAL_FIXED.unpack_from(buf, pos)
    pos += PROPOSAL_FIXED.size
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
    nxt, reserved, pos, stop = _sub_payload(buf, off, end, "Transform", PayloadType.TRANSFORM, TRANSFORM_FIXED.size)
    number, transform_id, reserved2 = TRANSFORM_FIXED.unpack_from(buf, pos)
    attrs = _decode_attributes(buf, pos + TRANSFORM_FIXED.size, stop)
    return Transform(number, transform_id, attrs, reserved, reserved2), nxt, stop


def _decode_attributes(buf: bytes, off: int, end: int) -> list[Attribute]:
    attrs: list[Attribute] = []
    while off < end:
        if end - off < ATTR_HEADER.size:
            raise IsakmpDecodeError(f"truncated SA attribute at offset {off}")
        af_type, value = ATTR_HEADER.unpack_from(buf, off)
        off += ATTR_HEADER.size
        if af_type & AF_TV:
            attrs.append(Attribute(af_type & 0x7FFF, value))
            continue
        if off + value > end:
            raise IsakmpDecodeError(f"SA attribute {af_type} of {value} bytes overruns the transform")
        attrs.append(Attribute(af_type, buf[off:off + value]))
        off += value
    return attrs
