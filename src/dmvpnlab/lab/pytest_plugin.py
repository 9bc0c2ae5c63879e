"""pytest plugin for scenarios: a `lab` fixture and a guard against leftovers.

Use it from a conftest with `from dmvpnlab.lab.pytest_plugin import *`, then in a module:

    pytestmark = pytest.mark.topology("topologies/underlay.yaml")

    def test_spoke_reaches_hub(lab):
        assert lab.ping("spoke1", "hub").ok

A topology's template variables can be set for the module's run, over the file's (the same
as `dmvpnlab up FILE --var phase=2`), so one file serves every phase and variant:

    pytestmark = pytest.mark.topology("topologies/ospf.yaml", vars={"phase": 2})

The path may also be a CML 2 / VIRL lab file or a wired dmvpnlab file (read by
`dmvpnlab.lab.labfile.load_lab`, as `dmvpnlab up` reads it); those take no `vars`.

The lab is module-scoped (one bring-up per module: scenarios assert many things about one
lab, and bring-up is the slow part); a module can instead override the `lab_topology`
fixture. It is torn down even when tests fail or the module is interrupted.

`lab_leak_guard` (autouse, per module) snapshots named namespaces (`ip netns list`) and
lab processes (Mininet shells `mininet:<node>`, agents `dmvpnlab agent`, the FRR daemons
agents run from their state directories, and every PID in
any lab records file) before the module and fails the module if new ones are left after
it; a leak would otherwise break every later lab on the machine. Labs held by another
live process (someone else's concurrent run) are not counted; named namespaces are
machine-wide (the lab itself creates none: its namespaces are pinned under /run/dmvpnlab).

Scenarios need root; without it each is skipped with one line saying why.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from dmvpnlab.lab.records import all_records, list_pids, owner_alive, proc_cmdline, proc_netns, proc_start_time
from dmvpnlab.rundir import run_root

ROOT_REASON = "scenarios need root (they build network namespaces); run them with `sudo make test`"
LAB_MARKERS = ("mininet:", "dmvpnlab agent", "dmvpnlab.command agent", "dmvpnlab.lab.controller")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "topology(path, vars=None): topology file the module's `lab` fixture "
                                       "brings up, and template variables over the file's")


def is_root() -> bool:
    return os.geteuid() == 0


# ------------------------------------------------------------------ snapshots


def named_namespaces() -> set[str]:
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _foreign_labs() -> tuple[set[tuple[int, int]], set[int]]:
    """Processes and namespaces of labs held by *another* live process (a concurrent run).

    Those labs are their owner's business; counting them as our leftovers would make the
    guard fail whenever two people use the machine at once.
    """
    procs: set[tuple[int, int]] = set()
    namespaces: set[int] = set()
    me = os.getpid()
    for records in all_records():
        owner = owner_alive(records)
        if owner is None or owner.pid == me:
            continue
        procs.update((p.pid, p.start_time) for p in records.processes())
        namespaces.update(ns.inode for ns in records.namespaces())
    return procs, namespaces


def _lab_frr_daemon(cmd: str) -> bool:
    """An FRR daemon a lab's agent started: its files live in a router's state directory
    under the run root (agent/frr_node.py), unlike any other FRR on the machine."""
    return cmd.startswith("/usr/lib/frr/") and f" {run_root()}/" in cmd


def lab_processes() -> dict[tuple[int, int], str]:
    """(PID, start time) -> cmdline of every process that belongs to a lab of ours.

    Found two ways: the cmdline markers of lab processes, and the PIDs named in lab records
    (which also covers dumpcap and anything else a lab started). Processes of labs held by
    another live process are left out (see `_foreign_labs`).
    """
    found: dict[tuple[int, int], str] = {}
    me = os.getpid()
    foreign_procs, foreign_ns = _foreign_labs()
    for pid in list_pids():
        if pid == me:
            continue
        cmd = " ".join(proc_cmdline(pid))
        if any(marker in cmd for marker in LAB_MARKERS) or _lab_frr_daemon(cmd):
            start = proc_start_time(pid)
            if start is not None and (pid, start) not in foreign_procs and proc_netns(pid) not in foreign_ns:
                found[(pid, start)] = cmd
    for records in all_records():
        for rec in records.processes():
            key = (rec.pid, rec.start_time)
            if rec.pid != me and key not in foreign_procs and rec.alive():
                found[key] = " ".join(rec.cmdline)
    return found


@pytest.fixture(scope="module", autouse=True)
def lab_leak_guard() -> Iterator[None]:
    before_ns = named_namespaces()
    before_procs = lab_processes()
    yield
    leftover_ns: set[str] = set()
    leftover: dict[tuple[int, int], str] = {}
    for _ in range(40):  # processes may take a moment to be reaped after tear-down
        leftover_ns = named_namespaces() - before_ns
        leftover = {k: v for k, v in lab_processes().items() if k not in before_procs}
        if not leftover_ns and not leftover:
            return
        time.sleep(0.05)
    lines = [f"namespace {n}" for n in sorted(leftover_ns)]
    lines += [f"PID {pid}: {cmd[:100]}" for (pid, _), cmd in sorted(leftover.items())]
    pytest.fail("this module left lab resources behind:\n  " + "\n  ".join(lines), pytrace=False)


# ------------------------------------------------------------------ lab


@pytest.fixture(scope="module")
def lab_topology(request: pytest.FixtureRequest) -> str:
    """The topology file of this module: its `topology` marker (override to compute one)."""
    marker = request.node.get_closest_marker("topology")
    if marker is None or not marker.args:
        pytest.fail("the `lab` fixture needs `pytestmark = pytest.mark.topology(PATH)` "
                    "or a `lab_topology` fixture in the module", pytrace=False)
    return str(marker.args[0])


@pytest.fixture(scope="module")
def lab_vars(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Template variables of this module's lab: its `topology` marker's `vars` (override to compute them)."""
    marker = request.node.get_closest_marker("topology")
    return dict(marker.kwargs.get("vars") or {}) if marker is not None else {}


@pytest.fixture(scope="module")
def lab(lab_topology: str, lab_vars: dict[str, Any]) -> Iterator[Any]:
    """A running lab for the whole module, torn down afterwards whatever happened."""
    if not is_root():
        pytest.skip(ROOT_REASON)
    from dmvpnlab.lab.lab import Lab
    from dmvpnlab.lab.labfile import load_lab

    path = Path(lab_topology)
    if not path.is_absolute():
        path = Path(__file__).resolve().parents[3] / path if not path.exists() else path
    instance = Lab.up(load_lab(path, variables=lab_vars), quiet=True)
    try:
        yield instance
    finally:
        instance.down()


@pytest.fixture
def lab_faults(lab: Any) -> Iterator[Any]:
    """The module's lab's `FaultInjector` for one test; every fault is undone afterwards
    (links up, loss and delay off, killed agents started), also when the test fails.

        def test_hub_loss(lab, lab_faults):
            kill = lab_faults.fault("kill", "hub")
            ... assert from the captures, timed from kill.time ...
    """
    injector = lab.fault_injector
    try:
        yield injector
    finally:
        injector.fault("clear", "all")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, every scenario is skipped with the one-line reason."""
    if is_root():
        return
    skip = pytest.mark.skip(reason=ROOT_REASON)
    for item in items:
        if "scenarios" in Path(str(item.fspath)).parts:
            item.add_marker(skip)


__all__ = [
    "lab",
    "lab_faults",
    "lab_leak_guard",
    "lab_topology",
    "lab_vars",
    "pytest_collection_modifyitems",
    "pytest_configure",
]
