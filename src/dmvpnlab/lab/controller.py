"""The detached controller: a background process that holds one lab for `up --detach`.

Why a process: Mininet's node shells and captures are children of whoever built the lab,
and the lab must outlive the `dmvpnlab up --detach` command. The controller runs in a new
session (no terminal, no SIGHUP from the shell that started it), logs to
`/run/dmvpnlab/<lab>.controller.log`, records itself as the lab's owner (so `clean`
kills it first), and answers one JSON line request per connection (dmvpnlab.jsonline)
on the unix socket `/run/dmvpnlab/<lab>/control.sock`:

    {"op": "status"} -> {"ok": true, "lab": ..., "state": "up", "nodes": [...]}
    {"op": "exec", "node": N, "argv": [...]} -> {"ok": true, "returncode": .., "stdout": .., "stderr": ..}
    {"op": "fault", "kind": K, "target": T, "params": {..}} -> {"ok": true, "event": {..}, "line": ..}
    {"op": "down"}   -> {"ok": true} once the lab is torn down; then the controller exits

SIGTERM/SIGINT also tear the lab down. If the controller is SIGKILLed, `dmvpnlab down`
notices (the recorded PID is gone or has another start time) and cleans from the records.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.lab.records import lab_dir
from dmvpnlab.rundir import CONTROL_SOCKET, run_root

CONNECTION_TIMEOUT = 120.0  # a client that connects and says nothing must not hold the lab


def log_path(lab: str) -> Path:
    return run_root() / f"{lab}.controller.log"


def socket_path(lab: str) -> Path:
    return lab_dir(lab) / CONTROL_SOCKET


class _Stop(BaseException):
    """Raised from the signal handler to leave the accept loop and tear down (a
    BaseException, so that answering a request, which turns errors into replies,
    does not swallow it)."""


class _Controller:
    """The operations on a lab; `stopping` once `down` has torn it down."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.stopping = False

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"status": self.status, "exec": self.exec, "down": self.down, "fault": self.fault}

    def status(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "lab": self.lab.name, "state": "up", "pid": os.getpid(), "nodes": self.lab.node_info()}

    def exec(self, request: dict[str, Any]) -> dict[str, Any]:
        result = self.lab.exec(str(request["node"]), list(request["argv"]), timeout=request.get("timeout", 60))
        return {"ok": True, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}

    def fault(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{"op": "fault", "kind": K, "target": T, "params": {...}}`: `Lab.fault` (dmvpnlab fault)."""
        from dmvpnlab.lab.faults import FaultError
        from dmvpnlab.lab.faults.underlay import UnderlayError

        try:
            event = self.lab.fault(str(request["kind"]), str(request.get("target") or ""),
                                   **dict(request.get("params") or {}))
        except (FaultError, UnderlayError, KeyError) as error:
            return {"ok": False, "error": str(error)}
        return {"ok": True, "event": event.to_json(), "line": event.line()}

    def down(self, request: dict[str, Any]) -> dict[str, Any]:
        """Tear the lab down before answering, so `dmvpnlab down` returns once it is gone."""
        self.lab.down()
        self.stopping = True
        return {"ok": True}


def _stop_on_signals() -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def serve(topology: str, assignments: list[str] | None = None, spokes: int | None = None,
          captures: bool = True) -> int:
    from dmvpnlab.lab.lab import Lab  # imported here: the module must stay cheap to import

    _stop_on_signals()
    print(f"controller {os.getpid()}: bringing up {topology}", flush=True)
    from dmvpnlab.lab.labfile import load_lab

    topo = load_lab(topology, assignments or [], spokes=spokes)
    lab = Lab.up(topo, captures=captures, quiet=True, detached=True, note=lambda text: print(text, flush=True))
    print(f"controller {os.getpid()}: lab {lab.name} up in {lab.timings['up']:.2f} s", flush=True)
    return serve_lab(lab)


def serve_lab(lab: Any) -> int:
    """Answer requests on the lab's control socket until `down` or a signal, then tear down."""
    sock_file = socket_path(lab.name)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock_file.unlink(missing_ok=True)
        server.bind(str(sock_file))
        server.listen(8)
        lab.records.update(control_socket=str(sock_file))
        print(f"controller {os.getpid()}: lab {lab.name} listening on {sock_file}", flush=True)
        controller = _Controller(lab)
        operations = controller.operations()
        while not controller.stopping:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(CONNECTION_TIMEOUT)
                try:
                    jsonline.serve_connection(conn, operations, more=lambda: False)  # one request each
                except OSError:
                    pass  # the client went away or said nothing in time: serve the next one
    except _Stop as e:
        print(f"controller {os.getpid()}: {e}: tearing down", flush=True)
    finally:
        server.close()
        lab.down()
        print(f"controller {os.getpid()}: lab {lab.name} down", flush=True)
    return 0


def keep(lab: Any) -> int:
    """Hand a lab built in this process to a detached controller, so it outlives us.

    Why a fork and not a new controller: the lab's node shells are our children, fed
    through pipes we hold; only a copy of this process keeps them (and the captures)
    alive, with every packet and every NHRP entry as the failed test left them. The
    copy starts a new session, logs to the controller log, becomes the lab's recorded
    controller (so `dmvpnlab down` / `clean` stop it) and serves the lab's control socket
    like `up --detach`. Returns the keeper's PID (in the caller)."""
    log = log_path(lab.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        _stop_on_signals()
        from dmvpnlab.lab.records import record_process

        lab.records.hand_over(record_process(os.getpid(), "controller", kill_on_clean=True))
        print(f"controller {os.getpid()}: keeping lab {lab.name} (handed over by PID {os.getppid()})", flush=True)
        code = serve_lab(lab)
    except BaseException as e:  # the log is the only place a kept lab's error can go
        print(f"controller {os.getpid()}: error: {type(e).__name__}: {e}", flush=True)
    finally:
        os._exit(code)


def request(lab: str, payload: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Send one request to a lab's controller and return its reply (OSError if unreachable)."""
    return jsonline.request(socket_path(lab), payload, timeout)


def spawn(topology: Path, lab: str, assignments: list[str] | None = None,
          spokes: int | None = None, captures: bool = True) -> subprocess.Popen[bytes]:
    """Start a detached controller (new session, own log) from the current directory;
    `assignments` are the `--var NAME=VALUE` of `dmvpnlab up`, passed on as they were given,
    `spokes` its `--spokes N`, `captures` False its `--no-captures`."""
    log = log_path(lab)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dmvpnlab.lab.controller", str(topology),
             *(f"--var={a}" for a in assignments or []),
             *([f"--spokes={spokes}"] if spokes is not None else []), *([] if captures else ["--no-captures"])],
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
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--spokes", type=int, default=None)
    parser.add_argument("--no-captures", action="store_true")
    args = parser.parse_args(argv)
    try:
        return serve(args.topology, args.var, args.spokes, captures=not args.no_captures)
    except Exception as e:  # the log is the only place a detached error can go
        print(f"controller {os.getpid()}: error: {type(e).__name__}: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
