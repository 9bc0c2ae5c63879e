"""The CLI on the agent's control socket: `{"op": "cli", "line": "show dmvpn"}`.

One exec session per connection (mode, terminal settings, config session, debug), so a
client that sends `configure terminal` and then config lines on the same connection
gets IOS's behaviour. The answer is `{"ok": true, "output": ..., "prompt": "hub#",
"error": false, "closed": false}`; debug lines the session asked for arrive in between
as `{"debug": "..."}` lines. `{"op": "routes"}` answers the
routing table as data. `OPERATIONS` is what the composition root (dmvpnlab.router)
plugs into the agent's control server; from the agent this module imports only the
shape of an operation (agent/hooks.py).

A session lives as long as its connection's writer: it is found by the writer in a
weak-keyed table and holds the writer only weakly itself (a strong reference from the
value would keep the key, and so every session of every connection ever made, alive).
Its debug subscription, if any, ends with the next debug line (the agent drops a sink
whose write raises).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.agent.hooks import ControlOperation
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.pager import paged

_sessions: "weakref.WeakKeyDictionary[asyncio.StreamWriter, ExecSession]" = weakref.WeakKeyDictionary()


def _debug_writer(writer: asyncio.StreamWriter) -> Callable[[str], None]:
    ref = weakref.ref(writer)

    def emit(line: str) -> None:
        alive = ref()
        if alive is None or alive.is_closing():
            raise ConnectionError("CLI connection closed")  # the agent then drops the sink
        alive.write(jsonline.encode({"debug": line}))
    return emit


def session_for(agent: Any, writer: asyncio.StreamWriter) -> ExecSession:
    session = _sessions.get(writer)
    if session is None or session.agent is not agent:
        session = ExecSession(agent, _debug_writer(writer))
        _sessions[writer] = session
    return session


def _banner(agent: Any, writer: asyncio.StreamWriter) -> str | None:
    """`banner motd` for a connection's first line (`dmvpnlab cli NODE` shows it at start)."""
    if writer in _sessions:
        return None
    motd = getattr(agent.config, "banner_motd", None)
    return motd.strip("\n") + "\n" if motd else None


async def _cli(agent: Any, request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    line = request.get("line", "")
    if not isinstance(line, str):
        return {"ok": False, "error": "'line' must be a string"}
    banner = _banner(agent, writer)
    session = session_for(agent, writer)
    result = await session.handle_async(line)  # a ping is awaited, never blocking the data plane
    if result.closed:
        session.close()
        _sessions.pop(writer, None)
    return {"ok": True, "output": result.output, "prompt": result.prompt, "error": result.error,
            "closed": result.closed, "retype": result.retype, "length": paged(line, session.length),
            **({"banner": banner} if banner else {})}


def _cli_close(agent: Any, request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    session = _sessions.pop(writer, None)
    if session is not None:
        session.close()
    return {"ok": True}


def _routes(agent: Any, request: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
    """`{"op": "routes"}`: the rows `show ip route` prints, as data (code, prefix, distance,
    metric, next hops, NHRP override), for `Lab.routes` and the pytest plugin."""
    from dmvpnlab.cli.route_table import route_rows

    return {"ok": True, "routes": route_rows(agent)}


OPERATIONS: dict[str, ControlOperation] = {"cli": _cli, "cli_close": _cli_close, "routes": _routes}
