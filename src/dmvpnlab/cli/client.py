"""Talking to a router's CLI from outside the agent: find its socket, send lines, read answers.

Used by `dmvpnlab cli NODE`, by scenarios (`run_cli`) and by the Mininet prompt
(`mininet> spoke1 show dmvpn`). A node is found by name under the lab run directory
(`<run root>/<lab>/<node>/control.sock`, see lab/agents.py and lab/records.py), or given
as a state directory or a socket path. Answers are JSON lines; `{"debug": ...}` lines
may come in between and go to `on_debug`.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Callable

SOCKET_NAME = "control.sock"
RUN_ROOT_ENV = "DMVPNLAB_RUN_DIR"  # same variable as dmvpnlab.lab.records
DEFAULT_RUN_ROOT = Path("/run/dmvpnlab")


class NodeNotFound(LookupError):
    """No running router of that name (or several labs have one: name it LAB/NODE)."""


class CliConnectionError(ConnectionError):
    """The agent closed the connection or did not answer in time."""


def run_root() -> Path:
    return Path(os.environ.get(RUN_ROOT_ENV, str(DEFAULT_RUN_ROOT)))


def resolve(target: str | Path, root: Path | None = None) -> Path:
    """The control socket of `target`: a socket path, a state dir, `LAB/NODE` or `NODE`."""
    path = Path(target)
    if path.is_socket():
        return path
    if (path / SOCKET_NAME).exists():
        return path / SOCKET_NAME
    base = root or run_root()
    name = str(target)
    if "/" in name and not path.is_absolute():
        lab, node = name.split("/", 1)
        candidate = base / lab / node / SOCKET_NAME
        if candidate.exists():
            return candidate
        raise NodeNotFound(f"no running router {node!r} in lab {lab!r} (no {candidate})")
    found = sorted(base.glob(f"*/{name}/{SOCKET_NAME}")) if base.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise NodeNotFound(f"no running router named {name!r} (looked for {base}/*/{name}/{SOCKET_NAME}); "
                           "is the lab up? (`dmvpnlab status`)")
    labs = ", ".join(p.parent.parent.name for p in found)
    raise NodeNotFound(f"router {name!r} runs in several labs ({labs}): say LAB/{name}")


class CliClient:
    """One CLI session over the control socket (blocking)."""

    def __init__(self, path: Path, timeout: float = 30.0, on_debug: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.on_debug = on_debug or (lambda line: None)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as error:
            self.sock.close()
            raise CliConnectionError(f"cannot connect to {path}: {error.strerror or error}") from None
        self._buffer = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "CliClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_message(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CliConnectionError("the router closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def send(self, line: str) -> dict[str, Any]:
        """Run one line; debug lines that arrive first go to `on_debug`."""
        self.sock.sendall(json.dumps({"op": "cli", "line": line}).encode() + b"\n")
        while True:
            message = self.read_message()
            if "debug" in message and "ok" not in message:
                self.on_debug(message["debug"])
                continue
            if not message.get("ok"):
                raise CliConnectionError(message.get("error", "the router refused the request"))
            return message


def run_cli(target: str | Path, line: str, timeout: float = 30.0) -> str:
    """One command on one router, its output as text (errors included, as IOS prints them)."""
    with CliClient(resolve(target), timeout) as client:
        return client.send(line)["output"]
