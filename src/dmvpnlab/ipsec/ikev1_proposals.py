"""Phase 1 (ISAKMP SA) proposals: what our `crypto isakmp policy` list offers, and how a
responder picks one, the way IOS does.

Why its own module: the offer's bytes are hashed (SAi_b goes into HASH_I and HASH_R), so
the encoding must be fixed in one place, and the matching rules (priority order, the
lifetime rule) are IOS behaviour worth testing apart from the state machine.

What IOS does, and so what this module does:
- The initiator sends ONE proposal (number 1, protocol ISAKMP, no SPI) holding one
  transform per policy, in priority order, numbered 1..N, each KEY_IKE with the
  attributes in IOS's order: encryption, key length (AES only), hash, group,
  authentication, life type seconds, life duration (86400 as a 4-byte TLV, as in the
  capture).
- The responder walks ITS policies in priority order and, for each, the offered
  transforms in order; the first transform that matches (same encryption and key length,
  hash, group, authentication) and whose lifetime is <= the policy's wins, and the
  offered lifetime is the one used. The reply echoes that transform as it came.

``Phase1Suite`` is the negotiated result with the names ``show crypto isakmp sa detail``
prints. Imports isakmp, isakmp_const, settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmvpnlab.ipsec.isakmp import Attribute, Proposal, SaPayload, Transform
from dmvpnlab.ipsec.isakmp_const import (
    KEY_IKE, AuthMethod, EncryptionAlgorithm, HashAlgorithm, IkeAttr, LifeType, ProtocolId,
)
from dmvpnlab.ipsec.settings import IkePolicy

__all__ = ["Phase1Suite", "offer", "choose", "accepted", "suite_of", "parse_transform", "psk_policies"]

_ENCR = {"aes": EncryptionAlgorithm.AES_CBC, "3des": EncryptionAlgorithm.TRIPLE_DES_CBC,
         "des": EncryptionAlgorithm.DES_CBC}
_HASH = {"md5": HashAlgorithm.MD5, "sha": HashAlgorithm.SHA, "sha256": HashAlgorithm.SHA2_256,
         "sha384": HashAlgorithm.SHA2_384, "sha512": HashAlgorithm.SHA2_512}
_AUTH = {"pre-share": AuthMethod.PRE_SHARED_KEY, "rsa-sig": AuthMethod.RSA_SIGNATURES,
         "rsa-encr": AuthMethod.RSA_ENCRYPTION}
_ENCR_NAME = {v: k for k, v in _ENCR.items()}
_HASH_NAME = {v: k for k, v in _HASH.items()}


@dataclass(frozen=True)
class Phase1Suite:
    """A Phase 1 transform as numbers (what the key math and ciphers take)."""

    encryption: int
    key_bits: int | None
    hash: int
    group: int
    auth: int
    lifetime: int

    @property
    def encryption_name(self) -> str:
        """IOS's detail column: "aes" (128), "aes:256", "3des", "des"."""
        name = _ENCR_NAME.get(self.encryption, str(self.encryption))
        if self.encryption == EncryptionAlgorithm.AES_CBC and self.key_bits not in (None, 128):
            return f"{name}:{self.key_bits}"
        return name

    @property
    def hash_name(self) -> str:
        return _HASH_NAME.get(self.hash, str(self.hash))

    def same_algorithms(self, other: "Phase1Suite") -> bool:
        return (self.encryption, self.key_bits, self.hash, self.group, self.auth) == \
            (other.encryption, other.key_bits, other.hash, other.group, other.auth)


def suite_of(policy: IkePolicy) -> Phase1Suite:
    """The numbers of one `crypto isakmp policy` (IOS's bare "aes" is AES-128)."""
    encr = _ENCR[policy.encryption]
    bits = (policy.key_bits or 128) if encr == EncryptionAlgorithm.AES_CBC else None
    return Phase1Suite(encr, bits, _HASH[policy.hash], policy.group, _AUTH[policy.authentication], policy.lifetime)


