"""The detached controller: a background process that holds one lab for `up --detach`.

Why a process: Mininet's node shells and captures are children of whoever built the lab,
and the lab must outlive the `dmvpnlab up --detach` command. The controller runs in a new
session (no terminal, no SIGHUP from the shell that started it), logs to
`/run/dmvpnlab/<lab>.controller.log`, records itself as the lab's owner (so `clean`
kills it first), and answers one JSON object per line on the unix socket
`/run/dmvpnlab/<lab>/control.sock`:

    {"op": "status"} -> {"ok": true, "lab": ..., "state": "up", "nodes": [...]}
    {"op": "exec", "node": N, "argv": [...]} -> {"ok": true, "returncode": .., "stdout": .., "stderr": ..}
    {"op": "down"}   -> {"ok": true} once the lab is torn down; then the controller exits

SIGTERM/SIGINT also tear the lab down. If the controller is SIGKILLed, `dmvpnlab down`
notices (the recorded PID is gone or has another start time) and cleans from the records.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dmvpnlab.lab.records import lab_dir, run_root

SOCKET_NAME = "control.sock"


def log_path(lab: str) -> Path:
    return run_root() / f"{lab}.controller.log"


def socket_path(lab: str) -> Path:
    return lab_dir(lab) / SOCKET_NAME


class _Stop(Exception):
    """Raised from the signal handler to leave the accept loop and tear down."""


def _handle(lab: Any, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Answer one request; the bool says whether the controller should stop afterwards."""
    op = request.get("op")
    if op == "status":
        return {"ok": True, "lab": lab.name, "state": "up", "pid": os.getpid(), "nodes": lab.node_info()}, False
    if op == "exec":
        result = lab.exec(str(request["node"]), list(request["argv"]), timeout=request.get("timeout", 60))
        return {"ok": True, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}, False
    if op == "down":
        return {"ok": True}, True
    return {"ok": False, "error": f"unknown op {op!r}"}, False


def serve(topology: str) -> int:
    from dmvpnlab.lab.lab import Lab  # imported here: the module must stay cheap to import

    def on_signal(signum: int, _frame: Any) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    print(f"controller {os.getpid()}: bringing up {topology}", flush=True)
    lab = Lab.up(topology, quiet=True, detached=True, note=lambda text: print(text, flush=True))
    sock_file = socket_path(lab.name)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock_file.unlink(missing_ok=True)
        server.bind(str(sock_file))
        server.listen(8)
        lab.records.update(control_socket=str(sock_file))
        print(f"controller {os.getpid()}: lab {lab.name} up in {lab.timings['up']:.2f} s; "
              f"listening on {sock_file}", flush=True)
        stop = False
        while not stop:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(120)
                try:
                    request = json.loads(_read_line(conn))
                    reply, stop = _handle(lab, request)
                except (ValueError, KeyError, OSError) as e:
                    reply, stop = {"ok": False, "error": str(e)}, False
                if stop:
                    lab.down()
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass
    except _Stop as e:
        print(f"controller {os.getpid()}: {e}: tearing down", flush=True)
    finally:
        server.close()
        lab.down()
        print(f"controller {os.getpid()}: lab {lab.name} down", flush=True)
    return 0


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def request(lab: str, payload: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Send one request to a lab's controller and return its reply (OSError if unreachable)."""
    from dmvpnlab.control import request as json_line_request

    return json_line_request(socket_path(lab), payload, timeout)


def spawn(topology: Path, lab: str) -> subprocess.Popen[bytes]:
    """Start a detached controller (new session, own log) from the current directory."""
    log = log_path(lab)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dmvpnlab.lab.controller", str(topology)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=os.getcwd(),
        )


def wait_up(popen: subprocess.Popen[bytes], lab: str, timeout: float = 600.0) -> None:
    """Block until the controller answers on its socket; RuntimeError with its log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"the lab controller exited (code {popen.returncode}) during bring-up:\n"
                               f"{tail(log_path(lab))}")
        if socket_path(lab).exists():
            try:
                if request(lab, {"op": "status"}, timeout=5).get("ok"):
                    return
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"the lab controller did not come up within {timeout:.0f} s; see {log_path(lab)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dmvpnlab-controller")
    parser.add_argument("topology")
    args = parser.parse_args(argv)
    try:
        return serve(args.topology)
    except Exception as e:  # the log is the only place a detached error can go
        print(f"controller {os.getpid()}: error: {type(e).__name__}: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
