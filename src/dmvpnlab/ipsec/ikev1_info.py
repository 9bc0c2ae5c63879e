"""Protected Informational exchanges of an ISAKMP SA (RFC 2409 5.7): Delete (ISAKMP and
ESP), DPD R-U-THERE / R-U-THERE-ACK (RFC 3706) -- what an IOS peer sends once Phase 1 is
up.

Why its own module: these are one-message exchanges with their own message id, HASH(1)
over the Notify or Delete and an IV from the Phase 1 chain, and both the engine's DPD
timers and its delete/clear paths need them; building and checking them here keeps the
engine about state and time.

``build(crypto, hash_alg, skeyid_a, payload, message_id) -> bytes`` seals HASH(1) + one
Notify/Delete; ``parse(crypto, hash_alg, skeyid_a, msg) -> Info`` opens one, checks the
hash and names what it says (raises :class:`InfoError` with a refusal reason otherwise).
Helpers make the payloads IOS sends: :func:`delete_isakmp`, :func:`delete_esp`,
:func:`dpd` (the sequence number is 4 bytes, the SPI the cookie pair, as RFC 3706 says).

Imports ikev1_crypt, ikev1_keys, isakmp and its constants.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.ikev1_crypt import IkeCrypto
from dmvpnlab.ipsec.isakmp import (
    DeletePayload, IsakmpDecodeError, IsakmpMessage, NotifyPayload, OpaquePayload, encode_payloads,
)
from dmvpnlab.ipsec.isakmp_const import ExchangeType, NotifyType, PayloadType, ProtocolId

__all__ = ["InfoError", "Info", "build", "parse", "delete_isakmp", "delete_esp", "dpd"]


class InfoError(Exception):
    """An Informational that does not open or verify; ``reason`` is a refusal reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Info:
    """What a verified Informational says (several may be in one message)."""

    message_id: int
    deleted_isakmp: list[bytes] = field(default_factory=list)     # cookie pairs (16 bytes)
    deleted_esp: list[int] = field(default_factory=list)          # SPIs (the sender's inbound)
    r_u_there: list[int] = field(default_factory=list)            # sequence numbers
    r_u_there_ack: list[int] = field(default_factory=list)
    initial_contact: bool = False
    notifies: list[int] = field(default_factory=list)             # every other notify type


def delete_isakmp(cookie_i: bytes, cookie_r: bytes) -> DeletePayload:
    return DeletePayload(ProtocolId.ISAKMP, [bytes(cookie_i) + bytes(cookie_r)])


def delete_esp(spis: list[int]) -> DeletePayload:
    return DeletePayload(ProtocolId.IPSEC_ESP, [s.to_bytes(4, "big") for s in spis])


def dpd(ack: bool, sequence: int, cookie_i: bytes, cookie_r: bytes) -> NotifyPayload:
    kind = NotifyType.R_U_THERE_ACK if ack else NotifyType.R_U_THERE
    return NotifyPayload(kind, protocol=ProtocolId.ISAKMP, spi=bytes(cookie_i) + bytes(cookie_r),
                         data=struct.pack("!I", sequence & 0xFFFFFFFF))


def build(crypto: IkeCrypto, hash_alg: int, skeyid_a: bytes,
          payload: NotifyPayload | DeletePayload, message_id: int) -> bytes:
    """HASH(1) | payload, sealed on a fresh Informational exchange (then forgotten: an
    Informational is one message, nothing chains after it)."""
    body = encode_payloads([payload])
    h = keys.hash1(hash_alg, skeyid_a, message_id, body)
    msg = IsakmpMessage(crypto.cookie_i, crypto.cookie_r, ExchangeType.INFORMATIONAL, message_id=message_id,
                        payloads=[OpaquePayload(PayloadType.HASH, h), payload])
    wire = crypto.seal(msg)
    crypto.forget(message_id)
    return wire


def parse(crypto: IkeCrypto, hash_alg: int, skeyid_a: bytes, msg: IsakmpMessage) -> Info:
    """Open an Informational, check HASH(1) over everything after it, read it."""
    if not msg.is_encrypted:
        raise InfoError("malformed", "unprotected Informational after Phase 1")
    if msg.message_id == 0:
        raise InfoError("malformed", "Informational with message id 0")
    try:
        payloads, plain = crypto.open(msg)
    except IsakmpDecodeError as exc:
        raise InfoError("malformed", f"Informational does not decrypt: {exc}") from None
    finally:
        crypto.forget(msg.message_id)
    if not payloads or payloads[0].type != PayloadType.HASH or not isinstance(payloads[0], OpaquePayload):
        raise InfoError("malformed", "Informational without a leading HASH payload")
    got = payloads[0].data
    rest = plain[4 + len(got):]
    if got != keys.hash1(hash_alg, skeyid_a, msg.message_id, rest):
        raise InfoError("hash mismatch", "Informational HASH(1) does not verify")
    info = Info(msg.message_id)
    for p in payloads[1:]:
        if isinstance(p, DeletePayload):
            if p.protocol == ProtocolId.ISAKMP:
                info.deleted_isakmp += [bytes(s) for s in p.spis if len(s) == 16]
            elif p.protocol in (ProtocolId.IPSEC_ESP, ProtocolId.IPSEC_AH):
                info.deleted_esp += [int.from_bytes(s, "big") for s in p.spis if len(s) == 4]
        elif isinstance(p, NotifyPayload):
            seq = int.from_bytes(p.data[:4], "big") if len(p.data) >= 4 else None
            if p.notify_type == NotifyType.R_U_THERE and seq is not None:
                info.r_u_there.append(seq)
            elif p.notify_type == NotifyType.R_U_THERE_ACK and seq is not None:
                info.r_u_there_ack.append(seq)
            elif p.notify_type == NotifyType.INITIAL_CONTACT:
                info.initial_contact = True
            else:
                info.notifies.append(p.notify_type)
    return info
