"""ESP security associations (RFC 4303), sans I/O: seal outgoing payloads, open incoming packets.

An SA is one direction of one IPsec flow with one SPI, so IKE makes two per peer: an
`OutboundSa` (our keys for sending, the SPI the peer chose) and an `InboundSa` (the peer's
keys, the SPI we chose). Neither touches a socket or builds an IP header:

- `OutboundSa.seal(payload, next_header)` returns the ESP packet (SPI | sequence number |
  IV | ciphertext | ICV) that the caller sends as the payload of an IPv4 packet of
  protocol 50 from our NBMA address to the peer's (a raw socket adds the header).
- `InboundSa.open(esp)` takes the bytes after the IPv4 header of a protocol-50 packet
  and returns `Opened(payload, next_header, seq)`, or raises `EspError` whose `reason`
  names the counter it incremented. It raises nothing else, whatever the input.

What `next_header` and the payload are depends on the mode, which the SA records but
does not enforce (the caller knows what it expects):
- transport mode (DMVPN's `mode transport`): the payload is the GRE header and what it
  carries, next header 47. The outer IP header is the NBMA one.
- tunnel mode: the payload is a whole inner IPv4 packet, next header 4. The caller
  builds the outer IP header (NBMA to NBMA) and routes the inner packet after `open`.
- next header 59 is a dummy packet (RFC 4303 2.6): authentic but to be dropped; `open`
  returns it (the window has moved, as it must for an authentic packet) and the caller
  drops it.

Per packet: sequence numbers start at 1 and never wrap (the sender refuses to send past
2^32-1 with `SequenceOverflow`, so IKE rekeys); padding makes payload|padding|trailer a
multiple of the cipher block and of 4 bytes, padding bytes 1, 2, 3, ... (RFC 4303 2.4),
checked on open; CBC IVs are random (see esp_crypto); GCM explicit IVs are the 64-bit
sequence number (RFC 4106 3.1 requires uniqueness, and random 8-byte IVs would likely
repeat within 2^32 packets); the ICV covers SPI | seq | IV | ciphertext (for GCM: AAD =
SPI | seq) and is compared in constant time; the 64-packet anti-replay window (on SAs
with an ICV) is checked before the ICV and moved only after it verified (esp_replay).

Lifetimes: seconds and kilobytes of payload, soft and hard (IOS defaults 3600 s and
4,608,000 KB; soft at 90%, where IOS starts rekeying). `needs_rekey` turns true at the
soft limit (or at 90% of the sequence space), `expired` at the hard one, after which
`seal` raises `SaExpired` and `open` refuses with reason "expired".

Counters are named as `show crypto ipsec sa [detail]` names them (`counters`).
Imports esp_transforms, esp_crypto and esp_replay; no I/O.
"""

from __future__ import annotations

import hmac
import os
import struct
import time
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Literal, NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dmvpnlab.ipsec.esp_crypto import CbcEngine, Hmac, IvSource, RandomSource
from dmvpnlab.ipsec.esp_replay import DEFAULT_WINDOW, ReplayWindow
from dmvpnlab.ipsec.esp_transforms import EspTransform, TransformError, parse_transform

PROTO_IPV4 = 4
PROTO_GRE = 47
NO_NEXT_HEADER = 59  # a dummy packet (RFC 4303 2.6)
MAX_SEQ = 0xFFFFFFFF

#: Every reason `open` refuses a packet for; each is also an `EspCounters` field.
REASONS = ("invalid_len", "invalid_sa", "expired", "replay_failed", "verify_failed", "bad_padding")

_HEADER = struct.Struct("!II")  # SPI, sequence number
_HEADER_SEQ_IV = struct.Struct("!IIQ")  # SPI, sequence number, GCM explicit IV = sequence number
_PADS = tuple(bytes(range(1, n + 1)) for n in range(256))  # RFC 4303 2.4 default padding

Mode = Literal["transport", "tunnel"]
SaState = Literal["active", "rekey", "expired"]


class EspError(Exception):
    """A packet refused by `open` (or a packet `seal` may not send). `reason` is one of
    REASONS (or "replay_rollover" / "expired" from seal) and the counter it incremented;
    `detail` says more for logs and `debug crypto ipsec`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SequenceOverflow(EspError):
    """The outbound SA sent sequence number 2^32-1: it may send no more (RFC 4303 3.3.3)."""


class SaExpired(EspError):
    """The SA's hard lifetime (seconds or kilobytes) has passed."""


@dataclass(frozen=True)
class Lifetime:
    """`set security-association lifetime seconds|kilobytes` (IOS defaults)."""

    seconds: float = 3600
    kilobytes: int = 4_608_000
    soft_fraction: float = 0.9


