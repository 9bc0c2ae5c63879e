"""OSPF over DMVPN Phase 2: broadcast network type with the hub as DR keeps the spoke next hop.

Real OSPF (not the seed's table, which has it backwards): on a broadcast network the DR
originates the network LSA and every router computes the path to a LAN via the router
that owns it, so spoke1 routes spoke2's LAN via 10.0.0.3 and NHRP resolution builds the
direct tunnel. The spokes have priority 0 (they never hear each other's hellos, so they
must never be DR). Point-to-multipoint, set live with `configure terminal`, makes every
path go through the hub (the next hop becomes 10.0.0.1) and the traffic stays via the hub.
"""

from __future__ import annotations

import pytest

from routing_checks import (LAN2, SPOKE2_TUNNEL, cli, first_via_hub_then_direct, forget_resolutions,
                            pings_through_hub_only, wait_route, wait_routes_both_ways)

pytestmark = pytest.mark.dmvpn_topology("topologies/ospf.yaml", vars={"phase": 2})


def test_broadcast_keeps_the_far_spoke_as_next_hop(lab):
    wait_route(lab, "spoke1", LAN2, "O", SPOKE2_TUNNEL, timeout=30)
    wait_routes_both_ways(lab, "O", timeout=30, via_hub=False)


def test_first_packet_via_hub_then_direct(lab):
    first_via_hub_then_direct(lab)


def test_point_to_multipoint_rewrites_the_next_hop_to_the_hub(lab):
    for node in ("hub", "spoke1", "spoke2"):
        cli(lab, node, "configure terminal", "interface Tunnel0", "no ip ospf priority",
            "ip ospf network point-to-multipoint", "end")
    wait_routes_both_ways(lab, "O", timeout=30, via_hub=True)
    forget_resolutions(lab)
    pings_through_hub_only(lab)
