"""`Lab`: one running lab, the Python API that the CLI, the controller and the tests share.

    with Lab.up("topologies/underlay.yaml") as lab:
        assert lab.ping("spoke1", "203.0.113.1").returncode == 0
        lab.flush_captures()
        packets = rdpcap(lab.capture_path("spoke1", "isp"))

Bring-up order, each step recorded before the next relies on it (see records.py):
records file (with this process as the lab's owner) -> namespaces and links (builder.py)
-> captures on every underlay link (captures.py) -> agents for templated routers
(agents.py) and their Tunnel0 captures. Tear-down runs the other way and ends with the
same record-driven clean that `dmvpnlab clean` uses, so what `down` leaves behind is
exactly what `clean` would: nothing.

Both kinds of lab run here: a native `Topology` (roles -> addresses, templates) and a
`WiredTopology` (a CML/VIRL import: the file's wiring, every router's whole config). They
share the records, captures, agents and tear-down; what differs is the build
(`_bring_up_native` / `dmvpnlab.lab.wired.bringup`), chosen in `_bring_up`. Both model
types answer what the rest of this class asks (`name`, `source`, `management`,
`managed_routers`, `management_address(name)`, `router(name)`). Node names of wired labs
are the file's labels: `node()`/`exec()`/`capture_path()` accept them in any case.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from dmvpnlab.lab import agents as agents_mod
from dmvpnlab.lab.captures import CaptureRecorder, keys_directory
from dmvpnlab.lab.description import write_description
from dmvpnlab.lab.progress import Reporter
from dmvpnlab.lab.records import (
    RECORDS_NAME,
    CleanOps,
    LabRecords,
    clean_records,
    lab_dir,
    owner_alive,
    record_process,
    remove_records,
)
from dmvpnlab.lab.table import node_rows
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.wired.model import WiredTopology
from dmvpnlab.wireshark.profile import prepare_capture_config

MNEXEC = "mnexec"


class LabError(RuntimeError):
    """A lab that cannot be brought up or used; str() is a sentence for the user."""


@dataclass
class ExecResult:
    """What `Lab.exec` returns, a program run in a node's namespace: like
    subprocess.CompletedProcess, plus `ok` (a CLI line's answer is cli.exec.LineResult)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def rc(self) -> int:
        return self.returncode

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab must run as root (it creates network namespaces and veth pairs); try sudo")


@dataclass
class Lab:
    """A running lab. Build it with `Lab.up(...)`; always end it with `down()` (or `with`)."""

    topology: Topology | WiredTopology
    records: LabRecords
    nodes: dict[str, Any] = field(default_factory=dict)
    net: Any = None
    captures: CaptureRecorder | None = None
    keys_dir: Path | None = None  # where the agents write Wireshark's key tables (captures/<lab>/)
    agents: list[agents_mod.AgentHandle] = field(default_factory=list)
    launcher: agents_mod.Launcher | None = None
    roles: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    helpers: list[Any] = field(default_factory=list)  # processes the lab started in nodes (DHCP clients)
    quiet: bool = True  # no progress bars (Lab.up's `quiet`; tear-down follows it)
    _faults: Any = None  # the FaultInjector, made on the first fault
    _down: bool = False

    # ------------------------------------------------------------------ bring-up

    @classmethod
    def up(cls, topology: str | Path | Topology | WiredTopology, *, captures: bool = True, quiet: bool = False,
           captures_root: Path | None = None, detached: bool = False,
           note: Callable[[str], None] | None = None) -> "Lab":
        """Build and start a lab; on any failure everything created so far is removed."""
        started = time.monotonic()
        topo = topology if isinstance(topology, (Topology, WiredTopology)) else _load(topology)
        require_root()
        reporter = Reporter.on_terminal(quiet)  # bars only on a terminal; notes print either way
        say = note or reporter.note
        prepare_lab_dir(topo.name, say)
        records = LabRecords.create(topo.name, str(topo.source.resolve()) if topo.source else "",
                                    cwd=os.getcwd(), detached=detached)
        # The owner first: a detached controller is killed by `clean`, an in-process owner
        # (foreground `up`, pytest) is not.
        records.add_process(record_process(os.getpid(), "controller", kill_on_clean=detached))
        lab = cls(topology=topo, records=records, quiet=quiet)
        try:
            lab._bring_up(reporter, say, captures, captures_root)
        except BaseException:
            reporter.stop()
            lab.down()
            raise
        reporter.stop()
        lab.timings["up"] = time.monotonic() - started
        return lab

    def _bring_up(self, reporter: Reporter, say: Callable[[str], None], captures: bool,
                  captures_root: Path | None) -> None:
        if isinstance(self.topology, WiredTopology):
            from dmvpnlab.lab.wired.bringup import bring_up

            bring_up(self, reporter, say, captures, captures_root)
        else:
            self._bring_up_native(reporter, say, captures, captures_root)

    def _bring_up_native(self, reporter: Reporter, say: Callable[[str], None], captures: bool,
                         captures_root: Path | None) -> None:
        from dmvpnlab.lab.builder import Builder  # Mininet import only when a lab is built

        builder = Builder(self.topology, self.records, progress=reporter.phase, tick=reporter.tick)
        self.net = builder.net
        self.nodes = builder.nodes  # filled as nodes appear, so a failed build still tears down
        underlay = builder.build()
        self.topology = builder.topo  # with the management network actually claimed
        self.roles, self.addresses = underlay.roles, underlay.addresses
        if captures:
            self.captures = CaptureRecorder.prepare(self.topology.name, captures_root, self.records)
            reporter.phase("starting captures", len(underlay.captures))
            for point in underlay.captures:
                self.captures.start(self.nodes[point.owner], point.ifname, point.owner, point.peer)
                reporter.tick()
            self.captures.save_records()
            self.captures.wait_ready()
        self.keys_dir = self.captures.directory if self.captures else keys_directory(self.topology.name, captures_root)
        prepare_capture_config(self.keys_dir)  # opens captures decrypted, NHRP columns, before any key exists
        if any(r.template for r in self.topology.routers):
            self.launcher = agents_mod.Launcher(self.records.directory, self.records, keylog_dir=self.keys_dir)
            self.agents = agents_mod.start_agents(self.topology, self.nodes, self.records.directory,
                                                  self.records, self.launcher, note=say)
        if self.agents:
            reporter.phase("waiting for agents", len(self.agents))
            agents_mod.wait_ready(self.agents)
            if self.captures is not None:
                keys = []
                for handle in self.agents:
                    if self.exec(handle.node, ["ip", "link", "show", "Tunnel0"]).ok:
                        keys.append(self.captures.start(self.nodes[handle.node], "Tunnel0", handle.node, "Tunnel0").key)
                self.captures.save_records()
                self.captures.wait_ready(keys=keys)
            reporter.phase("waiting for NHRP registrations", 1)
            unregistered = agents_mod.wait_registered(self.agents)
            if unregistered:
                say(f"not registered with every NHS yet: {', '.join(unregistered)}")
        self.records.update(state="up", nodes=self.node_info(), table=node_rows(self.topology),
                            captures=str(self.captures.directory) if self.captures else None,
                            keys=str(self.keys_dir) if self.keys_dir else None,
                            management=self.management_info())
        write_description(self)  # captures/<lab>/lab.json, for `dmvpnlab report`

    # ------------------------------------------------------------------ use

    @property
    def name(self) -> str:
        return self.topology.name

    def node(self, name: str) -> Any:
        """The Mininet node object (router, host, NAT box, isp, bridge) called `name`."""
        try:
            return self.nodes[self.canonical_name(name)]
        except KeyError:
            raise LabError(f"no node {name!r} in lab {self.name!r} (nodes: {', '.join(sorted(self.nodes))})") from None

    def table_rows(self) -> list[dict[str, str]]:
        """The node table (as `up` prints it and the records keep it)."""
        rows = self.records.data.get("table")
        if rows:
            return [dict(row) for row in rows]
        return node_rows(self.topology) if isinstance(self.topology, Topology) else []

    def canonical_name(self, name: str) -> str:
        """The node's name as the lab spells it, for `name` in any case (itself if unknown)."""
        if name in self.nodes:
            return name
        return next((n for n in self.nodes if n.lower() == name.lower()), name)

    def node_info(self) -> list[dict[str, Any]]:
        """Per node: name, role, shell PID, addresses by Linux interface, and for routers on
        the management network their management address (where SSH answers), for status --json."""
        info = []
        for n, node in self.nodes.items():
            entry: dict[str, Any] = {"name": n, "role": self.roles.get(n, "?"), "pid": node.pid,
                                     "addresses": self.addresses.get(n, {})}
            address = self.management_address(n)
            if address is not None:
                entry["management"] = address
            info.append(entry)
        return info

    def management_address(self, name: str) -> str | None:
        """The address SSH answers on for router `name` (no prefix), None if it has none."""
        try:
            address = self.topology.management_address(name)
        except KeyError:
            return None
        return str(address.ip) if address is not None else None

    def management_info(self) -> dict[str, Any] | None:
        """The management network as `status --json` shows it (the password stays in the topology)."""
        m = self.topology.management
        if m is None or not self.topology.managed_routers:
            return None
        return {"network": str(m.network), "this_machine": str(m.root_address.ip),
                "username": m.username, "port": m.port,
                "routers": {r.name: self.management_address(r.name) for r in self.topology.managed_routers}}

    def address_of(self, name: str) -> str:
        """The address a bare node name stands for: a router's NBMA, a host's, a box's outside."""
        name = self.canonical_name(name)
        if name in self.nodes:
            try:
                nbma = getattr(self.topology.router(name), "nbma_address", None)
                if nbma is not None:
                    return str(nbma)
            except KeyError:
                pass
            for box in self.topology.nat_boxes:
                if box.name == name:
                    return str(box.outside.ip)
            addrs = list(self.addresses.get(name, {}).values())
            if addrs:
                return addrs[0].split("/")[0]
        return name

    def exec(self, node: str, cmd: str | Sequence[str], timeout: float | None = 60, input: str | None = None) -> ExecResult:
        """Run `cmd` in `node`'s namespace (a string runs through bash -c); never raises on rc."""
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return exec_in(self.node(node).pid, argv, timeout=timeout, input=input)

    def ping(self, src: str, dst: str, count: int = 1, timeout: float = 2.0, interval: float = 0.2) -> ExecResult:
        """ping from node `src` to an address or node name (routers: their NBMA address)."""
        target = self.address_of(dst)
        return self.exec(src, ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(timeout), target],
                         timeout=timeout * count + 5)

    def capture_path(self, owner: str, peer: str) -> Path:
        if self.captures is None:
            raise LabError("this lab was started without captures")
        return self.captures.path(self.canonical_name(owner), peer)

    def capture_files(self) -> list[Path]:
        return [c.path for c in self.captures.captures.values()] if self.captures else []

    def flush_captures(self) -> None:
        """Wait until everything captured so far is in the pcapng files (about 0.5 s)."""
        if self.captures is not None:
            self.captures.flush()

    def path(self, src: str, dst: str, since: Any = None) -> Any:
        """The routers and links the last echo request src -> dst crossed since `since` (a
        `time.time()` or a fault event), from the captures: a `FlowPath` that equals a list
        of router names (`dmvpnlab.lab.flows`)."""
        from dmvpnlab.lab import flows

        return flows.last_path(flows.lab_view(self), src, dst, since)

    def paths(self, src: str, dst: str, since: Any = None) -> list[Any]:
        """The distinct paths of the echo requests src -> dst since `since`, in order, with counts."""
        from dmvpnlab.lab import flows

        return flows.path_runs(flows.lab_view(self), src, dst, since)

    def trace(self, src: str, dst: str) -> Any:
        """One probe src -> dst explained hop by hop (routes, NHRP, links, ESP, frames): `lab.trace`."""
        from dmvpnlab.lab import trace

        return trace.run_trace(trace.TraceTarget.of_lab(self), src, dst)

    def protection_report(self, owner: str, peer: str) -> dict[str, Any]:
        """One link's capture decrypted by tshark with the keys the agents exported so far:
        ESP decrypted / ICV bad, inner NHRP and ICMP, cleartext GRE, ISAKMP, UDP 4500
        (`dmvpnlab.analysis.decrypt.protection_report`). Flushes the captures first."""
        from dmvpnlab.analysis.decrypt import protection_report

        path = self.capture_path(owner, peer)
        self.flush_captures()
        return protection_report(path, self.keys_dir)

    def cli(self, node: str, *lines: str, timeout: float = 60.0) -> str:
        """Router CLI lines (any exec command: show, ping, configure ...) in one session of
        `node`'s agent, as `dmvpnlab cli NODE -c ...` runs them; their output, errors included."""
        from dmvpnlab.cli.client import CliClient, resolve

        out = []
        with CliClient(resolve(self.records.directory / self.canonical_name(node)), timeout) as client:
            client.send("")
            for line in lines:
                out.append(client.send(line)["output"])
        return "".join(out)

    def state(self, node: str) -> dict[str, Any]:
        """`node`'s agent state as JSON data (NHRP, tunnels, IPsec, routing: agent/state.py)."""
        from dmvpnlab.lab.inspect import agent_state

        return agent_state(self.records.directory / self.canonical_name(node))

    def nhrp(self, node: str) -> list[Any]:
        """`node`'s NHRP cache entries (`lab.inspect.NhrpEntry`: prefix, next hop, NBMA, type, flags)."""
        from dmvpnlab.lab.inspect import nhrp_entries

        return nhrp_entries(self.records.directory / self.canonical_name(node))

    def routes(self, node: str) -> list[Any]:
        """`node`'s routing table as `show ip route` has it (`lab.inspect.Route`: code, prefix,
        next hop, interface, Phase 3's `%` override)."""
        from dmvpnlab.lab.inspect import route_table

        return route_table(self.records.directory / self.canonical_name(node))

    def restart_agent(self, node: str, crash: bool = False) -> None:
        """Restart a router's agent from its startup config: a reload, or with `crash`
        a kill -9 and a fresh start (nothing cleaned up in between)."""
        node = self.canonical_name(node)
        for i, handle in enumerate(self.agents):
            if handle.node == node:
                assert self.launcher is not None
                self.agents[i] = agents_mod.restart(handle, self.node(node), self.launcher, crash)
                return
        raise LabError(f"{node} runs no agent")

    # ------------------------------------------------------------------ faults

    @property
    def fault_injector(self) -> Any:
        """The lab's `FaultInjector` (dmvpnlab.lab.faults), made on first use."""
        if self._faults is None:
            from dmvpnlab.lab.faults import FaultInjector

            self._faults = FaultInjector(self)
        return self._faults

    def fault(self, kind: str, target: str = "", **params: Any) -> Any:
        """Inject a fault (kill, restart, reload, crash, link-down, link-up, flap, loss,
        delay, renumber, isp-down, isp-up, clear); returns its recorded `FaultEvent`.
        See dmvpnlab.lab.faults.injector for each kind's parameters."""
        return self.fault_injector.fault(kind, target, **params)

    def faults(self) -> list[Any]:
        """Every fault event so far (faults.jsonl beside the captures), oldest first."""
        return self.fault_injector.events()

    def wait_faults(self, timeout: float | None = None) -> bool:
        """Wait for timed faults (flaps, downs with a duration) to end."""
        return self.fault_injector.wait(timeout)

    def clear_faults(self) -> Any:
        """Undo every fault: links and ISP up, loss and delay off, killed agents started."""
        return self.fault_injector.fault("clear", "all")

    # ------------------------------------------------------------------ tear-down

    def down(self) -> None:
        """Stop agents, close captures, remove namespaces; idempotent. A progress bar per
        step when the lab came up with bars and stdout is a terminal (a big lab takes a while)."""
        if self._down:
            return
        self._down = True
        started = time.monotonic()
        reporter = Reporter.on_terminal(self.quiet)
        try:
            self.records.update(state="stopping")
        except OSError:
            pass
        try:
            if self._faults is not None:
                self._faults.stop()
            if self.helpers:
                from dmvpnlab.lab.wired.dhcp_hosts import stop

                stop(self.helpers)
            reporter.phase("stopping agents", len(self.agents))
            agents_mod.stop_agents(self.agents, tick=reporter.tick)
            if self.launcher is not None:
                self.launcher.close()
        finally:
            try:
                if self.captures is not None:
                    reporter.phase("closing captures", len(self.captures.captures))
                    self.captures.stop(tick=reporter.tick)
            finally:
                try:
                    reporter.phase("removing namespaces and links", len(self.nodes) + 1)
                    clean_records(self.records, CleanOps(), exclude=frozenset({os.getpid()}))
                    reporter.tick()
                    for node in self.nodes.values():
                        _close_node(node)
                        reporter.tick()
                    remove_records(self.records)
                finally:
                    reporter.stop()
        self.timings["down"] = time.monotonic() - started

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def _close_node(node: Any) -> None:
    """Close the pty Mininet holds for a node whose shell is already gone, and reap it."""
    shell = getattr(node, "shell", None)
    if shell is None:
        return
    try:
        node.stdin.close()
        os.close(node.slave)
    except OSError:
        pass
    try:
        shell.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
    node.shell = None


