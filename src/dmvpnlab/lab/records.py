"""What a lab created, written down before the lab relies on it, and how to undo exactly that.

Why: a lab is namespaces (held open by processes), veth pairs and bridges. If the process
holding the Mininet object dies (Ctrl-C at a bad moment, SIGKILL, OOM), nothing in memory
says what to remove, and the usual escape hatch, `mn -c`, kills processes *by name* on the
whole machine. So every process (PID + kernel start time + cmdline) and every link or
bridge the lab creates in the root namespace is appended to a JSON Lines journal,
`/run/dmvpnlab/<lab>/records.jsonl` (one JSON object per line, fsync'd), as it is
created. A journal, not a rewritten JSON document, so recording stays O(1) per entry: a
200-spoke lab records ~800 entries, and rewriting the whole file each time cost seconds.
A torn last line (crash mid-write) is skipped when the journal is read. `clean` removes exactly
what that file names:

- a process is signalled only if the PID still has the *recorded start time* (field 22 of
  /proc/PID/stat), so a recycled PID is never hit;
- a node's namespace is swept (every process inside it killed) only through a verified
  node shell: the namespace inode is read from that live shell, never trusted alone;
- a link is deleted only if it still exists with the recorded name *and* ifindex.

Namespaces are pinned: each node's network namespace is bind-mounted on
`/run/dmvpnlab/<lab>/netns/<node>` (as `ip netns` does under /run/netns). Why: when the
controller dies, Mininet's node shells die with their pty, and a process left inside a
namespace (an agent, an iperf3 server) would otherwise keep it alive with no verified
anchor to find it by. A pinned namespace cannot be freed, so its inode cannot be reused by
someone else's namespace: every process found in it is ours. Clean kills those processes
and unmounts the pin; the namespace and its veth pairs then disappear.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from dmvpnlab.procfs import proc_start_time
from dmvpnlab.rundir import FRR_PROCESSES, run_root

RECORDS_NAME = "records.jsonl"
NETNS_DIR = "netns"
_MS_BIND = 4096
_MNT_DETACH = 2

# Process kinds, in the order clean stops them: the controller first (so it does not
# act while we clean), then what runs inside namespaces, then the namespace anchors.
KIND_ORDER = ("controller", "agent", "capture", "helper", "node")


def lab_dir(lab: str, root: Path | None = None) -> Path:
    return (root or run_root()) / lab


# ---------------------------------------------------------------- /proc reading (start times: dmvpnlab.procfs)


def proc_cmdline(pid: int, proc: Path = Path("/proc")) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def proc_netns(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Inode of the network namespace of `pid` (from the `net:[INODE]` link), None if gone."""
    try:
        target = os.readlink(proc / str(pid) / "ns" / "net")
    except OSError:
        return None
    if target.startswith("net:[") and target.endswith("]"):
        return int(target[5:-1])
    return None


def list_pids(proc: Path = Path("/proc")) -> list[int]:
    try:
        return sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit())
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- records


@dataclass
class ProcessRecord:
    """One process the lab started (or, for the controller, the one that holds the lab)."""

    pid: int
    start_time: int
    cmdline: list[str]
    kind: str  # one of KIND_ORDER
    node: str | None = None
    netns: int | None = None
    # An in-process owner (foreground `up`, pytest) is not killed by `clean` unless forced.
    kill_on_clean: bool = True

    def alive(self, proc: Path = Path("/proc")) -> bool:
        """True only if the PID exists *and* is still the process we recorded."""
        return proc_start_time(self.pid, proc) == self.start_time


@dataclass
class LinkRecord:
    """A link or bridge in the root namespace (namespaced links die with their namespace)."""

    name: str
    kind: str  # "bridge" | "veth"
    ifindex: int | None = None


@dataclass
class NamespaceRecord:
    """A node's network namespace, pinned by a bind mount of its nsfs file at `path`."""

    node: str
    path: str
    inode: int


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def pin_netns(pid: int, path: Path) -> None:
    """Bind-mount /proc/PID/ns/net on `path` (created empty), keeping the namespace alive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    if _libc().mount(f"/proc/{pid}/ns/net".encode(), str(path).encode(), None, _MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot pin the namespace of {pid} on {path}: {os.strerror(err)}")


def unpin_netns(path: Path) -> None:
    """Lazy-unmount a pin and remove its file (a missing or unmounted pin is fine)."""
    _libc().umount2(str(path).encode(), _MNT_DETACH)
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def pinned_inode(path: Path) -> int | None:
    """The namespace inode a pin holds, None if the path is not a live nsfs pin."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    # An unmounted pin is an empty regular file on tmpfs; a mounted one is an nsfs inode.
    return st.st_ino if st.st_size == 0 and st.st_dev != os.stat(path.parent).st_dev else None


