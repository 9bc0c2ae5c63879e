"""ISAKMP message encryption for IKEv1 with its IV bookkeeping (RFC 2409 appendix B).

Why a module of its own: from Main Mode message 5 on, every IKEv1 message is CBC-encrypted
under the ISAKMP SA's key, and the IV of each message is *state* shared by the two peers,
not a value carried on the wire. Getting it wrong one way (a failed decryption moving the
chain, a retransmission decrypted with the moved chain, a Quick Mode IV built from the
wrong Phase 1 block) breaks interop silently: the other side sees garbage and drops it.
So the state lives here, in one object per ISAKMP SA, and the engine only says "seal
this" / "open that".

The IV rules (RFC 2409 appendix B; IOS and strongSwan follow them):

- Main Mode (message id 0): the first encrypted message (MM5) uses
  ``hash(g^xi | g^xr)``, leftmost block (``ikev1_keys.phase1_iv``). Each later message of
  the exchange uses the last ciphertext block of the message before it, whichever side
  sent it: MM6 continues from MM5's last block.
- Every other exchange (Quick Mode, Informational: message id != 0) starts from
  ``hash(last CBC block of Phase 1 | M-ID)`` (``ikev1_keys.phase2_iv``), and chains
  within itself the same way: QM2 from QM1's last block, QM3 from QM2's. Exchanges do
  not disturb each other: two Quick Modes in flight each have their own chain, and the
  Phase 1 block they start from is frozen by :meth:`IkeCrypto.finish_phase1` (MM6's
  last block on both sides).
- The chain moves only on a message that was really sealed, or that decrypted to a
  well-formed payload chain. A datagram that does not decrypt leaves it as it was.
- Retransmissions: IOS resends the very same ciphertext when it gets no answer. The
  chain has moved on by then (we decrypted it and perhaps answered), so a retransmitted
  message would no longer decrypt with the current IV. Every ciphertext received is
  therefore remembered with the IV that opened it; the same bytes again open with that
  IV and leave the chain alone (the engine answers with its cached reply).

Padding (RFC 2409 appendix B, ``ike_cipher.pad``): ours is 1..block bytes, zeros then
their count. A peer's padding content is not interpreted (nothing of it is protected by
the HASH anyway), but its *length* is: a plaintext whose payload chain leaves more than
one block unparsed is refused as bad padding, since no RFC 2409 sender produces that and
it is what a wrong key or IV usually decrypts to.

API
    ``IkeCrypto(hash_alg, cipher, keys, cookie_i, cookie_r, iv)``, or
    ``IkeCrypto.for_main_mode(hash_alg, cipher, keys, cookie_i, cookie_r, gxi, gxr)``.
    ``seal(msg) -> bytes``: ``msg.payloads`` (plaintext) to wire bytes with the E flag.
    ``open(msg) -> (payloads, plain)``: an encrypted decoded message to its payloads and
    the plaintext payload chain (without padding: the bytes the HASH payloads cover);
    raises :class:`isakmp.IsakmpDecodeError` on anything wrong.
    ``finish_phase1()``; ``forget(message_id)`` when an exchange is over for good;
    ``phase1_last_block`` (for tests and ``debug``).

Imports ike_cipher, ikev1_keys, isakmp and its constants; no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from dmvpnlab.ipsec import ike_cipher, ikev1_keys
from dmvpnlab.ipsec.ike_cipher import CipherSpec
from dmvpnlab.ipsec.ikev1_keys import Phase1Keys
from dmvpnlab.ipsec.isakmp import IsakmpDecodeError, IsakmpMessage, Payload, decode_payloads, encode, \
    encode_payloads
from dmvpnlab.ipsec.isakmp_const import FLAG_ENCRYPTION, PayloadType

__all__ = ["IkeCrypto", "MAX_EXCHANGES", "MAX_REMEMBERED"]

#: Exchanges (message ids) whose chains are kept; the oldest is dropped beyond this. DPD
#: opens one Informational exchange per R-U-THERE, so an SA living a day would otherwise
#: grow without bound.
MAX_EXCHANGES = 32
#: Received ciphertexts remembered per exchange for retransmissions (Main Mode has 1 or
#: 2 encrypted messages from a peer, Quick Mode at most 2).
MAX_REMEMBERED = 4


@dataclass
class _Exchange:
    """One exchange's CBC chain and the received ciphertexts that may come again."""

    iv: bytes
    seen: OrderedDict[bytes, bytes] = field(default_factory=OrderedDict)   # ciphertext -> IV that opened it


