"""IKEv1 key math with pre-shared keys (RFC 2409 sections 5 and 5.5, appendix B).

Why a module of pure functions: every value here is fixed by the RFC and by what the
two peers saw on the wire, so the state machine to come only gathers inputs (nonce and
SA payload *bodies*, the ``g^xy`` of :mod:`dmvpnlab.ipsec.dh`, cookies, message ids)
and calls these; each formula is tested alone against published vectors (NIST CAVP
SP 800-135 IKEv1 samples) and hand-computed HMACs.

The PRF is HMAC over the negotiated hash (RFC 2409: no PRF attribute means HMAC with
the Hash attribute), identified by :class:`isakmp_const.HashAlgorithm` (MD5, SHA,
SHA2_256/384/512). Notation below as in RFC 2409: ``|`` is concatenation, ``Ni_b`` the
*body* of the nonce payload, ``SAi_b`` the body of the initiator's SA payload, ``IDii_b``
the body of an ID payload, M-ID the 4-byte message id, big-endian.

Functions
    ``prf(alg, key, data)``, ``digest(alg, data)``, ``hash_size(alg)``
    ``skeyid_psk(alg, psk, ni_b, nr_b)``          SKEYID = prf(PSK, Ni_b | Nr_b)
    ``skeyid_dae(alg, skeyid, gxy, cky_i, cky_r)`` -> (SKEYID_d, SKEYID_a, SKEYID_e)
    ``expand_key(alg, skeyid_e, length)``        appendix B: K1 = prf(SKEYID_e, 0x00),
                                                 K2 = prf(SKEYID_e, K1), ... (or the
                                                 leftmost bytes when SKEYID_e suffices)
    ``derive_phase1(alg, psk, ni_b, nr_b, gxy, cky_i, cky_r, key_length) -> Phase1Keys``
    ``hash_i(...)``, ``hash_r(...)``              Main Mode authentication (5.)
    ``phase1_iv(alg, gxi, gxr, block_size)``     hash(g^xi | g^xr), leftmost block
    ``phase2_iv(alg, last_block, message_id, block_size)``  hash(last Phase 1 CBC block | M-ID)
    ``hash1(alg, skeyid_a, message_id, rest)``   Quick Mode HASH(1), and the HASH of a
                                                 protected Informational (5.7)
    ``hash2(alg, skeyid_a, message_id, ni_b, rest)``, ``hash3(alg, skeyid_a, message_id, ni_b, nr_b)``
    ``natd_hash(alg, cky_i, cky_r, address, port)``  RFC 3947 NAT-D: HASH(CKY-I | CKY-R | IP | Port)
    ``keymat(alg, skeyid_d, protocol, spi, ni_b, nr_b, length, gqm_xy=b"")``
        KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
        Kn+1 = prf(SKEYID_d, Kn | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b). Each SA has its
        own: ``spi`` is the SPI of *that* SA, the one its receiver chose. ESP takes its
        encryption key first and its integrity key from the bytes after it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

from dmvpnlab.ipsec.isakmp_const import HashAlgorithm

__all__ = [
    "HASHES", "hash_size", "prf", "digest", "skeyid_psk", "skeyid_dae", "expand_key", "Phase1Keys",
    "derive_phase1", "hash_i", "hash_r", "phase1_iv", "phase2_iv", "hash1", "hash2", "hash3", "natd_hash",
    "keymat",
]

#: IKE hash number -> cryptography hash class.
HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    HashAlgorithm.MD5: hashes.MD5,
    HashAlgorithm.SHA: hashes.SHA1,
    HashAlgorithm.SHA2_256: hashes.SHA256,
    HashAlgorithm.SHA2_384: hashes.SHA384,
    HashAlgorithm.SHA2_512: hashes.SHA512,
}
_MID = struct.Struct("!I")


def _hash_class(alg: int) -> type[hashes.HashAlgorithm]:
    try:
        return HASHES[alg]
    except KeyError:
        raise ValueError(f"hash algorithm {alg} is not supported") from None


def hash_size(alg: int) -> int:
    """Output length of the hash (and so of the PRF) in bytes."""
    return _hash_class(alg).digest_size


def prf(alg: int, key: bytes, data: bytes) -> bytes:
    """HMAC with the negotiated hash: the IKEv1 PRF."""
    mac = hmac.HMAC(bytes(key), _hash_class(alg)())
    mac.update(bytes(data))
    return mac.finalize()


def digest(alg: int, data: bytes) -> bytes:
    """The plain hash (IVs use it, not the PRF)."""
    h = hashes.Hash(_hash_class(alg)())
    h.update(bytes(data))
    return h.finalize()


def skeyid_psk(alg: int, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """SKEYID for pre-shared key authentication: prf(pre-shared-key, Ni_b | Nr_b)."""
    return prf(alg, psk, bytes(ni_b) + bytes(nr_b))


def skeyid_dae(alg: int, skeyid: bytes, gxy: bytes, cky_i: bytes, cky_r: bytes) -> tuple[bytes, bytes, bytes]:
    """SKEYID_d, SKEYID_a, SKEYID_e (RFC 2409 5): each feeds the previous into the next.

    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    """
    tail = bytes(gxy) + bytes(cky_i) + bytes(cky_r)
    d = prf(alg, skeyid, tail + b"\x00")
    a = prf(alg, skeyid, d + tail + b"\x01")
    e = prf(alg, skeyid, a + tail + b"\x02")
    return d, a, e


def expand_key(alg: int, skeyid_e: bytes, length: int) -> bytes:
    """The Phase 1 cipher key of ``length`` bytes from SKEYID_e (RFC 2409 appendix B).

    When SKEYID_e is long enough its leftmost bytes are the key; otherwise (AES-256 under
    SHA-1 or MD5, 3DES under MD5) Ka = K1 | K2 | ..., K1 = prf(SKEYID_e, 0) with 0 a single
    zero octet, Kn+1 = prf(SKEYID_e, Kn).
    """
    if length <= len(skeyid_e):
        return bytes(skeyid_e[:length])
    out = block = prf(alg, skeyid_e, b"\x00")
    while len(out) < length:
        block = prf(alg, skeyid_e, block)
        out += block
    return out[:length]


@dataclass(frozen=True)
class Phase1Keys:
    """Everything RFC 2409 derives once Main Mode messages 3 and 4 are exchanged."""

    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes
    enc_key: bytes


def derive_phase1(alg: int, psk: bytes, ni_b: bytes, nr_b: bytes, gxy: bytes, cky_i: bytes, cky_r: bytes,
                  key_length: int) -> Phase1Keys:
    """SKEYID and its three children, and the cipher key of ``key_length`` bytes."""
    skeyid = skeyid_psk(alg, psk, ni_b, nr_b)
    d, a, e = skeyid_dae(alg, skeyid, gxy, cky_i, cky_r)
    return Phase1Keys(skeyid, d, a, e, expand_key(alg, e, key_length))


def hash_i(alg: int, skeyid: bytes, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes, sai_b: bytes,
           idii_b: bytes) -> bytes:
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b): the initiator's proof."""
    return prf(alg, skeyid, b"".join(map(bytes, (gxi, gxr, cky_i, cky_r, sai_b, idii_b))))


