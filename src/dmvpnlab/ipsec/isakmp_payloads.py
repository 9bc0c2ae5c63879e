"""ISAKMP payload models: what :mod:`dmvpnlab.ipsec.isakmp` decodes into and encodes from.

Why apart from the codec: these dataclasses are what the IKE state machine builds and
reads (proposals to offer, IDs to check, notifies to send), while the codec is the one
place that parses untrusted bytes; keeping them apart keeps each module readable and
under the size rule. Each payload's ``body()`` is its wire body without the generic
header -- exactly the ``*_b`` values RFC 2409 hashes (SAi_b, IDii_b) -- and every field
a decoded payload had on the wire (TV or TLV form, reserved bytes, SPI lengths) is kept,
so what decodes re-encodes byte for byte. The full API is in the codec's docstring.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import ClassVar, Union

from dmvpnlab.ipsec.isakmp_const import DOI_IPSEC, SIT_IDENTITY_ONLY, IdType, PayloadType, ProtocolId

__all__ = [
    "Attribute", "Transform", "Proposal", "SaPayload", "IdPayload", "NotifyPayload", "DeletePayload",
    "CertPayload", "NatOaPayload", "OpaquePayload", "Payload", "generic_payload",
    "GENERIC", "PROPOSAL_FIXED", "TRANSFORM_FIXED", "ATTR_HEADER", "SA_FIXED", "ID_FIXED", "NOTIFY_FIXED",
    "DELETE_FIXED", "AF_TV",
]

# Wire layouts, shared with the decoder.
GENERIC = struct.Struct("!BBH")            # next payload, reserved, payload length
PROPOSAL_FIXED = struct.Struct("!BBBB")    # number, protocol id, SPI size, number of transforms
TRANSFORM_FIXED = struct.Struct("!BBH")    # number, transform id, reserved
ATTR_HEADER = struct.Struct("!HH")         # AF bit | type, length (TLV) or value (TV)
SA_FIXED = struct.Struct("!II")            # DOI, situation
ID_FIXED = struct.Struct("!BBH")           # id type, protocol, port
NOTIFY_FIXED = struct.Struct("!IBBH")      # DOI, protocol, SPI size, notify type
DELETE_FIXED = struct.Struct("!IBBH")      # DOI, protocol, SPI size, number of SPIs
AF_TV = 0x8000                             # attribute format bit: TV (basic) when set


def generic_payload(next_payload: int, reserved: int, body: bytes) -> bytes:
    """``body`` behind the 4-byte generic header (next payload, reserved, length)."""
    length = GENERIC.size + len(body)
    if length > 0xFFFF:
        raise ValueError(f"payload too long ({length} bytes)")
    return GENERIC.pack(next_payload, reserved, length) + body


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
            return ATTR_HEADER.pack(AF_TV | (self.type & 0x7FFF), self.value)
        return ATTR_HEADER.pack(self.type & 0x7FFF, len(self.value)) + bytes(self.value)


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
        body = TRANSFORM_FIXED.pack(self.number, self.transform_id, self.reserved2) + \
            b"".join(a.to_bytes() for a in self.attributes)
        return generic_payload(0 if last else PayloadType.TRANSFORM, self.reserved, body)


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
        body = PROPOSAL_FIXED.pack(self.number, self.protocol, len(self.spi), count) + bytes(self.spi) + \
            b"".join(t.to_bytes(i == count - 1) for i, t in enumerate(self.transforms))
        return generic_payload(0 if last else PayloadType.PROPOSAL, self.reserved, body)


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
        head = SA_FIXED.pack(self.doi, self.situation)
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
        return ID_FIXED.pack(self.id_type, self.protocol, self.port) + bytes(self.data)


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
        return NOTIFY_FIXED.pack(self.doi, self.protocol, len(self.spi), self.notify_type) + \
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
        return DELETE_FIXED.pack(self.doi, self.protocol, size, len(self.spis)) + b"".join(map(bytes, self.spis))


@dataclass(slots=True)
class CertPayload:
    """Certificate (RFC 2408 3.9) or, with ``type`` CR, Certificate Request (3.10): one
    encoding byte, then the certificate / the authority, opaque (DMVPN labs use PSKs)."""

    encoding: int
    data: bytes = b""
    type: int = PayloadType.CERT
    reserved: int = 0

    def body(self) -> bytes:
        return bytes([self.encoding]) + bytes(self.data)


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


Payload = Union[SaPayload, IdPayload, NotifyPayload, DeletePayload, CertPayload, NatOaPayload, OpaquePayload]
