"""One pre-loaded process that forks a router agent into each router's namespace.

Every agent spends most of its start-up CPU importing the same modules (asyncio,
pyroute2, the config parser, the CLI): about 0.15 s, which is 15 s of CPU for a lab of a
hundred spokes on a two-core machine. The zygote imports them once; for each router it
forks, the child joins the router's network namespace (setns on /proc/PID/ns/net of the
router's shell), points stdout/stderr at the agent's log and runs the ordinary `agent`
command. Each router is still its own process, started with its own config.

The zygote answers JSON lines (dmvpnlab.jsonline) on a unix socket:
  {"op": "spawn", "argv": [...], "netns": "/proc/123/ns/net", "log": "...", "cwd": "...", "env": {...}}
      -> {"ok": true, "pid": 4567}
  {"op": "poll", "pid": 4567} -> {"ok": true, "returncode": null | int}
  {"op": "exit"} -> {"ok": true}, then the zygote exits (its agents keep running)
It reaps its children (polling, at least once a second and before every answer) and
remembers their exit codes for `poll`. It holds no thread, no event loop and no Python
signal handler (SIGTERM keeps its default action: it ends the zygote at once, whatever
it is doing), so forking it is safe and stopping it cannot race.

What it preloads and which command a child runs are handed in by whoever registers the
`agent-zygote` subcommand (the composition root, dmvpnlab.router), so this module names
no other module. Imports jsonline only.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15
ACCEPT_WAKEUP = 1.0

CommandMain = Callable[[list[str]], int]
"""Runs one `dmvpnlab` command line in this process (the child's `agent ...`)."""


# --------------------------------------------------------------------------- server

class Zygote:
    """The server: forks a child per `spawn`, which runs `main(argv)` in the router's namespace."""

    def __init__(self, path: Path, main: CommandMain) -> None:
        self.path = path
        self.main = main
        self.exited: dict[int, int] = {}
        self.children: set[int] = set()
        self.exiting = False

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.exited[pid] = os.waitstatus_to_exitcode(status)

    def serve(self) -> None:
        self.path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        server.listen(16)
        server.settimeout(ACCEPT_WAKEUP)  # wake up to reap children even with no client
        print(f"ready {os.getpid()}", flush=True)
        try:
            while not self.exiting:
                try:
                    conn, _ = server.accept()
                except socket.timeout:
                    self.reap()
                    continue
                conn.settimeout(None)
                with conn:
                    self._serve_connection(server, conn)
        finally:
            server.close()
            self.path.unlink(missing_ok=True)

    def _serve_connection(self, server: socket.socket, conn: socket.socket) -> None:
        def spawn(request: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "pid": self.spawn(server, conn, request)}

        def poll(request: dict[str, Any]) -> dict[str, Any]:
            pid = int(request["pid"])
            self.reap()
            return {"ok": True, "returncode": self.exited.get(pid)}

        def exit_(request: dict[str, Any]) -> dict[str, Any]:
            self.exiting = True
            return {"ok": True}

        jsonline.serve_connection(conn, {"spawn": spawn, "poll": poll, "exit": exit_},
                                  more=lambda: not self.exiting)

    def spawn(self, server: socket.socket, conn: socket.socket, request: dict[str, Any]) -> int:
        netns = os.open(request["netns"], os.O_RDONLY | os.O_CLOEXEC)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                _become_agent(netns, log, request, self.main)  # never returns
            self.children.add(pid)
            return pid
        finally:
            os.close(netns)
            os.close(log)


def _become_agent(netns: int, log: int, request: dict[str, Any], main: CommandMain) -> None:
    code = 1
    try:
        os.setsid()
        libc = ctypes.CDLL(None, use_errno=True)
        node = request["argv"][request["argv"].index("--node") + 1] if "--node" in request["argv"] else "agent"
        libc.prctl(PR_SET_NAME, f"agent:{node}"[:15].encode(), 0, 0, 0)  # `ps -o comm`, top
        if libc.setns(netns, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNET) failed")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(request.get("cwd") or "/")
        os.environ.update(request.get("env") or {})
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        code = int(main(list(request["argv"])) or 0)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def freeze_heap() -> int:
    """Move every object the preload made into the collector's permanent generation.

    Why: a forked agent shares the zygote's pages copy-on-write, but CPython's cyclic GC
    writes into the header of every object it traverses, so the first collection in each
    child would copy nearly every page of the preloaded modules (PSS per agent = RSS).
    Frozen objects are never traversed, so those pages stay shared across all agents.
    Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def register(subparsers: argparse._SubParsersAction, preload: Callable[[], object], main: CommandMain) -> None:
    """Add the `agent-zygote` subcommand: `preload()` imports what an agent needs, once,
    before the first fork; each child then runs `main(argv)`."""
    parser = subparsers.add_parser("agent-zygote", help="(used by the lab) fork agents into router namespaces")
    parser.add_argument("--socket", required=True, type=Path)

    def run(args: argparse.Namespace) -> int:
        preload()
        freeze_heap()
        Zygote(args.socket, main).serve()
        return 0

    parser.set_defaults(func=run)


# --------------------------------------------------------------------------- client

class ZygoteClient:
    """The lab's side: one connection, one request at a time."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.channel = jsonline.Channel.connect(path, timeout, peer="the agent zygote")

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The answer; ConnectionError if the zygote has gone, RuntimeError if it refused."""
        answer = self.channel.request(payload)
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error", "agent zygote error"))
        return answer

    def close(self) -> None:
        self.channel.close()


class ForkedProcess:
    """What the lab needs of a subprocess.Popen, for an agent the zygote forked."""

    def __init__(self, client: ZygoteClient, pid: int) -> None:
        self.client = client
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self.client.request({"op": "poll", "pid": self.pid})["returncode"]
            except (OSError, RuntimeError, ValueError):
                if not Path(f"/proc/{self.pid}").exists():
                    self.returncode = -signal.SIGKILL  # the zygote is gone and so is the agent
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

