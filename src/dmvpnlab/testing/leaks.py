"""The leak guard: a lab module must leave no namespace and no lab process behind.

A leak would break every later lab on the machine (and someone else's), so the plugin's
lab fixtures depend on `dmvpn_leak_guard` (per module): it snapshots named namespaces
(`ip netns list`) and lab processes (Mininet shells `mininet:<node>`, agents `dmvpnlab
agent`, the FRR daemons agents run from their state directories, and every PID in any
lab records file) before the module and fails the module if new ones are left after it.
Labs held by another live process (someone else's concurrent run) are not counted; nor
are labs this run kept up on purpose (`--dmvpn-keep-on-failure`). Named namespaces are
machine-wide (the lab itself creates none: its namespaces are pinned under /run/dmvpnlab).
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


def is_root() -> bool:
    return os.geteuid() == 0


# ------------------------------------------------------------------ snapshots


def named_namespaces() -> set[str]:
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _foreign_labs(kept: frozenset[str] = frozenset()) -> tuple[set[tuple[int, int]], set[int]]:
    """Processes and namespaces of labs held by *another* live process (a concurrent run),
    and of the labs named in `kept` (kept up for a look after a failure).

    Those labs are their owner's business; counting them as our leftovers would make the
    guard fail whenever two people use the machine at once.
    """
    procs: set[tuple[int, int]] = set()
    namespaces: set[int] = set()
    me = os.getpid()
    for records in all_records():
        owner = owner_alive(records)
        if records.lab not in kept and (owner is None or owner.pid == me):
            continue
        procs.update((p.pid, p.start_time) for p in records.processes())
        namespaces.update(ns.inode for ns in records.namespaces())
    return procs, namespaces


def _lab_frr_daemon(cmd: str) -> bool:
    """An FRR daemon a lab's agent started: its files live in a router's state directory
    under the run root (agent/frr_node.py), unlike any other FRR on the machine."""
    return cmd.startswith("/usr/lib/frr/") and f" {run_root()}/" in cmd


def lab_processes(kept: frozenset[str] = frozenset()) -> dict[tuple[int, int], str]:
    """(PID, start time) -> cmdline of every process that belongs to a lab of ours.

    Found two ways: the cmdline markers of lab processes, and the PIDs named in lab records
    (which also covers dumpcap and anything else a lab started). Processes of labs held by
    another live process are left out (see `_foreign_labs`).
    """
    found: dict[tuple[int, int], str] = {}
    me = os.getpid()
    foreign_procs, foreign_ns = _foreign_labs(kept)
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


KEPT_LABS = pytest.StashKey[set]()  # names of the labs this run keeps up after a failure


def kept_labs(config: pytest.Config) -> set[str]:
    return config.stash.setdefault(KEPT_LABS, set())


@pytest.fixture(scope="module")
def dmvpn_leak_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the module if it left a lab namespace or process behind (see the module doc)."""
    before_ns = named_namespaces()
    before_procs = lab_processes()
    yield
    leftover_ns: set[str] = set()
    leftover: dict[tuple[int, int], str] = {}
    for _ in range(40):  # processes may take a moment to be reaped after tear-down
        kept = frozenset(kept_labs(request.config))
        leftover_ns = named_namespaces() - before_ns
        leftover = {k: v for k, v in lab_processes(kept).items() if k not in before_procs}
        if not leftover_ns and not leftover:
            return
        time.sleep(0.05)
    lines = [f"namespace {n}" for n in sorted(leftover_ns)]
    lines += [f"PID {pid}: {cmd[:100]}" for (pid, _), cmd in sorted(leftover.items())]
    pytest.fail("this module left lab resources behind:\n  " + "\n  ".join(lines), pytrace=False)