@dataclass
class LabRecords:
    """The records file of one lab; every mutation is written and fsync'd before returning."""

    path: Path
    lab: str
    data: dict[str, Any] = field(default_factory=dict)

    # -- creation / loading

    @classmethod
    def create(cls, lab: str, topology: str, root: Path | None = None, **meta: Any) -> "LabRecords":
        directory = lab_dir(lab, root)
        directory.mkdir(parents=True, exist_ok=True)
        head = {"lab": lab, "topology": topology, "created": time.time(), "state": "starting", **meta}
        records = cls(path=directory / RECORDS_NAME, lab=lab,
                      data={**head, "processes": [], "links": [], "namespaces": [], "nodes": []})
        tmp = records.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps({"op": "lab", **head}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, records.path)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return records

    @classmethod
    def load(cls, path: Path) -> "LabRecords":
        """Replay the journal; ValueError if it has no readable `lab` line."""
        data: dict[str, Any] = {}
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn write
            op = entry.pop("op", None)
            if op == "lab":
                data = {**entry, "processes": [], "links": [], "namespaces": [], "nodes": []}
            elif not data:
                continue
            elif op in ("process", "link", "namespace"):
                data[op + ("es" if op == "process" else "s")].append(entry)
            elif op == "update":
                data.update(entry.get("values", {}))
            elif op == "owner":
                _replace_controller(data, entry)
        if not data:
            raise ValueError(f"{path}: not a lab records journal")
        return cls(path=path, lab=data["lab"], data=data)

    @property
    def directory(self) -> Path:
        return self.path.parent

    # -- mutation (append + fsync before returning, or queued until save())

    def _append(self, *entries: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write("".join(json.dumps(e) + "\n" for e in entries))
            f.flush()
            os.fsync(f.fileno())

    def save(self) -> None:
        """Write the entries queued with save=False (one write, one fsync)."""
        pending, self._pending = getattr(self, "_pending", []), []
        if pending:
            self._append(*pending)

    def _add(self, op: str, key: str, entry: dict[str, Any], save: bool) -> None:
        self.data.setdefault(key, []).append(entry)
        self.__dict__.setdefault("_pending", []).append({"op": op, **entry})
        if save:
            self.save()

    def add_process(self, record: ProcessRecord, save: bool = True) -> ProcessRecord:
        self._add("process", "processes", asdict(record), save)
        return record

    def add_link(self, record: LinkRecord, save: bool = True) -> LinkRecord:
        self._add("link", "links", asdict(record), save)
        return record

    def pin_namespace(self, node: str, pid: int, inode: int) -> NamespaceRecord:
        """Record, then pin, the namespace of node shell `pid` (see the module docstring)."""
        record = NamespaceRecord(node=node, path=str(self.directory / NETNS_DIR / node), inode=inode)
        self._add("namespace", "namespaces", asdict(record), True)
        pin_netns(pid, Path(record.path))
        return record

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()
        self._append({"op": "update", "values": values})

    # -- reading

    @property
    def state(self) -> str:
        return str(self.data.get("state", "unknown"))

    def processes(self) -> list[ProcessRecord]:
        return [ProcessRecord(**p) for p in self.data.get("processes", [])]

    def namespaces(self) -> list[NamespaceRecord]:
        return [NamespaceRecord(**n) for n in self.data.get("namespaces", [])]

    def links(self) -> list[LinkRecord]:
        return [LinkRecord(**link) for link in self.data.get("links", [])]

    def hand_over(self, owner: ProcessRecord) -> None:
        """Make `owner` the lab's controller in place of the current one (a kept lab's
        keeper replaces the pytest process that built it); the old owner is forgotten."""
        entry = asdict(owner)
        _replace_controller(self.data, entry)
        self.save()
        self._append({"op": "owner", **entry})

    def controller(self) -> ProcessRecord | None:
        for p in self.processes():
            if p.kind == "controller":
                return p
        return None


def _replace_controller(data: dict[str, Any], entry: dict[str, Any]) -> None:
    others = [p for p in data.get("processes", []) if p.get("kind") != "controller"]
    data["processes"] = [entry, *others]


def journalled_daemons(records: LabRecords) -> list[ProcessRecord]:
    """The FRR daemons the lab's agents wrote down (`<router>/frr-processes.jsonl`).

    Why the agents write them and not the lab: the agent starts (and restarts, and
    reloads) its daemons itself, inside its namespace, long after the lab recorded the
    agent; the agent cannot import the lab. Read as the lab's own process records are:
    a daemon is signalled only while its PID has the recorded start time."""
    out = []
    for path in sorted(records.directory.glob(f"*/{FRR_PROCESSES}")):
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = json.loads(line)
                out.append(ProcessRecord(pid=int(entry["pid"]), start_time=int(entry["start_time"]),
                                         cmdline=[str(a) for a in entry.get("argv", [])], kind="frr",
                                         node=entry.get("node") or path.parent.name))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line, or a daemon recorded without a start time
    return out


def record_process(pid: int, kind: str, node: str | None = None, *, kill_on_clean: bool = True,
                   proc: Path = Path("/proc")) -> ProcessRecord:
    """Build a record for a live PID, reading its start time, cmdline and namespace now."""
    start = proc_start_time(pid, proc)
    if start is None:
        raise ProcessLookupError(f"process {pid} exited before it could be recorded")
    return ProcessRecord(pid=pid, start_time=start, cmdline=proc_cmdline(pid, proc), kind=kind,
                         node=node, netns=proc_netns(pid, proc), kill_on_clean=kill_on_clean)


def all_records(root: Path | None = None) -> list[LabRecords]:
    """Every lab with a records file, sorted by name; unreadable files are skipped."""
    base = root or run_root()
    out: list[LabRecords] = []
    if not base.is_dir():
        return out
    for path in sorted(base.glob(f"*/{RECORDS_NAME}")):
        try:
            out.append(LabRecords.load(path))
        except (OSError, ValueError, KeyError):
            continue
    return out


def one_lab(name: str | None, root: Path | None = None) -> LabRecords:
    """The records of lab `name`, or of the only lab up when `name` is None (LookupError says which are up)."""
    everything = all_records(root)
    labs = [r for r in everything if name is None or r.lab == name]
    if len(labs) != 1:
        names = ", ".join(r.lab for r in everything) or "none is up"
        raise LookupError(f"pick one lab with --lab ({names})" if labs else f"no lab {name!r} is up ({names})")
    return labs[0]


# ---------------------------------------------------------------- clean


def link_ifindex(name: str, sys_class_net: Path = Path("/sys/class/net")) -> int | None:
    """ifindex of a root-namespace link, None if there is none by that name."""
    try:
        return int((sys_class_net / name / "ifindex").read_text())
    except (OSError, ValueError):
        return None


def delete_link(name: str) -> None:
    subprocess.run(["ip", "link", "del", "dev", name], check=False, capture_output=True)


@dataclass
class CleanOps:
    """The side effects of clean, injectable so its decisions can be unit-tested without root."""

    proc: Path = Path("/proc")
    kill: Callable[[int, int], None] = os.kill
    link_ifindex: Callable[[str], int | None] = link_ifindex
    pinned_inode: Callable[[Path], int | None] = pinned_inode
    unpin: Callable[[Path], None] = unpin_netns
    delete_link: Callable[[str], None] = delete_link
    sleep: Callable[[float], None] = time.sleep
    grace: float = 2.0  # seconds a capture gets to close its file after SIGINT


@dataclass
class CleanReport:
    killed: list[int] = field(default_factory=list)
    skipped_recycled: list[int] = field(default_factory=list)  # PID alive, start time differs
    links_deleted: list[str] = field(default_factory=list)
    links_skipped: list[str] = field(default_factory=list)  # same name, other ifindex

    def summary(self) -> str:
        parts = [f"{len(self.killed)} processes stopped", f"{len(self.links_deleted)} links deleted"]
        if self.skipped_recycled:
            parts.append(f"{len(self.skipped_recycled)} recorded PIDs now belong to other processes (left alone)")
        if self.links_skipped:
            parts.append(f"{len(self.links_skipped)} link names now belong to other links (left alone)")
        return ", ".join(parts)


def _signal(pid: int, sig: int, ops: CleanOps) -> bool:
    try:
        ops.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _wait_gone(records: Iterable[ProcessRecord], ops: CleanOps, timeout: float) -> list[ProcessRecord]:
    """Wait until the recorded processes are gone; return those still alive."""
    pending = [r for r in records if r.alive(ops.proc)]
    deadline = timeout
    while pending and deadline > 0:
        ops.sleep(0.05)
        deadline -= 0.05
        pending = [r for r in pending if r.alive(ops.proc)]
    return pending


def namespace_members(netns: int, ops: CleanOps, index: dict[int, list[int]] | None = None) -> list[int]:
    """PIDs whose network namespace inode is `netns` (processes left in a node's namespace).

    `index` (from `netns_index`) avoids one /proc scan per namespace: a 400-node lab would
    otherwise scan /proc 800 times on tear-down.
    """
    if index is not None:
        return list(index.get(netns, []))
    return [pid for pid in list_pids(ops.proc) if proc_netns(pid, ops.proc) == netns]


def netns_index(ops: CleanOps) -> dict[int, list[int]]:
    """Network namespace inode -> PIDs, from one scan of /proc."""
    out: dict[int, list[int]] = {}
    for pid in list_pids(ops.proc):
        ns = proc_netns(pid, ops.proc)
        if ns is not None:
            out.setdefault(ns, []).append(pid)
    return out


def _protected_netns(ops: CleanOps) -> set[int]:
    """Namespaces never swept: PID 1's (the root namespace) and our own."""
    out = set()
    for pid in (1, os.getpid()):
        ns = proc_netns(pid, ops.proc)
        if ns is not None:
            out.add(ns)
    return out


def clean_records(records: LabRecords, ops: CleanOps | None = None, *, force: bool = False,
                  exclude: frozenset[int] = frozenset()) -> CleanReport:
    """Stop the recorded processes and delete the recorded links that are still ours.

    Order: controller (SIGKILL: it must not act while we clean), agents (SIGTERM), the
    FRR daemons the agents journalled (SIGTERM; see journalled_daemons),
    captures (SIGINT, so dumpcap closes the pcapng cleanly, then wait), then node shells:
    for each verified shell, everything in its namespace is killed so the namespace and its
    veths disappear. Finally root-namespace links, checked by name and ifindex.
    `exclude` names PIDs never to signal (the caller itself, when a controller cleans up).
    A namespace is swept only if it is not the caller's own (a root-namespace shell, such
    as a bridge without a namespace, must never cause a sweep of the root namespace).
    """
    ops = ops or CleanOps()
    report = CleanReport()
    procs = [p for p in records.processes() if p.pid not in exclude]
    by_kind = {kind: [p for p in procs if p.kind == kind] for kind in KIND_ORDER}

    def stop(group: list[ProcessRecord], sig: int, wait: float) -> None:
        for rec in group:
            if not rec.kill_on_clean and not force:
                continue
            if rec.alive(ops.proc):
                if _signal(rec.pid, sig, ops):
                    report.killed.append(rec.pid)
            elif proc_start_time(rec.pid, ops.proc) is not None:
                report.skipped_recycled.append(rec.pid)
        for rec in _wait_gone([r for r in group if r.kill_on_clean or force], ops, wait):
            _signal(rec.pid, signal.SIGKILL, ops)

    stop(by_kind["controller"], signal.SIGKILL, 1.0)
    stop(by_kind["agent"], signal.SIGTERM, ops.grace)
    stop(journalled_daemons(records), signal.SIGTERM, ops.grace)  # what killed agents left
    stop(by_kind["capture"], signal.SIGINT, ops.grace)
    stop(by_kind["helper"], signal.SIGTERM, 1.0)

    # Namespace sweep through verified shells only; then the shells themselves.
    index = netns_index(ops)
    for rec in by_kind["node"]:
        if not rec.alive(ops.proc):
            if proc_start_time(rec.pid, ops.proc) is not None:
                report.skipped_recycled.append(rec.pid)
            continue
        netns = proc_netns(rec.pid, ops.proc)
        sweep = netns is not None and netns == rec.netns and netns not in _protected_netns(ops)
        members = namespace_members(netns, ops, index) if sweep else []
        for pid in members:
            if pid != rec.pid and _signal(pid, signal.SIGKILL, ops):
                report.killed.append(pid)
        if _signal(rec.pid, signal.SIGKILL, ops):
            report.killed.append(rec.pid)
    _wait_gone(by_kind["node"], ops, 5.0)

    # Pinned namespaces: a live pin means the inode is still ours, so all inside is ours.
    protected = _protected_netns(ops)
    index = netns_index(ops)
    for ns in records.namespaces():
        path = Path(ns.path)
        if ops.pinned_inode(path) == ns.inode and ns.inode not in protected:
            for pid in namespace_members(ns.inode, ops, index):
                if proc_netns(pid, ops.proc) == ns.inode and _signal(pid, signal.SIGKILL, ops):
                    report.killed.append(pid)
        ops.unpin(path)

    for link in records.links():
        index = ops.link_ifindex(link.name)
        if index is None:
            continue
        if link.ifindex is not None and index != link.ifindex:
            report.links_skipped.append(link.name)
            continue
        ops.delete_link(link.name)
        report.links_deleted.append(link.name)
    return report


def owner_alive(records: LabRecords, proc: Path = Path("/proc")) -> ProcessRecord | None:
    """The live process holding this lab (detached controller or in-process owner), if any."""
    ctl = records.controller()
    if ctl is not None and ctl.alive(proc):
        return ctl
    return None


def remove_records(records: LabRecords) -> None:
    """Forget a lab after it was torn down or cleaned (its directory holds nothing else we need)."""
    for child in records.directory.iterdir():
        if child.is_file() or child.is_socket():
            child.unlink(missing_ok=True)
    for directory in (records.directory / NETNS_DIR, records.directory):
        try:
            directory.rmdir()  # only if empty: pins that failed to unmount stay visible
        except OSError:
            pass
