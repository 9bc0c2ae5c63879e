"""The lab's `esp_sa` table read back, so path analysis can look inside ESP.

Why: with `tunnel protection` the WAN carries ESP, and the questions scenarios and the
demo ask of packets (did the Resolution Reply go spoke to spoke? did echo 7 cross the
hub?) are about the GRE inside it. `paths` asks an `EspKeyring` to open each ESP packet
with the keys the agents exported, and sees the GRE as if it were in the clear, plus the
SPI it came in. Whether Wireshark decrypts the same packets is `decrypt`'s question
(tshark, an independent implementation); this reader uses our own ESP code, with
anti-replay and lifetimes off (a capture is read after the fact, and one SA's packets
show up on several links).

Lines are Wireshark's UAT format as `ipsec.keylog` writes them; a line this reader does
not understand (another tool's, an algorithm we do not run) is skipped, never an error.
Imports ipsec.esp, ipsec.esp_transforms and ipsec.keylog.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from dmvpnlab.ipsec.esp import EspError, InboundSa, Lifetime, Opened
from dmvpnlab.ipsec.esp_transforms import ENCRYPTION, ESP_3DES, ESP_NULL, INTEGRITY, EspTransform, TransformError
from dmvpnlab.ipsec.keylog import ESP_SA_FILE, WILDCARD

_FOREVER = Lifetime(seconds=float("inf"), kilobytes=2**62)
_BY_WIRESHARK_AUTH = {alg.wireshark: alg for alg in INTEGRITY.values()}


def transform_from_wireshark(encryption: str, key_size: int, authentication: str) -> EspTransform | None:
    """The EspTransform an `esp_sa` line names (the key size picks AES-128/192/256), or None."""
    integrity = None
    if authentication != "NULL":
        integrity = _BY_WIRESHARK_AUTH.get(authentication)
        if integrity is None:
            return None
    enc = None
    if encryption == "NULL":
        enc = ESP_NULL
    elif encryption == ESP_3DES.wireshark:
        enc = ESP_3DES
    else:
        for (name, bits), candidate in ENCRYPTION.items():
            if bits is not None and candidate.wireshark == encryption and candidate.keymat_size == key_size:
                enc = candidate
                break
    if enc is None:
        return None
    try:
        return EspTransform(enc, integrity)
    except TransformError:
        return None


@dataclass(frozen=True)
class EspKey:
    """One `esp_sa` line: which packets (addresses, `*` for any, SPI) and their SA's keys."""

    src: str
    dst: str
    spi: int
    transform: EspTransform
    keymat: bytes

    def matches(self, src: str, dst: str) -> bool:
        return self.src in (WILDCARD, src) and self.dst in (WILDCARD, dst)


def _hex(text: str) -> bytes | None:
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def parse_esp_sa_line(line: str) -> EspKey | None:
    """An `EspKey` from one line of the table, or None if it is not one we can use."""
    try:
        fields = next(csv.reader([line.strip()]))
    except (csv.Error, StopIteration):
        return None
    if len(fields) < 8 or fields[0] != "IPv4":
        return None
    _proto, src, dst, spi_text, encryption, enc_key_text, authentication, auth_key_text = fields[:8]
    enc_key, auth_key = _hex(enc_key_text), _hex(auth_key_text)
    try:
        spi = int(spi_text, 16)
    except ValueError:
        return None
    if enc_key is None or auth_key is None:
        return None
    transform = transform_from_wireshark(encryption, len(enc_key), authentication)
    if transform is None or transform.key_lengths() != (len(enc_key), len(auth_key)):
        return None
    return EspKey(src, dst, spi, transform, enc_key + auth_key)


@dataclass
class EspKeyring:
    """Every usable key of a lab's `esp_sa` table, by SPI; opens ESP packets with them."""

    keys: dict[int, list[EspKey]] = field(default_factory=dict)
    _sas: dict[EspKey, InboundSa] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: Path) -> "EspKeyring":
        """The keys in `directory/esp_sa` (none if there is no such file)."""
        ring = cls()
        try:
            text = (directory / ESP_SA_FILE).read_text(encoding="ascii", errors="replace")
        except OSError:
            return ring
        for line in text.splitlines():
            key = parse_esp_sa_line(line)
            if key is not None and key not in ring.keys.get(key.spi, []):
                ring.keys.setdefault(key.spi, []).append(key)
        return ring

    def __bool__(self) -> bool:
        return bool(self.keys)

    def open(self, src: str, dst: str, esp: bytes) -> tuple[int, Opened] | None:
        """(SPI, opened packet) for ESP bytes between `src` and `dst`, or None when no key
        fits (unknown SPI, other addresses, ICV or padding wrong, too short)."""
        if len(esp) < 8:
            return None
        spi = int.from_bytes(esp[:4], "big")
        for key in self.keys.get(spi, ()):
            if not key.matches(src, dst):
                continue
            sa = self._sas.get(key)
            if sa is None:
                try:
                    sa = self._sas[key] = InboundSa(key.transform, key.spi, key.keymat, lifetime=_FOREVER,
                                                    replay_window=None)
                except (ValueError, TransformError):  # SPI 0-255: reserved, never ours
                    continue
            try:
                return spi, sa.open(esp)
            except EspError:
                continue
        return None
