"""RIP v2 over DMVPN Phase 1: the hub re-advertises the spokes' LANs (split horizon off).

With `no ip split-horizon` on the hub's Tunnel0, each spoke learns the other's LAN from
the hub, and every packet between them crosses the hub (the spokes' tunnels are
point-to-point GRE to the hub).
"""

from __future__ import annotations

import pytest

from routing_checks import LAN1, LAN2, cli, pings_through_hub_only, show_routes, routes_for, wait_for

pytestmark = pytest.mark.dmvpn_topology("topologies/rip.yaml", vars={"phase": 1})


def test_spokes_learn_each_others_lans_and_traffic_crosses_the_hub(lab):
    for node, far in (("spoke1", LAN2), ("spoke2", LAN1)):
        assert wait_for(lambda: any(r.code == "R" for r in routes_for(show_routes(lab, node)[1], far)), timeout=30), \
            cli(lab, node, "show ip route")
    pings_through_hub_only(lab)
