"""IKEv1 Quick Mode (RFC 2409 section 5.5): one pair of ESP SAs over an ISAKMP SA.

Why sans-I/O objects the engine drives: Quick Mode is three encrypted messages whose
hashes, nonces and KEYMAT tie together; the engine (``ikev1_engine``) owns sockets,
timers and retransmission, these classes own the bytes. One object per exchange:

    initiator = QuickModeInitiator(crypto)
    qm1 = initiator.start(child, local, peer, nat_t, now, random)     # -> peer
    qm3, child_sa = initiator.on_reply(decoded_qm2)                  # -> peer; install
    responder = QuickModeResponder(crypto, child, local, peer, nat_t)
    qm2, pending = responder.on_request(decoded_qm1, now, random)    # -> peer
    child_sa = responder.on_final(decoded_qm3)                       # install

Every refusal raises :class:`QuickModeError` with ``reason`` one of
``events.REFUSAL_REASONS`` ("hash mismatch", "no proposal chosen", "malformed"), a
``detail`` for the log, and the Notify type to answer with; the engine turns it into an
``IkeRefused``. A retransmitted QM1 (same ciphertext) gets the same QM2 back, a
retransmitted QM2 the same QM3: the objects are idempotent on repeats.

Messages and payload order (RFC 2409 5.5; RFC 3947 5.2 for NAT-OA):

    QM1  HDR*, HASH(1), SA, Ni [, KE] , IDci, IDcr [, NAT-OAi, NAT-OAr]
    QM2  HDR*, HASH(2), SA, Nr [, KE] , IDci, IDcr [, NAT-OAi, NAT-OAr] [, N(RESPONDER-LIFETIME)]
    QM3  HDR*, HASH(3)

    HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] | IDci | IDcr [| NAT-OA...])
    HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] | IDci | IDcr ...)
    HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)

where each list after the M-ID is the message's payloads after the HASH payload, generic
headers included (``ikev1_keys.hash1/2/3``). HASH is first and SA second (5.5: "the SA
payload MUST immediately follow the HASH"); anything else is malformed. The SA payload
and its attributes are :mod:`ikev1_esp_proposals`. Nonces are 20 bytes, as IOS's
(RFC 2409: 8..256 accepted). KE is there iff the chosen transform carries a Group
Description (PFS, "set pfs groupN").

Identities: IOS proposes, for `tunnel protection`, the two NBMA addresses as host
identities for GRE: IDci = ID_IPV4_ADDR(local) protocol 47 port 0, IDcr =
ID_IPV4_ADDR(peer) protocol 47 port 0. The responder accepts exactly that shape (an
ID_IPV4_ADDR_SUBNET of /32 too) and, without NAT, the addresses must be the initiator's
and its own; behind a NAT the initiator's IDci is its private address, so only the shape
is checked (the NAT-OA payloads carry the originals). Other proxies are refused as IOS
does: "proxy identities not supported", answered with NO-PROPOSAL-CHOSEN. The responder
echoes the IDs as they came.

NAT-OA: with NAT-T, the initiator sends NAT-OAi (its own address) and NAT-OAr (the
peer's as it knows it) when it offers a transport-mode transform, and the responder sends
its view (the initiator's address as seen, its own) when it chose transport mode
(RFC 3947 5.2). Received NAT-OA payloads are accepted and not needed: GRE in transport
mode carries no checksum for them to fix.

KEYMAT (5.5): one per SA, ``prf(SKEYID_d, [g(qm)^xy |] 3 | SPI | Ni_b | Nr_b)`` expanded
to the transform's ``key_lengths().total`` (encryption key, GCM salt, then integrity
key); the SPI is the one the SA's receiver chose: our inbound SA uses the SPI we put in
our SA payload, the outbound one the peer's.

Not done: the commit bit (RFC 2408 3.1; never set by us, as IOS, and ignored when a peer
sets it: no CONNECTED notify), several SA payloads in one exchange, IPComp, AH.

Imports dh, events, ikev1_crypt, ikev1_esp_proposals, ikev1_keys, isakmp, isakmp_const,
settings.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Callable

from dmvpnlab.ipsec.endpoint import as_peer
from dmvpnlab.ipsec import dh
from dmvpnlab.ipsec import ikev1_esp_proposals as proposals
from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.esp_transforms import EspTransform
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.ikev1_crypt import IkeCrypto
from dmvpnlab.ipsec.isakmp import IdPayload, IsakmpDecodeError, IsakmpMessage, NatOaPayload, NotifyPayload, \
    OpaquePayload, Payload, Proposal, SaPayload, encode_payloads
from dmvpnlab.ipsec.isakmp_const import ExchangeType, IdType, NotifyType, PayloadType, ProtocolId
from dmvpnlab.ipsec.settings import NAT_T_PORT, ChildPolicy

__all__ = ["QuickModeError", "QuickModeInitiator", "QuickModeResponder", "PendingChildSa", "NONCE_SIZE",
           "GRE", "proxy_ids"]

NONCE_SIZE = 20          # IOS's nonce length (its MM3 nonce in the capture is 20 bytes)
GRE = 47                 # the protocol of the Quick Mode identities for tunnel protection
Random = Callable[[int], bytes]


class QuickModeError(Exception):
    """A Quick Mode message refused: ``reason`` (REFUSAL_REASONS), ``detail``, and
    ``notify``, the Notify type the engine may answer with."""

    def __init__(self, reason: str, detail: str, notify: int) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.notify = notify


def _malformed(detail: str) -> QuickModeError:
    return QuickModeError("malformed", detail, NotifyType.PAYLOAD_MALFORMED)


def _no_proposal(detail: str) -> QuickModeError:
    return QuickModeError("no proposal chosen", detail, NotifyType.NO_PROPOSAL_CHOSEN)


def proxy_ids(initiator: IPv4Address, responder: IPv4Address) -> tuple[IdPayload, IdPayload]:
    """IDci, IDcr as IOS proposes them for GRE tunnel protection (host, protocol 47)."""
    return IdPayload.ipv4(initiator, GRE, 0), IdPayload.ipv4(responder, GRE, 0)


def _random_spi(random: Random) -> int:
    while True:
        spi = int.from_bytes(random(4), "big")
        if spi >= 256:
            return spi


def _random_mid(random: Random) -> int:
    while True:
        mid = int.from_bytes(random(4), "big")
        if mid:
            return mid


@dataclass
class _Parsed:
    """A decrypted QM1/QM2 split into the payloads Quick Mode reads."""

    hash: bytes
    rest: bytes                # the payloads after HASH, as on the wire (what HASH(n) covers)
    sa: SaPayload
    nonce: bytes
    ke: bytes | None
    ids: tuple[IdPayload, IdPayload] | None
    notifies: list[NotifyPayload]


def _open(crypto: IkeCrypto, msg: IsakmpMessage, message_id: int) -> tuple[list[Payload], bytes]:
    if msg.exchange != ExchangeType.QUICK_MODE or msg.message_id != message_id:
        raise _malformed(f"not this Quick Mode (exchange {msg.exchange}, message id 0x{msg.message_id:08x})")
    try:
        return crypto.open(msg)
    except IsakmpDecodeError as exc:
        raise _malformed(str(exc)) from None


def _hash_first(crypto: IkeCrypto, payloads: list[Payload], plain: bytes) -> tuple[bytes, bytes]:
    """(HASH value, the bytes after the HASH payload): HASH must come first."""
    first = payloads[0] if payloads else None
    if not isinstance(first, OpaquePayload) or first.type != PayloadType.HASH:
        raise _malformed("HASH is not the first payload")
    if len(first.data) != keys.hash_size(crypto.hash_alg):
        raise QuickModeError("hash mismatch", f"HASH of {len(first.data)} bytes", NotifyType.INVALID_HASH_INFORMATION)
    return bytes(first.data), plain[4 + len(first.data):]


def _parse(crypto: IkeCrypto, payloads: list[Payload], plain: bytes) -> _Parsed:
    digest, rest = _hash_first(crypto, payloads, plain)
    body = payloads[1:]
    if not body or not isinstance(body[0], SaPayload):
        raise _malformed("SA does not follow HASH")
    if sum(1 for p in body if p.type == PayloadType.SA) != 1:
        raise _malformed("more than one SA payload")
    nonces = [p for p in body if p.type == PayloadType.NONCE]
    kes = [p for p in body if p.type == PayloadType.KE]
    ids = [p for p in body if isinstance(p, IdPayload)]
    if len(nonces) != 1 or not 8 <= len(nonces[0].body()) <= 256:
        raise _malformed("no nonce of 8..256 bytes")
    if len(kes) > 1 or len(ids) not in (0, 2):
        raise _malformed(f"{len(kes)} KE and {len(ids)} ID payloads")
    return _Parsed(digest, rest, body[0], nonces[0].body(), kes[0].body() if kes else None,
                   (ids[0], ids[1]) if ids else None, [p for p in body if isinstance(p, NotifyPayload)])


def _verify(expected: bytes, got: bytes, which: str) -> None:
    if not hmac.compare_digest(expected, got):
        raise QuickModeError("hash mismatch", f"{which} does not verify", NotifyType.INVALID_HASH_INFORMATION)


def _pfs_secret(group_number: int | None, own: dh.DhKeyPair | None, peer_ke: bytes | None) -> bytes:
    """g(qm)^xy, or b"" without PFS; a KE where none belongs, or a bad value, is malformed."""
    if group_number is None:
        if peer_ke is not None:
            raise _malformed("KE without a Group Description")
        return b""
    if peer_ke is None or own is None:
        raise _malformed(f"PFS group {group_number} without KE")
    try:
        return own.shared_secret(peer_ke)
    except ValueError as exc:
        raise QuickModeError("malformed", f"KE: {exc}", NotifyType.INVALID_KEY_INFORMATION) from None


def _nat_oa(initiator: IPv4Address, responder: IPv4Address) -> list[Payload]:
    return [NatOaPayload(IdType.IPV4_ADDR, initiator.packed), NatOaPayload(IdType.IPV4_ADDR, responder.packed)]


def _keymat(crypto: IkeCrypto, transform: EspTransform, spi: int, ni_b: bytes, nr_b: bytes, gqm: bytes) -> bytes:
    """KEYMAT of the SA whose receiver chose ``spi``, as long as the transform takes."""
    length = transform.key_lengths().total
    return keys.keymat(crypto.hash_alg, crypto.keys.skeyid_d, ProtocolId.IPSEC_ESP, spi.to_bytes(4, "big"),
                       ni_b, nr_b, length, gqm)


def _message(crypto: IkeCrypto, message_id: int, payloads: list[Payload]) -> IsakmpMessage:
    return IsakmpMessage(crypto.cookie_i, crypto.cookie_r, ExchangeType.QUICK_MODE, message_id=message_id,
                         payloads=payloads)


class QuickModeInitiator:
    """Our side of a Quick Mode we start: QM1 out, QM2 in, QM3 out."""

    def __init__(self, crypto: IkeCrypto) -> None:
        self.crypto = crypto
        self.message_id = 0
        self.spi = 0
        self.started: float | None = None
        self.result: tuple[bytes, ChildSaUp] | None = None
        self._qm2: bytes | None = None
        # Set by start():
        self.child = ChildPolicy("")
        self.local = self.peer = IPv4Address(0)
        self.nat_t = False
        self.peer_port = NAT_T_PORT
        self.replaces: int | None = None
        self.nonce = b""
        self.dh: dh.DhKeyPair | None = None
        self.sa = SaPayload()
        self.ids = proxy_ids(self.local, self.peer)

    def start(self, child: ChildPolicy, local: IPv4Address, peer: IPv4Address, nat_t: bool, now: float,
              random: Random = os.urandom, *, peer_port: int = NAT_T_PORT, spi: int | None = None,
              message_id: int | None = None, replaces: int | None = None) -> bytes:
        """QM1 as wire bytes. ``spi`` (our inbound SPI) and ``message_id`` are drawn from
        ``random`` unless the engine picks them (it knows which SPIs are taken);
        ``replaces`` is the inbound SPI of the SA pair this one rekeys."""
        if not child.proposals:
            raise ValueError(f"profile {child.profile} has no transform set")
        self.child, self.local, self.peer, self.nat_t = child, IPv4Address(local), as_peer(peer), nat_t
        self.peer_port, self.replaces, self.started = peer_port, replaces, now
        self.spi = spi if spi is not None else _random_spi(random)
        self.message_id = message_id if message_id is not None else _random_mid(random)
        self.nonce = random(NONCE_SIZE)
        self.dh = dh.group(child.pfs_group).generate() if child.pfs_group is not None else None
        self.sa = proposals.offer(child, self.spi, nat_t)
        self.ids = proxy_ids(self.local, self.peer)
        body: list[Payload] = [self.sa, OpaquePayload(PayloadType.NONCE, self.nonce)]
        if self.dh is not None:
            body.append(OpaquePayload(PayloadType.KE, self.dh.public))
        body += list(self.ids)
        if nat_t and any(p.mode == "transport" for p in child.proposals):
            body += _nat_oa(self.local, self.peer)
        digest = keys.hash1(self.crypto.hash_alg, self.crypto.keys.skeyid_a, self.message_id, encode_payloads(body))
        return self.crypto.seal(_message(self.crypto, self.message_id, [OpaquePayload(PayloadType.HASH, digest)] + body))

    def on_reply(self, msg: IsakmpMessage) -> tuple[bytes, ChildSaUp]:
        """Check QM2, answer with QM3 and the SA pair to install. A repeated QM2 (its QM3
        was lost) gets the same answer again."""
        if not self.message_id:
            raise ValueError("on_reply before start")
        if self.result is not None:
            if msg.encrypted is not None and bytes(msg.encrypted) == self._qm2:
                return self.result
            raise _malformed("Quick Mode already complete")
        payloads, plain = _open(self.crypto, msg, self.message_id)
        got = _parse(self.crypto, payloads, plain)
        alg, skeyid_a = self.crypto.hash_alg, self.crypto.keys.skeyid_a
        _verify(keys.hash2(alg, skeyid_a, self.message_id, self.nonce, got.rest), got.hash, "HASH(2)")
        chosen, offered = self._check_choice(got.sa)
        gqm = _pfs_secret(offered.group, self.dh, got.ke)
        if got.ids is None or [i.body() for i in got.ids] != [i.body() for i in self.ids]:
            raise _no_proposal("the responder's identities are not the ones proposed")
        seconds, kilobytes = self.child.lifetime_seconds, self.child.lifetime_kilobytes
        for lifetime in [(offered.seconds, offered.kilobytes)] + [
                proposals.read_responder_lifetime(n) or (None, None) for n in got.notifies
                if n.notify_type == NotifyType.RESPONDER_LIFETIME]:
            seconds = min(seconds, lifetime[0] or seconds)
            kilobytes = min(kilobytes, lifetime[1] or kilobytes)
        spi_out = int.from_bytes(chosen.spi, "big")
        transform = offered.transform
        child_sa = ChildSaUp(
            peer=self.peer, transform=transform, mode=offered.mode,
            spi_in=self.spi, keymat_in=_keymat(self.crypto, transform, self.spi, self.nonce, got.nonce, gqm),
            spi_out=spi_out, keymat_out=_keymat(self.crypto, transform, spi_out, self.nonce, got.nonce, gqm),
            lifetime_seconds=seconds, lifetime_kilobytes=kilobytes, nat_t=self.nat_t, peer_port=self.peer_port,
            initiator=True, pfs_group=offered.group, replaces=self.replaces)
        digest = keys.hash3(alg, skeyid_a, self.message_id, self.nonce, got.nonce)
        qm3 = self.crypto.seal(_message(self.crypto, self.message_id, [OpaquePayload(PayloadType.HASH, digest)]))
        self._qm2 = bytes(msg.encrypted or b"")
        self.result = (qm3, child_sa)
        return self.result

    def _check_choice(self, sa: SaPayload) -> tuple[Proposal, proposals.Offered]:
        """The responder's SA: one of our proposals, one transform, as we offered it."""
        if len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
            raise _no_proposal("the responder's SA must hold one proposal with one transform")
        chosen = sa.proposals[0]
        ours = self.sa.proposals[chosen.number - 1] if 1 <= chosen.number <= len(self.sa.proposals) else None
        offered = proposals.parse_transform(chosen.transforms[0])
        sent = proposals.parse_transform(ours.transforms[0]) if ours is not None else None
        if (offered is None or sent is None or chosen.protocol != ProtocolId.IPSEC_ESP or len(chosen.spi) != 4
                or int.from_bytes(chosen.spi, "big") < 256
                or (offered.transform, offered.mode, offered.udp, offered.group)
                != (sent.transform, sent.mode, sent.udp, sent.group)):
            raise _no_proposal("the responder chose something we did not propose")
        return chosen, offered


