"""Wireshark's key tables for the SAs the agents negotiate: `esp_sa` and `ikev1_decryption_table`.

Why: a lab's captures are only worth reading decrypted. Wireshark decrypts ESP with its
`esp_sa` table (one line per SA: protocol, source, destination, SPI, encryption
algorithm, key, authentication algorithm, key) and IKEv1 with `ikev1_decryption_table`
(initiator cookie, encryption key). Both are UAT files, the ones Wireshark keeps in its
configuration directory. The agents write them into `captures/<lab>/` as the keys are
negotiated, so that directory is also a Wireshark configuration directory: with the
`preferences` file written here (ESP decryption and ICV check on),
`WIRESHARK_CONFIG_DIR=captures/<lab> tshark -r captures/<lab>/hub-isp.pcapng` and the
same variable for `wireshark` open every capture decrypted (verified with tshark 4.0).

Formats (tshark 4.0, checked against its UAT loader): `esp_sa` fields are quoted strings,
keys as `0x` + hex, SPI as `0x%08x`; the algorithm names are the exact strings of
Wireshark's menus (`EspTransform`'s `wireshark` names; AES-GCM takes "NULL"
authentication and its key is the AES key followed by the 4-byte salt, RFC 4106 8.1);
`ikev1_decryption_table` fields are bare hex (a quoted cookie is refused).

NAT-T (RFC 3948): Wireshark dissects ESP in UDP 4500 with the same table, matching the
outer addresses of the capture it reads. Across a NAT those differ per side (the spoke's
link shows its private address, the hub's link the NAT's public one), and the peer may
not be an agent of ours that writes its own view. So a NAT-T SA gets, after its exact
line, a line with wildcard addresses and the same SPI: random 32-bit SPIs make it
specific enough, and it decrypts the SA on every link of the path.

Several agents (processes) append to the same files: each line is one `write()` on an
O_APPEND descriptor under an exclusive `flock`, so lines never interleave; under the
lock the writer reads what others appended since it last looked, so a line two agents
both know (the two ends of one SA write the same line) is written once. Old keys stay:
the files are append-only, and a rekey adds lines.

Imports events and esp_transforms only.
"""

from __future__ import annotations

import fcntl
import os
from ipaddress import IPv4Address
from pathlib import Path

from dmvpnlab.ipsec.esp_transforms import EspTransform
from dmvpnlab.ipsec.events import ChildSaUp, IkeSaUp

ESP_SA_FILE = "esp_sa"
IKEV1_FILE = "ikev1_decryption_table"
PREFERENCES_FILE = "preferences"
WILDCARD = "*"

#: What makes tshark/Wireshark use the tables: decryption, ICV check, sequence analysis.
PREFERENCES = (
    "# dmvpnlab: this directory is a Wireshark configuration directory (WIRESHARK_CONFIG_DIR)\n"
    "esp.enable_encryption_decode: TRUE\n"
    "esp.enable_authentication_check: TRUE\n"
    "esp.do_esp_sequence_analysis: TRUE\n"
)
PREFERENCE_OPTIONS = ("esp.enable_encryption_decode:TRUE", "esp.enable_authentication_check:TRUE",
                      "esp.do_esp_sequence_analysis:TRUE")
"""The same preferences as tshark `-o` values."""


def _quoted(*fields: str) -> str:
    return ",".join(f'"{field}"' for field in fields)


def _hex_key(key: bytes) -> str:
    return "0x" + key.hex() if key else ""


def esp_sa_line(src: IPv4Address | str, dst: IPv4Address | str, spi: int, transform: EspTransform,
                keymat: bytes) -> str:
    """One `esp_sa` record (no newline) for the SA from `src` to `dst` with `spi`.

    `keymat` is the SA's KEYMAT (encryption key with any salt, then integrity key), cut as
    the ESP code cuts it; a wrong length raises TransformError (a bug, not peer input)."""
    enc_key, auth_key = transform.split_keymat(keymat)
    auth = transform.integrity.wireshark if transform.integrity is not None else "NULL"
    return _quoted("IPv4", str(src), str(dst), f"0x{spi:08x}", transform.encryption.wireshark,
                   _hex_key(enc_key), auth, _hex_key(auth_key))


