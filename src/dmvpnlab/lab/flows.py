"""Flow paths of a lab: `Lab.path`, `Lab.paths` and `assert_path`, from the lab's captures.

The capture side (which routers an echo crossed) is `analysis.flowpath`; this module
supplies what only the lab knows: the names behind addresses (a node name stands for its
addresses, a router's NBMA for the router), which nodes are routers, where the captures
are, and that they must be flushed before reading. It works from the lab's records (the
`nodes` and `table` entries `Lab.up` writes), so the same code serves an in-process
`Lab` and a detached one that only has its records in /run/dmvpnlab.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any, Callable, Iterable

from dmvpnlab.analysis.flowpath import FlowPath, PathCount, describe_runs, flow_paths, nothing_seen, runs
from dmvpnlab.analysis.paths import CaptureSet
from dmvpnlab.lab.captures import FLUSH_WINDOW, keys_directory, lab_directory

NOT_ROUTERS = {"nat", "isp", "management", "host", "bridge"}


@dataclass
class LabView:
    """What flow questions need of a lab, from its records: nodes, addresses, captures."""

    name: str
    nodes: list[dict[str, Any]]  # records' "nodes": name, role, pid, addresses
    table: list[dict[str, str]]  # records' "table": name, role, nbma ...
    captures: Path
    keys: Path
    flush: Callable[[], None] = field(default=lambda: time.sleep(FLUSH_WINDOW + 0.3))

    @classmethod
    def of(cls, records: Any, flush: Callable[[], None] | None = None,
           captures: Path | None = None, keys: Path | None = None) -> "LabView":
        data = records.data
        view = cls(records.lab, list(data.get("nodes", [])), list(data.get("table", [])),
                   captures or lab_directory(records.lab), keys or keys_directory(records.lab))
        if flush is not None:
            view.flush = flush
        return view

    def canonical(self, name: str) -> str | None:
        return next((n["name"] for n in self.nodes if n["name"].lower() == name.lower()), None)

    def routers(self) -> list[str]:
        rows = [r["name"] for r in self.table if r.get("role") not in NOT_ROUTERS]
        return rows or [n["name"] for n in self.nodes if n.get("role") not in NOT_ROUTERS]

    def nbma(self) -> dict[IPv4Address, str]:
        """NBMA address -> router, also the NAT's outside address for a router behind one
        (the table's `100.64.1.1 (via nat1 198.51.100.1)`)."""
        out: dict[IPv4Address, str] = {}
        routers = set(self.routers())
        for row in self.table:
            if row.get("name") not in routers:
                continue
            for word in str(row.get("nbma", "")).replace("(", " ").replace(")", " ").split():
                try:
                    out[IPv4Address(word)] = row["name"]
                except ValueError:
                    continue
        return out

    def addresses(self, node: str) -> list[str]:
        """Every address of node `node` (any case), or [node] itself when it is an address."""
        name = self.canonical(node)
        if name is None:
            ip_address(node)  # neither a node nor an address: ValueError names it
            return [node]
        entry = next(n for n in self.nodes if n["name"] == name)
        found = [a.split("/")[0] for a in entry.get("addresses", {}).values()]
        found += [str(a) for a, r in self.nbma().items() if r == name]
        return list(dict.fromkeys(found))

    def address(self, node: str) -> str:
        """The one address a node name stands for as a destination: a host's, a router's NBMA."""
        name = self.canonical(node)
        if name is None:
            return node
        nbma = [str(a) for a, r in self.nbma().items() if r == name]
        return nbma[0] if nbma else self.addresses(node)[0]

    def pid(self, node: str) -> int:
        name = self.canonical(node) or node
        return int(next(n["pid"] for n in self.nodes if n["name"] == name))


def since_time(since: Any) -> float:
    """`since` as a wall-clock time: None (everything), a number, or anything with `.time` (a fault event)."""
    if since is None:
        return 0.0
    return float(getattr(since, "time", since))


def all_paths(view: LabView, src: str, dst: str, since: Any = None, ident: int | None = None,
              flush: bool = True) -> tuple[list[FlowPath], CaptureSet]:
    """Every echo request src -> dst since `since`, one FlowPath each, in order."""
    if flush:
        view.flush()
    captures = CaptureSet(view.captures, keys_dir=view.keys)
    dst_address = view.address(dst)
    found: list[FlowPath] = []
    sources: list[str | None] = [None] if ident is not None else list(view.addresses(src))  # a probe: by its id
    for address in sources:
        found += flow_paths(captures, address, dst_address, since=since_time(since), nbma=view.nbma(),
                            routers=view.routers(), ident=ident)
    return sorted(found, key=lambda p: p.first or 0.0), captures


def last_path(view: LabView, src: str, dst: str, since: Any = None) -> FlowPath:
    """The path of the last echo request src -> dst since `since`; empty with a reason if none."""
    found, captures = all_paths(view, src, dst, since)
    return found[-1] if found else nothing_seen(captures, f"{src}", f"{dst} ({view.address(dst)})", since_time(since))


def path_runs(view: LabView, src: str, dst: str, since: Any = None) -> list[PathCount]:
    """The distinct paths in order with their packet counts (consecutive packets folded)."""
    return runs(all_paths(view, src, dst, since)[0])


def failure_message(view: LabView, src: str, dst: str, expected: Iterable[str], found: list[FlowPath],
                    captures: CaptureSet) -> str:
    """What `assert_path` says: expected, seen (every run with counts), and the frames of the last."""
    lines = [f"path {src} -> {dst}: expected {' -> '.join(expected) or '(none)'}",
             f"  seen: {describe_runs(runs(found))}" if found else
             f"  seen: {nothing_seen(captures, src, dst, 0.0).reason}",
             f"  captures: {view.captures}"]
    if found:
        last = found[-1]
        lines.append(f"  last packet (ICMP id {last.ident} seq {last.seq}) {last}, proof:")
        lines += [f"    {proof.link}: {proof}" for proof in last.frames]
    return "\n".join(lines)


def check_path(view: LabView, src: str, dst: str, expected: Iterable[str], since: Any = None) -> FlowPath:
    """The last path src -> dst, if it is `expected`; AssertionError saying what was seen otherwise."""
    expected = list(expected)
    found, captures = all_paths(view, src, dst, since)
    if found and found[-1] == expected:
        return found[-1]
    raise AssertionError(failure_message(view, src, dst, expected, found, captures))


def lab_view(lab: Any) -> LabView:
    """The view of an in-process `Lab` (its own flush, its capture and key directories)."""
    captures = lab.captures.directory if lab.captures is not None else lab_directory(lab.name)
    return LabView.of(lab.records, flush=lab.flush_captures, captures=captures, keys=lab.keys_dir)


def assert_path(lab: Any, src: str, dst: str, expected: Iterable[str], since: Any = None) -> FlowPath:
    """Assert the last echo src -> dst crossed exactly the routers `expected` (in order).

    The failure message names the path expected, every path seen with packet counts, the
    capture directory and the pcap files and frames proving the last packet's path."""
    return check_path(lab_view(lab), src, dst, expected, since)
