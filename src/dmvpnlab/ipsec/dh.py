"""Diffie-Hellman groups as IOS offers them: MODP 1, 2, 5, 14, 15, 16, 24 and ECP 19, 20.

Why this module: IKE moves public values and shared secrets as fixed-length octet
strings, and the SKEYID math hashes them, so a leading zero byte dropped by a bignum
conversion breaks authentication about once in 256 exchanges. Here every public value
and every ``g^xy`` has the group's full length: the prime's length for MODP (RFC 2409
section 5, RFC 3526), x | y of the curve's field size for ECP (RFC 5903 section 7:
no 0x04 prefix), and the ECP shared secret is the x coordinate only (RFC 5903 7).

The arithmetic is OpenSSL's through ``cryptography`` (``dh`` with the group's own
parameters, ``ec`` for the NIST curves), so private exponents never touch Python ints
on the hot path. ``cryptography`` marks finite-field DH deprecated; should a release
drop it, MODP falls back to Python's ``pow`` (the same numbers, slower, not constant
time) instead of leaving IOS's default groups unusable -- a test runs both and checks
they agree.

Public API: ``group(number) -> DhGroup`` (ValueError for a group we do not offer),
``GROUPS``; ``DhGroup.generate() -> DhKeyPair``, ``DhGroup.from_private(int)``
(test vectors), ``DhKeyPair.public`` (bytes, full length),
``DhKeyPair.shared_secret(peer_public) -> bytes`` (ValueError for a peer value of the
wrong length or outside the group: a hostile KE payload must not reach the math).

Where the numbers come from: groups 1 and 2 are RFC 2409 section 6.1/6.2, 5/14/15/16
RFC 3526, all 2^N - 2^(N-64) - 1 + 2^64 * (floor(2^(N-130) pi) + k) with generator 2,
built here from one table of pi's bits and each RFC's N and k (the unit test computes pi
itself, compares, and checks each prime is a safe prime), group 24 is RFC 5114
section 2.3 (p, g and the 256-bit subgroup order q; the test checks q | p - 1 and
g^q = 1), 19/20 are NIST P-256/P-384 (RFC 5903).
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass, field
from typing import Any

from dmvpnlab.ipsec.isakmp_const import GroupDescription

try:  # finite-field DH is deprecated in cryptography; see the module docstring
    from cryptography.hazmat.primitives.asymmetric import dh as _ffdh
except ImportError:  # pragma: no cover - exercised by the fallback test through monkeypatch
    _ffdh = None
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["DhGroup", "DhKeyPair", "GROUPS", "group"]


def _hex(*lines: str) -> int:
    return int("".join(lines), 16)


#: floor(pi * 2^3966): the digits of pi every RFC 2409 / RFC 3526 prime is built from.
_PI_3966 = _hex(
    "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
    "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5"
    "AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A"
    "69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E8603"
    "9B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE5"
    "15D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D7"
    "1E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64"
    "521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB31"
    "43DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D788719A10BDBA5B26"
    "99C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF9"
    "2E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED"
    "1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA993B4EA988D8FDDC1"
    "86FFB7DC90A6C08F4DF435C934028492"
)


def _rfc_modp(bits: int, k: int) -> int:
    """The RFC 2409 / 3526 prime of ``bits`` bits with offset ``k``:
    2^N - 2^(N-64) - 1 + 2^64 * (floor(2^(N-130) pi) + k)."""
    return 2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * ((_PI_3966 >> (4096 - bits)) + k)


_RFC5114_P = _hex(
    "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00"
    "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C"
    "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
    "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76"
    "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
    "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
    "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103"
    "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"
)
_RFC5114_G = _hex(
    "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125"
    "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62"
    "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B"
    "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193"
    "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A"
    "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915"
    "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3"
    "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"
)
_RFC5114_Q = _hex(
    "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"
)


@dataclass(frozen=True)
class DhGroup:
    """One Diffie-Hellman group; ``size`` is the length of its public value in bytes."""

    number: int
    name: str
    size: int
    p: int = 0                      # MODP prime (0 for ECP)
    g: int = 0                      # MODP generator
    q: int | None = None            # MODP subgroup order, when the group has one (24)
    curve: ec.EllipticCurve | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_ecp(self) -> bool:
        return self.curve is not None

    @property
    def secret_size(self) -> int:
        """Length of g^xy: the prime's length (MODP) or one coordinate (ECP)."""
        return self.size // 2 if self.is_ecp else self.size

    def generate(self) -> "DhKeyPair":
        """A fresh key pair (the private part from the OS CSPRNG)."""
        if self.curve is not None:
            return DhKeyPair(self, ec.generate_private_key(self.curve))
        params = self._ffdh_parameters() if self.number not in _CHECKED_EACH_TIME else None
        if params is None:
            bound = self.q if self.q else self.p - 2
            return self.from_private(secrets.randbelow(bound - 2) + 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DhKeyPair(self, params.generate_private_key())

    def from_private(self, x: int) -> "DhKeyPair":
        """The key pair of a given private value (test vectors, replaying a capture)."""
        if self.curve is not None:
            return DhKeyPair(self, ec.derive_private_key(x, self.curve))
        if not 1 < x < self.p - 1:
            raise ValueError(f"group {self.number}: private value out of range")
        params = self._ffdh_parameters() if self.number not in _CHECKED_EACH_TIME else None
        if params is None:
            return DhKeyPair(self, x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            numbers = params.parameter_numbers()
            public = _ffdh.DHPublicNumbers(pow(self.g, x, self.p), numbers)
            return DhKeyPair(self, _ffdh.DHPrivateNumbers(x, public).private_key())

    def check_public(self, value: bytes) -> None:
        """ValueError unless ``value`` is a full-length public value of this group."""
        if len(value) != self.size:
            raise ValueError(f"group {self.number}: public value of {len(value)} bytes, expected {self.size}")
        if self.curve is None:
            y = int.from_bytes(value, "big")
            if not 1 < y < self.p - 1:
                raise ValueError(f"group {self.number}: public value out of range")
            if self.q is not None and pow(y, self.q, self.p) != 1:
                raise ValueError(f"group {self.number}: public value outside the prime-order subgroup")

    def _ffdh_parameters(self) -> Any:
        """cryptography's parameter object for this MODP group (cached), or None when the
        running cryptography no longer offers finite-field DH."""
        if _ffdh is None:
            return None
        params = self._cache.get("params")
        if params is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params = _ffdh.DHParameterNumbers(self.p, self.g, self.q).parameters()
            self._cache["params"] = params
        return params


class DhKeyPair:
    """Our half of one exchange: the private key stays inside this object."""

    __slots__ = ("group", "_private", "public")

    def __init__(self, group: DhGroup, private: Any) -> None:
        self.group = group
        self._private = private
        self.public = self._public_bytes()

    def _public_bytes(self) -> bytes:
        g = self.group
        if g.curve is not None:
            numbers = self._private.public_key().public_numbers()
            half = g.size // 2
            return numbers.x.to_bytes(half, "big") + numbers.y.to_bytes(half, "big")
        if isinstance(self._private, int):
            return pow(g.g, self._private, g.p).to_bytes(g.size, "big")
        return self._private.public_key().public_numbers().y.to_bytes(g.size, "big")

    def shared_secret(self, peer_public: bytes) -> bytes:
        """g^xy at the group's secret length (leading zeros kept); ValueError for a bad peer value."""
        g = self.group
        g.check_public(peer_public)
        if g.curve is not None:
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(g.curve, b"\x04" + bytes(peer_public))
            except ValueError as exc:
                raise ValueError(f"group {g.number}: peer point not on the curve") from exc
            return self._private.exchange(ec.ECDH(), peer).rjust(g.secret_size, b"\x00")
        y = int.from_bytes(peer_public, "big")
        if isinstance(self._private, int):
            return pow(y, self._private, g.p).to_bytes(g.size, "big")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params = self._private.parameters().parameter_numbers()
            peer_key = _ffdh.DHPublicNumbers(y, params).public_key()
            return self._private.exchange(peer_key).rjust(g.size, b"\x00")


#: MODP groups OpenSSL does not know by name (RFC 2409's 768- and 1024-bit primes): it
#: re-checks such a prime every time a peer's public value is loaded (80-130 ms per
#: exchange for group 2, IOS's most common `set pfs`), while Python's own modular
#: exponentiation takes 5-15 ms. Their key pairs are plain integers (the `from_private`
#: path); the larger groups, which OpenSSL recognises, stay with OpenSSL.
_CHECKED_EACH_TIME = frozenset({GroupDescription.MODP_768, GroupDescription.MODP_1024})


def _modp(number: int, name: str, p: int, g: int = 2, q: int | None = None) -> DhGroup:
    return DhGroup(number, name, (p.bit_length() + 7) // 8, p, g, q)


#: The groups we offer, by IKE group number.
GROUPS: dict[int, DhGroup] = {
    grp.number: grp for grp in (
        _modp(GroupDescription.MODP_768, "768-bit MODP", _rfc_modp(768, 149686)),
        _modp(GroupDescription.MODP_1024, "1024-bit MODP", _rfc_modp(1024, 129093)),
        _modp(GroupDescription.MODP_1536, "1536-bit MODP", _rfc_modp(1536, 741804)),
        _modp(GroupDescription.MODP_2048, "2048-bit MODP", _rfc_modp(2048, 124476)),
        _modp(GroupDescription.MODP_3072, "3072-bit MODP", _rfc_modp(3072, 1690314)),
        _modp(GroupDescription.MODP_4096, "4096-bit MODP", _rfc_modp(4096, 240904)),
        _modp(GroupDescription.MODP_2048_S256, "2048-bit MODP, 256-bit subgroup", _RFC5114_P, _RFC5114_G,
              _RFC5114_Q),
        DhGroup(GroupDescription.ECP_256, "256-bit random ECP (P-256)", 64, curve=ec.SECP256R1()),
        DhGroup(GroupDescription.ECP_384, "384-bit random ECP (P-384)", 96, curve=ec.SECP384R1()),
    )
}


def group(number: int) -> DhGroup:
    """The group with IKE number ``number``; ValueError when we do not offer it."""
    try:
        return GROUPS[number]
    except KeyError:
        raise ValueError(f"Diffie-Hellman group {number} is not supported") from None
