"""FrrSupervisor without root: the command lines it builds, the restart bound, a failed start.

The command lines are the contract with FRR 8.4 (every path inside run_dir, nothing in
/etc/frr or /var/run/frr); the restart bound keeps a daemon that dies on every start
from being restarted forever; a start that fails halfway must leave no process behind.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from dmvpnlab.lab.records import proc_start_time as records_start_time
from dmvpnlab.routing.frr import (FrrError, FrrPaths, FrrSupervisor, RestartBudget, daemon_argv,
                                  proc_start_time, start_order, vtysh_argv)


def test_daemon_runs_in_foreground_with_every_path_in_run_dir(tmp_path: Path) -> None:
    argv = daemon_argv("ospfd", FrrPaths(tmp_path))
    assert argv == ["/usr/lib/frr/ospfd", "-i", f"{tmp_path}/ospfd.pid", "-z", f"{tmp_path}/zserv.api",
                    "--vty_socket", str(tmp_path), "-f", f"{tmp_path}/ospfd.conf"]
    assert "-d" not in argv
    assert not any(part.startswith(("/etc/frr", "/var/run/frr", "/run/frr")) for part in argv)


def test_zebra_sweeps_the_routes_it_adopted_at_start_up(tmp_path: Path) -> None:
    # without -K, zebra keeps copies of our NHRP/EIGRP kernel routes forever (routing/frr.py)
    assert daemon_argv("zebra", FrrPaths(tmp_path))[-2:] == ["-K", "2"]
    assert "-K" not in daemon_argv("ospfd", FrrPaths(tmp_path))


def test_unknown_daemon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        daemon_argv("nhrpd", FrrPaths(tmp_path))
    with pytest.raises(ValueError):
        start_order(["ospfd", "eigrp"])


def test_vtysh_is_bound_to_run_dir_for_sockets_and_config(tmp_path: Path) -> None:
    paths = FrrPaths(tmp_path)
    assert vtysh_argv(paths, commands=["show ip ospf neighbor"]) == [
        "vtysh", "--vty_socket", str(tmp_path), "--config_dir", str(tmp_path),
        "-c", "show ip ospf neighbor"]
    assert vtysh_argv(paths, boot=True, daemon="ospfd")[-3:] == ["-d", "ospfd", "-b"]


def test_zebra_starts_first_and_each_daemon_once() -> None:
    assert start_order(["ospfd", "bgpd", "ospfd"]) == ["zebra", "ospfd", "bgpd"]
    assert start_order(["bgpd", "zebra"]) == ["zebra", "bgpd"]


def test_restart_budget_allows_three_a_minute_per_daemon() -> None:
    now = [0.0]
    budget = RestartBudget(limit=3, window=60.0, clock=lambda: now[0])
    allowed = []
    for t in (0.0, 10.0, 20.0, 30.0):
        now[0] = t
        allowed.append(budget.allow("ospfd"))
    assert allowed == [True, True, True, False]
    assert budget.allow("bgpd"), "each daemon has its own budget"
    now[0] = 59.9
    assert not budget.allow("ospfd")
    now[0] = 60.0
    assert budget.allow("ospfd"), "the restart at 0 s has left the window"
    assert not budget.allow("ospfd"), "those at 10 s and 20 s have not"


def test_start_time_reads_like_lab_records() -> None:
    assert proc_start_time(os.getpid()) == records_start_time(os.getpid())
    assert proc_start_time(2**22 + 12345) is None


def _fake_sbin(tmp_path: Path, scripts: dict[str, str]) -> Path:
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    for name, body in scripts.items():
        path = sbin / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return sbin




def test_start_failing_halfway_leaves_no_process(tmp_path: Path) -> None:
    sbin = _fake_sbin(tmp_path, {"zebra": 'echo $$ > "$6/zebra.started"; touch "$6/zebra.vty"; exec sleep 30\n',
                                 "ospfd": "exit 3\n"})
    sup = FrrSupervisor("r1", tmp_path / "run", ["ospfd"], "", sbin=sbin)
    with pytest.raises(FrrError):
        sup.start()
    pid = int((tmp_path / "run" / "zebra.started").read_text())
    assert proc_start_time(pid) is None, "zebra was stopped (and reaped)"


# Stand-ins for FRR's binaries (real child processes, so poll() and stop() act on real
# PIDs): a daemon is "ready" once its vty socket path exists, as with FRR.
_DAEMON = 'touch "$6/$(basename "$0").vty"; exec sleep 60\n'
# The stubborn zebra ignores SIGTERM before it makes its socket, so it is "ready" only then.
_STUBBORN = ("import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             "open(sys.argv[6] + '/zebra.vty', 'w').close()\ntime.sleep(60)\n")
_VTYSH = 'echo "$*" >> "$2/vtysh.calls"\n'


def _fake_frr(tmp_path: Path) -> tuple[Path, str]:
    sbin = _fake_sbin(tmp_path, {"zebra": _DAEMON, "ospfd": _DAEMON, "vtysh": _VTYSH})
    return sbin, str(sbin / "vtysh")


def _poll_until_restart(sup: FrrSupervisor, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while not (restarted := sup.poll()) and not sup.given_up:
        assert time.monotonic() < deadline, "poll() never saw the death"
        time.sleep(0.02)
    return restarted


def test_poll_restarts_a_killed_daemon_three_times_a_minute_then_leaves_it_down(tmp_path: Path) -> None:
    sbin, vtysh = _fake_frr(tmp_path)
    budget = RestartBudget(limit=3, window=60.0, clock=lambda: 0.0)
    sup = FrrSupervisor("r1", tmp_path / "run", ["ospfd"], "router ospf\n", sbin=sbin,
                        vtysh=vtysh,
                        budget=budget)
    sup.start()
    try:
        zebra = sup.records()[0]
        assert [r.daemon for r in sup.records()] == ["zebra", "ospfd"]
        assert all(r.start_time == proc_start_time(r.pid) for r in sup.records())
        for attempt in range(3):
            os.kill(sup.records()[1].pid, signal.SIGKILL)
            assert _poll_until_restart(sup) == ["ospfd"], f"restart {attempt + 1}"
        assert sup.restarts == {"ospfd": 3}
        calls = (tmp_path / "run" / "vtysh.calls").read_text().splitlines()
        assert calls[0].endswith("-b") and "-d" not in calls[0].split(), "boot loads every daemon"
        assert calls[1:] == [calls[1]] * 3 and calls[1].endswith("-d ospfd -b"), \
            "a restarted daemon gets its config again, and only it"
        os.kill(sup.records()[1].pid, signal.SIGKILL)
        assert _poll_until_restart(sup) == []
        assert sup.given_up == {"ospfd"}
        assert [r.daemon for r in sup.records()] == ["zebra"]
        assert sup.records()[0] == zebra, "zebra was never touched"
    finally:
        sup.stop()
    assert proc_start_time(zebra.pid) is None


def test_stop_kills_a_daemon_that_ignores_sigterm_after_the_bound(tmp_path: Path) -> None:
    sbin, vtysh = _fake_frr(tmp_path)
    (sbin / "zebra").write_text(f"#!{sys.executable}\n" + _STUBBORN)
    sup = FrrSupervisor("r1", tmp_path / "run", [], "", sbin=sbin, vtysh=vtysh, stop_timeout=0.5)
    sup.start()
    pid = sup.records()[0].pid
    started = time.monotonic()
    sup.stop()
    assert 0.5 <= time.monotonic() - started < 3.0
    assert proc_start_time(pid) is None and sup.records() == []


def test_a_restarted_zebra_gets_the_whole_config_pushed_again(tmp_path: Path) -> None:
    # zebra holds interface and global config for every daemon, so `-b` goes to all of them.
    sbin, vtysh = _fake_frr(tmp_path)
    sup = FrrSupervisor("r1", tmp_path / "run", ["ospfd"], "", sbin=sbin, vtysh=vtysh)
    sup.start()
    try:
        ospfd = sup.records()[1]
        os.kill(sup.records()[0].pid, signal.SIGKILL)
        assert _poll_until_restart(sup) == ["zebra"]
        assert sup.records()[1] == ospfd
        calls = (tmp_path / "run" / "vtysh.calls").read_text().splitlines()
        assert len(calls) == 2 and calls[1] == calls[0] and "-d" not in calls[1].split()
    finally:
        sup.stop()