@dataclass
class PendingChildSa:
    """The responder's SA pair between QM2 and QM3: keys are known, the initiator's
    HASH(3) is not yet (IOS installs the inbound SA now, the outbound after QM3)."""

    child_sa: ChildSaUp
    message_id: int
    started: float
    transform_set: str


class QuickModeResponder:
    """Our side of a Quick Mode the peer starts: QM1 in, QM2 out, QM3 in."""

    def __init__(self, crypto: IkeCrypto, child: ChildPolicy, local: IPv4Address, peer: IPv4Address, nat_t: bool,
                 *, peer_port: int = NAT_T_PORT, replaces: int | None = None) -> None:
        self.crypto, self.child, self.nat_t = crypto, child, nat_t
        self.local, self.peer = IPv4Address(local), as_peer(peer)
        self.peer_port, self.replaces = peer_port, replaces
        self.message_id: int | None = None
        self.pending: PendingChildSa | None = None
        self.done = False
        self._qm1: bytes | None = None
        self._qm2: bytes | None = None

    def on_request(self, msg: IsakmpMessage, now: float, random: Random = os.urandom, *,
                   spi: int | None = None) -> tuple[bytes, PendingChildSa]:
        """Check QM1, pick a proposal, answer with QM2. ``spi`` (our inbound SPI) is drawn
        from ``random`` unless the engine picks it. A repeated QM1 gets the same QM2."""
        if self.pending is not None:
            if msg.encrypted is not None and bytes(msg.encrypted) == self._qm1 and self._qm2 is not None:
                return self._qm2, self.pending
            raise _malformed("a second QM1 in the same exchange")
        self.message_id = msg.message_id
        if not msg.message_id:
            raise _malformed("Quick Mode with message id 0")
        payloads, plain = _open(self.crypto, msg, msg.message_id)
        got = _parse(self.crypto, payloads, plain)
        mid, alg, skeyid_a = msg.message_id, self.crypto.hash_alg, self.crypto.keys.skeyid_a
        _verify(keys.hash1(alg, skeyid_a, mid, got.rest), got.hash, "HASH(1)")
        self._check_ids(got.ids)
        choice = proposals.choose(got.sa, self.child, self.nat_t)
        if choice is None:
            raise _no_proposal("no offered transform matches a transform set of profile " + self.child.profile)
        offered = choice.offered
        own_dh = dh.group(offered.group).generate() if offered.group is not None else None
        gqm = _pfs_secret(offered.group, own_dh, got.ke)
        spi_in = spi if spi is not None else _random_spi(random)
        nonce = random(NONCE_SIZE)
        seconds, kilobytes = proposals.settle(offered.seconds, offered.kilobytes, self.child)
        echoed = SaPayload(got.sa.doi, got.sa.situation, [Proposal(     # the choice as it came, our SPI
            choice.proposal.number, choice.proposal.protocol, spi_in.to_bytes(4, "big"), [choice.transform])])
        body: list[Payload] = [echoed, OpaquePayload(PayloadType.NONCE, nonce)]
        if own_dh is not None:
            body.append(OpaquePayload(PayloadType.KE, own_dh.public))
        body += list(got.ids or ())
        if self.nat_t and offered.mode == "transport":
            body += _nat_oa(self.peer, self.local)
        if (seconds, kilobytes) != (offered.seconds, offered.kilobytes):
            body.append(proposals.responder_lifetime(spi_in, seconds, kilobytes))
        digest = keys.hash2(alg, skeyid_a, mid, got.nonce, encode_payloads(body))
        qm2 = self.crypto.seal(_message(self.crypto, mid, [OpaquePayload(PayloadType.HASH, digest)] + body))
        spi_out = int.from_bytes(choice.proposal.spi, "big")
        transform = offered.transform
        child_sa = ChildSaUp(
            peer=self.peer, transform=transform, mode=offered.mode,
            spi_in=spi_in, keymat_in=_keymat(self.crypto, transform, spi_in, got.nonce, nonce, gqm),
            spi_out=spi_out, keymat_out=_keymat(self.crypto, transform, spi_out, got.nonce, nonce, gqm),
            lifetime_seconds=seconds, lifetime_kilobytes=kilobytes, nat_t=self.nat_t, peer_port=self.peer_port,
            initiator=False, pfs_group=offered.group, replaces=self.replaces)
        self._ni, self._nr = got.nonce, nonce
        self._qm1, self._qm2 = bytes(msg.encrypted or b""), qm2
        self.pending = PendingChildSa(child_sa, mid, now, choice.ours.name)
        return qm2, self.pending

    def on_final(self, msg: IsakmpMessage) -> ChildSaUp:
        """Check QM3's HASH(3): the SA pair is up (a repeated QM3 returns it again)."""
        if self.pending is None or self.message_id is None:
            raise _malformed("QM3 before QM1")
        payloads, plain = _open(self.crypto, msg, self.message_id)
        digest, _ = _hash_first(self.crypto, payloads, plain)
        expected = keys.hash3(self.crypto.hash_alg, self.crypto.keys.skeyid_a, self.message_id, self._ni, self._nr)
        _verify(expected, digest, "HASH(3)")
        self.done = True
        return self.pending.child_sa

    def _check_ids(self, ids: tuple[IdPayload, IdPayload] | None) -> None:
        """IOS's proxies for GRE tunnel protection, and nothing else (see the module doc)."""
        if ids is None:
            raise _no_proposal("proxy identities not supported (none sent: all traffic between the peers)")
        hosts = []
        for ident in ids:
            net = ident.network() if ident.id_type in (IdType.IPV4_ADDR, IdType.IPV4_ADDR_SUBNET) else None
            if net is None or net.prefixlen != 32 or ident.protocol != GRE or ident.port != 0:
                raise _no_proposal(f"proxy identities not supported (type {ident.id_type}, protocol "
                                   f"{ident.protocol}, port {ident.port})")
            hosts.append(net.network_address)
        if not self.nat_t and hosts != [self.peer, self.local]:
            raise _no_proposal(f"proxy identities not supported ({hosts[0]} -> {hosts[1]}, "
                               f"expected {self.peer} -> {self.local})")
