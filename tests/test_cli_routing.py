"""The routing show commands against FRR's own JSON, checked with ntc-templates.

Why: scripts written for IOS read these tables (TextFSM/ntc-templates), so every route
line must parse into the right fields, and the IOS view must be built from what FRR
really answers. tests/frr_samples/r1.json holds FRR 8.4's answers captured from two
agents running OSPF, BGP and RIP (tests/test_agent_frr_live.py's topology: r1 with
192.168.1.0/24, r2 with 192.168.2.0/24); a fake FRR replays them. Crafted additions
cover what that capture lacks: inter-area and external OSPF, ECMP, EIGRP internal and
external routes, and a next-hop override.
"""

from __future__ import annotations

import copy
import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ntc_templates.parse import parse_output

from dmvpnlab.cli import route_table
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.config.parser import parse_config
from dmvpnlab.routing.kernel import NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO, KernelRoute

SAMPLES = Path(__file__).parent / "frr_samples"
R1 = """hostname r1
interface GigabitEthernet0/0
 ip address 10.77.0.1 255.255.255.252
interface GigabitEthernet0/1
 ip address 192.168.1.1 255.255.255.0
router ospf 1
 router-id 1.1.1.1
 network 10.77.0.0 0.0.0.3 area 0
 network 192.168.1.0 0.0.0.255 area 1
router bgp 65001
 bgp router-id 1.1.1.1
 neighbor 10.77.0.2 remote-as 65002
 network 192.168.1.0 mask 255.255.255.0
router rip
 version 2
 network 10.0.0.0
 network 192.168.1.0
 no auto-summary
ip route 172.16.1.0 255.255.255.0 Null0
end
"""


class FakeFrr:
    """Answers vtysh from the captured samples; records the commands it was given."""

    def __init__(self, samples: dict[str, Any]) -> None:
        self.samples = samples
        self.supervisor = object()
        self.wanted = SimpleNamespace(daemons={"zebra", "ospfd", "bgpd", "ripd"}, ignored=[])
        self.commands: list[str] = []

    def vtysh_json(self, command: str) -> Any:
        self.commands.append(command)
        return copy.deepcopy(self.samples.get(command, {}))

    def vtysh(self, command: str) -> str:
        self.commands.append(command)
        return self.samples.get(command, "")

    def state(self) -> dict[str, Any]:
        return {}


def kernel_routes(extra: list[KernelRoute] = ()) -> list[KernelRoute]:
    return [KernelRoute(IPv4Network("10.77.0.0/30"), None, "r1-eth0", 2, 0, 253, 1),
            KernelRoute(IPv4Network("192.168.1.0/24"), None, "r1-eth1", 2, 0, 253, 1),
            KernelRoute(IPv4Network("172.16.1.0/24"), None, None, STATIC_ROUTE_PROTO, 0, 0, 6),
            KernelRoute(IPv4Network("192.168.2.0/24"), IPv4Address("10.77.0.2"), "r1-eth0", 186, 20, 0, 1),
            *extra]


def agent(samples: dict[str, Any] | None = None, routes: list[KernelRoute] | None = None, frr: bool = True):
    config = parse_config(R1).config
    return SimpleNamespace(
        node="r1", config=config, hostname="r1", tunnel=None, clock=lambda: 100.0, ignored_lines=[],
        kernel=SimpleNamespace(routes=lambda: routes if routes is not None else kernel_routes()),
        frr=FakeFrr(samples if samples is not None else load()) if frr else None)


def load(name: str = "r1") -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def run(a: Any, line: str) -> str:
    result = ExecSession(a).handle(line)
    assert not result.error, result.output
    return result.output


def route_lines(text: str) -> list[str]:
    body = text.split("Gateway of last resort", 1)[1].splitlines()[2:]
    return [line for line in body if line.strip() and "subnetted" not in line]


def parsed(command: str, text: str) -> list[dict[str, str]]:
    return parse_output(platform="cisco_ios", command=command, data=text)


def test_show_ip_route_merges_frr_and_kernel_and_every_line_parses():
    text = run(agent(), "show ip route")
    assert "B     192.168.2.0/24 [20/0] via 10.77.0.2, 00:00:11, GigabitEthernet0/0" in text
    assert "S        172.16.1.0 is directly connected, Null0" in text
    assert "O " not in text.split("Gateway")[1], "OSPF's copy of a connected network and the losing OSPF route stay out"
    records = parsed("show ip route", text)
    assert len(records) == len(route_lines(text))
    bgp = next(r for r in records if r["protocol"] == "B")
    assert (bgp["network"], bgp["prefix_length"], bgp["distance"], bgp["metric"], bgp["nexthop_ip"],
            bgp["nexthop_if"], bgp["uptime"]) == ("192.168.2.0", "24", "20", "0", "10.77.0.2", "GigabitEthernet0/0",
                                                  "00:00:11")


