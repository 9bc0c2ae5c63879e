"""Root only: two router agents with `router ospf` run real FRR, reload it, leave none behind.

Why: the agent owns FRR (agent/frr_node.py). Two namespaces joined by a veth
(r1-eth0 -- r2-eth0, 10.77.0.0/30); r2 also has r2-eth1 (192.168.2.1/24, its peer end
in the same namespace) announced by OSPF. Each runs `dmvpnlab agent` with an IOS
`router ospf 1` section; the agent must start zebra + ospfd (their PIDs in its state
and in its FRR_PROCESSES journal), the adjacency must reach Full and r1's kernel get
192.168.2.0/24 as `proto ospf` metric 20, through the control socket (`vtysh` op and
the CLI). A route of NHRP's protocol number for that prefix, added while zebra runs, is
left alone by zebra and leaves zebra's alone. A `configure terminal` line that does not touch FRR must not reload it; one
that does (r2 announces 192.168.3.0/24 too) must reload it once, ospfd only: zebra, with
an NHRP route beside it, must not start again (it could adopt that route). An agent
killed with SIGKILL leaves its daemons (they are in their own session) and its routes:
the next agent in the same state directory stops them and removes the routes first; after a second SIGKILL, `clean_records` stops them from the
journal. A SIGTERM'd agent leaves no FRR process. Namespaces go in `finally`.
Run under `flock /tmp/dmvpnlab-scenarios.lock`.
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
from typing import Any

import pytest
from netns_live import stop

from dmvpnlab.jsonline import request
from dmvpnlab.lab.records import LabRecords, clean_records
from dmvpnlab.procfs import proc_start_time
from dmvpnlab.routing.kernel import NHRP_ROUTE_PROTO
from dmvpnlab.rundir import FRR_PROCESSES

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/lib/frr/ospfd").exists() or shutil.which("vtysh") is None
    or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and FRR (zebra, ospfd, vtysh)")

OSPF_IF = " ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n"
R1 = f"""hostname r1
interface GigabitEthernet0/0
 ip address 10.77.0.1 255.255.255.252
{OSPF_IF}!
router ospf 1
 router-id 1.1.1.1
 network 10.77.0.0 0.0.0.3 area 0
!
end
"""
R2 = f"""hostname r2
interface GigabitEthernet0/0
 ip address 10.77.0.2 255.255.255.252
{OSPF_IF}!
interface GigabitEthernet0/1
 ip address 192.168.2.1 255.255.255.0
!
interface GigabitEthernet0/2
 ip address 192.168.3.1 255.255.255.0
!
router ospf 1
 router-id 2.2.2.2
 network 10.77.0.0 0.0.0.3 area 0
 network 192.168.2.0 0.0.0.255 area 0
!
end
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, check=True)


def ask(directory: Path, message: dict[str, Any]) -> dict[str, Any]:
    answer = request(directory / "control.sock", message, timeout=15)
    assert answer.get("ok"), answer
    return answer


def state(directory: Path) -> dict[str, Any]:
    return ask(directory, {"op": "state"})["state"]


