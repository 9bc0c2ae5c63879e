"""Phase 2 (ESP SA) proposals for IKEv1 Quick Mode: what a `crypto ipsec profile` offers,
how a responder picks one, how lifetimes settle -- the way IOS does it.

Why its own module: the SA payload's bytes are hashed (HASH(1), HASH(2)) and its
attribute encoding is where implementations disagree, so it is fixed in one place; the
matching rules are IOS behaviour worth testing apart from the exchange.

Encoding (RFC 2408 3.4-3.6, RFC 2407 4.5/4.6.1; attribute numbers in
``isakmp_const.IpsecAttr``):

- One SA payload, DOI IPsec (1), situation identity-only (1).
- One Proposal per transform set, in the profile's order, numbered 1, 2, ... (different
  numbers: alternatives, RFC 2408 4.2), protocol ESP (3), SPI size 4, the *same* SPI in
  every proposal (the SPI of our inbound SA, whichever proposal wins), one Transform
  (number 1) each, its id the ESP transform id (AES-CBC 12, 3DES 3, NULL 11,
  AES-GCM-16 20: ``EncryptionAlgorithm.ikev1_id``).
- Transform attributes in the order IOS's ``debug crypto isakmp`` prints them
  ("attributes in transform: [group is N,] encaps is 2 (Transport), SA life type in
  seconds, SA life duration (basic) of 3600, SA life type in kilobytes, SA life duration
  (VPI) of 0x0 0x46 0x50 0x0, authenticator is HMAC-SHA, key length is 128"; the order is
  from IOS debug output as recalled, not checked against a decrypted capture):
  Group Description (3, only with PFS), Encapsulation Mode (4), SA Life Type (1) =
  seconds, SA Life Duration (2), SA Life Type = kilobytes, SA Life Duration (IOS sends both
  lifetimes), Authentication Algorithm (5: HMAC-MD5 1, HMAC-SHA 2, SHA2-256 5, -384 6, -512
  7; absent for GCM, whose tag is the integrity), Key Length (6, AES only, in bits).
  Values up to 65535 are the TV form, larger ones a 4-byte TLV (4,608,000 KB arrives as
  "VPI 0x0 0x46 0x50 0x0" in IOS's debug).
- Encapsulation Mode: tunnel 1, transport 2; behind a NAT the UDP-encapsulated ones of
  RFC 3947 5.1, UDP-Encapsulated-Tunnel 3 and UDP-Encapsulated-Transport 4 (we send
  these); the draft numbers 61443 (tunnel) / 61444 (transport) that IOS uses with a
  draft-only peer are accepted as the same modes.

Matching (the responder, :func:`choose`): the offered proposals are walked in the peer's
order and, within each, its transforms in order; the first transform equal to one of our
transform sets (cipher and key size, HMAC, PFS group, mode) wins -- the peer's
preference, as IOS does for phase 2. Modes: a transform set with `mode transport` accepts
an offer of transport *or* tunnel (IOS negotiates tunnel when the peer asks for it, unless
`mode transport require`, which the settings do not carry); `mode tunnel` accepts tunnel
only (the conservative reading: no source seen says IOS falls back the other way). UDP
encapsulation must agree with NAT detection. PFS (Cisco's `set pfs` reference): with no
`set pfs` any PFS group the peer offers (and we implement) or none is accepted; with one,
the offer must carry that group. Proposals that bundle several protocols (AH+ESP under
one number) are skipped, a transform with an attribute we do not understand does not
match.

Lifetimes: a missing SA Life Duration means RFC 2407's default (28800 s; no kilobyte
limit). Each kind settles at the lower of offered and our own; when ours is lower the
responder tells the initiator with a RESPONDER-LIFETIME notify (RFC 2407 4.6.3.1:
protocol ESP, the responder's inbound SPI, an attribute list with the settled values).

Imports dh (its group table), esp_transforms, isakmp (payload models), isakmp_const, settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dmvpnlab.ipsec import dh
from dmvpnlab.ipsec.esp_transforms import ENCRYPTION, INTEGRITY, EspTransform, TransformError
from dmvpnlab.ipsec.isakmp import Attribute, NotifyPayload, Proposal as WireProposal, SaPayload, Transform
from dmvpnlab.ipsec.isakmp_const import EncapsulationMode, IpsecAttr, LifeType, NotifyType, ProtocolId
from dmvpnlab.ipsec.settings import ChildPolicy, Proposal

__all__ = ["Offered", "Choice", "RFC2407_DEFAULT_SECONDS", "SUPPORTED_PFS_GROUPS", "offer", "parse_transform",
           "choose", "settle", "responder_lifetime", "read_responder_lifetime", "encapsulation"]

Mode = Literal["transport", "tunnel"]

#: RFC 2407 4.5: "If unspecified, the default value shall be assumed to be 28800 seconds".
RFC2407_DEFAULT_SECONDS = 28800
#: The DH groups a peer may ask PFS with when we have no `set pfs`: those dh.py implements.
SUPPORTED_PFS_GROUPS = frozenset(dh.GROUPS)

_MODE_VALUES: dict[int, tuple[Mode, bool]] = {
    EncapsulationMode.TUNNEL: ("tunnel", False),
    EncapsulationMode.TRANSPORT: ("transport", False),
    EncapsulationMode.UDP_ENCAPSULATED_TUNNEL: ("tunnel", True),
    EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT: ("transport", True),
    EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT: ("tunnel", True),
    EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT_DRAFT: ("transport", True),
}
_KNOWN_ATTRS = frozenset({IpsecAttr.SA_LIFE_TYPE, IpsecAttr.SA_LIFE_DURATION, IpsecAttr.GROUP_DESCRIPTION,
                          IpsecAttr.ENCAPSULATION_MODE, IpsecAttr.AUTH_ALGORITHM, IpsecAttr.KEY_LENGTH})
_ENCRYPTION_BY_ID = {(alg.ikev1_id, alg.key_bits if alg.ios_name in ("esp-aes", "esp-gcm") else None): alg
                     for alg in ENCRYPTION.values()}
_INTEGRITY_BY_ID = {alg.ikev1_id: alg for alg in INTEGRITY.values()}
_KEYED_IDS = frozenset(alg.ikev1_id for alg in ENCRYPTION.values() if alg.ios_name in ("esp-aes", "esp-gcm"))


def encapsulation(mode: Mode, nat_t: bool) -> int:
    """The Encapsulation Mode value we send (RFC 2407; RFC 3947 5.1 behind a NAT)."""
    if nat_t:
        return EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT if mode == "transport" \
            else EncapsulationMode.UDP_ENCAPSULATED_TUNNEL
    return EncapsulationMode.TRANSPORT if mode == "transport" else EncapsulationMode.TUNNEL


@dataclass(frozen=True)
class Offered:
    """One Transform read back as values: what it proposes, lifetimes as sent (None:
    the attribute was absent)."""

    transform: EspTransform
    mode: Mode
    udp: bool
    group: int | None
    seconds: int | None
    kilobytes: int | None


@dataclass(frozen=True)
class Choice:
    """The responder's pick: the proposal and transform as they came (echoed in QM2),
    what they mean, and our transform set that matched."""

    proposal: WireProposal
    transform: Transform
    offered: Offered
    ours: Proposal


def _transform(proposal: Proposal, pfs_group: int | None, nat_t: bool, seconds: int, kilobytes: int) -> Transform:
    enc, integ = proposal.transform.encryption, proposal.transform.integrity
    attrs: list[Attribute] = []
    if pfs_group is not None:
        attrs.append(Attribute.of(IpsecAttr.GROUP_DESCRIPTION, pfs_group))
    attrs += [Attribute.of(IpsecAttr.ENCAPSULATION_MODE, encapsulation(proposal.mode, nat_t)),
              Attribute.of(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS),
              Attribute.of(IpsecAttr.SA_LIFE_DURATION, seconds),
              Attribute.of(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES),
              Attribute.of(IpsecAttr.SA_LIFE_DURATION, kilobytes)]
    if integ is not None:
        attrs.append(Attribute.of(IpsecAttr.AUTH_ALGORITHM, integ.ikev1_id))
    if enc.ios_name in ("esp-aes", "esp-gcm"):
        attrs.append(Attribute.of(IpsecAttr.KEY_LENGTH, enc.key_bits))
    return Transform(1, enc.ikev1_id, attrs)


def offer(child: ChildPolicy, spi: int, nat_t: bool) -> SaPayload:
    """Our QM1 SA payload: one proposal per transform set of the profile (see above)."""
    spi_bytes = spi.to_bytes(4, "big")
    return SaPayload(proposals=[
        WireProposal(n, ProtocolId.IPSEC_ESP, spi_bytes,
                     [_transform(p, child.pfs_group, nat_t, child.lifetime_seconds, child.lifetime_kilobytes)])
        for n, p in enumerate(child.proposals, 1)])


def _lifetimes(attrs: list[Attribute]) -> tuple[int | None, int | None] | None:
    """(seconds, kilobytes) from the Life Type / Life Duration pairs of an attribute list
    (None for a kind not named); None when a duration has no type before it or the type
    is unknown (RFC 2407 4.5: each duration follows its type)."""
    seconds = kilobytes = None
    life_type: int | None = None
    for attr in attrs:
        if attr.type == IpsecAttr.SA_LIFE_TYPE:
            life_type = attr.number
        elif attr.type == IpsecAttr.SA_LIFE_DURATION:
            if life_type == LifeType.SECONDS:
                seconds = attr.number
            elif life_type == LifeType.KILOBYTES:
                kilobytes = attr.number
            else:
                return None
            life_type = None
    return seconds, kilobytes


def parse_transform(transform: Transform) -> Offered | None:
    """An ESP Transform as values, or None when it is nothing we could run (unknown
    transform id, key length, HMAC, mode or attribute; a duration without its type)."""
    values: dict[int, int] = {}
    for attr in transform.attributes:
        if attr.type not in _KNOWN_ATTRS:
            return None
        values.setdefault(attr.type, attr.number)
    lifetimes = _lifetimes(transform.attributes)
    if lifetimes is None or 0 in lifetimes:         # a zero lifetime: an SA dead on arrival
        return None
    mode_value = values.get(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.TUNNEL)  # RFC 2407 4.5 default
    if mode_value not in _MODE_VALUES:
        return None
    enc_id, bits = transform.transform_id, values.get(IpsecAttr.KEY_LENGTH)
    keyed = enc_id in _KEYED_IDS
    if keyed and bits is None:
        return None                                 # RFC 3602 5 / RFC 4106 8.4: Key Length is mandatory
    enc = _ENCRYPTION_BY_ID.get((enc_id, bits if keyed else None))
    if enc is None or (not keyed and bits is not None):
        return None
    integ = None
    if IpsecAttr.AUTH_ALGORITHM in values:
        integ = _INTEGRITY_BY_ID.get(values[IpsecAttr.AUTH_ALGORITHM])
        if integ is None:
            return None
    try:
        esp = EspTransform(enc, integ)
    except TransformError:                          # GCM with an HMAC
        return None
    mode, udp = _MODE_VALUES[mode_value]
    return Offered(esp, mode, udp, values.get(IpsecAttr.GROUP_DESCRIPTION), *lifetimes)


def _acceptable(offered: Offered, ours: Proposal, child: ChildPolicy, nat_t: bool) -> bool:
    if offered.transform != ours.transform or offered.udp != nat_t:
        return False
    if ours.mode == "tunnel" and offered.mode != "tunnel":
        return False
    if child.pfs_group is not None:
        return offered.group == child.pfs_group
    return offered.group is None or offered.group in SUPPORTED_PFS_GROUPS


def choose(sa: SaPayload, child: ChildPolicy, nat_t: bool) -> Choice | None:
    """The responder's pick from an offered SA payload (see the module docstring), or
    None: no proposal chosen."""
    numbers = [p.number for p in sa.proposals]
    for proposal in sa.proposals:
        if numbers.count(proposal.number) != 1:                 # an AH+ESP bundle: not for us
            continue
        if proposal.protocol != ProtocolId.IPSEC_ESP or len(proposal.spi) != 4:
            continue
        if int.from_bytes(proposal.spi, "big") < 256:            # RFC 4303 2.1: 0..255 are reserved
            continue
        for transform in proposal.transforms:
            offered = parse_transform(transform)
            if offered is None:
                continue
            for ours in child.proposals:
                if _acceptable(offered, ours, child, nat_t):
                    return Choice(proposal, transform, offered, ours)
    return None


def settle(offered_seconds: int | None, offered_kilobytes: int | None, child: ChildPolicy) -> tuple[int, int]:
    """(seconds, kilobytes) both sides use: each the lower of offered and ours; an absent
    duration is RFC 2407's default (28800 s, no kilobyte limit)."""
    seconds = RFC2407_DEFAULT_SECONDS if offered_seconds is None else offered_seconds
    seconds = min(seconds, child.lifetime_seconds)
    kilobytes = child.lifetime_kilobytes if offered_kilobytes is None else min(offered_kilobytes,
                                                                               child.lifetime_kilobytes)
    return seconds, kilobytes