def crafted() -> dict[str, Any]:
    samples = load()
    routes = samples["show ip route json"]
    del routes["192.168.2.0/24"][1]  # no BGP: OSPF's 192.168.2.0/24 is the best
    hop = {"ip": "10.77.0.2", "interfaceName": "r1-eth0", "active": True}

    def ospf(prefix: str, metric: int, hops: list[dict[str, Any]], uptime: str = "1d02h03m") -> list[dict[str, Any]]:
        return [{"prefix": prefix, "protocol": "ospf", "distance": 110, "metric": metric, "selected": True,
                 "uptime": uptime, "nexthops": hops}]
    routes["192.168.30.0/24"] = ospf("192.168.30.0/24", 30, [hop, {**hop, "ip": "10.77.0.6"}])
    routes["0.0.0.0/0"] = ospf("0.0.0.0/0", 1, [hop], "02w3d04h")
    routes["172.20.0.0/16"] = ospf("172.20.0.0/16", 20, [hop])
    routes["192.168.2.0/24"][0]["uptime"] = "00:01:02"
    samples["show ip ospf route json"] = {"192.168.30.0/24": {"routeType": "N IA"}, "0.0.0.0/0": {"routeType": "N E2"},
                                          "172.20.0.0/16": {"routeType": "N E2"}, "192.168.2.0/24": {"routeType": "N"}}
    return samples


EIGRP = {"asn": 100, "router_id": "1.1.1.1", "routes": [
    {"prefix": "192.168.40.0/24", "code": "D", "ad": 90, "metric": 27008000,
     "next_hops": [{"address": "10.77.0.2", "interface": "GigabitEthernet0/0"}], "age_seconds": 75.0},
    {"prefix": "192.168.41.0/24", "code": "D EX", "ad": 170, "metric": 27008256,
     "next_hops": [{"address": "10.77.0.2", "interface": "GigabitEthernet0/0"}], "age_seconds": 90000.0},
    {"prefix": "192.168.40.0/22", "code": "D", "ad": 5, "metric": 27008000,
     "next_hops": [{"address": None, "interface": "Null0"}], "age_seconds": 5.0}]}


@pytest.fixture
def with_eigrp(monkeypatch):
    monkeypatch.setattr(route_table, "routing_state", lambda agent: {"eigrp": EIGRP})


def test_ospf_types_ecmp_eigrp_and_the_default_route_in_ios_columns(with_eigrp):
    text = run(agent(crafted()), "show ip route")
    assert "Gateway of last resort is 10.77.0.2 to network 0.0.0.0" in text
    assert "O*E2  0.0.0.0/0 [110/1] via 10.77.0.2, 2w3d, GigabitEthernet0/0" in text
    assert "O E2  172.20.0.0/16 [110/20] via 10.77.0.2, 1d02h, GigabitEthernet0/0" in text
    assert "O     192.168.2.0/24 [110/20] via 10.77.0.2, 00:01:02, GigabitEthernet0/0" in text
    assert "O IA  192.168.30.0/24 [110/30] via 10.77.0.2, 1d02h, GigabitEthernet0/0" in text
    assert "                      [110/30] via 10.77.0.6, 1d02h, GigabitEthernet0/0" in text
    assert "D     192.168.40.0/24 [90/27008000] via 10.77.0.2, 00:01:15, GigabitEthernet0/0" in text
    assert "D     192.168.40.0/22 is a summary, 00:00:05, Null0" in text
    assert "D EX  192.168.41.0/24 [170/27008256] via 10.77.0.2, 1d01h, GigabitEthernet0/0" in text
    records = parsed("show ip route", text)
    assert len(records) == len(route_lines(text))
    by_network = {(r["network"], r["nexthop_ip"]): r for r in records}
    assert by_network[("0.0.0.0", "10.77.0.2")]["type"] == "E2" and by_network[("0.0.0.0", "10.77.0.2")]["flag"] == "*"
    assert by_network[("192.168.30.0", "10.77.0.6")]["distance"] == "110"
    assert by_network[("192.168.41.0", "10.77.0.2")]["type"] == "EX"
    assert by_network[("172.20.0.0", "10.77.0.2")]["prefix_length"] == "16"
    eigrp_only = run(agent(crafted()), "show ip route eigrp")
    assert "192.168.40.0/24" in eigrp_only and "O " not in eigrp_only.split("Gateway")[1]


