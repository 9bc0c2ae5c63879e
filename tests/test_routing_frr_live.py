"""Two FRR routers in namespaces of their own reach OSPF Full, survive a kill -9, stop clean.

Why: FrrSupervisor is how the agent will run FRR inside each router's namespace (issue
10). This proves it against real zebra + ospfd 8.4: two namespaces joined by a veth, a
FrrSupervisor in each (in a small driver process, tests/frr_driver.py, run with `ip netns
exec`), OSPF point-to-point with hello 1 / dead 4 on the veth and a /32 on `lo` (this
kernel has no dummy interfaces). The adjacency must reach Full and each kernel must get
the other's /32 as `proto ospf`; after ospfd is killed with SIGKILL on one side, `poll()`
must restart it and the adjacency come back; `reload()` with a config that announces
another /32 of rb's instead must put that one in ra's kernel and take the old one out;
`stop()` must leave no FRR process. The namespaces are removed in `finally`, also when
an assertion failed. Root only; run under `flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from netns_live import stop

from dmvpnlab.routing.frr import proc_start_time

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/lib/frr/zebra").exists() or not Path("/usr/lib/frr/ospfd").exists()
    or shutil.which("vtysh") is None or shutil.which("ip") is None,
    reason="needs root, iproute2 and FRR (zebra, ospfd, vtysh in /usr/lib/frr and PATH)")

DRIVER = Path(__file__).resolve().parent / "frr_driver.py"


def _config(name: str, ifname: str, loopback: str) -> str:
    return (f"frr defaults traditional\nhostname {name}\n!\n"
            f"interface {ifname}\n ip ospf network point-to-point\n"
            f" ip ospf hello-interval 1\n ip ospf dead-interval 4\n ip ospf retransmit-interval 1\n!\n"
            f"router ospf\n ospf router-id {loopback}\n timers throttle lsa all 0\n"
            f" timers lsa min-arrival 0\n timers throttle spf 0 50 500\n network 10.77.0.0/30 area 0\n"
            f" network {loopback}/32 area 0\n!\n")


class Driver:
    """One FrrSupervisor running in `netns`, spoken to one JSON line at a time."""

    def __init__(self, netns: str, node: str, run_dir: Path, config: str) -> None:
        run_dir.mkdir(parents=True)
        conf = run_dir.parent / f"{node}.conf.in"
        conf.write_text(config)
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, str(DRIVER), node,
                                      str(run_dir), str(conf), "ospfd"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert first, f"{node}: driver exited before FRR started"
        assert json.loads(first) == {"started": True}
        self.seen: list[tuple[int, int | None]] = []

    def ask(self, request: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"driver exited on {request!r}"
        return json.loads(line)["answer"]

    def pids(self) -> dict[str, int]:
        answer = self.ask("pids")
        self.seen += [(pid, start) for _, pid, start in answer]
        return {daemon: pid for daemon, pid, _ in answer}

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()  # EOF: the driver stops its daemons
        stop(self.proc)


def _wait(what: str, check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        time.sleep(0.2)
    took = time.monotonic() - start
    print(f"{what}: {took:.1f} s")
    return took


def _full(driver: Driver) -> bool:
    return "Full" in driver.ask("vtysh show ip ospf neighbor")


def _ospf_route(netns: str, prefix: str) -> bool:
    out = subprocess.run(["ip", "netns", "exec", netns, "ip", "-4", "route", "show", "proto", "ospf"],
                         capture_output=True, text=True).stdout
    return any(line.split()[0] == prefix for line in out.splitlines() if line.strip())


def ospf_link(ns_a: str, ns_b: str) -> None:
    """Two new namespaces joined by a veth (ospfa 10.77.0.1/30 - ospfb 10.77.0.2/30), each
    with a loopback /32 (10.77.255.1, 10.77.255.2) for OSPF to carry; the caller deletes
    the namespaces in its `finally`."""
    for ns in (ns_a, ns_b):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "link", "add", "ospfa", "netns", ns_a, "type", "veth",
                    "peer", "name", "ospfb", "netns", ns_b], check=True)
    for ns, ifname, addr, loopback in ((ns_a, "ospfa", "10.77.0.1/30", "10.77.255.1"),
                                       (ns_b, "ospfb", "10.77.0.2/30", "10.77.255.2")):
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{loopback}/32", "dev", "lo"],
                    ["ip", "addr", "add", addr, "dev", ifname], ["ip", "link", "set", ifname, "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)


def test_two_supervised_frr_routers_form_ospf_full_and_recover_from_kill() -> None:
    tag = os.getpid()
    # Not pytest's tmp_path: its parents are 0700 root, and the daemons run as user frr.
    tmp_path = Path(tempfile.mkdtemp(prefix="dmvpnlab-frr-"))
    tmp_path.chmod(0o755)
    ns_a, ns_b = f"dmvpnlab-frra{tag}", f"dmvpnlab-frrb{tag}"
    drivers: list[Driver] = []
    try:
        ospf_link(ns_a, ns_b)
        t0 = time.monotonic()
        a = Driver(ns_a, "ra", tmp_path / "ra", _config("ra", "ospfa", "10.77.255.1"))
        drivers.append(a)
        b = Driver(ns_b, "rb", tmp_path / "rb", _config("rb", "ospfb", "10.77.255.2"))
        drivers.append(b)

        print(f"two supervisors started in {time.monotonic() - t0:.1f} s")
        _wait("OSPF Full", lambda: _full(a) and _full(b), 15)
        _wait("routes", lambda: _ospf_route(ns_a, "10.77.255.2") and _ospf_route(ns_b, "10.77.255.1"), 10)

        before = a.pids()
        assert set(before) == {"zebra", "ospfd"}
        os.kill(before["ospfd"], signal.SIGKILL)
        _wait("ospfd death seen", lambda: proc_start_time(before["ospfd"]) is None, 5)
        _wait("zebra withdraws the dead ospfd's route", lambda: not _ospf_route(ns_a, "10.77.255.2"), 5)
        assert a.ask("poll") == {"restarted": ["ospfd"], "given_up": []}
        after = a.pids()
        assert after["ospfd"] != before["ospfd"] and after["zebra"] == before["zebra"]
        _wait("OSPF Full again", lambda: _full(a) and _full(b), 15)
        _wait("route again", lambda: _ospf_route(ns_a, "10.77.255.2"), 10)
        assert a.ask("poll") == {"restarted": [], "given_up": []}

        # reload drops what left the config: rb stops announcing its /32.
        old_b = b.pids()
        lean = tmp_path / "rb-lean.conf"
        subprocess.run(["ip", "netns", "exec", ns_b, "ip", "addr", "add", "10.77.254.2/32", "dev", "lo"], check=True)
        lean.write_text(_config("rb", "ospfb", "10.77.255.2").replace(" network 10.77.255.2/32 area 0\n",
                                                                      " network 10.77.254.2/32 area 0\n"))
        assert b.ask(f"reload {lean}") == "reloaded"
        assert "10.77.255.2/32" not in b.ask("vtysh show running-config")
        assert set(b.pids().values()).isdisjoint(old_b.values())
        _wait("OSPF Full after reload", lambda: _full(a) and _full(b), 15)
        _wait("ra learns rb's new /32", lambda: _ospf_route(ns_a, "10.77.254.2"), 10)
        assert not _ospf_route(ns_a, "10.77.255.2"), "the /32 that left rb's config is gone"
        assert _ospf_route(ns_b, "10.77.255.1")

        t0 = time.monotonic()
        for driver in drivers:
            assert driver.ask("stop") == "stopped"
            assert driver.pids() == {}
        print(f"both stopped in {time.monotonic() - t0:.1f} s")
        for pid, start in a.seen + b.seen:
            assert start is not None and proc_start_time(pid) != start, f"pid {pid} still runs"
    finally:
        for driver in drivers:
            driver.close()
        for driver in drivers:
            for pid, start in driver.seen:  # last resort, still only our own PIDs
                if start is not None and proc_start_time(pid) == start:
                    os.kill(pid, signal.SIGKILL)
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp_path, ignore_errors=True)
    for ns in (ns_a, ns_b):
        assert not Path(f"/run/netns/{ns}").exists()
