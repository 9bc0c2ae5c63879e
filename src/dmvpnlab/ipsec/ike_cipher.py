"""The CBC ciphers that protect IKEv1 messages after Main Mode message 4.

Why separate from the key math: the state machine needs three things per negotiated
Encryption Algorithm -- key length, block size (the IV length of RFC 2409's IV rules),
and CBC without any padding of the library's own, because ISAKMP pads inside the
plaintext and its length field covers the padding. A peer's padding is never
interpreted (:func:`dmvpnlab.ipsec.isakmp.decode_payloads` returns it raw); ours is
the RFC 2409 convention: zero bytes, the last one counting the zeros before it, so there
is always padding. IOS seems to pad always as well: in the capture its MM6 (ID + a
SHA-1 HASH, 36 bytes) arrives as 48 bytes and its MM5 (64 bytes with INITIAL-CONTACT) as 80.

``cipher_spec(encr, key_length_bits=None) -> CipherSpec`` (ValueError when we do not
offer it); ``encrypt(spec, key, iv, plaintext)`` / ``decrypt(spec, key, iv, data)`` for
whole blocks (ValueError otherwise: a ciphertext that is not whole blocks is a peer's
error to report, not a crash); ``pad(plaintext, block_size)``; ``last_block(data,
block_size)``: the IV for the next message of the same exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dmvpnlab.ipsec.isakmp_const import EncryptionAlgorithm

__all__ = ["CipherSpec", "cipher_spec", "encrypt", "decrypt", "pad", "last_block"]


@dataclass(frozen=True)
class CipherSpec:
    """A negotiated Phase 1 cipher: IKE number, key and block sizes in bytes."""

    encr: int
    key_size: int
    block_size: int


def cipher_spec(encr: int, key_length_bits: int | None = None) -> CipherSpec:
    """The spec of IKE Encryption Algorithm ``encr``; AES needs the Key Length attribute
    (128, 192 or 256; IOS always sends it), DES and 3DES have fixed keys."""
    if encr == EncryptionAlgorithm.AES_CBC:
        if key_length_bits not in (128, 192, 256):
            raise ValueError(f"AES key length {key_length_bits} is not 128, 192 or 256")
        return CipherSpec(encr, key_length_bits // 8, 16)
    if key_length_bits is not None:
        raise ValueError(f"encryption algorithm {encr} takes no Key Length attribute")
    if encr == EncryptionAlgorithm.TRIPLE_DES_CBC:
        return CipherSpec(encr, 24, 8)
    if encr == EncryptionAlgorithm.DES_CBC:
        return CipherSpec(encr, 8, 8)
    raise ValueError(f"encryption algorithm {encr} is not supported")


def _cipher(spec: CipherSpec, key: bytes, iv: bytes) -> Cipher:
    if len(key) != spec.key_size or len(iv) != spec.block_size:
        raise ValueError(f"key/IV of {len(key)}/{len(iv)} bytes, need {spec.key_size}/{spec.block_size}")
    if spec.encr == EncryptionAlgorithm.AES_CBC:
        return Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(iv)))
    # DES is 3DES with one key three times (EDE collapses to a single DES).
    return Cipher(TripleDES(bytes(key) * (24 // len(key))), modes.CBC(bytes(iv)))


def encrypt(spec: CipherSpec, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """CBC-encrypt whole blocks (pad first with :func:`pad`)."""
    if len(plaintext) % spec.block_size:
        raise ValueError(f"plaintext of {len(plaintext)} bytes is not whole {spec.block_size}-byte blocks")
    enc = _cipher(spec, key, iv).encryptor()
    return enc.update(bytes(plaintext)) + enc.finalize()


def decrypt(spec: CipherSpec, key: bytes, iv: bytes, data: bytes) -> bytes:
    """CBC-decrypt whole blocks; the result still carries the sender's padding."""
    if len(data) % spec.block_size or not data:
        raise ValueError(f"ciphertext of {len(data)} bytes is not whole {spec.block_size}-byte blocks")
    dec = _cipher(spec, key, iv).decryptor()
    return dec.update(bytes(data)) + dec.finalize()


def pad(plaintext: bytes, block_size: int) -> bytes:
    """RFC 2409 padding: 1..block_size bytes, zeros then the count of those zeros."""
    count = block_size - len(plaintext) % block_size
    return bytes(plaintext) + bytes(count - 1) + bytes([count - 1])


def last_block(data: bytes, block_size: int) -> bytes:
    """The last ciphertext block: the next CBC IV within the same exchange."""
    if len(data) < block_size:
        raise ValueError("no whole block")
    return bytes(data[-block_size:])
