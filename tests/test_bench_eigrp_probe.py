"""bench/eigrp_probe.py: convergence instants read from the routers' own clocks (uptimes, route ages)."""

from __future__ import annotations

import sys
from ipaddress import IPv4Network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from eigrp_probe import counter_rates, hub_has_lost, hub_progress, neighbor_up_at, route_at, spoke_covered_at  # noqa: E402

LAN1, LAN2 = IPv4Network("192.168.1.0/24"), IPv4Network("192.168.2.0/24")


def state(neighbors: list[dict], routes: list[tuple[str, float | None, str]]) -> dict:
    return {"routing": {"eigrp": {
        "neighbors": neighbors,
        "routes": [{"prefix": p, "age_seconds": age, "next_hops": [{"address": "10.0.0.1", "interface": i}]}
                   for p, age, i in routes]}}}


def test_the_hub_is_done_when_every_neighbour_is_up_and_every_lan_routed_and_says_when():
    hub = state([{"address": "10.0.0.2", "uptime": 4.0, "up": True}, {"address": "10.0.0.3", "uptime": 1.5, "up": True}],
                [("192.168.1.0/24", 3.0, "Tunnel0"), ("192.168.2.0/24", 1.0, "Tunnel0")])
    progress = hub_progress(hub, 100.0, [LAN1, LAN2])
    assert progress.done(2)
    assert progress.neighbors_all_up_at == 98.5 and progress.lans_all_routed_at == 99.0


def test_a_neighbour_in_init_or_a_lan_on_another_interface_is_not_done():
    hub = state([{"address": "10.0.0.2", "uptime": 4.0, "up": True}, {"address": "10.0.0.3", "uptime": 0.1, "up": False}],
                [("192.168.1.0/24", 3.0, "Tunnel0"), ("192.168.2.0/24", 1.0, "Ethernet0/1")])
    progress = hub_progress(hub, 100.0, [LAN1, LAN2])
    assert not progress.done(2)
    assert progress.neighbors_up == 1 and progress.missing_lans == [LAN2]


def test_a_spoke_is_covered_by_the_summary_from_when_it_got_it():
    spoke = state([], [("192.168.0.0/16", 2.5, "Tunnel0")])
    assert spoke_covered_at(spoke, 50.0, [LAN1, LAN2]) == 47.5
    assert spoke_covered_at(state([], [("192.168.1.0/24", 1.0, "Tunnel0")]), 50.0, [LAN1, LAN2]) is None
    assert spoke_covered_at(state([], [("0.0.0.0/0", 1.0, "Tunnel0")]), 50.0, [LAN1]) is None   # a default is no route


def test_loss_and_return_of_one_spoke_at_the_hub():
    hub = state([{"address": "10.0.0.3", "uptime": 9.0, "up": True}], [("192.168.2.0/24", 2.0, "Tunnel0")])
    assert hub_has_lost(hub, "10.0.0.2", LAN1) == (True, True)
    assert hub_has_lost(hub, "10.0.0.3", LAN2) == (False, False)
    assert neighbor_up_at(hub, 10.0, "10.0.0.3") == 1.0 and neighbor_up_at(hub, 10.0, "10.0.0.2") is None
    assert route_at(hub, 10.0, LAN2) == 8.0 and route_at(hub, 10.0, LAN1) is None


def test_packet_rates_by_kind():
    before = {"sent": {"hello": 10}, "received": {"hello": 100, "update": 5}}
    after = {"sent": {"hello": 12}, "received": {"hello": 600, "update": 5}}
    assert counter_rates(before, after, 5.0) == {"sent": {"hello": 0.4}, "received": {"hello": 100.0, "update": 0.0}}