@dataclass
class IkeCrypto:
    """The encryption state of one ISAKMP SA (see the module docstring for the rules)."""

    hash_alg: int
    cipher: CipherSpec
    keys: Phase1Keys
    cookie_i: bytes
    cookie_r: bytes
    iv: bytes                      # Main Mode's first IV: hash(g^xi | g^xr), leftmost block
    _exchanges: OrderedDict[int, _Exchange] = field(default_factory=OrderedDict, init=False, repr=False)
    _phase1_last: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.iv) != self.cipher.block_size:
            raise ValueError(f"IV of {len(self.iv)} bytes, the cipher's block is {self.cipher.block_size}")
        if len(self.keys.enc_key) != self.cipher.key_size:
            raise ValueError(f"key of {len(self.keys.enc_key)} bytes, the cipher takes {self.cipher.key_size}")
        if len(self.cookie_i) != 8 or len(self.cookie_r) != 8:
            raise ValueError("cookies must be 8 bytes")
        self._exchanges[0] = _Exchange(bytes(self.iv))

    @classmethod
    def for_main_mode(cls, hash_alg: int, cipher: CipherSpec, phase1: Phase1Keys, cookie_i: bytes,
                      cookie_r: bytes, gxi: bytes, gxr: bytes) -> "IkeCrypto":
        """The state right after MM3/MM4: the first IV from both public values."""
        return cls(hash_alg, cipher, phase1, bytes(cookie_i), bytes(cookie_r),
                   ikev1_keys.phase1_iv(hash_alg, gxi, gxr, cipher.block_size))

    # -- Phase 1 boundary -------------------------------------------------------------

    @property
    def phase1_finished(self) -> bool:
        return self._phase1_last is not None

    @property
    def phase1_last_block(self) -> bytes:
        """The last CBC block of Phase 1 that Quick Mode and Informational IVs hash: frozen
        by :meth:`finish_phase1`, until then Main Mode's current chain."""
        if self._phase1_last is not None:
            return self._phase1_last
        return self._exchanges[0].iv if 0 in self._exchanges else bytes(self.iv)

    def finish_phase1(self) -> None:
        """Main Mode is over (MM6 sent or opened): freeze its last block. Later Main Mode
        messages only open if they are retransmissions of ones already opened."""
        if self._phase1_last is None:
            self._phase1_last = self.phase1_last_block

    def forget(self, message_id: int) -> None:
        """Drop an exchange's chain (a Quick Mode done and past retransmissions)."""
        if message_id != 0:
            self._exchanges.pop(message_id, None)

    # -- seal / open ------------------------------------------------------------------

    def seal(self, msg: IsakmpMessage) -> bytes:
        """Encrypt ``msg.payloads`` and encode the message with the E flag set; the
        exchange's chain moves to the last ciphertext block. ``msg`` is not changed.

        ValueError for our own mistakes (no payloads, another SA's cookies, a Main Mode
        message after :meth:`finish_phase1`): the engine never sends those."""
        if not msg.payloads:
            raise ValueError("nothing to encrypt")
        self._check_cookies(msg, ValueError)
        mid = msg.message_id
        if mid == 0 and self.phase1_finished:
            raise ValueError("Main Mode is finished: no new message id 0 message")
        exchange = self._exchange(mid)
        block = self.cipher.block_size
        plain = ike_cipher.pad(encode_payloads(msg.payloads), block)
        body = ike_cipher.encrypt(self.cipher, self.keys.enc_key, exchange.iv, plain)
        exchange.iv = ike_cipher.last_block(body, block)
        self._store(mid, exchange)
        wire = replace(msg, flags=msg.flags | FLAG_ENCRYPTION, payloads=[], encrypted=body,
                       next_payload=msg.payloads[0].type)
        return encode(wire)

    def open(self, msg: IsakmpMessage) -> tuple[list[Payload], bytes]:
        """Decrypt an encrypted decoded message: (payloads, plaintext payload chain).

        Raises IsakmpDecodeError when the message is not encrypted, is not for this SA,
        is not whole cipher blocks, or does not decrypt to a payload chain with at most one
        block of padding; the chain is then left as it was."""
        if not msg.is_encrypted or msg.encrypted is None:
            raise IsakmpDecodeError("message is not encrypted")
        self._check_cookies(msg, IsakmpDecodeError)
        data = bytes(msg.encrypted)
        block = self.cipher.block_size
        if not data or len(data) % block:
            raise IsakmpDecodeError(f"encrypted body of {len(data)} bytes is not whole {block}-byte blocks")
        mid = msg.message_id
        known = self._exchanges.get(mid)
        if known is not None and data in known.seen:       # a retransmission: same IV, chain untouched
            return self._decrypt(msg.next_payload, known.seen[data], data)
        if mid == 0 and self.phase1_finished:
            raise IsakmpDecodeError("Main Mode message after Phase 1 finished (not a retransmission)")
        exchange = known if known is not None else _Exchange(self._first_iv(mid))
        payloads, plain = self._decrypt(msg.next_payload, exchange.iv, data)
        exchange.seen[data] = exchange.iv
        while len(exchange.seen) > MAX_REMEMBERED:
            exchange.seen.popitem(last=False)
        exchange.iv = ike_cipher.last_block(data, block)
        self._store(mid, exchange)
        return payloads, plain

    # -- internals --------------------------------------------------------------------

    def _check_cookies(self, msg: IsakmpMessage, error: type[Exception]) -> None:
        if bytes(msg.icookie) != self.cookie_i or bytes(msg.rcookie) != self.cookie_r:
            raise error("cookies of another ISAKMP SA")

    def _first_iv(self, mid: int) -> bytes:
        if mid == 0:
            return bytes(self.iv)
        return ikev1_keys.phase2_iv(self.hash_alg, self.phase1_last_block, mid, self.cipher.block_size)

    def _exchange(self, mid: int) -> _Exchange:
        found = self._exchanges.get(mid)
        return found if found is not None else _Exchange(self._first_iv(mid))

    def _store(self, mid: int, exchange: _Exchange) -> None:
        self._exchanges[mid] = exchange
        self._exchanges.move_to_end(mid)
        while len(self._exchanges) > MAX_EXCHANGES:
            oldest = next(iter(self._exchanges))
            if oldest == 0:                       # Main Mode's chain is never evicted
                self._exchanges.move_to_end(0)
                oldest = next(iter(self._exchanges))
            del self._exchanges[oldest]

    def _decrypt(self, first: int, iv: bytes, data: bytes) -> tuple[list[Payload], bytes]:
        try:
            plain = ike_cipher.decrypt(self.cipher, self.keys.enc_key, iv, data)
        except ValueError as exc:
            raise IsakmpDecodeError(f"undecryptable: {exc}") from None
        if first == PayloadType.NONE:
            raise IsakmpDecodeError("encrypted message names no first payload")
        payloads, padding = decode_payloads(first, plain)
        if len(padding) > self.cipher.block_size:
            raise IsakmpDecodeError(f"bad padding: {len(padding)} bytes after the last payload, "
                                    f"block is {self.cipher.block_size}")
        return payloads, plain[:len(plain) - len(padding)]