def test_an_nhrp_shortcut_for_a_protocol_prefix_is_a_next_hop_override():
    shortcut = KernelRoute(IPv4Network("192.168.2.0/24"), IPv4Address("10.77.0.9"), "r1-eth0", NHRP_ROUTE_PROTO,
                           250, 0, 1)
    other = KernelRoute(IPv4Network("192.168.9.0/24"), IPv4Address("10.77.0.9"), "r1-eth0", NHRP_ROUTE_PROTO,
                        250, 0, 1)
    routes = [r for r in kernel_routes() if r.proto != 186] + [shortcut, other]
    a = agent(crafted(), routes)
    text = run(a, "show ip route")
    assert "O%    192.168.2.0/24 [110/20] via 10.77.0.2, 00:01:02, GigabitEthernet0/0" in text
    assert "H     192.168.9.0/24 [250/1] via 10.77.0.9, 00:00:00, GigabitEthernet0/0" in text
    records = parsed("show ip route", text)
    assert len(records) == len(route_lines(text))
    flagged = next(r for r in records if r["network"] == "192.168.2.0")
    assert (flagged["protocol"], flagged["flag"], flagged["nexthop_ip"], flagged["metric"]) == ("O", "%", "10.77.0.2", "20")
    data = json.loads(run(a, "show ip route | json"))
    override = next(r for r in data["routes"] if r["prefix"] == "192.168.2.0/24")
    assert override["override"] == {"next_hop": "10.77.0.9", "interface": "GigabitEthernet0/0"}
    assert override["code"] == "O"
    assert "Next hop override" in run(a, "show ip route 192.168.2.1")


def test_show_ip_route_address_is_the_routing_entry():
    a = agent()
    text = run(a, "show ip route 192.168.2.77")
    assert text.splitlines()[:4] == [
        "Routing entry for 192.168.2.0/24",
        '  Known via "bgp 65001", distance 20, metric 0, type external',
        "  Last update from 10.77.0.2 on GigabitEthernet0/0, 00:00:11 ago",
        "  Routing Descriptor Blocks:"]
    assert "  * 10.77.0.2, from 10.77.0.2, 00:00:11 ago, via GigabitEthernet0/0" in text
    assert run(a, "show ip route 10.77.0.1").startswith("Routing entry for 10.77.0.1/32\n"
                                                        '  Known via "connected", distance 0, metric 0')
    assert run(a, "show ip route 8.8.8.8") == "% Network not in table\n"


def test_ospf_neighbor_and_interface_brief_parse_into_the_right_fields():
    a = agent()
    [n] = parsed("show ip ospf neighbor", run(a, "show ip ospf neighbor"))
    assert n == {"neighbor_id": "2.2.2.2", "priority": "1", "state": "FULL/  -", "dead_time": "00:00:03",
                 "ip_address": "10.77.0.2", "interface": "GigabitEthernet0/0"}
    brief = parsed("show ip ospf interface brief", run(a, "show ip ospf interface brief"))
    assert [(b["interface"], b["process"], b["area"], b["ip_address"], b["prefix_length"], b["cost"], b["state"],
             b["neighbors_fc"]) for b in brief] == [("Gi0/0", "1", "0", "10.77.0.1", "30", "10", "P2P", "1/1"),
                                                   ("Gi0/1", "1", "1", "192.168.1.1", "24", "10", "WAIT", "0/0")]
    p2mp = load()
    p2mp["show ip ospf neighbor json"]["neighbors"]["2.2.2.2"][0]["nbrState"] = "Full/DROther"
    p2mp["show ip ospf interface json"]["interfaces"]["r1-eth0"]["networkType"] = "POINTOMULTIPOINT"
    assert "FULL/  -" in run(agent(p2mp), "show ip ospf neighbor"), "p2mp elects no DR: IOS shows no role"
    assert " P2MP  1/1" in run(agent(p2mp), "show ip ospf interface brief")
    full = run(a, "show ip ospf interface")
    assert full.startswith("GigabitEthernet0/0 is up, line protocol is up \n"
                           "  Internet Address 10.77.0.1/30, Area 0, Attached via Network Statement\n")
    assert "Network Type POINT_TO_POINT, Cost: 10" in full


