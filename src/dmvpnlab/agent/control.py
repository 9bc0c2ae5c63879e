"""The agent's control socket: JSON lines (dmvpnlab.jsonline) on a unix socket in its state dir.

One request per line, one answer per line: `{"op": "state"}`, `{"op": "clear_nhrp",
"address": "10.0.0.3"}`, `{"op": "ping"}` are the agent's own (BUILTIN_OPERATIONS);
whatever was plugged into the agent (the exec-mode CLI's `cli`) is passed in as more
operations. A handler that streams (debug output) gets the writer. A bad request gets
`{"ok": false, "error": "..."}` and the connection stays usable: a client can never
crash the router. Imports the agent's state answer and jsonline, nothing else of ours.
"""

from __future__ import annotations

import asyncio
import logging
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from dmvpnlab import jsonline
from dmvpnlab.agent.hooks import ControlAnswer, ControlOperation
from dmvpnlab.agent.state import agent_state

if TYPE_CHECKING:
    from dmvpnlab.agent.core import RouterAgent

log = logging.getLogger(__name__)


def _ping(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "hostname": agent.hostname}


def _state(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "state": agent_state(agent)}


def _clear(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    address = request.get("address")
    count = agent.clear_nhrp(IPv4Address(address) if address else None)
    return {"ok": True, "cleared": count}


BUILTIN_OPERATIONS: dict[str, ControlOperation] = {"ping": _ping, "state": _state, "clear_nhrp": _clear}


class ControlServer:
    """Serves the agent's operations plus `operations` (the extensions') on `path`."""

    def __init__(self, agent: "RouterAgent", path: Path,
                 operations: Mapping[str, ControlOperation] | None = None) -> None:
        self.agent = agent
        self.path = path
        self.operations: dict[str, ControlOperation] = {**BUILTIN_OPERATIONS, **(operations or {})}
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
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
                writer.write(jsonline.encode(answer))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> ControlAnswer:
        try:
            operation, request = jsonline.parse_request(line, self.operations)
        except jsonline.BadRequest as bad:
            return bad.answer
        try:
            result = operation(self.agent, request, writer)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]
        except Exception as error:  # the router keeps running whatever a client asks
            log.exception("control operation %s failed", request.get("op"))
            return jsonline.failure(error)
