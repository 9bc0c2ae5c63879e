"""What a Cisco router puts in each NHRP message, byte for byte as IOS sends it.

The engine decides *when* to send; this module decides *what the bytes say*: flags
0x8002 on registrations, 0xc802/0xf802 on resolutions, hop count 255, MTU 17916, CIE
preference 255 on registrations and 0 on resolutions, and the extension list in Cisco's
order (Responder Address, Forward/Reverse Transit NHS Record, Authentication, Cisco
NAT, End). It also reads back what it writes (the NAT extension). The builders that
copy a request's extensions parse them; `nhrp.inbound` has checked them before any
builder runs. Imports only `nhrp.codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.nhrp.codec import (
    NAT,
    PURGE_N,
    REG_UNIQUE,
    RES_A,
    RES_D,
    RES_Q,
    RES_S,
    RES_U,
    Cie,
    Extension,
    ExtensionType,
    NhrpDecodeError,
    NhrpPacket,
    PacketType,
)

RESOLUTION_REQUEST_FLAGS = RES_Q | RES_A | RES_S | NAT  # 0xc802
RESOLUTION_REPLY_FLAGS = RES_Q | RES_A | RES_D | RES_U | RES_S | NAT  # 0xf802
DEFAULT_CIE_MTU = 17916
HOP_COUNT = 255


@dataclass(frozen=True)
class Identity:
    """This router on one tunnel: the addresses every message it originates carries."""

    nbma: IPv4Address
    proto: IPv4Address
    holdtime: int
    mtu: int = DEFAULT_CIE_MTU
    auth: bytes | None = None

    def cie(self, *, prefix_len: int = 32, preference: int = 0, holdtime: int | None = None) -> Cie:
        return Cie(
            code=0,
            prefix_len=prefix_len,
            mtu=self.mtu,
            holdtime=self.holdtime if holdtime is None else holdtime,
            preference=preference,
            nbma=self.nbma,
            proto=self.proto,
        )


def _tail(identity: Identity, nat_cies: list[Cie] | None = None) -> list[Extension]:
    """Authentication (when configured), Cisco NAT (not compulsory), End."""
    tail: list[Extension] = []
    if identity.auth is not None:
        tail.append(Extension.authentication(identity.auth))
    tail.append(Extension.from_cies(ExtensionType.CISCO_NAT, nat_cies or [], compulsory=False))
    tail.append(Extension(type=ExtensionType.END, compulsory=True, payload=b""))
    return tail


def _empty(ext_type: ExtensionType) -> Extension:
    return Extension(type=ext_type, compulsory=True, payload=b"")


def _originated(me: Identity, ptype: PacketType, dst_proto: IPv4Address, **fields: Any) -> NhrpPacket:
    """A packet this router originates: our NBMA and tunnel address as the source, hop count 255."""
    return NhrpPacket(type=ptype, src_nbma=me.nbma, src_proto=me.proto, dst_proto=dst_proto,
                      hop_count=HOP_COUNT, **fields)


def _answer(request: NhrpPacket, ptype: PacketType, flags: int, cies: list[Cie],
            extensions: list[Extension]) -> NhrpPacket:
    """A reply as Cisco sends it: the request's source, destination and request id kept
    (the requester matches the reply by them), hop count 255 again."""
    return NhrpPacket(type=ptype, src_nbma=request.src_nbma, src_proto=request.src_proto,
                      dst_proto=request.dst_proto, flags=flags, request_id=request.request_id,
                      hop_count=HOP_COUNT, cies=cies, extensions=extensions)


def _request(me: Identity, ptype: PacketType, dst_proto: IPv4Address, flags: int, request_id: int,
             preference: int, nat_cies: list[Cie] | None = None) -> NhrpPacket:
    """A request as Cisco originates it: hop count 255, one CIE naming no client (the
    sender itself, prefix 32, our MTU and holding time), empty Responder/Forward/Reverse
    records for the path to fill in, then authentication, NAT and End."""
    return _originated(
        me, ptype, dst_proto,
        flags=flags,
        request_id=request_id,
        cies=[Cie(code=0, prefix_len=32, mtu=me.mtu, holdtime=me.holdtime, preference=preference, nbma=None, proto=None)],
        extensions=[
            _empty(ExtensionType.RESPONDER_ADDRESS),
            _empty(ExtensionType.FORWARD_TRANSIT_NHS),
            _empty(ExtensionType.REVERSE_TRANSIT_NHS),
            *_tail(me, nat_cies),
        ],
    )


def registration_request(
    me: Identity, nhs_proto: IPv4Address, nhs_nbma: IPv4Address, request_id: int, unique: bool
) -> NhrpPacket:
    """Flags 0x8002 (unique + NAT-capable), CIE preference 255, the NHS in the NAT extension."""
    flags = NAT | (REG_UNIQUE if unique else 0)
    nat = Cie(code=0, prefix_len=32, mtu=me.mtu, holdtime=0, preference=255, nbma=nhs_nbma, proto=nhs_proto)
    return _request(me, PacketType.REGISTRATION_REQUEST, nhs_proto, flags, request_id, 255, [nat])


def registration_reply(
    me: Identity, request: NhrpPacket, code: int, seen_nbma: IPv4Address | None = None
) -> NhrpPacket:
    """Cisco echoes the request's mandatory part and CIE, sets the code, adds itself as responder.

    When the outer source differs from the claimed NBMA (the spoke is behind NAT), the
    NAT extension tells the spoke the address the hub saw.
    """
    cies = [replace(c, code=code) for c in request.cies] or [
        Cie(code=code, prefix_len=32, mtu=me.mtu, holdtime=me.holdtime, preference=255, nbma=None, proto=None)
    ]
    request_nat = request.extension(ExtensionType.CISCO_NAT)
    nat_cies = request_nat.cies() if request_nat is not None else []
    if seen_nbma is not None and seen_nbma != request.src_nbma:
        nat_cies = nat_cies + [
            Cie(code=0, prefix_len=32, mtu=me.mtu, holdtime=0, preference=255, nbma=seen_nbma, proto=request.src_proto)
        ]
    return _answer(request, PacketType.REGISTRATION_REPLY, request.flags, cies, [
        Extension.from_cies(ExtensionType.RESPONDER_ADDRESS, [me.cie(preference=255)]),
        _empty(ExtensionType.FORWARD_TRANSIT_NHS),
        _empty(ExtensionType.REVERSE_TRANSIT_NHS),
        *_tail(me, nat_cies),
    ])


def resolution_request(me: Identity, target: IPv4Address, request_id: int) -> NhrpPacket:
    """Flags 0xc802, CIE preference 0."""
    return _request(me, PacketType.RESOLUTION_REQUEST, target, RESOLUTION_REQUEST_FLAGS, request_id, 0)


def forwarded(me: Identity, packet: NhrpPacket, requester_seen_at: IPv4Address | None = None) -> NhrpPacket:
    """A request relayed by an NHS: hop count decremented, the NHS appended to Forward Transit.

    When the requester registered from behind NAT, the NHS tells the owner the address it
    saw in the Cisco NAT extension, so the owner answers where the requester is reachable.
    """
    extensions: list[Extension] = []
    for ext in packet.extensions:
        if ext.type == ExtensionType.FORWARD_TRANSIT_NHS:
            ext = Extension.from_cies(ext.type, ext.cies() + [me.cie()], compulsory=ext.compulsory)
        elif ext.type == ExtensionType.CISCO_NAT and requester_seen_at is not None:
            seen = Cie(code=0, prefix_len=32, mtu=me.mtu, holdtime=0, preference=0,
                       nbma=requester_seen_at, proto=packet.src_proto)
            ext = Extension.from_cies(ext.type, ext.cies() + [seen], compulsory=ext.compulsory)
        extensions.append(ext)
    return replace(packet, hop_count=packet.hop_count - 1, extensions=extensions)


def relayed(packet: NhrpPacket, owner: IPv4Address | None = None,
            owner_seen_at: IPv4Address | None = None) -> NhrpPacket:
    """A reply an NHS passes on: hop count decremented. When the owner registered from
    behind NAT, the NHS adds the address it saw for it to the Cisco NAT extension (as
    `forwarded` does for the requester): the reply's CIE carries only the owner's private
    NBMA, which a requester behind another NAT cannot reach."""
    if owner is None or owner_seen_at is None:
        return replace(packet, hop_count=packet.hop_count - 1)
    seen = Cie(code=0, prefix_len=32, mtu=0, holdtime=0, preference=0, nbma=owner_seen_at, proto=owner)
    extensions = [Extension.from_cies(ext.type, ext.cies() + [seen], compulsory=ext.compulsory)
                  if ext.type == ExtensionType.CISCO_NAT else ext for ext in packet.extensions]
    return replace(packet, hop_count=packet.hop_count - 1, extensions=extensions)


def resolution_reply(me: Identity, request: NhrpPacket, prefix_len: int, code: int = 0) -> NhrpPacket:
    forward = request.extension(ExtensionType.FORWARD_TRANSIT_NHS)
    return _answer(request, PacketType.RESOLUTION_REPLY, RESOLUTION_REPLY_FLAGS,
                   [replace(me.cie(prefix_len=prefix_len), code=code)], [
        Extension.from_cies(ExtensionType.RESPONDER_ADDRESS, [me.cie()]),
        forward if forward is not None else _empty(ExtensionType.FORWARD_TRANSIT_NHS),
        _empty(ExtensionType.REVERSE_TRANSIT_NHS),
        *_tail(me),
    ])


def traffic_indication(me: Identity, triggering_packet: bytes) -> NhrpPacket:
    """The Phase 3 redirect: addressed to the *source* of the packet that hairpinned."""
    header_len = (triggering_packet[0] & 0x0F) * 4 if triggering_packet else 20
    source = IPv4Address(triggering_packet[12:16])
    return _originated(
        me, PacketType.TRAFFIC_INDICATION, source,
        traffic_code=0,
        payload=triggering_packet[: header_len + 8],
        extensions=[
            _empty(ExtensionType.FORWARD_TRANSIT_NHS),
            _empty(ExtensionType.REVERSE_TRANSIT_NHS),
            *_tail(me),
        ],
    )


def purge_request(me: Identity, dst_proto: IPv4Address, purged: list[Cie], request_id: int, want_reply: bool) -> NhrpPacket:
    return _originated(
        me, PacketType.PURGE_REQUEST, dst_proto,
        flags=0 if want_reply else PURGE_N,
        request_id=request_id,
        cies=purged,
        extensions=[*_tail(me)],
    )


def purge_reply(me: Identity, request: NhrpPacket) -> NhrpPacket:
    return replace(request, type=PacketType.PURGE_REPLY, hop_count=HOP_COUNT, extensions=[*_tail(me)])


def error_indication(me: Identity, offending: bytes, error_code: int, dst_proto: IPv4Address,
                     offset: int = 0) -> NhrpPacket:
    """RFC 2332 5.2.7: to the sender of the packet in error (`dst_proto`), quoting it;
    `offset` says where in it (from its fixed header) the error was found."""
    return _originated(
        me, PacketType.ERROR_INDICATION, dst_proto,
        error_code=error_code,
        error_offset=offset,
        payload=offending,
        extensions=[],  # RFC 2332 5.2.7: an Error Indication carries no extensions
    )


# --- reading what a peer sent ----------------------------------------------------------

def owner_seen_at(packet: NhrpPacket) -> IPv4Address | None:
    """The owner's post-NAT NBMA in a relayed Resolution Reply (what `relayed` writes), if
    the NHS saw it behind NAT; else None."""
    if not packet.cies or packet.cies[0].proto is None:
        return None
    cie0 = packet.cies[0]
    nat = packet.extension(ExtensionType.CISCO_NAT)
    try:
        cies = nat.cies() if nat is not None else []
    except NhrpDecodeError:
        return None
    return next((c.nbma for c in cies if c.proto == cie0.proto and c.nbma is not None and c.nbma != cie0.nbma), None)


def requester_seen_at(packet: NhrpPacket) -> IPv4Address | None:
    """The requester's post-NAT NBMA address, if a forwarding NHS put it in the Cisco NAT
    extension (what `forwarded(..., requester_seen_at=...)` writes); else None."""
    nat = packet.extension(ExtensionType.CISCO_NAT)
    if nat is None:
        return None
    try:
        cies = nat.cies()
    except NhrpDecodeError:
        return None
    for cie in cies:
        if cie.proto == packet.src_proto and cie.nbma is not None and cie.nbma != packet.src_nbma:
            return cie.nbma
    return None
