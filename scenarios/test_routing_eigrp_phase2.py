"""EIGRP over DMVPN Phase 2: `no ip next-hop-self eigrp` keeps the far spoke as next hop.

With split horizon off and next-hop-self off on the hub's Tunnel0, the hub's updates to
spoke1 carry spoke2's LAN with next hop 10.0.0.3 (the EIGRP next-hop field), so the first
packet goes via the hub while NHRP resolves 10.0.0.3 and the rest spoke to spoke. Then,
live with `configure terminal`, `ip next-hop-self eigrp 100` on the hub (the IOS default)
makes the hub the next hop again and the traffic stays via the hub.
"""

from __future__ import annotations

import pytest

from routing_checks import (LAN2, SPOKE2_TUNNEL, cli, first_via_hub_then_direct, forget_resolutions,
                            pings_through_hub_only, wait_route, wait_routes_both_ways)

pytestmark = pytest.mark.dmvpn_topology("topologies/eigrp.yaml", vars={"phase": 2})


def test_no_next_hop_self_keeps_the_far_spoke_as_next_hop(lab):
    wait_route(lab, "spoke1", LAN2, "D", SPOKE2_TUNNEL, timeout=30)
    wait_routes_both_ways(lab, "D", timeout=30, via_hub=False)


def test_first_packet_via_hub_then_direct(lab):
    first_via_hub_then_direct(lab)


def test_next_hop_self_on_the_hub_keeps_the_traffic_via_the_hub(lab):
    cli(lab, "hub", "configure terminal", "interface Tunnel0", "ip next-hop-self eigrp 100", "end")
    wait_routes_both_ways(lab, "D", timeout=30, via_hub=True)
    forget_resolutions(lab)
    pings_through_hub_only(lab)