def ikev1_line(cookie_i: bytes, encryption_key: bytes) -> str:
    """One `ikev1_decryption_table` record (no newline): bare hex, as Wireshark's UAT wants."""
    if len(cookie_i) != 8:
        raise ValueError(f"an initiator cookie is 8 bytes, got {len(cookie_i)}")
    return f"{cookie_i.hex()},{encryption_key.hex()}"


def child_sa_lines(event: ChildSaUp, local: IPv4Address) -> list[str]:
    """The `esp_sa` lines of one Quick Mode result: outbound (local -> peer, spi_out), inbound
    (peer -> local, spi_in), and for NAT-T the same two with wildcard addresses."""
    lines = [esp_sa_line(local, event.peer, event.spi_out, event.transform, event.keymat_out),
             esp_sa_line(event.peer, local, event.spi_in, event.transform, event.keymat_in)]
    if event.nat_t:
        lines += [esp_sa_line(WILDCARD, WILDCARD, event.spi_out, event.transform, event.keymat_out),
                  esp_sa_line(WILDCARD, WILDCARD, event.spi_in, event.transform, event.keymat_in)]
    return lines


class _AppendOnlyTable:
    """One UAT file shared by several processes: appended under flock, each line once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._read_to = 0  # bytes of the file already in _seen

    def append(self, lines: list[str]) -> int:
        """Append the lines not yet in the file; returns how many were written."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._catch_up()
                written = 0
                for line in lines:
                    if line in self._seen:
                        continue
                    data = (line + "\n").encode("ascii")
                    if os.write(fd, data) != len(data):  # a regular file takes it whole or raises
                        raise OSError(f"{self.path}: short write")
                    self._seen.add(line)
                    self._read_to += len(data)
                    written += 1
                return written
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _catch_up(self) -> None:
        """Learn the lines other processes appended since we last looked (under the lock)."""
        with open(self.path, "rb") as f:
            f.seek(self._read_to)
            tail = f.read()
        complete = tail[:tail.rfind(b"\n") + 1]
        for raw in complete.splitlines():
            self._seen.add(raw.decode("ascii", "replace"))
        self._read_to += len(complete)


class KeyLog:
    """Writes the keys of one agent's SAs into a lab's key directory (see the module doc).

    The agent builds one per process (`agent.keylog.keylog_from_env`) and calls
    `ike_sa` on `IkeSaUp` and `child_sa` on `ChildSaUp`. Failing to write a key file
    must not stop a router: callers log the OSError these raise and carry on."""

    def __init__(self, directory: Path | str, preferences: str = PREFERENCES) -> None:
        """`preferences` is the text `preferences` gets if absent (the lab adds its columns)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._esp = _AppendOnlyTable(self.directory / ESP_SA_FILE)
        self._ikev1 = _AppendOnlyTable(self.directory / IKEV1_FILE)
        self._write_preferences(preferences)

    @property
    def esp_sa_path(self) -> Path:
        return self._esp.path

    @property
    def ikev1_path(self) -> Path:
        return self._ikev1.path

    def child_sa(self, event: ChildSaUp, local: IPv4Address) -> int:
        """Append both directions of a new ESP SA pair; returns the lines written."""
        return self._esp.append(child_sa_lines(event, local))

    def ike_sa(self, event: IkeSaUp) -> int:
        """Append the ISAKMP SA's decryption key; returns the lines written (0 or 1)."""
        return self._ikev1.append([ikev1_line(event.cookie_i, event.encryption_key)])

    def _write_preferences(self, text: str) -> None:
        """Create `preferences` once (O_EXCL: the first agent wins, the others leave it)."""
        try:
            fd = os.open(self.directory / PREFERENCES_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
