"""IKEv1 Main Mode with pre-shared keys (RFC 2409 section 5, NAT-D of RFC 3947), both
roles, one object per ISAKMP SA: the six messages and nothing else.

Why apart from the engine: Main Mode is a fixed ladder whose inputs are what both peers
saw on the wire (SAi_b, the nonce bodies, the public values, the datagram's addresses
for NAT-D); keeping it a pure object that turns a decoded message into the next
message makes every rule testable alone, while the engine (`ikev1_engine`) owns the
cookies table, timers, retransmission and the transport.

The ladder, as IOS sends it (tests compare with the Cisco capture):

    MM1 I->R  SA, V(RFC 3947), V(draft-07), V(draft-03), V(draft-02\\n)
    MM2 R->I  SA (the one transform chosen), V(the NAT-T flavour chosen)
    MM3 I->R  KE, No, V(DPD), V(per-SA id), V(XAUTH), NAT-D, NAT-D
    MM4 R->I  KE, No, V(Unity), V(DPD), V(per-SA id), V(XAUTH), NAT-D, NAT-D
    MM5 I->R  encrypted: ID(IPv4, UDP 500), HASH_I [, N(INITIAL-CONTACT)]
    MM6 R->I  encrypted: ID(IPv4, UDP 500), HASH_R

NAT-D: the first hash names the datagram's destination, the second the sender's source
(RFC 3947 3.2). A mismatch on the first means *we* are behind a NAT, on the second the
peer is; either moves MM5 onwards to UDP 4500 (the initiator floats).

Every refusal is a :class:`Refusal` with one of ``events.REFUSAL_REASONS``; the engine
counts it, logs it and drops the negotiation. Encryption of MM5/MM6 is
``ikev1_crypt.IkeCrypto`` (its IV chain continues into Quick Mode).

Imports dh, ike_cipher, ikev1_crypt, ikev1_keys, ikev1_proposals, isakmp, settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Callable

from dmvpnlab.ipsec import ike_cipher
from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.dh import DhKeyPair, group
from dmvpnlab.ipsec.ikev1_crypt import IkeCrypto
from dmvpnlab.ipsec.ikev1_proposals import Phase1Suite, accepted, choose, offer, psk_policies
from dmvpnlab.ipsec.isakmp import (
    IdPayload, IsakmpDecodeError, IsakmpMessage, NotifyPayload, OpaquePayload, Payload, SaPayload,
)
from dmvpnlab.ipsec.isakmp_const import (
    ExchangeType, IdType, NotifyType, PayloadType, ProtocolId, VendorId,
)
from dmvpnlab.ipsec.settings import IKE_PORT, IkePolicy

__all__ = ["Refusal", "FATAL_REASONS", "MainMode", "Wire", "NONCE_SIZE", "MM1_VENDOR_IDS"]

NONCE_SIZE = 20          # IOS's nonce length (capture: 20 bytes both ways)
MM1_VENDOR_IDS = (VendorId.RFC_3947, VendorId.NATT_DRAFT_07, VendorId.NATT_DRAFT_03, VendorId.NATT_DRAFT_02N)
_DRAFT_NATT = (VendorId.NATT_DRAFT_07, VendorId.NATT_DRAFT_03, VendorId.NATT_DRAFT_02N, VendorId.NATT_DRAFT_02)


#: Refusals a retransmission cannot cure: the negotiation ends (malformed or unknown
#: datagrams are dropped and the negotiation waits for the peer's next try).
FATAL_REASONS = frozenset({"no proposal chosen", "no pre-shared key", "hash mismatch", "unsupported"})


class Refusal(Exception):
    """A negotiation step refused: ``reason`` is one of events.REFUSAL_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Wire:
    """Where a message came from or goes to (NAT-D hashes these)."""

    peer_port: int = IKE_PORT
    local_port: int = IKE_PORT


def _vid(data: bytes) -> OpaquePayload:
    return OpaquePayload(PayloadType.VENDOR_ID, data)


def _per_sa_vid(cookie: bytes, random: Callable[[int], bytes]) -> bytes:
    """IOS's unlisted per-SA vendor id (see isakmp_const.VendorId): random bytes whose
    4..7 follow the sender's cookie with byte 5's lowest bit flipped."""
    raw = bytearray(random(16))
    raw[4:8] = cookie[4:8]
    raw[5] ^= 1
    return bytes(raw)


