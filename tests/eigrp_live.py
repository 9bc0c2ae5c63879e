"""What the EIGRP live tests share: the real agent in a namespace, waiting, its kernel routes.

Why a module: tests/test_eigrp_frr_live.py (against eigrpd) and
tests/test_eigrp_tunnel_live.py (two agents over the mGRE tunnel) drive `dmvpnlab agent`
the same way: started with `ip netns exec`, read through its control socket (JSON
lines), stopped by its own PID. Nothing here creates a namespace.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from netns_live import stop


def wait(what: str, check: Callable[[], Any], timeout: float) -> float:
    start = time.monotonic()
    while True:
        try:
            if check():
                break
        except (OSError, KeyError, ValueError, subprocess.CalledProcessError):
            pass
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        time.sleep(0.2)
    took = time.monotonic() - start
    print(f"{what}: {took:.1f} s")
    return took


class Agent:
    """The real `dmvpnlab agent` in `netns` with an IOS startup config."""

    def __init__(self, netns: str, node: str, state_dir: Path, conf: str) -> None:
        self.dir = state_dir
        state_dir.mkdir(exist_ok=True)
        (state_dir / "ready").unlink(missing_ok=True)
        (state_dir / "startup-config").write_text(conf)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-m", "dmvpnlab", "agent", "--node", node,
             "--config", str(state_dir / "startup-config"), "--state-dir", str(state_dir), "--debug"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait("agent ready", self._started, 20)

    def _started(self) -> bool:
        if self.proc.poll() is not None:
            log = self.dir / "agent.log"
            raise AssertionError(f"agent exited {self.proc.returncode}: {self.proc.stderr.read() if self.proc.stderr else ''}"
                                 f"{log.read_text() if log.exists() else ''}")
        return (self.dir / "ready").exists()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.dir / "control.sock"))
            sock.sendall((json.dumps(message) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def eigrp(self) -> dict[str, Any]:
        answer = self.request({"op": "state"})
        return answer["state"]["routing"]["eigrp"]

    def cli(self, line: str) -> str:
        answer = self.request({"op": "cli", "line": line})
        assert answer.get("ok") and not answer.get("error"), answer
        return str(answer["output"])

    def configure(self, *lines: str) -> list[str]:
        """`configure terminal`, `lines`, `end` in one CLI session (one connection); the outputs."""
        outputs = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.dir / "control.sock"))
            reader = sock.makefile("rb")
            for line in ("configure terminal", *lines, "end"):
                sock.sendall((json.dumps({"op": "cli", "line": line}) + "\n").encode())
                while True:
                    answer = json.loads(reader.readline())
                    if "debug" not in answer:
                        break
                assert answer.get("ok") and not answer.get("error"), (line, answer)
                outputs.append(str(answer.get("output", "")))
        return outputs

    def close(self) -> None:
        stop(self.proc)


def eigrp_routes(netns: str) -> list[str]:
    """`ip route show proto eigrp` in `netns`, one route a line."""
    out = subprocess.run(["ip", "-n", netns, "-4", "route", "show", "proto", "eigrp"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line]
