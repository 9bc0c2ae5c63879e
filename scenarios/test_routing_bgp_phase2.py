"""iBGP over DMVPN Phase 2: the hub as route reflector keeps the originating spoke as next hop.

The hub accepts the spokes through `bgp listen range 10.0.0.0/24 peer-group SPOKES` and
reflects their LANs unchanged: spoke1 routes spoke2's LAN via 10.0.0.3, so the first
packet goes via the hub while NHRP resolves 10.0.0.3, then spoke to spoke.
"""

from __future__ import annotations

import pytest

from routing_checks import LAN2, SPOKE2_TUNNEL, first_via_hub_then_direct, wait_route, wait_routes_both_ways

pytestmark = pytest.mark.dmvpn_topology("topologies/bgp.yaml", vars={"phase": 2})


def test_the_reflector_keeps_the_far_spoke_as_next_hop(lab):
    wait_route(lab, "spoke1", LAN2, "B", SPOKE2_TUNNEL, timeout=40)
    wait_routes_both_ways(lab, "B", timeout=40, via_hub=False)


def test_first_packet_via_hub_then_direct(lab):
    first_via_hub_then_direct(lab)
