"""The agent's FRR: the daemons the IOS `router ospf|bgp|rip` lines ask for, kept in step.

Why a module of its own: the agent core only says when (apply, tick, exit); this owns
the FrrSupervisor (routing/frr.py) and the questions around it. Which daemons and which
text come from the pure translation (routing/frr_config.py). The first apply starts FRR
before the agent says it is ready; a later `configure terminal` change that alters the
FRR text (and only such a change) reloads it, RELOAD_DELAY seconds after the last such
line, so pasting a `router ospf` section of five lines restarts the daemons once, not
five times (a reload is a restart in 8.4: see routing/frr.py). A reload restarts the
protocol daemons and never zebra, and zebra stays up once started: a zebra starting
while the agent has NHRP or EIGRP routes may adopt them (routing/kernel.py); for the
same reason the agent removes such routes left by an earlier agent before its first
FRR start (`purge_agent_routes`).

Every daemon is written down as it is spawned, one JSON line in the state directory's
FRR_PROCESSES journal (pid, kernel start time, argv). The agent may not import the
lab, and the lab records only what it starts itself, so the journal is the contract:
`dmvpnlab clean` (lab/records.py) reads it next to the lab's own records and stops the
daemons an agent that was killed left behind, each only if its PID still has the
recorded start time. A new agent in the same state directory does the same before it
starts its own (a crash-restart must not meet the old zebra on its sockets).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.config.model import RouterConfig
from dmvpnlab.ifnames import linux_ifname
from dmvpnlab.procfs import proc_start_time
from dmvpnlab.routing.frr import FRR_SBIN, VTYSH, DaemonRecord, FrrError, FrrSupervisor, vtysh_argv
from dmvpnlab.routing.frr_config import FrrConfig, frr_config
from dmvpnlab.routing.kernel import AGENT_ROUTE_PROTOS
from dmvpnlab.rundir import FRR_PROCESSES, FRR_RUN_DIR

log = logging.getLogger(__name__)

RELOAD_DELAY = 1.0
LEFTOVER_GRACE = 3.0

SupervisorFactory = Callable[..., FrrSupervisor]


def zebra_only_text(hostname: str) -> str:
    """frr.conf for a zebra that stays up with no protocol configured (see FrrNode.sync)."""
    return f"frr version 8.4\nfrr defaults traditional\nhostname {hostname}\n!\n"


def purge_agent_routes(kernel: Any) -> int:
    """Delete every NHRP and EIGRP route (AGENT_ROUTE_PROTOS) in the main table.

    Called once, before the agent's first FRR start: the agent has installed none yet,
    so any there were left by an earlier agent that was killed, and a zebra starting
    beside them may adopt them (routing/kernel.py)."""
    count = 0
    for route in kernel.routes():
        if route.proto in AGENT_ROUTE_PROTOS:
            if kernel.delete_route(route.prefix, route.gateway, route.proto, route.metric):
                count += 1
    if count:
        log.warning("removed %d NHRP/EIGRP routes an earlier agent left in the kernel", count)
    return count


def read_journal(path: Path) -> list[DaemonRecord]:
    """The daemons a journal names (torn or foreign lines skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
            out.append(DaemonRecord(str(entry["daemon"]), int(entry["pid"]),
                                    None if entry.get("start_time") is None else int(entry["start_time"]),
                                    tuple(str(a) for a in entry.get("argv", ()))))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def stop_leftovers(path: Path, grace: float = LEFTOVER_GRACE,
                   kill: Callable[[int, int], None] = os.kill) -> list[int]:
    """SIGTERM (then SIGKILL) every journalled daemon whose PID still has its start time.

    A record without a start time is never signalled: its PID cannot be told from a
    recycled one."""
    alive = [r for r in read_journal(path) if r.start_time is not None and proc_start_time(r.pid) == r.start_time]
    for record in alive:
        try:
            kill(record.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    pending = list(alive)
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [r for r in pending if proc_start_time(r.pid) == r.start_time]
    for record in pending:
        try:
            kill(record.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [r.pid for r in alive]


class FrrNode:
    """zebra + ospfd/bgpd/ripd of one router, following its IOS config."""

    def __init__(self, node: str, state_dir: Path, *, sbin: Path = FRR_SBIN, vtysh: str = VTYSH,
                 factory: SupervisorFactory = FrrSupervisor, reload_delay: float = RELOAD_DELAY) -> None:
        self.node = node
        self.state_dir = state_dir
        self.run_dir = state_dir / FRR_RUN_DIR
        self.journal = state_dir / FRR_PROCESSES
        self.sbin = sbin
        self.vtysh_path = vtysh
        self.factory = factory
        self.reload_delay = reload_delay
        self.supervisor: FrrSupervisor | None = None
        self.wanted = FrrConfig()
        self.running_text: str | None = None  # the text the supervisor runs on
        self.changed_at: float | None = None  # a change waits for its reload since then
        self.reloads = 0
        self.error: str | None = None  # why FRR is not running as configured
        self._cleared = False

    # ---------------------------------------------------------------- config

    @property
    def ignored(self) -> list[str]:
        """IOS routing lines FRR has no equivalent for (the agent's ignored-lines report)."""
        return list(self.wanted.ignored)

    def configure(self, config: RouterConfig, now: float, *, immediate: bool) -> None:
        """Note what `config` asks of FRR; start/stop/reload now or after RELOAD_DELAY."""
        if not self._cleared:
            self._clear_leftovers()
        wanted = frr_config(config, lambda name: linux_ifname(self.node, name))
        changed = wanted.text != self.wanted.text or wanted.daemons != self.wanted.daemons
        for line in wanted.ignored:
            if line not in self.wanted.ignored:
                log.warning("ignored (no FRR equivalent): %s", line)
        self.wanted = wanted
        if not changed and self.changed_at is None:
            return
        if immediate:
            self.sync()
        elif changed:
            self.changed_at = now

    def tick(self, now: float) -> None:
        """Reload a settled change; restart daemons that died (routing/frr.py's budget)."""
        if self.changed_at is not None and now - self.changed_at >= self.reload_delay:
            self.sync()
        if self.supervisor is not None:
            self.supervisor.poll()

    def sync(self) -> None:
        """Make the running daemons match `wanted`: start them, or restart the protocol
        daemons on the new text. zebra, once started, runs until the agent exits, also
        when no protocol is left: it must not start again while the agent has NHRP or
        EIGRP routes in the kernel (routing/kernel.py). A failure is logged and kept in
        `error` (the router keeps routing the rest)."""
        self.changed_at = None
        wanted = self.wanted
        protocols = sorted(wanted.daemons - {"zebra"})
        text = wanted.text or zebra_only_text(self.node)
        supervisor = self.supervisor
        try:
            if supervisor is None:
                if not protocols:
                    return
                supervisor = self.factory(self.node, self.run_dir, protocols, text, sbin=self.sbin,
                                          vtysh=self.vtysh_path, on_spawn=self._write_down)
                supervisor.start()
            elif text == self.running_text:
                return
            else:
                supervisor.restart_protocols(protocols, text)
        except (FrrError, OSError, ValueError) as error:  # what had started is stopped again
            self.supervisor, self.running_text, self.error = None, None, str(error)
            log.error("FRR not started: %s", error)
            return
        reload = self.supervisor is not None
        self.supervisor, self.running_text, self.error = supervisor, text, None
        self.reloads += reload
        log.info("FRR %s: %s", "reloaded" if reload else "started", ", ".join(supervisor.daemons))

    def _clear_leftovers(self) -> None:
        """Daemons an earlier agent in this state directory left (it was killed): stop them."""
        self._cleared = True
        leftovers = stop_leftovers(self.journal)
        if leftovers:
            log.warning("stopped FRR daemons an earlier agent left running: %s", leftovers)
        self.journal.unlink(missing_ok=True)

    def _write_down(self, record: DaemonRecord) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a") as f:
            f.write(json.dumps({**asdict(record), "node": self.node}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # ---------------------------------------------------------------- drive

    def vtysh(self, command: str) -> str:
        """One FRR command's output (`show ip ospf neighbor json`...); FrrError without FRR."""
        if self.supervisor is None:
            raise FrrError(self.error or "no routing protocol runs in FRR on this router")
        return self.supervisor.vtysh(command)

    def vtysh_json(self, command: str) -> Any:
        """`command` (which must end in `json`) as parsed JSON; {} for an empty answer."""
        text = self.vtysh(command).strip()
        return json.loads(text) if text else {}

    def stop(self) -> None:
        """Stop the daemons (by the PIDs we started, zebra too: the agent is leaving or FRR
        failed); the journal is left as it is."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
            self.running_text = None

    # ---------------------------------------------------------------- state

    def state(self) -> dict[str, Any]:
        """`state["routing"]["frr"]`: what runs, where, and what was left out."""
        sup = self.supervisor
        return {
            "daemons": sorted(self.wanted.daemons),
            "running": [{"daemon": r.daemon, "pid": r.pid, "start_time": r.start_time} for r in sup.records()]
            if sup is not None else [],
            "run_dir": str(self.run_dir),
            "vtysh": vtysh_argv(sup.paths, vtysh=self.vtysh_path) if sup is not None else None,
            "reloads": self.reloads,
            "reload_pending": self.changed_at is not None,
            "restarts": dict(sup.restarts) if sup is not None else {},
            "given_up": sorted(sup.given_up) if sup is not None else [],
            "error": self.error,
            "ignored": self.ignored,
        }


def vtysh_operation(agent: Any, request: dict[str, Any], writer: Any) -> dict[str, Any]:
    """Control operation `{"op": "vtysh", "command": "show ip ospf neighbor json"}`.

    The answer holds FRR's `output`, and `json` parsed when the command ends in `json`
    (FRR's own JSON: the CLI builds IOS tables from it). Without FRR (no OSPF/BGP/RIP),
    or when vtysh fails, `ok` is false with FRR's message: the CLI shows it as an error.
    """
    command = request.get("command")
    if not isinstance(command, str) or not command.strip():
        return {"ok": False, "error": "'command' must be a non-empty string"}
    frr: FrrNode | None = getattr(agent, "frr", None)
    if frr is None:
        return {"ok": False, "error": "no routing protocol runs in FRR on this router"}
    try:
        output = frr.vtysh(command)
    except (FrrError, OSError, ValueError) as error:
        return {"ok": False, "error": str(error)}
    answer: dict[str, Any] = {"ok": True, "output": output}
    if command.split()[-1] == "json":
        try:
            answer["json"] = json.loads(output) if output.strip() else {}
        except ValueError:
            answer["json"] = None
    return answer
