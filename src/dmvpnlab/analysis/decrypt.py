"""Captures decrypted by Wireshark itself, with the keys the agents exported: frames and counts.

Why tshark and not our own ESP code: the question a scenario asks is "does a user who
opens this capture in Wireshark with the lab's key files see every ESP packet decrypt,
ICV good, and the NHRP and ICMP inside?". Answering it with our own decryptor would
test our ESP against itself; tshark is an independent implementation, and the one users
run. So this module runs tshark 4.0 on a capture with a private Wireshark configuration
directory (WIRESHARK_CONFIG_DIR) holding copies of the lab's `esp_sa` and
`ikev1_decryption_table` and a `preferences` that turns decryption, the ICV check and
ESP sequence analysis on (tshark honours all three this way; a profile needs a name
under the configuration directory, `-C PATH` is refused). Copies, so a file an agent is
appending to is read whole, and the user's own Wireshark preferences play no part.

API:
    ``decrypt_capture(pcap, keys_dir) -> Decrypted``: every frame as tshark dissected it
        (`Frame`), plus the damage if a record is cut short or corrupt (what came before
        it is still there). ``DecryptError`` when the file is not a capture or tshark is
        missing or fails.
    ``summarize(frames) -> dict``: the counts `protection_report` returns.
    ``protection_report(pcap, keys_dir) -> dict``: counts for one link's capture: isakmp
        (also isakmp_encrypted, isakmp_decrypted), esp, esp_decrypted_ok (inner packet
        dissected and ICV good), esp_icv_bad, esp_undecrypted (no key, no verdict),
        esp_decrypted_no_icv (a transform without integrity), esp_sequence_errors, inner
        gre/icmp/nhrp, cleartext_gre, cleartext_nhrp, cleartext_after_first_esp,
        udp4500 (NAT-T ESP, IKE and keepalives), nat_keepalive, other_ip, frames, damaged.
    ``protection_reports(directory, keys_dir=None) -> {link: report}``: every capture of
        a lab (`captures/<lab>/*.pcapng`; the key files are there too by default).

Imports capfile (to find damage the way the inspector reports it) and ipsec.keylog (the
file names). tshark is found on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from dmvpnlab.analysis import capfile
from dmvpnlab.ipsec.keylog import ESP_SA_FILE, IKEV1_FILE, PREFERENCE_OPTIONS, PREFERENCES, PREFERENCES_FILE

TSHARK = "tshark"
TSHARK_TIMEOUT = 300.0

#: tshark -T fields columns, in this order; the last (Info) may contain anything but a tab.
FIELDS = ("frame.number", "frame.time_relative", "ip.src", "ip.dst", "frame.protocols", "esp.spi",
          "esp.sequence", "esp.icv_good", "esp.icv_bad", "esp.sequence-analysis.wrong-sequence-number",
          "udp.port", "isakmp.flag_e", "isakmp.typepayload", "icmp.type", "nhrp.hdr.op.type", "_ws.malformed",
          "_ws.col.Info")


class DecryptError(Exception):
    """The capture cannot be decrypted at all: not a capture, tshark missing or failing."""


@dataclass(frozen=True)
class Frame:
    """One frame as tshark decrypted and dissected it.

    `layers` is tshark's protocol stack (eth, ip, esp, gre, ip, icmp ...); `icv` is
    "good", "bad" or "" (no verdict: no key, or a transform without integrity)."""

    number: int
    time: float
    src: str
    dst: str
    layers: tuple[str, ...]
    info: str
    spi: str = ""
    seq: int | None = None
    icv: str = ""
    sequence_error: bool = False
    ports: tuple[int, ...] = ()
    isakmp_encrypted: bool = False
    isakmp_payloads: int = 0  # payloads tshark dissected (after decryption, for an encrypted one)
    icmp_type: int | None = None
    nhrp_type: int | None = None
    malformed: bool = False

    @property
    def isakmp_decrypted(self) -> bool:
        """An encrypted ISAKMP message whose payloads decoded (Quick Mode's third message is
        one HASH payload). A wrong key leaves garbage after the header's first payload type,
        which tshark reports as malformed."""
        return self.isakmp_encrypted and self.isakmp_payloads >= 1 and not self.malformed

    @property
    def is_esp(self) -> bool:
        return "esp" in self.layers

    @property
    def inner(self) -> tuple[str, ...]:
        """What ESP carried, as dissected after decryption (empty: not decrypted)."""
        if not self.is_esp:
            return ()
        rest = self.layers[self.layers.index("esp") + 1:]
        return () if rest in ((), ("data",)) else rest

    @property
    def outer(self) -> tuple[str, ...]:
        """The layers up to ESP (the whole stack for a frame without ESP)."""
        return self.layers[:self.layers.index("esp")] if self.is_esp else self.layers

    @property
    def is_isakmp(self) -> bool:
        return "isakmp" in self.outer

    @property
    def decrypted(self) -> bool:
        return bool(self.inner)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = ":".join(self.layers)
        data["inner"] = ":".join(self.inner)
        return data

    def summary(self) -> str:
        """One line for `dmvpnlab pcap --decrypt`: where, what ESP said, what was inside."""
        head = f"{self.number:>6} {self.time:10.6f}  {self.src} -> {self.dst}"
        if not self.is_esp:
            return f"{head}  {_stack(_from_ip(self.outer))}  {self.info}"
        udp = " in UDP 4500" if "udp" in self.outer else ""
        verdict = {"good": "ICV good", "bad": "ICV BAD"}.get(self.icv, "no ICV verdict")
        esp = f"ESP{udp} spi={self.spi} seq={self.seq} {verdict}"
        if self.sequence_error:
            esp += " (sequence gap)"
        if not self.decrypted:
            return f"{head}  {esp}  [not decrypted]"
        return f"{head}  {esp} | {_stack(self.inner)}  {self.info}"


def _from_ip(layers: tuple[str, ...]) -> tuple[str, ...]:
    """The stack from the outer IP header on (link layers say nothing here)."""
    return layers[layers.index("ip"):] if "ip" in layers else layers


def _stack(layers: Iterable[str]) -> str:
    return " > ".join(layer.upper() for layer in layers)


@dataclass
class Decrypted:
    """What `decrypt_capture` found: the frames, and where the capture is damaged if it is."""

    path: Path
    frames: list[Frame] = field(default_factory=list)
    damage: capfile.CaptureDamaged | None = None


def _first(value: str) -> str:
    return value.split(",", 1)[0] if value else ""


def _int(value: str) -> int | None:
    try:
        return int(_first(value), 0)
    except ValueError:
        return None


def _flag(value: str) -> bool:
    return _first(value) in ("1", "True", "TRUE")


def parse_line(line: str) -> Frame | None:
    """One tshark -T fields line (FIELDS, tab-separated, occurrences joined with commas)."""
    parts = line.rstrip("\n").split("\t", len(FIELDS) - 1)
    if len(parts) != len(FIELDS):
        return None
    (number, when, src, dst, protocols, spi, seq, good, bad, wrong_seq, ports, flag_e, payloads,
     icmp, nhrp, malformed, info) = parts
    frame_no = _int(number)
    if frame_no is None:
        return None
    icv = "bad" if _flag(bad) else "good" if _flag(good) else ""
    return Frame(number=frame_no, time=float(when or 0), src=_first(src), dst=_first(dst),
                 layers=tuple(p for p in protocols.split(":") if p), info=info, spi=_first(spi),
                 seq=_int(seq), icv=icv, sequence_error=bool(wrong_seq), ports=tuple(
                     p for p in (_int(x) for x in ports.split(",") if x) if p is not None),
                 isakmp_encrypted=_flag(flag_e), isakmp_payloads=len([p for p in payloads.split(",") if p]),
                 icmp_type=_int(icmp), nhrp_type=_int(nhrp), malformed=bool(malformed))


def _config_dir(keys_dir: Path | None, into: Path) -> None:
    """A Wireshark configuration directory: our preferences and copies of the key tables."""
    (into / PREFERENCES_FILE).write_text(PREFERENCES)
    for name in (ESP_SA_FILE, IKEV1_FILE):
        source = keys_dir / name if keys_dir is not None else None
        if source is not None and source.is_file():
            # Only whole lines: an agent may be appending right now.
            data = source.read_bytes()
            (into / name).write_bytes(data[:data.rfind(b"\n") + 1])


def _find_damage(path: Path) -> capfile.CaptureDamaged | None:
    if not path.is_file():
        raise DecryptError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        with capfile.CaptureReader(path) as reader:
            for _record in reader:
                pass
    except capfile.CaptureDamaged as damage:
        return damage
    except (capfile.CaptureFormatError, OSError) as exc:
        raise DecryptError(f"{path}: not a pcap or pcapng capture ({exc})") from None
    return None


def decrypt_capture(pcap: str | Path, keys_dir: str | Path | None) -> Decrypted:
    """Every frame of `pcap`, decrypted by tshark with the key tables in `keys_dir`."""
    path = Path(pcap)
    result = Decrypted(path=path, damage=_find_damage(path))
    if shutil.which(TSHARK) is None:
        raise DecryptError("tshark not found: install tshark (make setup)")
    keys = Path(keys_dir) if keys_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="dmvpnlab-wireshark-") as config:
        _config_dir(keys, Path(config))
        argv = [TSHARK, "-n", "-r", str(path)]
        for option in PREFERENCE_OPTIONS:
            argv += ["-o", option]
        argv += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for name in FIELDS:
            argv += ["-e", name]
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": config}
        try:
            run = subprocess.run(argv, env=env, capture_output=True, text=True, errors="replace",
                                 timeout=TSHARK_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DecryptError(f"{path}: tshark did not finish in {TSHARK_TIMEOUT:.0f} s") from None
    result.frames = [f for f in (parse_line(line) for line in run.stdout.splitlines()) if f is not None]
    problems = [line for line in run.stderr.splitlines() if line and "Running as user" not in line]
    if run.returncode != 0 and result.damage is None:
        raise DecryptError(f"{path}: tshark failed ({run.returncode}): {' '.join(problems)[-400:]}")
    table_errors = [line for line in problems if "Error loading table" in line]
    if table_errors:
        raise DecryptError(f"{keys}: tshark refused a key table: {table_errors[0]}")
    return result


def summarize(frames: Iterable[Frame]) -> dict[str, int]:
    """The counts of one capture (see the module doc for what each one means)."""
    keys = ("frames", "isakmp", "isakmp_encrypted", "isakmp_decrypted", "esp", "esp_decrypted_ok",
            "esp_icv_bad", "esp_undecrypted", "esp_decrypted_no_icv", "esp_sequence_errors", "inner_gre",
            "inner_icmp", "inner_nhrp", "cleartext_gre", "cleartext_nhrp", "cleartext_icmp_in_gre",
            "cleartext_after_first_esp", "udp4500", "nat_keepalive", "other_ip")
    counts = dict.fromkeys(keys, 0)
    seen_esp = False
    for frame in frames:
        counts["frames"] += 1
        outer = frame.outer
        if 4500 in frame.ports and "udp" in outer:
            counts["udp4500"] += 1
        if frame.is_esp:
            seen_esp = True
            counts["esp"] += 1
            counts["esp_sequence_errors"] += frame.sequence_error
            if frame.icv == "bad":
                counts["esp_icv_bad"] += 1
            elif not frame.decrypted:
                counts["esp_undecrypted"] += 1
            elif frame.icv == "good":
                counts["esp_decrypted_ok"] += 1
            else:
                counts["esp_decrypted_no_icv"] += 1
            if frame.decrypted and frame.icv != "bad":
                inner = frame.inner
                counts["inner_gre"] += "gre" in inner
                counts["inner_icmp"] += "icmp" in inner
                counts["inner_nhrp"] += "nhrp" in inner
        elif frame.is_isakmp:
            counts["isakmp"] += 1
            if frame.isakmp_encrypted:
                counts["isakmp_encrypted"] += 1
                counts["isakmp_decrypted"] += frame.isakmp_decrypted
        elif "gre" in outer:
            counts["cleartext_gre"] += 1
            counts["cleartext_nhrp"] += "nhrp" in outer
            counts["cleartext_icmp_in_gre"] += "icmp" in outer[outer.index("gre"):]
            counts["cleartext_after_first_esp"] += seen_esp
        elif "udpencap" in outer:
            counts["nat_keepalive"] += 1
        elif "ip" in outer:
            counts["other_ip"] += 1
    return counts


def protection_report(pcap_path: str | Path, keys_dir: str | Path | None) -> dict[str, Any]:
    """Counts for one link's capture decrypted with the lab's keys (see the module doc).

    `damaged` is None, or where the capture stops being readable (the counts cover what
    came before); a file that is not a capture raises DecryptError."""
    decrypted = decrypt_capture(pcap_path, keys_dir)
    report: dict[str, Any] = dict(summarize(decrypted.frames))
    report["damaged"] = str(decrypted.damage) if decrypted.damage is not None else None
    return report


def protection_reports(directory: str | Path, keys_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """`protection_report` of every capture in a lab's capture directory, by link name
    (`spoke1-isp`); the key tables are read from `keys_dir`, by default that directory."""
    folder = Path(directory)
    keys = Path(keys_dir) if keys_dir is not None else folder
    captures = sorted(p for p in folder.iterdir() if p.suffix in (".pcapng", ".pcap") and p.is_file())
    return {p.stem: protection_report(p, keys) for p in captures}