def test_ospf_database_parses_with_its_areas():
    text = run(agent(), "show ip ospf database")
    assert "OSPF Router with ID (1.1.1.1) (Process ID 1)" in text and "\t\tRouter Link States (Area 1)" in text
    rows = parsed("show ip ospf database", text)
    assert ("0", "2.2.2.2", "3") in {(r["area"], r["link_id"], r["link_count"]) for r in rows}
    assert {r["area"] for r in rows} == {"0", "1"}


def test_bgp_table_and_summary_parse():
    a = agent()
    table = parsed("show ip bgp", run(a, "show ip bgp"))
    learned = next(r for r in table if r["network"] == "192.168.2.0/24")
    assert (learned["status"], learned["path_selection"], learned["next_hop"], learned["metric"], learned["weight"],
            learned["as_path"], learned["origin"]) == ("*", ">", "10.77.0.2", "0", "0", "65002", "i")
    local = next(r for r in table if r["network"] == "172.16.1.0/24")
    assert (local["next_hop"], local["weight"], local["as_path"]) == ("0.0.0.0", "32768", "")
    [peer] = parsed("show ip bgp summary", run(a, "show ip bgp summary"))
    assert (peer["router_id"], peer["local_as"], peer["bgp_neighbor"], peer["neighbor_as"], peer["up_down"],
            peer["state_or_prefixes_received"]) == ("1.1.1.1", "65001", "10.77.0.2", "65002", "00:00:12", "1")


def test_bgp_long_network_and_a_peer_that_is_down():
    samples = load()
    path = samples["show ip bgp json"]["routes"]["192.168.2.0/24"][0]
    samples["show ip bgp json"]["routes"]["192.168.200.128/25"] = [{**path, "pathFrom": "internal", "locPrf": 100}]
    peer = samples["show ip bgp summary json"]["ipv4Unicast"]["peers"]["10.77.0.2"]
    peer.update(state="Active", peerUptime="never")
    a = agent(samples)
    text = run(a, "show ip bgp")
    assert " *>i 192.168.200.128/25\n" in text
    long = [r for r in parsed("show ip bgp", text) if r["network"] == "192.168.200.128/25"]
    assert long and long[0]["local_pref"] == "100" and long[0]["route_source"] == "i"
    [row] = parsed("show ip bgp summary", run(a, "show ip bgp summary"))
    assert row["state_or_prefixes_received"] == "Active" and row["up_down"] == "never"


def test_rip_database_and_show_ip_protocols():
    a = agent()
    assert run(a, "show ip rip database") == (
        "10.77.0.0/30    directly connected, GigabitEthernet0/0\n"
        "192.168.1.0/24    directly connected, GigabitEthernet0/1\n"
        "192.168.2.0/24\n"
        "    [1] via 10.77.0.2, 00:00:12, GigabitEthernet0/0\n")
    text = run(a, "show ip protocols")
    for line in ('Routing Protocol is "ospf 1"', "  Router ID 1.1.1.1", "    10.77.0.0 0.0.0.3 area 0",
                 'Routing Protocol is "bgp 65001"', "    10.77.0.2", 'Routing Protocol is "rip"',
                 "  Default version control: send version 2, receive version 2", "    192.168.1.0",
                 "    10.77.0.2            120      00:00:12"):
        assert line in text.splitlines(), (line, text)


def test_clear_ip_ospf_process_asks_first_and_clear_ip_bgp_goes_to_frr():
    a = agent()
    session = ExecSession(a)
    asked = session.handle("clear ip ospf process")
    assert asked.prompt == "Reset ALL OSPF processes? [no]: " and not asked.error
    assert session.handle("").prompt == "r1#" and "clear ip ospf process" not in a.frr.commands
    session.handle("clear ip ospf process")
    assert session.handle("yes").prompt == "r1#" and "clear ip ospf process" in a.frr.commands
    session.handle("clear ip bgp *")
    assert "clear ip bgp *" in a.frr.commands


def test_without_frr_the_commands_answer_empty_not_with_a_traceback():
    a = agent(frr=False, routes=[r for r in kernel_routes()])
    text = run(a, "show ip route")
    assert "B     192.168.2.0/24 [20/20] via 10.77.0.2, GigabitEthernet0/0" in text  # the kernel's view
    assert run(a, "show ip ospf neighbor").strip() == \
        "Neighbor ID     Pri   State           Dead Time   Address         Interface"
    for command in ("show ip bgp", "show ip bgp summary", "show ip rip database", "show ip ospf database"):
        assert run(a, command) == ""
    assert run(a, "show ip protocols") == "*** IP Routing is NSF aware ***\n\n"
    assert json.loads(run(a, "show ip ospf neighbor | json")) == {"neighbors": []}
