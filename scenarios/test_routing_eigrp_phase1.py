"""EIGRP over DMVPN Phase 1: the hub re-advertises the spokes' LANs as their next hop.

Split horizon off on the hub's Tunnel0 (its only way back to the other spokes), next-hop
self as IOS defaults: the spokes learn each other's LANs via 10.0.0.1 and every packet
between them crosses the hub (the spokes' tunnels are point-to-point GRE to the hub).
"""

from __future__ import annotations

import pytest

from routing_checks import phase1_hub_and_spoke

pytestmark = pytest.mark.dmvpn_topology("topologies/eigrp.yaml", vars={"phase": 1})


def test_spokes_learn_each_others_lans_via_the_hub_and_traffic_crosses_it(lab):
    phase1_hub_and_spoke(lab, "D", timeout=30)
