"""`show ip eigrp ...` from crafted state: IOS columns, parsed by ntc-templates into the right fields."""

from __future__ import annotations

from ntc_templates.parse import parse_output

from dmvpnlab.cli import show_eigrp
from dmvpnlab.cli.debug import SessionDebug

STATE = {
    "asn": 100,
    "router_id": "10.0.0.1",
    "routes": [],
    "neighbors": [
        {"handle": 0, "address": "10.0.0.2", "interface": "Tunnel0", "hold_remaining": 12, "uptime": 329.4,
         "srtt_ms": 67, "rto_ms": 402, "q_count": 0, "sequence": 8},
        {"handle": 1, "address": "10.0.0.3", "interface": "Tunnel0", "hold_remaining": 14, "uptime": 90061.0,
         "srtt_ms": 1, "rto_ms": 200, "q_count": 1, "sequence": 12, "retrans": 2, "prefixes": 1},
    ],
    "topology": [
        {"prefix": "10.0.0.0/24", "state": "P", "successors": 1, "fd": 28160000,
         "paths": [{"interface": "Tunnel0", "via": None, "kind": "Connected", "metric": 28160000,
                    "reported": 0, "successor": True, "feasible": True}]},
        {"prefix": "192.168.2.0/24", "state": "P", "successors": 1, "fd": 28162560,
         "paths": [{"interface": "Tunnel0", "via": "10.0.0.2", "kind": "neighbor", "metric": 28162560,
                    "reported": 2816, "successor": True, "feasible": True},
                   {"interface": "Tunnel0", "via": "10.0.0.3", "kind": "neighbor", "metric": 30000000,
                    "reported": 29000000, "successor": False, "feasible": False}]},
        {"prefix": "192.168.0.0/16", "state": "P", "successors": 1, "fd": 2816,
         "paths": [{"interface": "Null0", "via": None, "kind": "Summary", "metric": 2816, "reported": 0,
                    "successor": True, "feasible": True}]},
    ],
    "interfaces": [
        {"name": "Tunnel0", "peers": 2, "mean_srtt_ms": 34, "pacing_reliable_ms": 15, "multicast_flow_timer_ms": 50,
         "hello_seconds": 5.0, "hold_seconds": 15, "split_horizon": False, "hellos_sent": 120,
         "authentication": "md5", "key_ids": [1]},
        {"name": "GigabitEthernet0/1", "peers": 0},
    ],
    "counters": {"sent": {"hello": 120, "update": 4, "ack": 3}, "received": {"hello": 118, "update": 3, "ack": 4}},
    "settings": {"k_values": [1, 0, 1, 0, 0], "variance": 1, "maximum_paths": 4, "distance_internal": 90,
                 "distance_external": 170, "stub": None, "networks": ["10.0.0.0/24", "192.168.1.0/24"],
                 "passive_interfaces": ["GigabitEthernet0/1"], "authentication": {"Tunnel0": [1]},
                 "key_chains": {"Tunnel0": "KEYS"}},
}


def _parse(command: str, text: str) -> list[dict]:
    return parse_output(platform="cisco_ios", command=command, data=text)


def test_neighbors_columns_and_ntc() -> None:
    text = show_eigrp.render_neighbors(STATE)
    assert text.splitlines()[:3] == [
        "EIGRP-IPv4 Neighbors for AS(100)",
        "H   Address                 Interface              Hold Uptime   SRTT   RTO  Q  Seq",
        "                                                   (sec)         (ms)       Cnt Num"]
    assert text.splitlines()[3] == "1   10.0.0.3                Tu0                      14 1d01h       1   200  1  12"
    assert text.splitlines()[4] == "0   10.0.0.2                Tu0                      12 00:05:29   67   402  0  8"
    rows = _parse("show ip eigrp neighbors", text)
    assert [(r["as"], r["ip_address"], r["interface"], r["hold"], r["uptime"], r["srtt"], r["rto"], r["q_cnt"],
             r["seq_num"]) for r in rows] == [
        ("100", "10.0.0.3", "Tu0", "14", "1d01h", "1", "200", "1", "12"),
        ("100", "10.0.0.2", "Tu0", "12", "00:05:29", "67", "402", "0", "8")]
    detail = show_eigrp.render_neighbors(STATE, detail=True)
    rows = _parse("show ip eigrp neighbors detail", detail)
    assert [(r["h"], r["ip_address"], r["retrans"], r["prefixes"], r["version"]) for r in rows] == [
        ("1", "10.0.0.3", "2", "1", "23.0/2.0"), ("0", "10.0.0.2", "0", "0", "23.0/2.0")]


