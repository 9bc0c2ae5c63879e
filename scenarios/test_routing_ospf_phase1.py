"""OSPF over DMVPN Phase 1: point-to-multipoint on the hub's mGRE and the spokes' GRE tunnels.

The spokes learn each other's LANs with the hub as next hop (point-to-multipoint: every
path goes through the hub), and every packet between them crosses the hub.
"""

from __future__ import annotations

import pytest

from routing_checks import phase1_hub_and_spoke

pytestmark = pytest.mark.dmvpn_topology("topologies/ospf.yaml", vars={"phase": 1})


def test_spokes_learn_each_others_lans_via_the_hub_and_traffic_crosses_it(lab):
    phase1_hub_and_spoke(lab, "O", timeout=30)