def hash_r(alg: int, skeyid: bytes, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes, sai_b: bytes,
           idir_b: bytes) -> bytes:
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b): the order of the
    public values and cookies swaps; SAi_b stays the *initiator's* SA body."""
    return prf(alg, skeyid, b"".join(map(bytes, (gxr, gxi, cky_r, cky_i, sai_b, idir_b))))


def phase1_iv(alg: int, gxi: bytes, gxr: bytes, block_size: int) -> bytes:
    """IV of the first encrypted Main Mode message: hash(g^xi | g^xr), leftmost block;
    later Main Mode messages chain from the previous message's last ciphertext block."""
    return digest(alg, bytes(gxi) + bytes(gxr))[:block_size]


def phase2_iv(alg: int, last_block: bytes, message_id: int, block_size: int) -> bytes:
    """IV of the first message of a Quick Mode or Informational exchange:
    hash(last CBC block of the last Phase 1 message | M-ID), leftmost block."""
    return digest(alg, bytes(last_block) + _MID.pack(message_id))[:block_size]


def hash1(alg: int, skeyid_a: bytes, message_id: int, rest: bytes) -> bytes:
    """Quick Mode HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] [| IDci | IDcr]), where
    ``rest`` is the message's payloads after the HASH payload, generic headers included.
    Also the HASH of a protected Informational: prf(SKEYID_a, M-ID | N/D)."""
    return prf(alg, skeyid_a, _MID.pack(message_id) + bytes(rest))


def hash2(alg: int, skeyid_a: bytes, message_id: int, ni_b: bytes, rest: bytes) -> bytes:
    """Quick Mode HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] [| IDci | IDcr]):
    the responder proves it saw the initiator's nonce."""
    return prf(alg, skeyid_a, _MID.pack(message_id) + bytes(ni_b) + bytes(rest))


def hash3(alg: int, skeyid_a: bytes, message_id: int, ni_b: bytes, nr_b: bytes) -> bytes:
    """Quick Mode HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b), 0 a single zero octet."""
    return prf(alg, skeyid_a, b"\x00" + _MID.pack(message_id) + bytes(ni_b) + bytes(nr_b))


def natd_hash(alg: int, cky_i: bytes, cky_r: bytes, address: bytes, port: int) -> bytes:
    """RFC 3947 NAT-D = HASH(CKY-I | CKY-R | IP | Port) with the negotiated (plain) hash;
    ``address`` packed (4 bytes for IPv4). The first NAT-D a peer sends hashes the
    destination of the datagram, the rest its own source(s): unequal means a NAT."""
    return digest(alg, bytes(cky_i) + bytes(cky_r) + bytes(address) + struct.pack("!H", port))


def keymat(alg: int, skeyid_d: bytes, protocol: int, spi: bytes, ni_b: bytes, nr_b: bytes, length: int,
           gqm_xy: bytes = b"") -> bytes:
    """KEYMAT of ``length`` bytes for one IPsec SA (RFC 2409 5.5); ``gqm_xy`` is the Quick
    Mode Diffie-Hellman secret when PFS is on, empty otherwise."""
    seed = bytes(gqm_xy) + bytes([protocol]) + bytes(spi) + bytes(ni_b) + bytes(nr_b)
    out = block = prf(alg, skeyid_d, seed)
    while len(out) < length:
        block = prf(alg, skeyid_d, block + seed)
        out += block
    return out[:length]
