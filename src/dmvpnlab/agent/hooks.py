"""What the agent offers code plugged into it: control operations, debug sinks, an SSH server.

The agent never imports the CLI. The CLI (or a test) provides objects of these shapes,
and the composition root (dmvpnlab.router) hands them to `RouterAgent` as `Extensions`.
This module is small and cheap on purpose: the CLI and the lab import it for the types.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

if TYPE_CHECKING:
    import asyncio

    from dmvpnlab.agent.core import RouterAgent

ControlAnswer = dict[str, Any] | None  # None: nothing to write back for this line
ControlOperation = Callable[["RouterAgent", dict[str, Any], "asyncio.StreamWriter"],
                            ControlAnswer | Awaitable[ControlAnswer]]
"""A control socket operation: (agent, request, writer) -> answer. It runs on the agent's
loop; one that streams (debug output) writes its own lines to the writer."""


class DebugSink(Protocol):
    """A session that asked for `debug nhrp [packet|cache|extension]` (or `debug dmvpn all`).

    The agent writes each NHRP debug line whose category is in `categories` (or when it
    holds "all"); a `write` that raises removes the sink (its session has gone).
    """

    categories: set[str]

    def write(self, line: str) -> None: ...


@dataclass(frozen=True)
class SshOptions:
    """Where the router answers SSH (in a lab: its management address, port 22) and who may log in."""

    address: str
    port: int
    username: str
    password: str = field(repr=False)


class SshServer(Protocol):
    """A running SSH server of the router; the agent stops it when it exits."""

    def stop(self) -> None: ...


class SshServerFactory(Protocol):
    """Start answering SSH for `agent` (called on the agent's running loop).

    OSError if the port cannot be bound: the agent reports it as a start-up error.
    """

    def __call__(self, agent: "RouterAgent", options: SshOptions, state_dir: Path) -> SshServer: ...


@dataclass(frozen=True)
class Extensions:
    """Everything plugged into one agent: extra control operations and the SSH server."""

    operations: Mapping[str, ControlOperation] = field(default_factory=dict)
    ssh_server: SshServerFactory | None = None
