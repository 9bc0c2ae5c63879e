"""Talking to a router's CLI from outside the agent: find its socket, send lines, read answers.

Used by `dmvpnlab cli NODE`, by scenarios (`run_cli`) and by the Mininet prompt
(`mininet> spoke1 show dmvpn`). A node is found by name under the lab run directory
(`<run root>/<lab>/<node>/control.sock`, see dmvpnlab.rundir), or given as a state
directory or a socket path. Answers are JSON lines (dmvpnlab.jsonline); `{"debug": ...}`
lines may come in between and go to `on_debug`. Imports rundir and jsonline only, so
the lab's prompt can use it and `dmvpnlab cli` starts without the lab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.rundir import CONTROL_SOCKET, run_root


class NodeNotFound(LookupError):
    """No running router of that name (or several labs have one: name it LAB/NODE)."""


class CliConnectionError(ConnectionError):
    """The agent closed the connection or did not answer in time."""


def resolve(target: str | Path, root: Path | None = None) -> Path:
    """The control socket of `target`: a socket path, a state dir, `LAB/NODE` or `NODE`."""
    path = Path(target)
    if path.is_socket():
        return path
    if (path / CONTROL_SOCKET).exists():
        return path / CONTROL_SOCKET
    base = root or run_root()
    name = str(target)
    if "/" in name and not path.is_absolute():
        lab, node = name.split("/", 1)
        candidate = base / lab / node / CONTROL_SOCKET
        if candidate.exists():
            return candidate
        folded = _any_case(base, lab, node)
        if len(folded) == 1:
            return folded[0]
        raise NodeNotFound(f"no running router {node!r} in lab {lab!r} (no {candidate})")
    found = sorted(base.glob(f"*/{name}/{CONTROL_SOCKET}")) if base.is_dir() else []
    if not found:
        found = _any_case(base, None, name)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NodeNotFound(f"no running router named {name!r} (looked for {base}/*/{name}/{CONTROL_SOCKET}); "
                           "is the lab up? (`dmvpnlab status`)")
    labs = ", ".join(p.parent.parent.name for p in found)
    raise NodeNotFound(f"router {name!r} runs in several labs ({labs}): say LAB/{name}")


def _any_case(base: Path, lab: str | None, node: str) -> list[Path]:
    """Control sockets of routers named `node` in any case (wired labs keep CML labels' case:
    `dmvpnlab cli spoke1` finds `Spoke1`), in lab `lab` (any lab if None)."""
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob(f"*/*/{CONTROL_SOCKET}")
                  if p.parent.name.lower() == node.lower() and (lab is None or p.parent.parent.name == lab))


class CliClient:
    """One CLI session over the control socket (blocking)."""

    def __init__(self, path: Path, timeout: float | None = 30.0, on_debug: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.on_debug = on_debug or (lambda line: None)
        try:
            self.channel = jsonline.Channel.connect(path, timeout, peer="the router")
        except OSError as error:
            raise CliConnectionError(f"cannot connect to {path}: {error.strerror or error}") from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "CliClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_message(self) -> dict[str, Any]:
        try:
            return self.channel.receive()
        except jsonline.ConnectionClosed as closed:
            raise CliConnectionError(str(closed)) from None

    def submit(self, line: str) -> None:
        """Send one line without waiting (the interactive reader thread takes the answer)."""
        self.channel.send({"op": "cli", "line": line})

    def send(self, line: str) -> dict[str, Any]:
        """Run one line; debug lines that arrive first go to `on_debug`."""
        self.submit(line)
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
