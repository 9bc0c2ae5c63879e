"""ESP transforms as IOS names them, and how many KEYMAT bytes each one takes.

A transform set (`crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac`) names at
most one encryption transform and one integrity transform. This module turns those words
into an `EspTransform`: the parameters the per-packet code needs (block size, IV size,
ICV size, key sizes) and nothing that runs per packet, so the IKE side can negotiate and
cut keys from it without touching any cipher.

Keying material (IKEv1, RFC 2409 section 5.5; RFC 4303 section 2 leaves the order to the
key management): the encryption key comes first in KEYMAT, the integrity key right after
it. For AES-GCM (RFC 4106 section 8.1) the encryption "key" is the AES key followed by a
4-byte salt, so KEYMAT is 4 bytes longer than the AES key. `key_lengths()` gives the two
lengths; `EspTransform.split_keymat()` cuts them.

IOS facts encoded here (from Cisco's transform-set command reference, not re-checked on a
device): `esp-aes` alone is AES-128; `esp-gcm` alone is AES-128 too (IOS takes 128 or
256, and 192 where the platform has it, so we accept all three); `esp-gcm` carries its own
16-byte ICV and cannot be combined with an HMAC; a set may have no encryption transform
(`esp-sha-hmac` alone: ESP with NULL encryption) or no integrity transform (`esp-aes`
alone: confidentiality without integrity, which IOS allows and RFC 4303 discourages).
`esp-gmac`, `esp-des`, `esp-seal` and AH transforms are refused with `TransformError`.

`show crypto ipsec sa` spells AES-CBC keys differently from the config (`esp-256-aes`);
`EspTransform.show_name` gives that spelling. The `wireshark` names are the ones its
`esp_sa` table takes, so the agent can write decryption tables for the captures; the
`ikev1_id` numbers are what IKEv1 Quick Mode carries (the ESP transform ID, and the
Authentication Algorithm attribute; AES key sizes go in the Key Length attribute).

Imports nothing from dmvpnlab: it is the bottom of the ipsec package's ESP half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, Sequence


class TransformError(ValueError):
    """A transform set ESP cannot build: an unknown or unsupported name, a key size the
    transform does not take, a combination IOS refuses, or KEYMAT of the wrong length."""


CipherMode = Literal["cbc", "gcm", "null"]


@dataclass(frozen=True)
class EncryptionAlgorithm:
    """One encryption transform with its key size fixed (AES-256-CBC, not "AES-CBC").

    `block_size` is the cipher block (what the ciphertext must be a multiple of: 1 for
    GCM and NULL); `align` is what the padding aligns the payload|padding|trailer to
    (the block size, and at least 4 bytes as RFC 4303 section 2.4 requires).
    `icv_size` is non-zero only for a combined-mode cipher (GCM), whose tag is the ICV.
    """

    ios_name: str  # "esp-aes", "esp-3des", "esp-gcm", "esp-null"
    mode: CipherMode
    key_size: int  # bytes of cipher key (without the GCM salt)
    block_size: int
    iv_size: int
    salt_size: int = 0
    icv_size: int = 0
    wireshark: str = "NULL"
    ikev1_id: int = 0  # IPsec DOI ESP transform ID (IANA): what Quick Mode proposes

    @property
    def keymat_size(self) -> int:
        """Bytes of KEYMAT this transform takes: the key, then the salt (RFC 4106 8.1)."""
        return self.key_size + self.salt_size

    @property
    def align(self) -> int:
        return math.lcm(self.block_size, 4)

    @property
    def key_bits(self) -> int:
        return self.key_size * 8


@dataclass(frozen=True)
class IntegrityAlgorithm:
    """An HMAC integrity transform: the digest, its key size and the truncated ICV size.

    Key sizes are the digest sizes (RFC 2403, 2404, 4868 section 2.1.1); the ICV is the
    HMAC output truncated to half of it for SHA-2 (RFC 4868) and to 96 bits for MD5 and
    SHA-1 (RFC 2403, 2404).
    """

    ios_name: str  # "esp-sha-hmac", ...
    digest: str  # hashlib / OpenSSL name
    key_size: int
    icv_size: int
    wireshark: str
    ikev1_id: int  # IPsec DOI "Authentication Algorithm" attribute value (RFC 2407, 4868)


AES_CBC_WIRESHARK = "AES-CBC [RFC3602]"
AES_GCM_WIRESHARK = "AES-GCM with 16 octet ICV [RFC4106]"


def _aes_cbc(bits: int) -> EncryptionAlgorithm:
    return EncryptionAlgorithm("esp-aes", "cbc", bits // 8, 16, 16, wireshark=AES_CBC_WIRESHARK, ikev1_id=12)


def _aes_gcm(bits: int) -> EncryptionAlgorithm:
    return EncryptionAlgorithm("esp-gcm", "gcm", bits // 8, 1, 8, salt_size=4, icv_size=16,
                               wireshark=AES_GCM_WIRESHARK, ikev1_id=20)  # ESP_AES_GCM_16


ESP_NULL = EncryptionAlgorithm("esp-null", "null", 0, 1, 0, wireshark="NULL", ikev1_id=11)
ESP_3DES = EncryptionAlgorithm("esp-3des", "cbc", 24, 8, 8, wireshark="TripleDES-CBC [RFC2451]", ikev1_id=3)

#: (IOS name, key bits) -> algorithm; a None key size is the transform's default.
ENCRYPTION: dict[tuple[str, int | None], EncryptionAlgorithm] = {
    ("esp-aes", None): _aes_cbc(128),
    ("esp-aes", 128): _aes_cbc(128),
    ("esp-aes", 192): _aes_cbc(192),
    ("esp-aes", 256): _aes_cbc(256),
    ("esp-gcm", None): _aes_gcm(128),
    ("esp-gcm", 128): _aes_gcm(128),
    ("esp-gcm", 192): _aes_gcm(192),
    ("esp-gcm", 256): _aes_gcm(256),
    ("esp-3des", None): ESP_3DES,
    ("esp-null", None): ESP_NULL,
}

INTEGRITY: dict[str, IntegrityAlgorithm] = {
    "esp-md5-hmac": IntegrityAlgorithm("esp-md5-hmac", "md5", 16, 12, "HMAC-MD5-96 [RFC2403]", 1),
    "esp-sha-hmac": IntegrityAlgorithm("esp-sha-hmac", "sha1", 20, 12, "HMAC-SHA-1-96 [RFC2404]", 2),
    "esp-sha256-hmac": IntegrityAlgorithm("esp-sha256-hmac", "sha256", 32, 16, "HMAC-SHA-256-128 [RFC4868]", 5),
    "esp-sha384-hmac": IntegrityAlgorithm("esp-sha384-hmac", "sha384", 48, 24, "HMAC-SHA-384-192 [RFC4868]", 6),
    "esp-sha512-hmac": IntegrityAlgorithm("esp-sha512-hmac", "sha512", 64, 32, "HMAC-SHA-512-256 [RFC4868]", 7),
}

_KEYED = ("esp-aes", "esp-gcm")
_KNOWN_UNSUPPORTED = ("esp-gmac", "esp-des", "esp-seal", "comp-lzs")


class KeyLengths(NamedTuple):
    """Bytes of KEYMAT per key, in KEYMAT order: encryption (with any salt), integrity."""

    encryption: int
    integrity: int

    @property
    def total(self) -> int:
        return self.encryption + self.integrity


@dataclass(frozen=True)
class EspTransform:
    """What one ESP SA runs: an encryption algorithm and an optional HMAC.

    Built by `parse_transform` from IOS words; frozen, so SAs and IKE can share one.
    """

    encryption: EncryptionAlgorithm
    integrity: IntegrityAlgorithm | None = None

    def __post_init__(self) -> None:
        if self.encryption.mode == "gcm" and self.integrity is not None:
            raise TransformError(f"{self.encryption.ios_name} carries its own ICV: no {self.integrity.ios_name}")

    @property
    def icv_size(self) -> int:
        """Bytes of ICV at the end of every packet (the GCM tag or the truncated HMAC)."""
        return self.encryption.icv_size or (self.integrity.icv_size if self.integrity else 0)

    @property
    def authenticated(self) -> bool:
        return self.icv_size > 0

    def key_lengths(self) -> KeyLengths:
        integrity = self.integrity.key_size if self.integrity else 0
        return KeyLengths(self.encryption.keymat_size, integrity)

    def split_keymat(self, keymat: bytes) -> tuple[bytes, bytes]:
        """(encryption key with any salt, integrity key), cut from exactly enough KEYMAT.

        KEYMAT of another length is refused rather than truncated: a length mismatch
        between the IKE side and this one is a bug to see, not to paper over."""
        lengths = self.key_lengths()
        if len(keymat) != lengths.total:
            raise TransformError(f"{self.ios_words}: KEYMAT must be {lengths.total} bytes, got {len(keymat)}")
        return bytes(keymat[:lengths.encryption]), bytes(keymat[lengths.encryption:])

    @property
    def ios_words(self) -> str:
        """The transforms as a config line names them: `esp-aes 256 esp-sha256-hmac`."""
        enc = self.encryption
        words = [] if enc.mode == "null" and self.integrity is not None else [enc.ios_name]
        if enc.ios_name in _KEYED:
            words.append(str(enc.key_bits))
        if self.integrity is not None:
            words.append(self.integrity.ios_name)
        return " ".join(words)

    @property
    def show_name(self) -> str:
        """The `transform:` line of `show crypto ipsec sa`: `esp-256-aes esp-sha256-hmac`."""
        enc = self.encryption
        if enc.ios_name == "esp-aes":
            words = ["esp-aes" if enc.key_bits == 128 else f"esp-{enc.key_bits}-aes"]
        elif enc.ios_name == "esp-gcm":
            words = ["esp-gcm" if enc.key_bits == 128 else f"esp-gcm {enc.key_bits}"]
        elif enc.mode == "null" and self.integrity is not None:
            words = []
        else:
            words = [enc.ios_name]
        if self.integrity is not None:
            words.append(self.integrity.ios_name)
        return " ".join(words)

    def max_overhead(self) -> int:
        """Most bytes ESP adds to a payload: header, IV, worst padding, trailer, ICV.
        For the tunnel MTU: IOS lowers the tunnel's IP MTU by about this much."""
        enc = self.encryption
        return 8 + enc.iv_size + (enc.align - 1) + 2 + self.icv_size


