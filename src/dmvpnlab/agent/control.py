"""The agent's control socket: JSON lines (dmvpnlab.jsonline) on a unix socket in its state dir.

One request per line, one answer per line: `{"op": "state"}`, `{"op": "clear_nhrp",
"address": "10.0.0.3"}`, `{"op": "ping"}`, `{"op": "vtysh", "command": "show ip ospf
neighbor json"}` (agent/frr_node.py) are the agent's own (BUILTIN_OPERATIONS);
whatever was plugged into the agent (the exec-mode CLI's `cli`) is passed in as more
operations. A handler that streams (debug output) gets the writer. A bad request gets
`{"ok": false, "error": "..."}` and the connection stays usable: a client can never
crash the router. That includes lines no JSON decoder takes (undecodable bytes, nesting
past the recursion limit), lines longer than the reader's limit (answered, then skipped
to their end) and answers JSON cannot carry. Strings in a request are JSON's, so they
may hold lone surrogates: answers are written as ASCII JSON (`\\ud800`), which always
encodes; the CLI turns such text into visible escapes where it enters (cli/exec.py).
Imports the agent's state answer, its FRR operation and jsonline, nothing else of ours.
"""

from __future__ import annotations

import asyncio
import logging
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from dmvpnlab import jsonline
from dmvpnlab.agent.frr_node import vtysh_operation
from dmvpnlab.agent.hooks import ControlAnswer, ControlOperation
from dmvpnlab.agent.state import agent_state

if TYPE_CHECKING:
    from dmvpnlab.agent.core import RouterAgent

log = logging.getLogger(__name__)

LINE_LIMIT = 1 << 16  # bytes of one request line (the stream reader's buffer limit)


class RequestTooLong(Exception):
    """A request line longer than LINE_LIMIT; it has been read to its end and dropped."""


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The next request line; None at the end of the stream; RequestTooLong (after
    skipping the line) when it does not fit the reader's buffer, so the next line is
    read from its start and not from the middle of the long one."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as eof:  # the last line, without its newline
        return eof.partial or None
    except asyncio.LimitOverrunError as over:
        consumed = over.consumed
    while True:
        await reader.read(consumed)  # what the reader has buffered of the long line
        try:
            await reader.readuntil(b"\n")  # its end (or the end of the stream)
        except asyncio.IncompleteReadError:
            pass
        except asyncio.LimitOverrunError as over:
            consumed = over.consumed
            continue
        raise RequestTooLong()


def encode_answer(answer: dict[str, Any]) -> bytes:
    """The answer as one JSON line; an operation's answer that JSON cannot hold (a
    circular or non-string-keyed value: a bug) is answered as that failure."""
    try:
        return jsonline.encode(answer)
    except (TypeError, ValueError, RecursionError) as error:
        log.exception("control answer could not be encoded")
        return jsonline.encode(jsonline.failure(error))


def _ping(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "hostname": agent.hostname}


def _state(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    return {"ok": True, "state": agent_state(agent)}


def _nhrp_summary(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    """`{"op": "nhrp_summary"}`: counts of NHRP peers per tunnel, not the entries (see state.nhrp_summary)."""
    from dmvpnlab.agent.state import nhrp_summary

    return {"ok": True, "summary": nhrp_summary(agent)}


def _clear(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    address = request.get("address")
    count = agent.clear_nhrp(IPv4Address(address) if address else None)
    return {"ok": True, "cleared": count}


def _impair(agent: "RouterAgent", request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    """`{"op": "impair", "delay_ms": D, "jitter_ms": J}`: every tunnel's outgoing packets held
    D ± J ms (tunnel.delay_line: the lab's delay fault where the kernel has no netem); 0 and 0 undo."""
    from dmvpnlab.tunnel.delay_line import DelayLine, impair

    try:
        delay, jitter = float(request.get("delay_ms", 0)), float(request.get("jitter_ms", 0))
    except (TypeError, ValueError):
        return jsonline.error("bad request: delay_ms and jitter_ms must be numbers")
    if not (0 <= delay <= 10000 and 0 <= jitter <= 10000):
        return jsonline.error("bad request: delay_ms and jitter_ms must be from 0 to 10000")
    line = DelayLine(delay, jitter, asyncio.get_running_loop())
    tunnels = []
    for tunnel in agent.tunnels_node.tunnels():
        if hasattr(tunnel.transport, "owner"):
            continue  # a view of another tunnel's ESP transport: impaired with its owner
        impair(tunnel.transport, line)
        tunnels.append(tunnel.name)
    agent.impairment = line if line.active else None
    return {"ok": True, "tunnels": tunnels, "delay_ms": delay, "jitter_ms": jitter}


BUILTIN_OPERATIONS: dict[str, ControlOperation] = {"ping": _ping, "state": _state, "nhrp_summary": _nhrp_summary,
                                                   "clear_nhrp": _clear,
                                                   "vtysh": vtysh_operation, "impair": _impair}


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
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=LINE_LIMIT)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await read_request(reader)
                except RequestTooLong:
                    answer: ControlAnswer = jsonline.error(f"bad request: longer than {LINE_LIMIT} bytes")
                else:
                    if line is None:
                        break
                    answer = await self._answer(line, writer)
                if answer is None:
                    continue
                writer.write(encode_answer(answer))
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