def exec_in(pid: int, argv: list[str], timeout: float | None = 60, input: str | None = None,
            capture: bool = True) -> ExecResult:
    """Run argv in the namespaces of process `pid` via `mnexec -a` (what `dmvpnlab exec` uses)."""
    full = [MNEXEC, "-a", str(pid), *argv]
    try:
        done = subprocess.run(full, capture_output=capture, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return ExecResult(full, 124, out, f"timed out after {timeout} s: {shlex.join(argv)}")
    return ExecResult(full, done.returncode, done.stdout or "", done.stderr or "")


def prepare_lab_dir(lab: str, say: Callable[[str], None] = print) -> None:
    """Refuse a lab that is already up; clean leftovers of one whose owner died."""
    path = lab_dir(lab) / RECORDS_NAME
    if not path.exists():
        return
    try:
        records = LabRecords.load(path)
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return
    owner = owner_alive(records)
    if owner is not None:
        raise LabError(f"lab {lab!r} is already up (held by PID {owner.pid}); "
                       f"run `dmvpnlab down {lab}` first")
    report = clean_records(records)
    remove_records(records)
    say(f"cleaned leftovers of an earlier run of lab {lab!r}: {report.summary()}")



def _load(path: str | Path) -> Topology | WiredTopology:
    from dmvpnlab.lab.labfile import load_lab

    return load_lab(path)
