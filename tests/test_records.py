"""Lab records and record-driven clean, on a fake /proc (no root, nothing is killed)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from dmvpnlab.lab.records import (
    CleanOps,
    LabRecords,
    LinkRecord,
    ProcessRecord,
    all_records,
    clean_records,
    proc_cmdline,
    proc_netns,
    proc_start_time,
    record_process,
    remove_records,
)

ROOT_NS = 4026531840


class FakeProc:
    """A directory shaped like /proc: <pid>/stat, <pid>/cmdline, <pid>/ns/net."""

    def __init__(self, root: Path):
        self.root = root
        self.signals: list[tuple[int, int]] = []
        self.add(1, "init", start=1, netns=ROOT_NS)
        self.add(os.getpid(), "pytest", start=2, netns=ROOT_NS)

    def add(self, pid: int, comm: str, start: int, netns: int, state: str = "S",
            cmdline: list[str] | None = None) -> None:
        d = self.root / str(pid)
        (d / "ns").mkdir(parents=True, exist_ok=True)
        fields = [state] + ["0"] * 18 + [str(start)] + ["0"] * 30  # fields 3..52
        (d / "stat").write_text(f"{pid} ({comm}) " + " ".join(fields) + "\n")
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in (cmdline or [comm])) + b"\0")
        link = d / "ns" / "net"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(f"net:[{netns}]")

    def kill(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))
        d = self.root / str(pid)
        if not d.exists():
            raise ProcessLookupError(pid)
        for f in (d / "ns" / "net", d / "stat", d / "cmdline"):
            f.unlink()
        (d / "ns").rmdir()
        d.rmdir()

    def ops(self, **kw) -> CleanOps:
        defaults = dict(proc=self.root, kill=self.kill, link_ifindex=lambda name: None,
                        delete_link=lambda name: None, sleep=lambda s: None, grace=0.1,
                        pinned_inode=lambda path: None, unpin=lambda path: None)
        defaults.update(kw)
        return CleanOps(**defaults)


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


@pytest.fixture
def records(tmp_path: Path) -> LabRecords:
    return LabRecords.create("unit", "topologies/unit.yaml", root=tmp_path / "run")


def rec(pid: int, start: int, kind: str, node: str | None = None, netns: int | None = None,
        kill_on_clean: bool = True) -> ProcessRecord:
    return ProcessRecord(pid=pid, start_time=start, cmdline=[kind], kind=kind, node=node, netns=netns,
                         kill_on_clean=kill_on_clean)


# ------------------------------------------------------------------ /proc parsing


def test_start_time_is_stat_field_22_even_when_the_command_name_has_spaces_and_parens(proc):
    proc.add(500, "evil ) name (x", start=987654, netns=1)
    assert proc_start_time(500, proc.root) == 987654


def test_a_zombie_or_missing_process_has_no_start_time(proc):
    proc.add(501, "dumpcap", start=5, netns=1, state="Z")
    assert proc_start_time(501, proc.root) is None
    assert proc_start_time(99999, proc.root) is None


def test_the_current_process_is_recorded_with_its_real_start_time_and_namespace():
    me = record_process(os.getpid(), "controller")
    assert me.alive()
    assert me.start_time == int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
    assert me.netns == proc_netns(os.getpid())
    assert me.cmdline == proc_cmdline(os.getpid())


# ------------------------------------------------------------------ the file


def test_every_addition_is_on_disk_before_the_call_returns(records):
    records.add_process(rec(10, 100, "node", "hub", 77))
    records.add_link(LinkRecord("seg1", "bridge", 42))
    lines = [json.loads(line) for line in records.path.read_text().splitlines()]
    assert [entry["op"] for entry in lines] == ["lab", "process", "link"]
    assert lines[1]["pid"] == 10
    assert lines[2] == {"op": "link", "name": "seg1", "kind": "bridge", "ifindex": 42}
    assert not records.path.with_suffix(".tmp").exists()


def test_queued_entries_reach_the_journal_on_save(records):
    records.add_process(rec(11, 101, "capture", "hub"), save=False)
    assert "capture" not in records.path.read_text()
    records.save()
    assert LabRecords.load(records.path).processes()[0].pid == 11


def test_a_torn_last_line_is_skipped_and_updates_replay_in_order(records):
    records.add_process(rec(12, 102, "node", "hub", 5))
    records.update(state="up", nodes=[{"name": "hub"}])
    with open(records.path, "a") as f:
        f.write('{"op": "process", "pid": 13, "sta')
    again = LabRecords.load(records.path)
    assert again.state == "up" and again.data["nodes"] == [{"name": "hub"}]
    assert [p.pid for p in again.processes()] == [12]


def test_records_reload_into_typed_entries(records):
    records.add_process(rec(10, 100, "controller", kill_on_clean=False))
    again = LabRecords.load(records.path)
    assert again.lab == "unit"
    assert again.controller() == rec(10, 100, "controller", kill_on_clean=False)


def test_all_records_lists_labs_and_skips_unreadable_files(tmp_path):
    root = tmp_path / "run"
    LabRecords.create("a", "a.yaml", root=root)
    LabRecords.create("b", "b.yaml", root=root)
    (root / "b" / "records.jsonl").write_text("{not json\n")
    assert [r.lab for r in all_records(root)] == ["a"]


def test_remove_records_keeps_node_state_directories(records):
    (records.directory / "hub").mkdir()
    (records.directory / "hub" / "agent.log").write_text("x")
    remove_records(records)
    assert not records.path.exists()
    assert (records.directory / "hub" / "agent.log").exists()


# ------------------------------------------------------------------ clean


def test_clean_never_signals_a_recycled_pid(proc, records):
    proc.add(600, "someone-else", start=999, netns=ROOT_NS)
    records.add_process(rec(600, 123, "capture", "hub"))
    report = clean_records(records, proc.ops())
    assert proc.signals == []
    assert report.skipped_recycled == [600]


def test_clean_stops_agents_then_captures_with_sigint_then_node_shells(proc, records):
    proc.add(700, "bash", start=7, netns=5001, cmdline=["bash", "-is", "mininet:hub"])
    proc.add(701, "dumpcap", start=8, netns=5001)
    proc.add(702, "python", start=9, netns=5001)
    records.add_process(rec(700, 7, "node", "hub", 5001))
    records.add_process(rec(701, 8, "capture", "hub"))
    records.add_process(rec(702, 9, "agent", "hub"))
    clean_records(records, proc.ops())
    assert proc.signals == [(702, signal.SIGTERM), (701, signal.SIGINT), (700, signal.SIGKILL)]


def test_clean_sweeps_a_node_namespace_through_its_verified_shell(proc, records):
    proc.add(800, "bash", start=1, netns=5002)
    proc.add(801, "iperf3", start=2, netns=5002)  # started by a user, never recorded
    proc.add(802, "iperf3", start=2, netns=5003)  # another namespace: not ours
    records.add_process(rec(800, 1, "node", "spoke1", 5002))
    report = clean_records(records, proc.ops())
    assert sorted(report.killed) == [800, 801]
    assert (proc.root / "802").exists()


def test_clean_never_sweeps_the_root_namespace_even_if_a_shell_lives_there(proc, records):
    proc.add(900, "bash", start=1, netns=ROOT_NS)
    proc.add(901, "sshd", start=1, netns=ROOT_NS)
    records.add_process(rec(900, 1, "node", "rootbridge", ROOT_NS))
    clean_records(records, proc.ops())
    assert (proc.root / "901").exists()
    assert proc.signals == [(900, signal.SIGKILL)]


def test_clean_does_not_sweep_when_the_shell_moved_to_another_namespace(proc, records):
    proc.add(910, "bash", start=1, netns=6001)
    proc.add(911, "other", start=1, netns=6001)
    records.add_process(rec(910, 1, "node", "hub", 5999))  # recorded in a different namespace
    clean_records(records, proc.ops())
    assert (proc.root / "911").exists()


def test_clean_leaves_an_in_process_owner_alone_unless_forced(proc, records):
    proc.add(1000, "pytest", start=3, netns=ROOT_NS)
    records.add_process(rec(1000, 3, "controller", kill_on_clean=False))
    clean_records(records, proc.ops())
    assert proc.signals == []
    clean_records(records, proc.ops(), force=True)
    assert proc.signals == [(1000, signal.SIGKILL)]


def test_clean_never_signals_excluded_pids(proc, records):
    proc.add(1100, "controller", start=3, netns=ROOT_NS)
    records.add_process(rec(1100, 3, "controller"))
    clean_records(records, proc.ops(), exclude=frozenset({1100}))
    assert proc.signals == []


def test_clean_sweeps_a_pinned_namespace_without_a_live_shell_and_unpins_it(proc, records):
    proc.add(1200, "sleep", start=4, netns=7001)  # left behind after the shell died
    proc.add(1201, "sleep", start=4, netns=7002)  # not ours
    records.data["namespaces"] = [{"node": "spoke1", "path": "/run/x/netns/spoke1", "inode": 7001},
                                  {"node": "spoke2", "path": "/run/x/netns/spoke2", "inode": 7009}]
    pins = {"/run/x/netns/spoke1": 7001, "/run/x/netns/spoke2": None}
    unpinned: list[str] = []
    report = clean_records(records, proc.ops(pinned_inode=lambda p: pins[str(p)],
                                             unpin=lambda p: unpinned.append(str(p))))
    assert report.killed == [1200]
    assert (proc.root / "1201").exists()
    assert unpinned == ["/run/x/netns/spoke1", "/run/x/netns/spoke2"]


def test_clean_deletes_only_links_that_still_have_the_recorded_ifindex(proc, records):
    records.add_link(LinkRecord("seg1", "bridge", 40))
    records.add_link(LinkRecord("seg2", "bridge", 41))
    records.add_link(LinkRecord("seg3", "bridge", 42))
    present = {"seg1": 40, "seg2": 99}  # seg2 is now someone else's; seg3 is gone
    deleted: list[str] = []
    report = clean_records(records, proc.ops(link_ifindex=present.get, delete_link=deleted.append))
    assert deleted == ["seg1"]
    assert report.links_skipped == ["seg2"]
    assert "1 link names now belong to other links" in report.summary()