class MainMode:
    """One Main Mode negotiation and, once done, the ISAKMP SA's keys.

    Initiator: ``mm1()``, ``on_mm2(msg, wire)`` -> MM3, ``on_mm4(msg, wire)`` -> MM5 (sealed
    bytes), ``on_mm6(msg)``. Responder: ``on_mm1(msg)`` -> MM2, ``on_mm3(msg, wire)`` ->
    MM4, ``on_mm5(msg)`` -> MM6 (sealed bytes). Plaintext replies are IsakmpMessages the
    engine encodes; every method raises only :class:`Refusal`.
    """

    def __init__(self, *, initiator: bool, local: IPv4Address, peer: IPv4Address, cookie_i: bytes,
                 policies: tuple[IkePolicy, ...], psk: bytes | None, random: Callable[[int], bytes],
                 log: Callable[[str], None], initial_contact: bool = False) -> None:
        self.initiator = initiator
        self.local = local
        self.peer = peer
        self.cookie_i = cookie_i
        self.cookie_r = bytes(8)
        self.policies = policies
        self.psk = psk
        self.random = random
        self.log = log
        self.send_initial_contact = initial_contact
        self.state = "MM_NO_STATE"
        self.suite: Phase1Suite | None = None
        self.sai_b = b""
        self.natd_type: int | None = None      # NAT_D (RFC 3947) or NAT_D_DRAFT; None: peer has no NAT-T
        self.peer_dpd = False
        self.dh: DhKeyPair | None = None
        self.gxi = self.gxr = self.ni_b = self.nr_b = b""
        self.phase1: keys.Phase1Keys | None = None
        self.crypto: IkeCrypto | None = None
        self.local_behind_nat = False
        self.peer_behind_nat = False
        self.initial_contact_received = False
        self.peer_id: IdPayload | None = None
        self.done = False

    # -- shared ---------------------------------------------------------------------

    @property
    def nat_detected(self) -> bool:
        return self.local_behind_nat or self.peer_behind_nat

    def _header(self, exchange: int = ExchangeType.MAIN_MODE) -> IsakmpMessage:
        return IsakmpMessage(self.cookie_i, self.cookie_r, exchange)

    def _natd(self, address: IPv4Address, port: int) -> bytes:
        assert self.suite is not None
        return keys.natd_hash(self.suite.hash, self.cookie_i, self.cookie_r, address.packed, port)

    def _natd_payloads(self, wire: Wire) -> list[Payload]:
        if self.natd_type is None:
            return []
        return [OpaquePayload(self.natd_type, self._natd(self.peer, wire.peer_port)),
                OpaquePayload(self.natd_type, self._natd(self.local, wire.local_port))]

    def _check_natd(self, msg: IsakmpMessage, wire: Wire) -> None:
        """RFC 3947 3.2 with the addresses the datagram really carried."""
        if self.natd_type is None:
            return
        hashes = [p.data for p in msg.all(self.natd_type)]
        if len(hashes) < 2:
            raise Refusal("malformed", "NAT-T was agreed but NAT-D payloads are missing")
        self.local_behind_nat = hashes[0] != self._natd(self.local, wire.local_port)
        self.peer_behind_nat = self._natd(self.peer, wire.peer_port) not in hashes[1:]
        if self.local_behind_nat and self.peer_behind_nat:
            self.log("ISAKMP:(0): NAT found, both nodes inside NAT")
        elif self.local_behind_nat:
            self.log("ISAKMP:(0): NAT found, the node inside NAT")
        elif self.peer_behind_nat:
            self.log("ISAKMP:(0): NAT found, the node outside NAT")
        else:
            self.log("ISAKMP:(0):NAT not found")

    def _ke_nonce(self, msg: IsakmpMessage) -> tuple[bytes, bytes]:
        ke = msg.payload(PayloadType.KE)
        nonce = msg.payload(PayloadType.NONCE)
        if not isinstance(ke, OpaquePayload) or not isinstance(nonce, OpaquePayload):
            raise Refusal("malformed", "KE or Nonce payload missing")
        if not 8 <= len(nonce.data) <= 256:
            raise Refusal("malformed", f"nonce of {len(nonce.data)} bytes")
        return ke.data, nonce.data

    def _derive(self, peer_public: bytes) -> None:
        """g^xy, SKEYID..., the cipher key and the IkeCrypto of MM5 onwards."""
        assert self.suite is not None and self.dh is not None and self.psk is not None
        try:
            gxy = self.dh.shared_secret(peer_public)
        except ValueError as exc:
            raise Refusal("malformed", f"KE payload: {exc}") from None
        spec = ike_cipher.cipher_spec(self.suite.encryption, self.suite.key_bits)
        self.phase1 = keys.derive_phase1(self.suite.hash, self.psk, self.ni_b, self.nr_b, gxy,
                                         self.cookie_i, self.cookie_r, spec.key_size)
        self.crypto = IkeCrypto.for_main_mode(self.suite.hash, spec, self.phase1, self.cookie_i, self.cookie_r,
                                              self.gxi, self.gxr)

    def _new_dh(self) -> None:
        assert self.suite is not None
        try:
            self.dh = group(self.suite.group).generate()
        except ValueError as exc:
            raise Refusal("no proposal chosen", f"DH group {self.suite.group}: {exc}") from None

    def _id(self) -> IdPayload:
        return IdPayload.ipv4(self.local, 17, IKE_PORT)

    def _open(self, msg: IsakmpMessage) -> tuple[list[Payload], IdPayload, bytes]:
        """Decrypt MM5/MM6 and pick ID and HASH; a wrong key decrypts to garbage, which is
        how a bad pre-shared key shows on this side: a hash mismatch, as IOS counts it."""
        assert self.crypto is not None
        if not msg.is_encrypted:
            raise Refusal("malformed", "MM5/MM6 not encrypted")
        try:
            payloads, _plain = self.crypto.open(msg)
        except IsakmpDecodeError as exc:
            raise Refusal("hash mismatch", f"undecryptable (pre-shared key mismatch?): {exc}") from None
        ident = next((p for p in payloads if isinstance(p, IdPayload)), None)
        hashp = next((p for p in payloads if p.type == PayloadType.HASH), None)
        if ident is None or not isinstance(hashp, OpaquePayload):
            raise Refusal("hash mismatch", "ID or HASH payload missing after decryption")
        for p in payloads:
            if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.INITIAL_CONTACT:
                self.initial_contact_received = True
        return payloads, ident, hashp.data

    # -- initiator ------------------------------------------------------------------

    def mm1(self) -> IsakmpMessage:
        if not psk_policies(self.policies):
            raise Refusal("unsupported", "no crypto isakmp policy with authentication pre-share")
        sa = offer(self.policies)
        self.sai_b = sa.body()
        msg = self._header()
        msg.payloads = [sa] + [_vid(v) for v in MM1_VENDOR_IDS]
        self.log("ISAKMP:(0): beginning Main Mode exchange")
        return msg

    def on_mm2(self, msg: IsakmpMessage, wire: Wire) -> IsakmpMessage:
        sa = msg.payload(PayloadType.SA)
        if not isinstance(sa, SaPayload):
            raise Refusal("malformed", "MM2 carries no SA payload")
        suite = accepted(sa, self.policies)
        if suite is None:
            raise Refusal("no proposal chosen", "the responder chose a transform we did not offer")
        self.log("ISAKMP:(0):atts are acceptable. Next payload is 0")
        self.suite = suite
        self.cookie_r = bytes(msg.rcookie)
        self._note_vids(msg)
        self._new_dh()
        assert self.dh is not None
        self.gxi, self.ni_b = self.dh.public, self.random(NONCE_SIZE)
        out = self._header()
        out.payloads = [OpaquePayload(PayloadType.KE, self.gxi), OpaquePayload(PayloadType.NONCE, self.ni_b),
                        _vid(VendorId.DPD), _vid(_per_sa_vid(self.cookie_i, self.random)), _vid(VendorId.XAUTH)]
        out.payloads += self._natd_payloads(wire)
        self.state = "MM_SA_SETUP"
        return out

    def on_mm4(self, msg: IsakmpMessage, wire: Wire) -> bytes:
        """MM4 in (``wire``: the ports it came by, which MM3 went by), MM5 out (sealed).
        ``send_initial_contact`` is read now, not at MM1: an SA the peer brought up with
        us meanwhile (a simultaneous initiation) means it has not rebooted."""
        if self.psk is None:
            raise Refusal("no pre-shared key", f"no pre-shared key with {self.peer}")
        self.gxr, self.nr_b = self._ke_nonce(msg)
        self._note_vids(msg)
        self._check_natd(msg, wire)
        self._derive(self.gxr)
        assert self.crypto is not None and self.phase1 is not None and self.suite is not None
        ident = self._id()
        h = keys.hash_i(self.suite.hash, self.phase1.skeyid, self.gxi, self.gxr, self.cookie_i, self.cookie_r,
                        self.sai_b, ident.body())
        out = self._header()
        out.payloads = [ident, OpaquePayload(PayloadType.HASH, h)]
        if self.send_initial_contact:
            out.payloads.append(NotifyPayload(NotifyType.INITIAL_CONTACT, protocol=ProtocolId.ISAKMP,
                                              spi=self.cookie_i + self.cookie_r))
        self.log("ISAKMP:(0):SA is doing pre-shared key authentication using id type ID_IPV4_ADDR")
        self.state = "MM_KEY_EXCH"
        return self.crypto.seal(out)

    def on_mm6(self, msg: IsakmpMessage) -> None:
        _, ident, got = self._open(msg)
        assert self.phase1 is not None and self.suite is not None and self.crypto is not None
        want = keys.hash_r(self.suite.hash, self.phase1.skeyid, self.gxi, self.gxr, self.cookie_i, self.cookie_r,
                           self.sai_b, ident.body())
        if got != want:
            raise Refusal("hash mismatch", f"HASH_R from {self.peer} does not verify (pre-shared key mismatch?)")
        self._authenticated(ident)

    # -- responder ------------------------------------------------------------------

    def on_mm1(self, msg: IsakmpMessage, cookie_r: bytes) -> IsakmpMessage:
        sa = msg.payload(PayloadType.SA)
        if not isinstance(sa, SaPayload):
            raise Refusal("malformed", "MM1 carries no SA payload")
        if self.psk is None:
            raise Refusal("no pre-shared key", f"No pre-shared key with {self.peer}!")
        chosen = choose(sa, self.policies)
        if chosen is None:
            raise Refusal("no proposal chosen", "phase 1 SA policy not acceptable!")
        reply_sa, self.suite = chosen
        self.log("ISAKMP: (0):atts are acceptable.")
        self.sai_b = sa.body()
        self.cookie_r = cookie_r
        self._note_vids(msg)
        out = self._header()
        out.payloads = [reply_sa]
        vids = {bytes(p.data) for p in msg.all(PayloadType.VENDOR_ID) if isinstance(p, OpaquePayload)}
        if VendorId.RFC_3947 in vids:
            out.payloads.append(_vid(VendorId.RFC_3947))
        elif vids & set(_DRAFT_NATT):
            out.payloads.append(_vid(next(v for v in _DRAFT_NATT if v in vids)))
        self.state = "MM_SA_SETUP"
        return out

    def on_mm3(self, msg: IsakmpMessage, wire: Wire) -> IsakmpMessage:
        self.gxi, self.ni_b = self._ke_nonce(msg)
        self._note_vids(msg)
        self._check_natd(msg, wire)
        self._new_dh()
        assert self.dh is not None
        self.gxr, self.nr_b = self.dh.public, self.random(NONCE_SIZE)
        self._derive(self.gxi)
        out = self._header()
        out.payloads = [OpaquePayload(PayloadType.KE, self.gxr), OpaquePayload(PayloadType.NONCE, self.nr_b),
                        _vid(VendorId.CISCO_UNITY), _vid(VendorId.DPD), _vid(_per_sa_vid(self.cookie_r, self.random)),
                        _vid(VendorId.XAUTH)]
        out.payloads += self._natd_payloads(wire)
        self.state = "MM_KEY_EXCH"
        return out

    def on_mm5(self, msg: IsakmpMessage) -> bytes:
        _, ident, got = self._open(msg)
        assert self.phase1 is not None and self.suite is not None and self.crypto is not None
        want = keys.hash_i(self.suite.hash, self.phase1.skeyid, self.gxi, self.gxr, self.cookie_i, self.cookie_r,
                           self.sai_b, ident.body())
        if got != want:
            raise Refusal("hash mismatch", f"HASH_I from {self.peer} does not verify (pre-shared key mismatch?)")
        mine = self._id()
        h = keys.hash_r(self.suite.hash, self.phase1.skeyid, self.gxi, self.gxr, self.cookie_i, self.cookie_r,
                        self.sai_b, mine.body())
        out = self._header()
        out.payloads = [mine, OpaquePayload(PayloadType.HASH, h)]
        sealed = self.crypto.seal(out)
        self._authenticated(ident)
        return sealed

    # -- helpers ----------------------------------------------------------------------

    def _note_vids(self, msg: IsakmpMessage) -> None:
        vids = {bytes(p.data) for p in msg.all(PayloadType.VENDOR_ID) if isinstance(p, OpaquePayload)}
        if VendorId.DPD in vids:
            self.peer_dpd = True
        if self.natd_type is None:
            if VendorId.RFC_3947 in vids:
                self.natd_type = PayloadType.NAT_D
            elif vids & set(_DRAFT_NATT):
                self.natd_type = PayloadType.NAT_D_DRAFT

    def _authenticated(self, ident: IdPayload) -> None:
        assert self.crypto is not None
        if ident.id_type not in (IdType.IPV4_ADDR, IdType.FQDN, IdType.USER_FQDN, IdType.KEY_ID):
            raise Refusal("unsupported", f"peer identity type {ident.id_type}")
        self.peer_id = ident
        self.crypto.finish_phase1()
        self.state = "QM_IDLE"
        self.done = True
