"""`dmvpnlab status`'s uptime and agent health: an agent is healthy only if its recorded
process is still the one the lab started and its control socket answers a ping."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from dmvpnlab import jsonline
from dmvpnlab.lab.commands import lab_status
from dmvpnlab.lab.health import agent_health, format_duration, summary_line, uptime
from dmvpnlab.lab.records import LabRecords, ProcessRecord, record_process
from dmvpnlab.rundir import CONTROL_SOCKET


@pytest.fixture
def short_root():
    """A short run root: unix socket paths must stay under 108 bytes."""
    root = Path(tempfile.mkdtemp(prefix="hl", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def serve_ping(state_dir: Path) -> socket.socket:
    """A control socket that answers ping like an agent's, in a daemon thread."""
    state_dir.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(state_dir / CONTROL_SOCKET))
    server.listen()

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                jsonline.serve_connection(conn, {"ping": lambda _m: {"ok": True}})

    threading.Thread(target=loop, daemon=True).start()
    return server


def lab_with_agents(root: Path) -> LabRecords:
    records = LabRecords.create("default", "topologies/default.yaml", root=root)
    me = record_process(os.getpid(), "agent", node="hub")
    records.add_process(me)
    records.add_process(record_process(os.getpid(), "agent", node="spoke1"))  # alive, no socket
    records.add_process(ProcessRecord(pid=me.pid, start_time=me.start_time + 1, cmdline=[], kind="agent",
                                      node="spoke2"))  # the PID now belongs to another process
    return records


def test_only_a_live_agent_whose_socket_answers_is_healthy(short_root):
    records = lab_with_agents(short_root)
    server = serve_ping(records.directory / "hub")
    try:
        health = agent_health(records)
    finally:
        server.close()
    assert health.healthy == ["hub"]
    assert health.as_json() == {"healthy": 1, "total": 3, "unhealthy": {
        "spoke1": f"PID {os.getpid()} alive, control socket not answering",
        "spoke2": f"PID {os.getpid()} gone"}}


def test_a_restarted_agent_is_counted_once_by_its_latest_record(short_root):
    records = LabRecords.create("default", "t.yaml", root=short_root)
    records.add_process(ProcessRecord(pid=1, start_time=-5, cmdline=[], kind="agent", node="hub"))  # the old one
    records.add_process(record_process(os.getpid(), "agent", node="hub"))
    health = agent_health(records, ping=lambda _d: True)
    assert (health.healthy, health.total) == (["hub"], 1)


def test_uptime_counts_from_the_records_creation(short_root):
    records = LabRecords.create("default", "t.yaml", root=short_root)
    assert uptime(records, now=records.data["created"] + 192.4) == pytest.approx(192.4)
    records.data.pop("created")
    assert uptime(records) is None


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.9, "59s"), (192, "3m12s"), (3600, "1h00m"),
                                           (7500, "2h05m"), (86400 + 3 * 3600, "1d03h"), (-3, "0s")])
def test_durations_are_short_and_exact_to_their_unit(seconds, text):
    assert format_duration(seconds) == text


def test_the_summary_line_reads_like_the_issue_example():
    agents = {"healthy": 3, "total": 3, "unhealthy": {}}
    assert summary_line("default", "up", 192, agents) == "default  up 3m12s  agents 3/3 healthy"
    agents = {"healthy": 2, "total": 3, "unhealthy": {"spoke2": "PID 7 gone"}}
    assert summary_line("default", "up", None, agents) == "default  up  agents 2/3 healthy (spoke2: PID 7 gone)"


def test_status_json_carries_uptime_and_agents(short_root):
    records = lab_with_agents(short_root)
    status = lab_status(records, ping=lambda d: d.name == "hub")
    assert status["agents"]["healthy"] == 1 and status["agents"]["total"] == 3
    assert status["up_seconds"] is not None and status["up_seconds"] >= 0
