"""What the root-only namespace tests share: loading a bench script, a capture, stopping.

Why one module: the live tests (two agents with IKE, a tunnel pair in ESP, the bare GRE
relay) each build namespaces of their own, capture a veth and stop what they started. The
ways they do it must be the same ones (a capture is only trusted once tcpdump said it is
listening; a process is stopped by its own PID, SIGTERM first, then SIGKILL), so they are
written here once. Nothing here creates a namespace; the tests do, and remove it in
`finally`.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench_module(name: str) -> ModuleType:
    """bench/<name>.py as a module (bench is not a package the tests can import)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_capture(netns: str, device: str, pcap: Path) -> subprocess.Popen[Any]:
    """tcpdump on `device` inside `netns` into `pcap`, returned once it is listening (a
    packet sent before that would be missing from the file)."""
    capture = subprocess.Popen(["ip", "netns", "exec", netns, "tcpdump", "-i", device, "-U",
                                "--immediate-mode", "-n", "-w", str(pcap)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert capture.stderr is not None
        while "listening on" not in (line := capture.stderr.readline()):
            assert line, "tcpdump exited"
    except BaseException:
        stop(capture)
        raise
    return capture


def tshark_count(pcap: Path, display_filter: str) -> int:
    """How many frames of `pcap` match a Wireshark display filter."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())