def parse_transform(words: str | Sequence[str]) -> EspTransform:
    """An `EspTransform` from IOS transform words.

    Takes what the config model stores (`["esp-aes 256", "esp-sha256-hmac"]`) or one
    string (`"esp-aes 256 esp-sha256-hmac"`); case-insensitive; order free, as in IOS.
    """
    text = words if isinstance(words, str) else " ".join(words)
    tokens = text.lower().split()
    encryption: EncryptionAlgorithm | None = None
    integrity: IntegrityAlgorithm | None = None
    i = 0
    while i < len(tokens):
        name = tokens[i]
        i += 1
        if name in INTEGRITY:
            if integrity is not None:
                raise TransformError(f"two integrity transforms: {integrity.ios_name}, {name}")
            integrity = INTEGRITY[name]
            continue
        bits: int | None = None
        if name in _KEYED and i < len(tokens) and tokens[i].isascii() and tokens[i].isdigit():
            bits = int(tokens[i])
            i += 1
        found = ENCRYPTION.get((name, bits))
        if found is None:
            if name in _KNOWN_UNSUPPORTED or name.startswith("ah-"):
                raise TransformError(f"transform {name} is not supported by this ESP")
            raise TransformError(f"unknown transform {name}{'' if bits is None else f' {bits}'}")
        if encryption is not None:
            raise TransformError(f"two encryption transforms: {encryption.ios_name}, {name}")
        encryption = found
    if encryption is None and integrity is None:
        raise TransformError("no ESP transform")
    return EspTransform(encryption or ESP_NULL, integrity)


def key_lengths(words: str | Sequence[str] | EspTransform) -> KeyLengths:
    """KEYMAT bytes a transform set needs, encryption key (with salt) first: what the IKE
    side asks its KEYMAT expansion for (RFC 2409 section 5.5)."""
    transform = words if isinstance(words, EspTransform) else parse_transform(words)
    return transform.key_lengths()
