"""The per-packet cryptography of ESP, built once per SA from `cryptography` and `hmac`.

Everything here exists to make the per-packet cost small without hand-rolling anything
below the primitives:

- CBC (AES, 3DES): creating a `Cipher(...).encryptor()` costs more than encrypting a
  1400-byte packet, so each SA keeps ONE encryptor and ONE decryptor for its lifetime
  and runs every packet through them. That is sound because of how CBC chains:
  * decrypting: plaintext block i depends only on ciphertext blocks i-1 and i, so
    feeding `IV | ciphertext` to a long-lived decryptor yields one junk block (the IV
    decrypted against whatever came before) followed by exactly the plaintext;
  * encrypting: feeding a fresh random block R before the plaintext makes the context
    emit C0 = E(R xor S) (S: the context's last ciphertext block) and then the CBC
    encryption of the plaintext under IV = C0. C0 is a uniformly random block to
    anyone without the key, which is what RFC 3602 section 2.3 (and RFC 4303) ask of a
    CBC IV; it is sent as the packet's IV. Tests inject an exact IV instead: R is then
    D(IV) xor S, computed with an ECB decryptor, and the context emits exactly that IV.
  The contexts only ever see whole blocks (the SA checks lengths first), so no partial
  block is ever buffered between packets.
- AES-GCM (RFC 4106): one `AESGCM` object per SA; the nonce is the 4-byte salt and the
  8-byte explicit IV.
- HMAC: one keyed `cryptography` HMAC per SA, copied per packet (the key's inner and
  outer pads are hashed once, not per packet); truncated to the ICV size.
- Randomness: the random block R comes from a pool refilled 4 KB at a time from
  os.urandom, one system call per 256 AES packets instead of one per packet.

Imports esp_transforms only.
"""

from __future__ import annotations

import os
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC

from dmvpnlab.ipsec.esp_transforms import EncryptionAlgorithm, IntegrityAlgorithm, TransformError

try:  # cryptography >= 43 keeps 3DES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    TripleDES = algorithms.TripleDES  # type: ignore[assignment,misc]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
#: Bytes of randomness fetched from the random source at once (see CbcEngine.encrypt).
RANDOM_POOL = 4096

#: Returns `n` random bytes (os.urandom); tests pass a deterministic one.
RandomSource = Callable[[int], bytes]
#: Returns the next packet's IV (tests, known-answer vectors).
IvSource = Callable[[], bytes]


def _block_cipher(algorithm: EncryptionAlgorithm, key: bytes) -> algorithms.AES | TripleDES:
    if len(key) != algorithm.key_size:
        raise TransformError(f"{algorithm.ios_name} {algorithm.key_bits}: key must be "
                             f"{algorithm.key_size} bytes, got {len(key)}")
    if algorithm.block_size == 16:
        return algorithms.AES(key)
    return TripleDES(key)


class CbcEngine:
    """CBC encryption and decryption through long-lived contexts (see the module doc)."""

    __slots__ = ("block", "_encryptor", "_decryptor", "_random", "_iv_source", "_last", "_ecb", "_pool", "_at")

    def __init__(self, algorithm: EncryptionAlgorithm, key: bytes, *,
                 random: RandomSource = os.urandom, iv_source: IvSource | None = None) -> None:
        cipher = _block_cipher(algorithm, key)
        self.block = algorithm.block_size
        start = bytes(self.block)
        self._encryptor: CipherContext = Cipher(cipher, modes.CBC(start)).encryptor()
        self._decryptor: CipherContext = Cipher(cipher, modes.CBC(start)).decryptor()
        self._random = random
        self._pool = b""
        self._at = 0
        self._iv_source = iv_source
        self._last = start  # the encryptor's chaining block; tracked only for iv_source
        self._ecb: CipherContext | None = (Cipher(cipher, modes.ECB()).decryptor()
                                           if iv_source is not None else None)

    def encrypt(self, payload: bytes, trailer: bytes) -> bytes:
        """IV | ciphertext of `payload | trailer` (together a whole number of blocks)."""
        if self._iv_source is not None:
            return self._encrypt_with_iv(payload + trailer)
        at, block = self._at, self.block
        if at + block > len(self._pool):
            self._pool, at = self._random(RANDOM_POOL), 0
        self._at = at + block
        return self._encryptor.update(b"".join((self._pool[at:at + block], payload, trailer)))

    def _encrypt_with_iv(self, plain: bytes) -> bytes:
        iv = self._iv_source()  # type: ignore[misc]
        if len(iv) != self.block:
            raise TransformError(f"IV must be {self.block} bytes, got {len(iv)}")
        wanted = self._ecb.update(iv)  # type: ignore[union-attr]
        first = (int.from_bytes(wanted, "big") ^ int.from_bytes(self._last, "big")).to_bytes(self.block, "big")
        out = self._encryptor.update(first + plain)
        self._last = out[-self.block:]
        return out

    def decrypt(self, iv_and_ciphertext: bytes | memoryview) -> bytes:
        """The plaintext of `IV | ciphertext` (a whole number of blocks, at least two)."""
        return self._decryptor.update(iv_and_ciphertext)[self.block:]


class Hmac:
    """The truncated HMAC ICV of one SA (RFC 2104 via `cryptography`).

    The keyed context is built once (the key's inner and outer pads hashed once) and
    copied per packet; `cryptography`'s copy is several times cheaper than the standard
    library's `hmac` copy, which is most of an HMAC's fixed cost on a 1400-byte packet.
    `icv_of(head, body)` hashes two pieces without joining them first: `seal` has the
    header and the ciphertext apart and need not copy them into one buffer."""

    __slots__ = ("_keyed", "size")

    def __init__(self, integrity: IntegrityAlgorithm, key: bytes) -> None:
        if len(key) != integrity.key_size:
            raise TransformError(f"{integrity.ios_name}: key must be {integrity.key_size} bytes, got {len(key)}")
        self._keyed = HMAC(key, _HASHES[integrity.digest]())
        self.size = integrity.icv_size

    def icv(self, data: bytes | memoryview) -> bytes:
        h = self._keyed.copy()
        h.update(data)
        return h.finalize()[:self.size]

    def icv_of(self, head: bytes, body: bytes) -> bytes:
        h = self._keyed.copy()
        h.update(head)
        h.update(body)
        return h.finalize()[:self.size]
