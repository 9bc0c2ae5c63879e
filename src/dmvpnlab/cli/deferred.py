"""An exec command whose answer takes time (`ping`, `traceroute`).

The agent process is the router's data plane: a ping through Tunnel0 is forwarded by the
same event loop that runs the CLI, so such a command must never block it. Its action
returns a `Deferred`; the session awaits `run()` (ExecSession.handle_async) while the
loop goes on forwarding. `run` is a factory, not a coroutine, so a synchronous caller
that cannot await it leaves no un-awaited coroutine behind.
"""

from __future__ import annotations

from typing import Awaitable, Callable, NamedTuple


class Deferred(NamedTuple):
    run: Callable[[], Awaitable[str]]


class DeferredError(Exception):
    """A deferred command that cannot be done; shown as `% message`."""