@dataclass(frozen=True)
class EspCounters:
    """One SA's counters, with the names `show crypto ipsec sa detail` uses."""

    pkts_encaps: int = 0
    pkts_encrypt: int = 0
    pkts_digest: int = 0
    pkts_decaps: int = 0
    pkts_decrypt: int = 0
    pkts_verify: int = 0
    bytes: int = 0  # payload bytes through the SA (what the kilobyte lifetime counts)
    invalid_len: int = 0  # "#pkts invalid len (rcv)": truncated, not whole blocks
    invalid_sa: int = 0  # "#pkts invalid sa (rcv)": not this SA's SPI
    expired: int = 0
    replay_failed: int = 0  # "#pkts replay failed (rcv)": duplicate or left of the window
    verify_failed: int = 0  # "#pkts verify failed": ICV (or GCM tag) mismatch
    bad_padding: int = 0  # "#pkts decaps failed (rcv)" in IOS: pad length or contents wrong
    replay_rollover: int = 0  # "#pkts replay rollover (send)": refused to wrap

    @property
    def recv_errors(self) -> int:
        return sum(getattr(self, r) for r in REASONS)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Opened(NamedTuple):
    """What `InboundSa.open` gives back."""

    payload: bytes
    next_header: int
    seq: int


class Seal(Protocol):
    """`OutboundSa.seal`: one payload in, one ESP packet out."""

    def __call__(self, payload: bytes, next_header: int = PROTO_GRE) -> bytes: ...


@lru_cache(maxsize=4096)
def _trailer(pad_len: int, next_header: int) -> bytes:
    return _PADS[pad_len] + bytes((pad_len, next_header))


