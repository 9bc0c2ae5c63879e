"""EIGRP TLVs (RFC 7868 section 6.6, classic metric): one dataclass per kind, each with
`body()` (the bytes after the 4-byte type/length) and a `decode_tlv` that reads them back.

Why every TLV keeps what it read verbatim (destination bytes past the prefix, reserved
fields, unknown TLVs as `OpaqueTlv`): the fuzz contract and the interop tests need
decode -> encode to give the same bytes, and a peer's odd-but-harmless packet must not be
rewritten by us when we log or forward it. Bad input raises only `EigrpDecodeError`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Union


class EigrpDecodeError(ValueError):
    """A peer's packet is malformed; the only exception the codec raises on decode."""


# TLV types (RFC 7868 section 6.6; classic IPv4 route TLVs 0x0102/0x0103).
TLV_PARAMETERS = 0x0001
TLV_AUTHENTICATION = 0x0002
TLV_SEQUENCE = 0x0003
TLV_SOFTWARE_VERSION = 0x0004
TLV_NEXT_MULTICAST_SEQUENCE = 0x0005
TLV_STUB = 0x0006
TLV_PEER_TERMINATION = 0x0007
TLV_IPV4_INTERNAL = 0x0102
TLV_IPV4_EXTERNAL = 0x0103

AUTH_TYPE_MD5 = 2
MD5_DIGEST_LEN = 16
AUTH_MD5_TLV_LEN = 40  # type/len 4 + auth type 2 + auth len 2 + key id 4 + key seq 4 + pad 8 + digest 16

# STUB TLV flags (IOS `eigrp stub` keywords).
STUB_CONNECTED = 0x0001
STUB_STATIC = 0x0002
STUB_SUMMARY = 0x0004
STUB_RECEIVE_ONLY = 0x0008
STUB_REDISTRIBUTED = 0x0010
STUB_LEAK_MAP = 0x0020

# Route TLV flags.
ROUTE_FLAG_SOURCE_WITHDRAW = 0x01
ROUTE_FLAG_CANDIDATE_DEFAULT = 0x02

#: Delay value meaning "unreachable" in a classic route TLV (a withdrawal / poison).
DELAY_INFINITY = 0xFFFFFFFF


@dataclass(frozen=True)
class Parameters:
    """K values and hold time; every hello carries it. K1..K5 = 255 with K6 = 255 is the
    IOS goodbye (a hello that tears the adjacency down at once)."""

    k1: int = 1
    k2: int = 0
    k3: int = 1
    k4: int = 0
    k5: int = 0
    k6: int = 0
    hold_time: int = 15

    type = TLV_PARAMETERS

    def body(self) -> bytes:
        return struct.pack("!6BH", self.k1, self.k2, self.k3, self.k4, self.k5, self.k6, self.hold_time)

    @property
    def is_goodbye(self) -> bool:
        return (self.k1, self.k2, self.k3, self.k4, self.k5) == (255,) * 5


@dataclass(frozen=True)
class Authentication:
    """MD5 authentication: key id and key sequence of the key chain, the 16-byte digest
    (see codec.sign_md5 / verify_md5 for how IOS computes it). `auth_type`/`padding` are
    kept as read so a non-MD5 or odd TLV re-encodes unchanged."""

    key_id: int
    digest: bytes = bytes(MD5_DIGEST_LEN)
    key_sequence: int = 0
    auth_type: int = AUTH_TYPE_MD5
    padding: bytes = bytes(8)

    type = TLV_AUTHENTICATION

    def body(self) -> bytes:
        return (struct.pack("!HHII", self.auth_type, len(self.digest), self.key_id, self.key_sequence)
                + self.padding + self.digest)


@dataclass(frozen=True)
class Sequence:
    """Peers that must NOT take the next conditional-receive multicast (RTP, RFC 7868
    section 5.3.2): a list of addresses, each as length byte + address bytes."""

    addresses: tuple[bytes, ...] = ()

    type = TLV_SEQUENCE

    @classmethod
    def ipv4(cls, *addresses: str) -> "Sequence":
        return cls(tuple(ipaddress.IPv4Address(a).packed for a in addresses))

    def body(self) -> bytes:
        return b"".join(bytes([len(a)]) + a for a in self.addresses)

    @property
    def ipv4_addresses(self) -> tuple[str, ...]:
        return tuple(str(ipaddress.IPv4Address(a)) for a in self.addresses if len(a) == 4)


@dataclass(frozen=True)
class SoftwareVersion:
    """IOS release and EIGRP TLV version (IOS 15.x sends 23.0 and 2.0)."""

    ios_major: int = 23
    ios_minor: int = 0
    tlv_major: int = 2
    tlv_minor: int = 0

    type = TLV_SOFTWARE_VERSION

    def body(self) -> bytes:
        return bytes((self.ios_major, self.ios_minor, self.tlv_major, self.tlv_minor))


