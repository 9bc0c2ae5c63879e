"""The agent's control socket: JSON lines over a unix socket in the node's state dir.

One request per line, one answer per line: `{"op": "state"}`, `{"op": "clear_nhrp",
"address": "10.0.0.3"}`, `{"op": "ping"}`. Other areas add operations by registering a
handler in `OPERATIONS` (the exec-mode CLI adds its own). A handler that streams (debug
output) gets the writer. A bad request gets `{"ok": false, "error": "..."}` and the
connection stays usable: a client can never crash the router.
"""

from __future__ import annotations

import asyncio
import json
import logging
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from dmvpnlab.agent_state import agent_state

if TYPE_CHECKING:
    from dmvpnlab.agent import RouterAgent

log = logging.getLogger(__name__)

Handler = Callable[["RouterAgent", dict[str, Any], asyncio.StreamWriter], Awaitable[dict[str, Any]] | dict[str, Any]]
OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        OPERATIONS[name] = handler
        return handler
    return register


@operation("ping")
def _ping(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "hostname": agent.hostname}


@operation("state")
def _state(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "state": agent_state(agent)}


@operation("clear_nhrp")
def _clear(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    address = request.get("address")
    count = agent.clear_nhrp(IPv4Address(address) if address else None)
    return {"ok": True, "cleared": count}


class ControlServer:
    def __init__(self, agent: "RouterAgent", path: Path) -> None:
        self.agent = agent
        self.path = path
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        _load_extensions()
        self.path.unlink(missing_ok=True)
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await self._answer(line, writer)
                if answer is None:
                    continue
                writer.write(json.dumps(answer, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
        try:
            request = json.loads(line)
            handler = OPERATIONS[request["op"]]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": f"bad request: {line[:200]!r}"}
        try:
            result = handler(self.agent, request, writer)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        except Exception as error:  # the router keeps running whatever a client asks
            log.exception("control operation %s failed", request.get("op"))
            return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def _load_extensions() -> None:
    """Operations defined elsewhere (the exec-mode CLI) register themselves on import."""
    try:
        import dmvpnlab.cli.control_ops  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "dmvpnlab.cli.control_ops":
            raise


def request(path: Path | str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Blocking client for scripts, tests and the lab: one request, one answer (a JSON
    line each way; the lab's controller speaks the same protocol)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(payload).encode() + b"\n")
        buffer = b""
        while not buffer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    if not buffer:
        raise ConnectionError(f"{path} closed the connection without a reply")
    return json.loads(buffer)