def _transform(number: int, suite: Phase1Suite) -> Transform:
    attrs = [Attribute(IkeAttr.ENCRYPTION, suite.encryption)]
    if suite.key_bits is not None:
        attrs.append(Attribute(IkeAttr.KEY_LENGTH, suite.key_bits))
    attrs += [Attribute(IkeAttr.HASH, suite.hash), Attribute(IkeAttr.GROUP_DESCRIPTION, suite.group),
              Attribute(IkeAttr.AUTH_METHOD, suite.auth), Attribute(IkeAttr.LIFE_TYPE, LifeType.SECONDS),
              _lifetime(suite.lifetime)]
    return Transform(number, KEY_IKE, attrs)


def _lifetime(seconds: int) -> Attribute:
    """IOS sends the duration as a 4-byte TLV when it does not fit 16 bits (86400)."""
    return Attribute.of(IkeAttr.LIFE_DURATION, seconds)


def psk_policies(policies: tuple[IkePolicy, ...]) -> tuple[IkePolicy, ...]:
    """The policies we can complete: pre-shared keys only (no certificates in the lab).
    IOS would offer its rsa-sig policies too; offering what we cannot finish would let a
    peer pick it and fail later, so they are left out of offers and matching."""
    return tuple(p for p in policies if p.authentication == "pre-share")


def offer(policies: tuple[IkePolicy, ...]) -> SaPayload:
    """MM1's SA payload: one proposal, one transform per pre-share policy in the order given."""
    transforms = [_transform(i, suite_of(p)) for i, p in enumerate(psk_policies(policies), start=1)]
    return SaPayload(proposals=[Proposal(1, ProtocolId.ISAKMP, b"", transforms)])


def parse_transform(transform: Transform) -> Phase1Suite | None:
    """An offered KEY_IKE transform as a suite; None when it carries something we cannot
    negotiate (a life type in kilobytes, an unknown attribute value, missing ones)."""
    if transform.transform_id != KEY_IKE:
        return None
    encr = transform.get(IkeAttr.ENCRYPTION)
    hash_ = transform.get(IkeAttr.HASH)
    group = transform.get(IkeAttr.GROUP_DESCRIPTION)
    auth = transform.get(IkeAttr.AUTH_METHOD)
    if encr is None or hash_ is None or group is None or auth is None:
        return None
    lifetime = 86400
    life_type = None
    for attr in transform.attributes:     # type/duration pairs (RFC 2409 appendix A)
        if attr.type == IkeAttr.LIFE_TYPE:
            life_type = attr.number
        elif attr.type == IkeAttr.LIFE_DURATION:
            if life_type == LifeType.SECONDS:
                lifetime = attr.number
            elif life_type != LifeType.KILOBYTES:
                return None
    return Phase1Suite(encr, transform.get(IkeAttr.KEY_LENGTH), hash_, group, auth, lifetime)


def choose(sa: SaPayload, policies: tuple[IkePolicy, ...]) -> tuple[SaPayload, Phase1Suite] | None:
    """The responder's pick: (the reply SA payload, the suite), or None (no proposal chosen).

    Our policies in priority order, each against every offered transform in order; the
    first match whose offered lifetime is <= the policy's wins, with the offered lifetime."""
    offered: list[tuple[Proposal, Transform, Phase1Suite]] = []
    for proposal in sa.proposals:
        if proposal.protocol != ProtocolId.ISAKMP:
            continue
        for transform in proposal.transforms:
            suite = parse_transform(transform)
            if suite is not None:
                offered.append((proposal, transform, suite))
    for policy in psk_policies(policies):
        ours = suite_of(policy)
        for proposal, transform, suite in offered:
            if ours.same_algorithms(suite) and 0 < suite.lifetime <= ours.lifetime:
                reply = SaPayload(sa.doi, sa.situation, [Proposal(proposal.number, proposal.protocol, proposal.spi,
                                                                  [transform])])
                return reply, suite
    return None


def accepted(sa: SaPayload, policies: tuple[IkePolicy, ...]) -> Phase1Suite | None:
    """The initiator's check of MM2: exactly one transform, and one we offered."""
    if len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
        return None
    suite = parse_transform(sa.proposals[0].transforms[0])
    if suite is None:
        return None
    for policy in psk_policies(policies):
        ours = suite_of(policy)
        if ours.same_algorithms(suite) and suite.lifetime <= ours.lifetime:
            return suite
    return None
