"""Packet captures on every underlay link: one pcapng per link, readable while the lab runs.

This module records (runs dumpcap); reading the files is `dmvpnlab.analysis`'s. Imports
`dmvpnlab.lab.records` (every dumpcap is recorded for clean-up).

Why dumpcap and not tcpdump: tcpdump writes only pcap, and scenarios assert from pcapng
files (Wireshark's native format, with interface names) *while the lab is up*. dumpcap
(Wireshark's capture engine, package wireshark-common) writes pcapng directly. It has no
"immediate" option: libpcap hands it packets at a 250 ms buffer timeout and it flushes the
file every 500 ms, so a packet is in the file within about 0.75 s (measured: 0.3-0.8 s).
`CaptureRecorder.flush()` waits out that window, so a test reading a capture never races it.

Each capture runs inside the namespace of the node that owns the interface (the router
side of a link), started through Mininet's `node.popen` (`mnexec -da PID dumpcap ...`),
recorded (PID + start time) before the lab relies on it, and stopped with SIGINT on
tear-down so dumpcap writes its closing blocks.

File names: `captures/<lab>/<owner>-<peer>.pcapng`, e.g. `spoke1-isp`, `hub-h0`,
`spoke3-nat1`, `nat1-isp`, `spoke1-Tunnel0`. Wired labs (CML imports) name a capture
after the interface instead, `<node>-<linux interface>.pcapng` (`Spoke1-Gi0-0`,
`Hub-Tunnel1`: `start_interface` / `interface_path`), since their links join named
interfaces, several of them to the same switch. The directory is relative to the directory the
lab was started from and is emptied at each bring-up.

The same directory is the lab's key directory: the agents append Wireshark's `esp_sa`
and `ikev1_decryption_table` there (dmvpnlab.ipsec.keylog), so the captures and the keys
that decrypt them travel together. A lab without captures still gets the directory
(`keys_directory`), created but not emptied (it may hold an earlier run's captures).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.lab.records import LabRecords, record_process

DUMPCAP = "dumpcap"
CAPTURES_ROOT = Path("captures")
# 250 ms libpcap timeout + 500 ms dumpcap update interval + margin.
FLUSH_WINDOW = 0.85
# dumpcap writes the section header + interface description as soon as it captures.
_READY_TIMEOUT = 10.0


class CaptureStartError(RuntimeError):
    """A capture that could not start (dumpcap missing, interface absent, ...).

    Not `dmvpnlab.analysis.ladder.CaptureError`, which is a capture file that cannot be read."""


def lab_directory(lab: str, root: Path | None = None) -> Path:
    """`captures/<lab>/` as an absolute path (agents run with other working directories)."""
    return (root or CAPTURES_ROOT).resolve() / lab


def keys_directory(lab: str, root: Path | None = None) -> Path:
    """The key directory of a lab brought up without captures: created, left as it is."""
    directory = lab_directory(lab, root)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass
class Capture:
    owner: str  # node whose namespace the capture runs in (the router side)
    peer: str
    ifname: str
    path: Path
    log: Path
    popen: subprocess.Popen[Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.owner, self.peer)


@dataclass
class CaptureRecorder:
    """The dumpcap processes recording every link of one lab bring-up into captures/<lab>/.

    It writes the files; reading them is `dmvpnlab.analysis.paths.CaptureSet`'s job."""

    directory: Path
    records: LabRecords | None = None
    captures: dict[tuple[str, str], Capture] = field(default_factory=dict)

    @classmethod
    def prepare(cls, lab: str, root: Path | None = None, records: LabRecords | None = None) -> "CaptureRecorder":
        """Empty (or create) captures/<lab>/: captures are per bring-up, never appended to."""
        directory = lab_directory(lab, root)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        return cls(directory=directory, records=records)

    def path(self, owner: str, peer: str) -> Path:
        return self.directory / f"{owner}-{peer}.pcapng"

    def interface_path(self, node: str, ifname: str) -> Path:
        """A wired lab's capture of `node`'s Linux interface `ifname`: `<node>-<ifname>.pcapng`."""
        return self.directory / f"{node}-{ifname}.pcapng"

    def start_interface(self, node: Any, owner: str, ifname: str) -> Capture:
        """Capture interface `ifname` of node `owner` into `interface_path(owner, ifname)`;
        its key is (owner, ifname)."""
        return self.start(node, ifname, owner, ifname)

    def start(self, node: Any, ifname: str, owner: str, peer: str) -> Capture:
        """Start dumpcap on `ifname` inside `node`'s namespace (does not wait for it)."""
        if shutil.which(DUMPCAP) is None:
            raise CaptureStartError("dumpcap not found: install tshark/wireshark-common (make setup)")
        path = self.path(owner, peer)
        log = self.directory / ".logs" / f"{owner}-{peer}.log"
        log.parent.mkdir(exist_ok=True)
        with open(log, "wb") as logf:
            popen = node.popen(
                [DUMPCAP, "-q", "-n", "-g", "-i", ifname, "-w", str(path)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            )
        capture = Capture(owner=owner, peer=peer, ifname=ifname, path=path, log=log, popen=popen)
        self.captures[capture.key] = capture
        if self.records is not None:
            try:
                self.records.add_process(record_process(popen.pid, "capture", node=owner), save=False)
            except ProcessLookupError:
                pass  # it died at once; wait_ready reports why from its log
        return capture

    def save_records(self) -> None:
        if self.records is not None:
            self.records.save()

    def wait_ready(self, timeout: float = _READY_TIMEOUT, keys: list[tuple[str, str]] | None = None) -> None:
        """Wait until every capture has written its file header, i.e. is really capturing."""
        pending = [self.captures[k] for k in (keys or list(self.captures))]
        deadline = time.monotonic() + timeout
        while pending:
            still = []
            for cap in pending:
                if cap.popen is not None and cap.popen.poll() is not None:
                    raise CaptureStartError(f"capture {cap.path.name} on {cap.owner}:{cap.ifname} exited: {_tail(cap.log)}")
                if not (cap.path.exists() and cap.path.stat().st_size > 0):
                    still.append(cap)
            pending = still
            if pending and time.monotonic() > deadline:
                raise CaptureStartError(f"capture {pending[0].path.name} did not start within {timeout:.0f} s: {_tail(pending[0].log)}")
            if pending:
                time.sleep(0.02)

    def flush(self, settle: float = 0.2, timeout: float = 3.0) -> None:
        """Make what was captured so far readable: wait out dumpcap's write-out window.

        A packet captured before this call is in its file at most 250 ms (libpcap buffer
        timeout) + 500 ms (dumpcap's flush period) later; we wait that long plus margin,
        then until no file grew for `settle` seconds (late packets of the same exchange).
        """
        time.sleep(FLUSH_WINDOW)
        deadline = time.monotonic() + timeout
        sizes = self._sizes()
        while time.monotonic() < deadline:
            time.sleep(settle)
            now = self._sizes()
            if now == sizes:
                return
            sizes = now

    def _sizes(self) -> dict[Path, int]:
        out = {}
        for cap in self.captures.values():
            try:
                out[cap.path] = cap.path.stat().st_size
            except FileNotFoundError:
                out[cap.path] = -1
        return out

    def stop(self, timeout: float = 5.0, tick: Callable[[], None] = lambda: None) -> None:
        """SIGINT every dumpcap (it then writes its closing blocks), wait, SIGKILL stragglers;
        `tick()` once per capture closed (the ones already stopped at once)."""
        running = [c for c in self.captures.values() if c.popen is not None and c.popen.poll() is None]
        for cap in running:
            try:
                os.kill(cap.popen.pid, signal.SIGINT)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for cap in running:
            assert cap.popen is not None
            try:
                cap.popen.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                cap.popen.kill()
                cap.popen.wait()
            tick()
        for _ in range(len(self.captures) - len(running)):
            tick()
        for cap in self.captures.values():
            if cap.path.exists():
                cap.path.chmod(0o644)  # readable by the user who opens it in Wireshark


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
