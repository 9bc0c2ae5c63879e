"""iBGP over DMVPN Phase 1: the hub reflects the spokes' LANs with itself as next hop.

`neighbor SPOKES next-hop-self all` on the hub (IOS XE's form that covers reflected
routes, FRR's `next-hop-self force`): the spokes learn each other's LANs via 10.0.0.1,
and every packet between them crosses the hub.
"""

from __future__ import annotations

import pytest

from routing_checks import phase1_hub_and_spoke

pytestmark = pytest.mark.dmvpn_topology("topologies/bgp.yaml", vars={"phase": 1})


def test_spokes_learn_each_others_lans_via_the_hub_and_traffic_crosses_it(lab):
    phase1_hub_and_spoke(lab, "B", timeout=40)