def wait_for(what: str, check, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, KeyError, IndexError, AssertionError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def routes(space: str, prefix: str) -> str:
    return subprocess.run(["ip", "-n", space, "route", "show", prefix], capture_output=True, text=True).stdout


def alive(pids: list[tuple[int, int]]) -> list[int]:
    return [pid for pid, start in pids if proc_start_time(pid) == start]


def frr_pids(directory: Path) -> list[tuple[int, int]]:
    return [(d["pid"], d["start_time"]) for d in state(directory)["routing"]["frr"]["running"]]


class Agents:
    """The agents of this test, by node; each started in its namespace, stopped by PID."""

    def __init__(self, base: Path, spaces: dict[str, str]) -> None:
        self.base, self.spaces = base, spaces
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    def dir(self, node: str) -> Path:
        return self.base / node

    def start(self, node: str, config: str) -> None:
        directory = self.dir(node)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ready").unlink(missing_ok=True)
        (directory / "startup-config").write_text(config)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.spaces[node], sys.executable, "-m", "dmvpnlab", "agent", "--node", node,
             "--config", str(directory / "startup-config"), "--state-dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs[node] = proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"agent {node} exited {proc.returncode}: {(directory / 'agent.log').read_text()}")
            return (directory / "ready").exists()
        wait_for(f"{node} ready", ready)

    def kill(self, node: str) -> None:
        proc = self.procs.pop(node)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop(proc)
        self.procs.clear()


def cli_session(directory: Path, lines: list[str]) -> list[str]:
    """Lines on one control connection (one exec session), as `dmvpnlab cli` sends them."""
    import socket
    outputs = []
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(str(directory / "control.sock"))
        reader = sock.makefile("rb")
        for line in lines:
            sock.sendall(json.dumps({"op": "cli", "line": line}).encode() + b"\n")
            answer = json.loads(reader.readline())
            assert answer.get("ok") and not answer.get("error"), (line, answer)
            outputs.append(answer["output"])
    return outputs


def test_agents_run_ospf_in_frr_reload_on_change_and_leave_no_daemon():
    tag = f"{os.getpid() % 100000}"
    spaces = {"r1": f"dlt-frr-r1-{tag}", "r2": f"dlt-frr-r2-{tag}"}
    base = Path(tempfile.mkdtemp(prefix="dmvpnlab-frr-agent-"))
    base.chmod(0o755)  # the daemons run as user frr and must reach their run dir
    records = LabRecords.create("frrlive", "", root=base)
    agents = Agents(records.directory, spaces)
    made: list[str] = []
    seen: list[tuple[int, int]] = []
    try:
        for space in spaces.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "r1-eth0", "netns", spaces["r1"], "type", "veth", "peer", "name", "r2-eth0",
           "netns", spaces["r2"])
        for n in (1, 2):
            ip("-n", spaces["r2"], "link", "add", f"r2-eth{n}", "type", "veth", "peer", "name", f"r2-peer{n}")
            ip("-n", spaces["r2"], "link", "set", f"r2-peer{n}", "up")
        for node, space in spaces.items():
            ip("-n", space, "link", "set", "lo", "up")
        agents.start("r2", R2)
        agents.start("r1", R1)
        r1, r2 = agents.dir("r1"), agents.dir("r2")
        frr = state(r1)["routing"]["frr"]
        assert [d["daemon"] for d in frr["running"]] == ["zebra", "ospfd"], frr
        first = frr_pids(r1)
        seen += first + frr_pids(r2)
        journal = [json.loads(line) for line in (r1 / FRR_PROCESSES).read_text().splitlines()]
        assert [(e["pid"], e["start_time"]) for e in journal] == first
        assert alive(first) == [pid for pid, _ in first]

        neighbors = wait_for("OSPF Full", lambda: (
            n := ask(r1, {"op": "vtysh", "command": "show ip ospf neighbor json"})["json"]["neighbors"])
            and n["2.2.2.2"][0]["nbrState"].startswith("Full") and n, timeout=20)
        assert "2.2.2.2" in neighbors
        route = wait_for("r1 learns 192.168.2.0/24", lambda: subprocess.run(
            ["ip", "-n", spaces["r1"], "route", "show", "192.168.2.0/24"], capture_output=True, text=True
        ).stdout.strip(), timeout=10)
        assert "proto ospf" in route and "metric 20" in route and "via 10.77.0.2" in route, route
        # the operator's view through the CLI on the control socket
        shown = cli_session(r1, ["show ip ospf neighbor", "show ip route ospf", "show ip route 192.168.2.1"])
        assert any(line.startswith("2.2.2.2") and "FULL/  -" in line and "GigabitEthernet0/0" in line
                   for line in shown[0].splitlines()), shown[0]
        assert "O     192.168.2.0/24 [110/2] via 10.77.0.2, " in shown[1], shown[1]  # IOS costs: 1 + 1
        assert '  Known via "ospf 1", distance 110, metric 2, type intra area' in shown[2], shown[2]
        # a config change on r1 re-applies its static routes: zebra's routes are not the agent's to remove
        cli_session(r1, ["configure terminal", "ip route 172.31.0.0 255.255.0.0 Null0", "end"])
        assert "proto ospf" in routes(spaces["r1"], "192.168.2.0/24")
        # zebra and the agent's own routes (routing/kernel.py): one of NHRP's protocol number
        # added while zebra runs is ignored by zebra, which keeps its own beside it
        agent_route = ["192.168.2.0/24", "via", "10.77.0.2", "proto", str(NHRP_ROUTE_PROTO), "metric", "250"]
        ip("-n", spaces["r1"], "route", "add", *agent_route)
        time.sleep(1.5)
        both = routes(spaces["r1"], "192.168.2.0/24")
        assert "proto ospf" in both and "proto nhrp metric 250" in both, both
        ip("-n", spaces["r1"], "route", "del", *agent_route)
        assert "proto nhrp" not in routes(spaces["r1"], "192.168.2.0/24")
        # a line that leaves the FRR text as it was: no reload
        cli_session(r2, ["configure terminal", "interface GigabitEthernet0/1", "description LAN", "end"])
        time.sleep(1.5)
        assert state(r2)["routing"]["frr"]["reloads"] == 0
        # a routing change: one reload of ospfd (zebra runs on: it must not meet the agent's
        # NHRP route at a start of its own), and the new network reaches r1
        before = dict(zip(("zebra", "ospfd"), frr_pids(r2)))
        shortcut = ["172.30.0.0/16", "via", "10.77.0.1", "proto", str(NHRP_ROUTE_PROTO), "metric", "250"]
        ip("-n", spaces["r2"], "route", "add", *shortcut)
        cli_session(r2, ["configure terminal", "router ospf 1", "network 192.168.3.0 0.0.0.255 area 0", "end"])
        wait_for("r2 reloaded", lambda: state(r2)["routing"]["frr"]["reloads"] == 1, timeout=10)
        after = dict(zip(("zebra", "ospfd"), frr_pids(r2)))
        seen += list(after.values())
        assert after["zebra"] == before["zebra"] and after["ospfd"] != before["ospfd"]
        assert not alive([before["ospfd"]]) and alive(list(after.values()))
        ip("-n", spaces["r2"], "route", "del", *shortcut)
        time.sleep(1.0)
        assert routes(spaces["r2"], "172.30.0.0/16") == "", "no copy of the agent's route outlives it"
        wait_for("r1 learns 192.168.3.0/24 after the reload", lambda: "proto ospf" in subprocess.run(
            ["ip", "-n", spaces["r1"], "route", "show", "192.168.3.0/24"], capture_output=True, text=True
        ).stdout, timeout=20)

        # a killed agent leaves its daemons and routes; the next agent there stops them and
        # removes its predecessor's NHRP routes before its own zebra could adopt them
        leftover = ["172.31.0.0/16", "via", "10.77.0.2", "proto", str(NHRP_ROUTE_PROTO), "metric", "250"]
        ip("-n", spaces["r1"], "route", "add", *leftover)
        agents.kill("r1")
        assert alive(first) == [pid for pid, _ in first], "FRR runs on in its own session"
        agents.start("r1", R1)
        assert not alive(first)
        time.sleep(1.5)
        assert routes(spaces["r1"], "172.31.0.0/16") == ""
        second = frr_pids(r1)
        seen += second
        assert alive(second)
        # killed again: the lab's clean finds the daemons in the journal
        agents.kill("r1")
        report = clean_records(records)
        assert set(pid for pid, _ in second) <= set(report.killed), report
        assert not alive(second)
    finally:
        agents.stop_all()
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
    assert not alive(seen), "no FRR process outlives its agent"
    logs = "".join((agents.dir(n) / "agent.log").read_text() for n in ("r1", "r2"))
    assert "Traceback" not in logs, logs
    shutil.rmtree(base, ignore_errors=True)
