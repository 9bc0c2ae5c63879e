"""RIP v2 over DMVPN Phase 3: no summary; the hub's updates keep the far spoke as next hop.

IOS cannot summarise RIP beyond the classful network (192.168.0.0/16 is a supernet of
class C networks) and FRR's ripd has no interface summary, so the hub re-advertises each
spoke's /24 (split horizon off). FRR's ripd fills RIP v2's next-hop field when the route's
next hop is on the subnet of the interface it advertises out of (RFC 2453 4.4), so spoke1
learns 192.168.2.0/24 via 10.0.0.3, not via the hub: the tunnel behaves as in Phase 2
(the first packet goes via the hub while NHRP resolves 10.0.0.3, then spoke to spoke).
Spoke2's LAN shut from its CLI: the poisoned route leaves every table within RIP's
triggered update, and any shortcut goes with it.
"""

from __future__ import annotations

import pytest

from routing_checks import (LAN2, SPOKE2_TUNNEL, first_via_hub_then_direct, lan_down_withdraws, wait_route,
                            wait_routes_both_ways)

pytestmark = pytest.mark.dmvpn_topology("topologies/rip.yaml", vars={"phase": 3})


def test_the_hub_advertises_the_far_spoke_as_next_hop(lab):
    wait_route(lab, "spoke1", LAN2, "R", SPOKE2_TUNNEL, timeout=30)
    wait_routes_both_ways(lab, "R", timeout=30, via_hub=False)


def test_first_packet_via_hub_then_direct(lab):
    first_via_hub_then_direct(lab)


def test_a_spoke_lan_going_down_is_withdrawn_everywhere(lab):
    times = lan_down_withdraws(lab, "R", bound=12, shortcut=True)
    print(f"withdrawal times: {times}")