class _Sa:
    """What both directions share: transform, SPI, keys, lifetimes, counts."""

    direction = ""

    def __init__(self, transform: EspTransform | str, spi: int, keymat: bytes, *,
                 mode: Mode = "transport", lifetime: Lifetime = Lifetime(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transform = transform if isinstance(transform, EspTransform) else parse_transform(transform)
        if not 256 <= spi <= MAX_SEQ:  # 0 is local, 1-255 reserved (RFC 4303 2.1)
            raise ValueError(f"SPI must be 256..{MAX_SEQ}, got {spi}")
        if mode not in ("transport", "tunnel"):
            raise ValueError(f"mode must be transport or tunnel, got {mode!r}")
        self.spi = spi
        self.mode = mode
        self.lifetime = lifetime
        self._clock = clock
        enc_key, auth_key = self.transform.split_keymat(keymat)
        enc = self.transform.encryption
        self._mac = Hmac(self.transform.integrity, auth_key) if self.transform.integrity else None
        self._aead: AESGCM | None = None
        self._salt = b""
        if enc.mode == "gcm":  # split_keymat checked the length: key, then salt
            self._aead = AESGCM(enc_key[:enc.key_size])
            self._salt = enc_key[enc.key_size:]
        self._enc_key = enc_key
        self.icv_size = self.transform.icv_size
        self.iv_size = enc.iv_size
        self.align = enc.align
        self.created = clock()
        soft = lifetime.soft_fraction
        self._hard_time = self.created + lifetime.seconds
        self._soft_time = self.created + lifetime.seconds * soft
        self._hard_bytes = lifetime.kilobytes * 1024
        self._soft_bytes = int(self._hard_bytes * soft)
        self._soft_seq = int(MAX_SEQ * soft)
        # `on_soft` is told once, from the data path, when the kilobytes cross the soft
        # limit: at 100+ Mbit/s the gap to the hard limit (10 % of 2560 KB) passes in
        # milliseconds, sooner than any periodic check would notice.
        self.on_soft: Callable[[], None] | None = None
        self._notify_bytes = self._soft_bytes
        self._pkts = 0
        self._bytes = 0
        self._errors: Counter[str] = Counter()

    # -- lifetime --------------------------------------------------------------------

    def _hard_expired(self) -> bool:
        return self._bytes >= self._hard_bytes or self._clock() >= self._hard_time

    @property
    def expired(self) -> bool:
        """Past the hard lifetime: the SA carries nothing more; IKE deletes it."""
        return self._hard_expired()

    @property
    def needs_rekey(self) -> bool:
        """Past the soft lifetime (or near the end of the sequence space): time for IKE
        to negotiate the next SA while this one still carries traffic."""
        return (self._bytes >= self._soft_bytes or self._clock() >= self._soft_time
                or self._last_seq() >= self._soft_seq)

    @property
    def state(self) -> SaState:
        if self.expired:
            return "expired"
        return "rekey" if self.needs_rekey else "active"

    def remaining(self) -> tuple[int, int]:
        """(kilobytes, seconds) left before the hard lifetime, as `sa timing: remaining
        key lifetime (k/sec)` shows them."""
        kb = max(0, (self._hard_bytes - self._bytes) // 1024)
        return kb, max(0, int(self._hard_time - self._clock()))

    def _last_seq(self) -> int:
        raise NotImplementedError

    def _soft_crossed(self) -> None:
        """The payload bytes just reached the soft limit: tell `on_soft`, once."""
        self._notify_bytes = 1 << 62
        if self.on_soft is not None:
            self.on_soft()

    # -- counters --------------------------------------------------------------------

    @property
    def counters(self) -> EspCounters:
        enc = self.transform.encryption.mode != "null"
        digest = self.icv_size > 0
        n = self._pkts
        if self.direction == "out":
            moved = dict(pkts_encaps=n, pkts_encrypt=n if enc else 0, pkts_digest=n if digest else 0)
        else:
            moved = dict(pkts_decaps=n, pkts_decrypt=n if enc else 0, pkts_verify=n if digest else 0)
        return EspCounters(**moved, bytes=self._bytes, **self._errors)

    def _refuse(self, reason: str, detail: str = "", kind: type[EspError] = EspError) -> EspError:
        self._errors[reason] += 1
        return kind(reason, detail)

    def __repr__(self) -> str:  # never the keys
        return (f"{type(self).__name__}(spi=0x{self.spi:08x}, {self.transform.ios_words!r}, "
                f"{self.mode}, {self.state})")


class OutboundSa(_Sa):
    """The sending half: `seal(payload, next_header)` -> one ESP packet."""

    direction = "out"

    def __init__(self, transform: EspTransform | str, spi: int, keymat: bytes, *,
                 mode: Mode = "transport", lifetime: Lifetime = Lifetime(),
                 clock: Callable[[], float] = time.monotonic,
                 random: RandomSource = os.urandom, iv_source: IvSource | None = None) -> None:
        """`random` supplies CBC IV randomness; `iv_source` instead fixes each packet's IV
        (known-answer tests). Both are for tests: the defaults are what runs."""
        super().__init__(transform, spi, keymat, mode=mode, lifetime=lifetime, clock=clock)
        self.seq = 0  # the last sequence number sent
        self._iv_source = iv_source
        enc = self.transform.encryption
        self._cbc = CbcEngine(enc, self._enc_key, random=random, iv_source=iv_source) if enc.mode == "cbc" else None
        # Bound once to the cipher mode's implementation: no per-packet dispatch.
        self.seal: Seal = {"cbc": self._seal_cbc, "gcm": self._seal_gcm, "null": self._seal_null}[enc.mode]

    def _last_seq(self) -> int:
        return self.seq

    def _next_seq(self, size: int) -> int:
        """The next sequence number, or the typed refusal; counts the packet."""
        if self._bytes >= self._hard_bytes or self._clock() >= self._hard_time:
            raise self._refuse("expired", f"SA 0x{self.spi:08x} past its hard lifetime", SaExpired)
        seq = self.seq + 1
        if seq > MAX_SEQ:
            raise self._refuse("replay_rollover", f"SA 0x{self.spi:08x} sent sequence number {MAX_SEQ}",
                               SequenceOverflow)
        self.seq = seq
        self._pkts += 1
        self._bytes += size
        if self._bytes >= self._notify_bytes:
            self._soft_crossed()
        return seq

    def _seal_cbc(self, payload: bytes, next_header: int = PROTO_GRE) -> bytes:
        seq = self._next_seq(len(payload))
        head = _HEADER.pack(self.spi, seq)
        body = self._cbc.encrypt(payload, _trailer(-(len(payload) + 2) % self.align, next_header))  # type: ignore[union-attr]
        mac = self._mac
        return b"".join((head, body, mac.icv_of(head, body))) if mac is not None else head + body

    def _seal_gcm(self, payload: bytes, next_header: int = PROTO_GRE) -> bytes:
        seq = self._next_seq(len(payload))
        pad = -(len(payload) + 2) % 4
        if self._iv_source is None:
            head = _HEADER_SEQ_IV.pack(self.spi, seq, seq)
        else:
            iv = self._iv_source()
            if len(iv) != 8:
                raise TransformError(f"GCM IV must be 8 bytes, got {len(iv)}")
            head = _HEADER.pack(self.spi, seq) + iv
        sealed = self._aead.encrypt(self._salt + head[8:], payload + _trailer(pad, next_header), head[:8])  # type: ignore[union-attr]
        return head + sealed

    def _seal_null(self, payload: bytes, next_header: int = PROTO_GRE) -> bytes:
        seq = self._next_seq(len(payload))
        pad = -(len(payload) + 2) % 4
        head = _HEADER.pack(self.spi, seq)
        body = payload + _trailer(pad, next_header)
        mac = self._mac
        return b"".join((head, body, mac.icv_of(head, body))) if mac is not None else head + body


class InboundSa(_Sa):
    """The receiving half: `open(esp)` -> `Opened`, or `EspError` (counted)."""

    direction = "in"

    def __init__(self, transform: EspTransform | str, spi: int, keymat: bytes, *,
                 mode: Mode = "transport", lifetime: Lifetime = Lifetime(),
                 clock: Callable[[], float] = time.monotonic,
                 replay_window: int | None = DEFAULT_WINDOW) -> None:
        """`replay_window=None` turns anti-replay off (`set security-association replay
        disable`); otherwise it is the window size (IOS default 64).

        Without an ICV (`esp-aes` alone) there is no anti-replay either, whatever is
        asked: RFC 4303 3.4.3 makes it depend on integrity, because an unauthenticated
        sequence number can be anything. One corrupted on the way would slide the window
        ahead and make every genuine packet after it "too old" (the fuzz target found
        exactly that). IOS shows such an SA with "replay detection support: N"."""
        super().__init__(transform, spi, keymat, mode=mode, lifetime=lifetime, clock=clock)
        if not self.transform.authenticated:
            replay_window = None
        self.window = ReplayWindow(replay_window) if replay_window is not None else None
        enc = self.transform.encryption
        self._cbc = CbcEngine(enc, self._enc_key) if enc.mode == "cbc" else None
        self._block = enc.block_size
        # Shortest packet that can be well formed: header, IV, the 2-byte trailer (a
        # whole block for CBC), ICV.
        self._min_len = 8 + enc.iv_size + (enc.block_size if enc.mode == "cbc" else 2) + self.icv_size
        self._decrypt: Callable[[bytes, int], bytes] = {
            "cbc": self._decrypt_cbc, "gcm": self._decrypt_gcm, "null": self._decrypt_null}[enc.mode]

    @property
    def replay_detection(self) -> bool:
        """`replay detection support: Y|N` of `show crypto ipsec sa`."""
        return self.window is not None

    def _last_seq(self) -> int:
        return self.window.top if self.window is not None else 0

    def open(self, packet: bytes) -> Opened:
        """Verify and decrypt one ESP packet (the bytes after the outer IP header)."""
        n = len(packet)
        if n < self._min_len:
            raise self._refuse("invalid_len", f"{n} bytes, at least {self._min_len} needed")
        spi, seq = _HEADER.unpack_from(packet)
        if spi != self.spi:
            raise self._refuse("invalid_sa", f"SPI 0x{spi:08x}, this SA is 0x{self.spi:08x}")
        if self._bytes >= self._hard_bytes or self._clock() >= self._hard_time:
            raise self._refuse("expired", f"SA 0x{self.spi:08x} past its hard lifetime")
        window = self.window
        if window is not None:
            verdict = window.check(seq)
            if verdict is not None:
                raise self._refuse("replay_failed", f"seq {seq} {verdict} (window {window.lowest}..{window.top})")
        plain = self._decrypt(packet, n)
        pad = plain[-2]
        end = len(plain) - 2 - pad
        if end < 0 or plain[end:-2] != _PADS[pad]:
            raise self._refuse("bad_padding", f"pad length {pad} of {len(plain) - 2} bytes, or pad bytes not 1, 2, 3...")
        if window is not None:
            window.accept(seq)
        self._pkts += 1
        self._bytes += end
        if self._bytes >= self._notify_bytes:
            self._soft_crossed()
        return Opened(plain[:end], plain[-1], seq)

    def _verify(self, packet: bytes, icv_at: int) -> None:
        mac = self._mac
        if mac is not None and not hmac.compare_digest(mac.icv(memoryview(packet)[:icv_at]), packet[icv_at:]):
            raise self._refuse("verify_failed", f"ICV mismatch (seq {_HEADER.unpack_from(packet)[1]})")

    def _decrypt_cbc(self, packet: bytes, n: int) -> bytes:
        icv_at = n - self.icv_size
        if (icv_at - 8) % self._block:
            raise self._refuse("invalid_len", f"IV and ciphertext {icv_at - 8} bytes, not whole {self._block}-byte blocks")
        self._verify(packet, icv_at)
        return self._cbc.decrypt(memoryview(packet)[8:icv_at])  # type: ignore[union-attr]

    def _decrypt_gcm(self, packet: bytes, n: int) -> bytes:
        try:
            return self._aead.decrypt(self._salt + packet[8:16], packet[16:], packet[:8])  # type: ignore[union-attr]
        except InvalidTag:
            raise self._refuse("verify_failed", f"GCM tag mismatch (seq {_HEADER.unpack_from(packet)[1]})") from None

    def _decrypt_null(self, packet: bytes, n: int) -> bytes:
        icv_at = n - self.icv_size
        self._verify(packet, icv_at)
        return packet[8:icv_at]
