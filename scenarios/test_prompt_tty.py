"""The `make lab` prompt at a real terminal: host and router lines print their output.

Why a pseudo-terminal: on a terminal the bring-up shows a rich progress bar, which
replaces stderr while it runs; Mininet's output handler, bound during bring-up, once
pointed at that proxy, so `h1 ping ...` printed nothing at a terminal while the same
line through a pipe did. Only a test whose `dmvpnlab up` sees a tty catches that.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from dmvpnlab.lab.records import all_records
from dmvpnlab.testing.leaks import ROOT_REASON, is_root

REPO = Path(__file__).resolve().parents[1]
PROMPT = b"mininet> "


class Terminal:
    """`dmvpnlab up` on the slave side of a pty; we type on the master and read the screen."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "160", "LINES": "50"}
        env.pop("CI", None)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.screen = b""

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Everything printed until `marker` (after what was read before); fails on timeout."""
        start, deadline = len(self.screen), time.monotonic() + timeout
        while marker not in self.screen[start:]:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not self._read(0.1):
                pytest.fail(f"no {marker!r} on the terminal within {timeout} s; it shows:\n"
                            + self.screen[-3000:].decode(errors="replace"), pytrace=False)
            self._read(min(left, 0.5))
        end = self.screen.index(marker, start) + len(marker)
        return self.screen[start:end]

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return False
        self.screen += chunk
        return bool(chunk)

    def type_line(self, line: str, timeout: float = 20.0) -> str:
        """Type a line at the prompt and return what it printed before the next prompt."""
        os.write(self.master, line.encode() + b"\r")
        return self.read_until(PROMPT, timeout).decode(errors="replace").replace("\r", "")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.write(self.master, b"exit\r")
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(2)
                self.proc.wait(timeout=60)
        os.close(self.master)


@pytest.fixture(scope="module")
def terminal() -> Iterator[Terminal]:
    if not is_root():
        pytest.skip(ROOT_REASON)
    term = Terminal([sys.executable, "-m", "dmvpnlab", "up", "topologies/default.yaml"])
    try:
        term.read_until(PROMPT, timeout=120)
        yield term
    finally:
        term.close()


def test_a_host_ping_prints_its_replies(terminal: Terminal) -> None:
    out = terminal.type_line("h1 ping -c 2 192.168.2.10")
    assert "2 packets transmitted, 2 received" in out, out


def test_a_host_command_prints_its_output(terminal: Terminal) -> None:
    out = terminal.type_line("h1 ip route")
    assert "default via 192.168.1.1" in out, out


def test_a_router_pings_a_host_by_name_with_linux_ping(terminal: Terminal) -> None:
    out = terminal.type_line("spoke1 ping -c 2 h2")
    assert "PING 192.168.2.10" in out and "2 received" in out, out


def test_a_router_line_goes_to_the_ios_cli(terminal: Terminal) -> None:
    out = terminal.type_line("spoke1 show dmvpn")
    assert "Interface: Tunnel0, IPv4 NHRP Details" in out and "203.0.113.1" in out, out


def test_exit_tears_the_lab_down(terminal: Terminal) -> None:
    os.write(terminal.master, b"exit\r")
    assert terminal.proc.wait(timeout=60) == 0
    assert "default" not in [r.lab for r in all_records()], "the lab's records are still there"