def responder_lifetime(spi: int, seconds: int, kilobytes: int) -> NotifyPayload:
    """RESPONDER-LIFETIME (RFC 2407 4.6.3.1): our inbound SPI, the settled lifetimes."""
    data = b"".join(a.to_bytes() for a in (
        Attribute.of(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS), Attribute.of(IpsecAttr.SA_LIFE_DURATION, seconds),
        Attribute.of(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES), Attribute.of(IpsecAttr.SA_LIFE_DURATION, kilobytes)))
    return NotifyPayload(NotifyType.RESPONDER_LIFETIME, protocol=ProtocolId.IPSEC_ESP, spi=spi.to_bytes(4, "big"),
                         data=data)


def read_responder_lifetime(notify: NotifyPayload) -> tuple[int | None, int | None] | None:
    """(seconds, kilobytes) of a RESPONDER-LIFETIME notify (None for a kind it does not
    name, or names as 0), or None when its attribute list does not parse (a peer's error:
    ignored, our own lifetimes stay)."""
    data, off = bytes(notify.data), 0
    attrs: list[Attribute] = []
    while off < len(data):
        if len(data) - off < 4:
            return None
        head, value = int.from_bytes(data[off:off + 2], "big"), int.from_bytes(data[off + 2:off + 4], "big")
        off += 4
        if head & 0x8000:
            attrs.append(Attribute(head & 0x7FFF, value))
            continue
        if off + value > len(data):
            return None
        attrs.append(Attribute(head, data[off:off + value]))
        off += value
    lifetimes = _lifetimes(attrs)
    if lifetimes is None:
        return None
    return lifetimes[0] or None, lifetimes[1] or None