@dataclass(frozen=True)
class NextMulticastSequence:
    """The sequence number of the multicast that follows the Sequence TLV's hello."""

    sequence: int

    type = TLV_NEXT_MULTICAST_SEQUENCE

    def body(self) -> bytes:
        return struct.pack("!I", self.sequence)


@dataclass(frozen=True)
class Stub:
    """`eigrp stub [connected] [summary] ...`: the STUB_* flags ORed."""

    flags: int = STUB_CONNECTED | STUB_SUMMARY

    type = TLV_STUB

    def body(self) -> bytes:
        return struct.pack("!H", self.flags)


@dataclass(frozen=True)
class PeerTermination:
    """Goodbye aimed at some peers only (RFC 7868 'Peer Termination', type 0x0007). Its
    body layout is not pinned down here yet (tshark 4.0 shows only type and length), so
    it is kept as bytes; the IOS goodbye that matters is the all-255 PARAMETERS hello."""

    data: bytes = b""

    type = TLV_PEER_TERMINATION

    def body(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class Destination:
    """One prefix of a route TLV: prefix length + (prefix length + 7) // 8 bytes, at
    least one (FRR reads one byte for /0../8, as for IOS). `raw` keeps host bits.

    tshark 4.0 misreads the SECOND and later destinations of one TLV (it advances one
    byte too far: 10.9.0.0/24 after a /24 shows as 9.0.0.0/10); a single destination per
    TLV, which is what IOS classic sends, it reads right. So the encoder of issue 10
    should emit one destination per TLV; the codec still decodes several."""

    prefix_len: int
    raw: bytes

    @classmethod
    def of(cls, prefix: str) -> "Destination":
        net = ipaddress.IPv4Network(prefix, strict=False)
        return cls(net.prefixlen, net.network_address.packed[:dest_len(net.prefixlen)])

    @property
    def network(self) -> ipaddress.IPv4Network:
        address = ipaddress.IPv4Address((bytes(self.raw) + bytes(4))[:4])
        return ipaddress.IPv4Network((address, self.prefix_len), strict=False)

    def encode(self) -> bytes:
        return bytes([self.prefix_len]) + self.raw


def dest_len(prefix_len: int) -> int:
    return max(1, (prefix_len + 7) // 8)


@dataclass(frozen=True)
class Metric:
    """Classic metric fields as on the wire: delay in tens of microseconds * 256 (scaled,
    0xFFFFFFFF = unreachable), bandwidth 256 * 10^7 / kbit/s, MTU on 3 bytes."""

    delay: int = 0
    bandwidth: int = 0
    mtu: int = 1500
    hop_count: int = 0
    reliability: int = 255
    load: int = 1
    route_tag: int = 0
    flags: int = 0

    LEN = 16

    def encode(self) -> bytes:
        return (struct.pack("!II", self.delay, self.bandwidth) + self.mtu.to_bytes(3, "big")
                + bytes((self.hop_count, self.reliability, self.load, self.route_tag, self.flags)))

    @classmethod
    def decode(cls, data: bytes) -> "Metric":
        delay, bandwidth = struct.unpack_from("!II", data)
        hop, rel, load, tag, flags = data[11:16]
        return cls(delay, bandwidth, int.from_bytes(data[8:11], "big"), hop, rel, load, tag, flags)

    @property
    def unreachable(self) -> bool:
        return self.delay == DELAY_INFINITY


@dataclass(frozen=True)
class Ipv4Internal:
    """An internal route TLV: one next hop + metric for one or more destinations
    (next hop 0.0.0.0 = the sender itself)."""

    next_hop: str
    metric: Metric
    destinations: tuple[Destination, ...]

    type = TLV_IPV4_INTERNAL

    def body(self) -> bytes:
        return (ipaddress.IPv4Address(self.next_hop).packed + self.metric.encode()
                + b"".join(d.encode() for d in self.destinations))


@dataclass(frozen=True)
class ExternalData:
    """What an external route adds: originating router/AS, admin tag, external metric
    and protocol id (e.g. 1 IGRP, 2 EIGRP, 3 static, 4 RIP, 6 OSPF, 9 BGP, 11 connected)."""

    originating_router: str = "0.0.0.0"
    originating_as: int = 0
    admin_tag: int = 0
    external_metric: int = 0
    reserved: int = 0
    protocol: int = 3
    flags: int = 0

    LEN = 20

    def encode(self) -> bytes:
        return (ipaddress.IPv4Address(self.originating_router).packed
                + struct.pack("!IIIHBB", self.originating_as, self.admin_tag, self.external_metric,
                              self.reserved, self.protocol, self.flags))

    @classmethod
    def decode(cls, data: bytes) -> "ExternalData":
        orig_as, tag, metric, reserved, proto, flags = struct.unpack_from("!IIIHBB", data, 4)
        return cls(str(ipaddress.IPv4Address(data[:4])), orig_as, tag, metric, reserved, proto, flags)


@dataclass(frozen=True)
class Ipv4External:
    """An external route TLV (redistributed static/connected/other protocol)."""

    next_hop: str
    external: ExternalData
    metric: Metric
    destinations: tuple[Destination, ...]

    type = TLV_IPV4_EXTERNAL

    def body(self) -> bytes:
        return (ipaddress.IPv4Address(self.next_hop).packed + self.external.encode() + self.metric.encode()
                + b"".join(d.encode() for d in self.destinations))


@dataclass(frozen=True)
class OpaqueTlv:
    """A TLV we do not interpret (multi-topology, wide metrics, IPv6...): kept verbatim."""

    type: int
    data: bytes = field(default=b"")

    def body(self) -> bytes:
        return self.data


Tlv = Union[Parameters, Authentication, Sequence, SoftwareVersion, NextMulticastSequence, Stub,
            PeerTermination, Ipv4Internal, Ipv4External, OpaqueTlv]


def encode_tlv(tlv: Tlv) -> bytes:
    body = tlv.body()
    return struct.pack("!HH", tlv.type, 4 + len(body)) + body


def _fixed(body: bytes, size: int, name: str) -> None:
    if len(body) != size:
        raise EigrpDecodeError(f"{name} TLV body is {len(body)} bytes, expected {size}")


def _destinations(data: bytes, name: str) -> tuple[Destination, ...]:
    out = []
    pos = 0
    while pos < len(data):
        plen = data[pos]
        if plen > 32:
            raise EigrpDecodeError(f"{name}: prefix length {plen} > 32")
        end = pos + 1 + dest_len(plen)
        if end > len(data):
            raise EigrpDecodeError(f"{name}: destination truncated")
        out.append(Destination(plen, bytes(data[pos + 1:end])))
        pos = end
    if not out:
        raise EigrpDecodeError(f"{name}: no destination")
    return tuple(out)


def _decode_sequence(body: bytes) -> Sequence:
    addrs = []
    pos = 0
    while pos < len(body):
        n = body[pos]
        if n == 0 or pos + 1 + n > len(body):
            raise EigrpDecodeError("SEQUENCE: bad address length")
        addrs.append(bytes(body[pos + 1:pos + 1 + n]))
        pos += 1 + n
    return Sequence(tuple(addrs))


def decode_tlv(tlv_type: int, body: bytes) -> Tlv:
    """One TLV from its type and body; known types with a wrong size are errors."""
    if tlv_type == TLV_PARAMETERS:
        _fixed(body, 8, "PARAMETERS")
        *ks, hold = struct.unpack("!6BH", body)
        return Parameters(*ks, hold_time=hold)
    if tlv_type == TLV_AUTHENTICATION:
        if len(body) < 16:
            raise EigrpDecodeError("AUTHENTICATION TLV too short")
        auth_type, auth_len, key_id, key_seq = struct.unpack_from("!HHII", body)
        if 12 + auth_len > len(body):
            raise EigrpDecodeError("AUTHENTICATION digest overruns the TLV")
        cut = len(body) - auth_len
        return Authentication(key_id, bytes(body[cut:]), key_seq, auth_type, bytes(body[12:cut]))
    if tlv_type == TLV_SEQUENCE:
        return _decode_sequence(body)
    if tlv_type == TLV_SOFTWARE_VERSION:
        _fixed(body, 4, "SOFTWARE VERSION")
        return SoftwareVersion(*body)
    if tlv_type == TLV_NEXT_MULTICAST_SEQUENCE:
        _fixed(body, 4, "NEXT MULTICAST SEQUENCE")
        return NextMulticastSequence(struct.unpack("!I", body)[0])
    if tlv_type == TLV_STUB:
        _fixed(body, 2, "STUB")
        return Stub(struct.unpack("!H", body)[0])
    if tlv_type == TLV_PEER_TERMINATION:
        return PeerTermination(bytes(body))
    if tlv_type == TLV_IPV4_INTERNAL:
        if len(body) < 4 + Metric.LEN:
            raise EigrpDecodeError("IPv4 INTERNAL TLV too short")
        return Ipv4Internal(str(ipaddress.IPv4Address(body[:4])), Metric.decode(body[4:20]),
                            _destinations(body[20:], "IPv4 INTERNAL"))
    if tlv_type == TLV_IPV4_EXTERNAL:
        fixed = 4 + ExternalData.LEN + Metric.LEN
        if len(body) < fixed:
            raise EigrpDecodeError("IPv4 EXTERNAL TLV too short")
        return Ipv4External(str(ipaddress.IPv4Address(body[:4])), ExternalData.decode(body[4:24]),
                            Metric.decode(body[24:40]), _destinations(body[fixed:], "IPv4 EXTERNAL"))
    return OpaqueTlv(tlv_type, bytes(body))
