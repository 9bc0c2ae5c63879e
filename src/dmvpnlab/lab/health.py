"""How long a lab has been up and whether its router agents are healthy, for `dmvpnlab status`.

A PID that exists is not enough: an agent can be alive but wedged, or its PID reused by
another process. So an agent counts as healthy only if its recorded process is still the
one we started (PID and start time) *and* its control socket answers a `ping`. Reads the
lab's records and the agents' sockets; starts and changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.lab.records import LabRecords, ProcessRecord
from dmvpnlab.rundir import CONTROL_SOCKET

PING_TIMEOUT = 2.0  # seconds; a healthy agent answers in milliseconds

Ping = Callable[[Path], bool]


def ping_agent(state_dir: Path, timeout: float = PING_TIMEOUT) -> bool:
    """True if the agent's control socket in `state_dir` answers `{"op": "ping"}` with ok."""
    try:
        return bool(jsonline.request(state_dir / CONTROL_SOCKET, {"op": "ping"}, timeout).get("ok"))
    except (OSError, ValueError):
        return False


def format_duration(seconds: float) -> str:
    """`45s`, `3m12s`, `2h05m`, `1d03h`: short enough for one status line, exact to the
    unit a user cares about at that scale."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


@dataclass
class AgentHealth:
    """The agents of one lab: how many there are, which of them are healthy."""

    healthy: list[str] = field(default_factory=list)
    unhealthy: dict[str, str] = field(default_factory=dict)  # node -> why

    @property
    def total(self) -> int:
        return len(self.healthy) + len(self.unhealthy)

    def as_json(self) -> dict[str, Any]:
        return {"healthy": len(self.healthy), "total": self.total,
                "unhealthy": dict(sorted(self.unhealthy.items()))}


def latest_agents(records: LabRecords) -> dict[str, ProcessRecord]:
    """The last agent recorded for each router (a restarted agent replaces its predecessor)."""
    agents: dict[str, ProcessRecord] = {}
    for process in records.processes():
        if process.kind == "agent" and process.node:
            agents[process.node] = process
    return agents


def agent_health(records: LabRecords, ping: Ping = ping_agent, proc: Path = Path("/proc")) -> AgentHealth:
    """Each recorded agent: alive (same PID and start time) and answering on its socket."""
    health = AgentHealth()
    for node, process in sorted(latest_agents(records).items()):
        if not process.alive(proc):
            health.unhealthy[node] = f"PID {process.pid} gone"
        elif not ping(records.directory / node):
            health.unhealthy[node] = f"PID {process.pid} alive, control socket not answering"
        else:
            health.healthy.append(node)
    return health


def uptime(records: LabRecords, now: float | None = None) -> float | None:
    """Seconds since the lab's records were created (None for records without the time)."""
    created = records.data.get("created")
    if not isinstance(created, (int, float)):
        return None
    return max(0.0, (time.time() if now is None else now) - created)


def summary_line(lab: str, state: str, up_seconds: float | None, agents: dict[str, Any]) -> str:
    """`default  up 3m12s  agents 3/3 healthy` (plus which are not, when some are not);
    `agents` is `AgentHealth.as_json()`, so the text and the --json output say the same."""
    since = f" {format_duration(up_seconds)}" if up_seconds is not None else ""
    line = f"{lab}  {state}{since}  agents {agents['healthy']}/{agents['total']} healthy"
    if agents["unhealthy"]:
        line += " (" + "; ".join(f"{n}: {why}" for n, why in sorted(agents["unhealthy"].items())) + ")"
    return line
