"""The agent's FRR owner without processes: when it starts, reloads, stops; the journal.

Why: reloads are restarts (adjacencies drop), so they must happen when the FRR text
changed and only then, once per pasted section (RELOAD_DELAY), and every daemon must be
journalled where `dmvpnlab clean` reads it. A fake supervisor stands in for FRR; the
real daemons are in tests/test_agent_frr_live.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dmvpnlab.agent.frr_node import FrrNode, read_journal, stop_leftovers, vtysh_operation
from dmvpnlab.config.parser import parse_config
from dmvpnlab.lab.records import LabRecords, journalled_daemons
from dmvpnlab.procfs import proc_start_time
from dmvpnlab.routing.frr import DaemonRecord, FrrError, start_order
from dmvpnlab.rundir import FRR_PROCESSES

BASE = """hostname r1
interface GigabitEthernet0/0
 ip address 10.0.0.1 255.255.255.0
"""
OSPF = BASE + "router ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n"


class FakeSupervisor:
    made: list["FakeSupervisor"] = []

    def __init__(self, node: str, run_dir: Path, daemons: list[str], text: str, *, on_spawn=None, **_: Any) -> None:
        self.node, self.run_dir, self.daemons, self.text, self.on_spawn = node, run_dir, start_order(daemons), text, on_spawn
        self.started = self.stopped = False
        self.restarted: list[tuple[list[str], str]] = []
        self.polls = 0
        self.restarts: dict[str, int] = {}
        self.given_up: set[str] = set()
        self.paths = type("P", (), {"run_dir": run_dir})()
        FakeSupervisor.made.append(self)

    def start(self) -> None:
        for n, daemon in enumerate(self.daemons):
            self.on_spawn(DaemonRecord(daemon, 100000 + n, None, (daemon,)))
        if "fail" in self.text:
            raise FrrError("ospfd exited with 1 during start")
        self.started = True

    def records(self) -> list[DaemonRecord]:
        return [DaemonRecord(d, 100000 + n, 1, (d,)) for n, d in enumerate(self.daemons)]

    def poll(self) -> list[str]:
        self.polls += 1
        return []

    def vtysh(self, command: str) -> str:
        return '{"neighbors": {}}' if command.endswith("json") else "text"

    def restart_protocols(self, daemons: list[str], text: str) -> None:
        self.restarted.append((start_order(daemons), text))
        self.daemons, self.text = start_order(daemons), text

    def stop(self) -> None:
        self.stopped = True


def node(tmp_path: Path) -> FrrNode:
    FakeSupervisor.made = []
    return FrrNode("r1", tmp_path, factory=FakeSupervisor, reload_delay=1.0)


def config(text: str):
    return parse_config(text).config


def test_no_routing_protocol_starts_nothing(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(BASE), 0.0, immediate=True)
    assert FakeSupervisor.made == [] and frr.supervisor is None


def test_first_apply_starts_at_once_and_journals_every_daemon(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(OSPF), 0.0, immediate=True)
    [sup] = FakeSupervisor.made
    assert sup.started and sup.daemons == ["zebra", "ospfd"] and sup.run_dir == tmp_path / "frr"
    assert [r.daemon for r in read_journal(tmp_path / FRR_PROCESSES)] == ["zebra", "ospfd"]
    assert frr.state()["running"][0]["daemon"] == "zebra" and frr.state()["reloads"] == 0


def test_a_change_reloads_once_after_the_delay_and_an_unrelated_one_never(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(OSPF), 0.0, immediate=True)
    frr.configure(config(OSPF.replace("hostname r1", "hostname r1\nip route 1.0.0.0 255.0.0.0 10.0.0.9")), 5.0,
                  immediate=False)
    frr.tick(10.0)
    assert len(FakeSupervisor.made) == 1 and frr.reloads == 0
    more = OSPF + " network 192.168.1.0 0.0.0.255 area 0\n"
    frr.configure(config(more), 20.0, immediate=False)
    frr.configure(config(more + " passive-interface GigabitEthernet0/0\n"), 20.5, immediate=False)
    frr.tick(21.0)
    assert len(FakeSupervisor.made) == 1 and frr.state()["reload_pending"]
    frr.tick(21.6)
    [sup] = FakeSupervisor.made  # zebra runs on: only the protocol daemons restart
    assert not sup.stopped and frr.reloads == 1 and len(sup.restarted) == 1
    assert "192.168.1.0/24" in sup.text and sup.daemons == ["zebra", "ospfd"]


def test_removing_the_last_protocol_leaves_zebra_alone_until_the_agent_exits(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(OSPF), 0.0, immediate=True)
    frr.configure(config(BASE), 1.0, immediate=False)
    frr.tick(3.0)
    [sup] = FakeSupervisor.made
    assert not sup.stopped and sup.daemons == ["zebra"] and "router ospf" not in sup.text
    frr.configure(config(OSPF), 5.0, immediate=False)
    frr.tick(7.0)
    assert sup.daemons == ["zebra", "ospfd"] and len(FakeSupervisor.made) == 1
    frr.stop()
    assert sup.stopped and frr.supervisor is None
    assert vtysh_operation(type("A", (), {"frr": frr})(), {"op": "vtysh", "command": "show ip ospf"}, None)["ok"] is False


def test_a_failed_start_is_reported_not_raised(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(OSPF.replace("router ospf 1", "hostname fail\nrouter ospf 1")), 0.0, immediate=True)
    assert frr.supervisor is None and "during start" in frr.state()["error"]


def test_vtysh_operation_parses_json_and_refuses_bad_requests(tmp_path):
    frr = node(tmp_path)
    frr.configure(config(OSPF), 0.0, immediate=True)
    agent = type("A", (), {"frr": frr})()
    assert vtysh_operation(agent, {"command": "show ip ospf neighbor json"}, None)["json"] == {"neighbors": {}}
    assert vtysh_operation(agent, {"command": "show ip ospf neighbor"}, None) == {"ok": True, "output": "text"}
    assert vtysh_operation(agent, {"command": 5}, None)["ok"] is False
    assert vtysh_operation(type("A", (), {"frr": None})(), {"command": "show ip route"}, None)["ok"] is False


def test_purge_agent_routes_removes_only_nhrp_and_eigrp_routes():
    from ipaddress import IPv4Address, IPv4Network

    from dmvpnlab.agent.frr_node import purge_agent_routes
    from dmvpnlab.routing.kernel import EIGRP_ROUTE_PROTO, NHRP_ROUTE_PROTO, KernelRoute
    routes = [KernelRoute(IPv4Network(f"192.168.{n}.0/24"), IPv4Address("10.0.0.1"), "Tunnel0", proto, metric, 0, 1)
              for n, (proto, metric) in enumerate([(NHRP_ROUTE_PROTO, 250), (EIGRP_ROUTE_PROTO, 90), (188, 20), (4, 0)])]
    deleted = []
    kernel = type("K", (), {"routes": lambda self: routes,
                            "delete_route": lambda self, *args: deleted.append(args) or True})()
    assert purge_agent_routes(kernel) == 2
    assert [(str(p), proto) for p, _, proto, _ in deleted] == [("192.168.0.0/24", NHRP_ROUTE_PROTO),
                                                               ("192.168.1.0/24", EIGRP_ROUTE_PROTO)]


def test_leftovers_are_signalled_only_with_their_start_time(tmp_path):
    me = os.getpid()
    journal = tmp_path / FRR_PROCESSES
    journal.write_text("\n".join([
        json.dumps({"daemon": "zebra", "pid": me, "start_time": proc_start_time(me), "argv": []}),
        json.dumps({"daemon": "ospfd", "pid": me, "start_time": 1, "argv": []}),  # a recycled PID
        json.dumps({"daemon": "bgpd", "pid": me, "start_time": None, "argv": []}),
        "{torn",
    ]) + "\n")
    sent: list[tuple[int, int]] = []
    assert stop_leftovers(journal, grace=0.0, kill=lambda pid, sig: sent.append((pid, sig))) == [me]
    assert [pid for pid, _ in sent] == [me, me]  # SIGTERM, then SIGKILL (the fake never dies)


def test_the_lab_reads_the_agents_journals(tmp_path):
    records = LabRecords.create("lab1", "", root=tmp_path)
    (records.directory / "hub").mkdir()
    (records.directory / "hub" / FRR_PROCESSES).write_text(
        json.dumps({"daemon": "zebra", "pid": 42, "start_time": 7, "argv": ["/usr/lib/frr/zebra"], "node": "hub"})
        + "\n" + json.dumps({"daemon": "ospfd", "pid": 43, "start_time": None}) + "\n{torn\n")
    [record] = journalled_daemons(records)
    assert (record.pid, record.start_time, record.kind, record.node) == (42, 7, "frr", "hub")


def test_configure_terminal_edits_of_a_router_section_reach_the_frr_text_as_ios_means_them():
    import copy

    from dmvpnlab.config.parser import ConfigSession
    from dmvpnlab.ifnames import linux_ifname
    from dmvpnlab.routing.frr_config import frr_config
    start = config(OSPF + " router-id 1.1.1.1\n network 192.168.1.0 0.0.0.255 area 0\n")
    session = ConfigSession(copy.deepcopy(start), source="console", strict_families=True, immediate_references=True)
    for line in ("router ospf 1", "no network 192.168.1.0 0.0.0.255 area 0", "router-id 2.2.2.2",
                 "network 10.0.0.0 0.0.0.255 area 0", "no passive-interface GigabitEthernet0/0"):
        assert session.apply(line) == []
    lines = session.config.router_sections[0].lines
    assert lines == ["network 10.0.0.0 0.0.0.255 area 0", "router-id 2.2.2.2",
                     "no passive-interface GigabitEthernet0/0"]
    text = frr_config(session.config, lambda name: linux_ifname("r1", name)).text
    assert "192.168.1.0/24" not in text and "ospf router-id 2.2.2.2" in text and "1.1.1.1" not in text