def test_stub_neighbor_detail_lines() -> None:
    from dmvpnlab.agent.eigrp_state import stub_words
    stub = dict(STATE, neighbors=[dict(STATE["neighbors"][0], stub=stub_words(0x0005))])
    text = show_eigrp.render_neighbors(stub, detail=True)
    assert "   Stub Peer Advertising (CONNECTED SUMMARY ) Routes\n   Suppressing queries\n" in text
    assert stub_words(None) is None and stub_words(0x0008) == ["receive-only"]
    only = dict(STATE, neighbors=[dict(STATE["neighbors"][0], stub=["receive-only"])])
    assert "   Receive-Only Peer Advertising ( No ) Routes\n" in show_eigrp.render_neighbors(only, detail=True)


def test_topology_and_ntc() -> None:
    text = show_eigrp.render_topology(STATE)
    assert "EIGRP-IPv4 Topology Table for AS(100)/ID(10.0.0.1)\n" in text
    assert "P 192.168.2.0/24, 1 successors, FD is 28162560\n        via 10.0.0.2 (28162560/2816), Tunnel0\n" in text
    assert "10.0.0.3" not in text  # not a feasible successor: only in all-links
    assert "        via Connected, Tunnel0\n" in text and "        via Summary (2816/0), Null0\n" in text
    rows = _parse("show ip eigrp topology", text)
    assert [(r["process_id"], r["router_id"], r["code"], r["network"], r["prefix_length"], r["successors"], r["fd"],
             r["adv_router"], r["out_interface"]) for r in rows] == [
        ("100", "10.0.0.1", "P", "10.0.0.0", "24", "1", "28160000", ["Connected"], ["Tunnel0"]),
        ("100", "10.0.0.1", "P", "192.168.2.0", "24", "1", "28162560", ["10.0.0.2"], ["Tunnel0"]),
        ("100", "10.0.0.1", "P", "192.168.0.0", "16", "1", "2816", ["Summary"], ["Null0"])]
    assert rows[1]["adv_fd"] == ["28162560"] and rows[1]["adv_rd"] == ["2816"]
    assert "via 10.0.0.3 (30000000/29000000), Tunnel0" in show_eigrp.render_topology(STATE, all_links=True)


def test_interfaces_and_ntc_detail() -> None:
    text = show_eigrp.render_interfaces(STATE)
    lines = text.splitlines()
    assert lines[0] == "EIGRP-IPv4 Interfaces for AS(100)"
    assert lines[3] == "Tu0                        2        0/0         0/0          34         0/15          50           0"
    detail = show_eigrp.render_interfaces(STATE, detail=True)
    rows = _parse("show ip eigrp interfaces detail", detail)
    tun = rows[0]
    assert (tun["as"], tun["interface"], tun["peers"], tun["mean_srtt"], tun["pacing_time_reliable"],
            tun["mcast_flow_timer"], tun["hello_interval"], tun["hold_time"], tun["split_horizon"],
            tun["hellos_sent"]) == ("100", "Tu0", "2", "34", "15", "50", "5", "15", "disabled", "120")
    assert tun["authentication_mode"].startswith('md5,  key-chain is "KEYS"')
    assert rows[1]["interface"] == "Gi0/1" and rows[1]["authentication_mode"] == "not set"


def test_traffic_protocols_and_empty() -> None:
    traffic = show_eigrp.render_traffic(STATE)
    assert "  Hellos sent/received: 120/118\n  Updates sent/received: 4/3\n" in traffic
    assert "  Acks sent/received: 3/4\n" in traffic
    lines = show_eigrp.protocols_eigrp_lines(STATE)
    assert lines[0] == 'Routing Protocol is "eigrp 100"'
    assert "    Metric weight K1=1, K2=0, K3=1, K4=0, K5=0" in lines
    assert "    Router-ID: 10.0.0.1" in lines and "    10.0.0.0/24" in lines
    assert lines[lines.index("  Passive Interface(s):") + 1] == "    GigabitEthernet0/1"
    assert any(line == "    10.0.0.2              90      00:05:29" for line in lines)
    for render in (show_eigrp.render_neighbors, show_eigrp.render_topology, show_eigrp.render_interfaces,
                   show_eigrp.render_traffic):
        assert render({}) == ""
    assert show_eigrp.protocols_eigrp_lines({}) == []

    class NoEigrp:
        eigrp = None

        def clock(self) -> float:
            return 0.0

    assert show_eigrp.protocols_section(NoEigrp()) is None


def test_debug_eigrp_packets_messages() -> None:
    class Agent:
        debug_sinks: list = []

    session = SessionDebug(Agent(), lambda line: None)
    assert session.enable({"eigrp-packets"}).startswith("EIGRP Packets debugging is on\n    (UPDATE, REQUEST")
    assert session.show() == "EIGRP:\n  EIGRP Packets debugging is on\n"
    assert session.disable({"eigrp-packets"}) == "EIGRP Packets debugging is off\n"
