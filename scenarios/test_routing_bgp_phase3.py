"""iBGP over DMVPN Phase 3: the hub sends only 192.168.0.0/16 (aggregate, summary-only).

spoke1 learns the summary via the hub; the first packets to spoke2's LAN cross the hub,
the hub redirects, and spoke1's shortcut for 192.168.2.0/24 is an H route (more specific
than the summary). Then spoke2's LAN is shut from its CLI: BGP withdraws it everywhere
(FRR's `network` needs the prefix in the RIB) and the shortcut goes with it.
"""

from __future__ import annotations

import pytest

from routing_checks import LAN2, lan_down_withdraws, phase3_shortcut, routes_for, show_routes

pytestmark = pytest.mark.dmvpn_topology("topologies/bgp.yaml", vars={"phase": 3})
SUMMARY = "192.168.0.0/16"


def test_first_packets_via_hub_then_redirect_and_shortcut(lab):
    phase3_shortcut(lab, "B", SUMMARY, timeout=40)
    _text, routes = show_routes(lab, "spoke1")
    assert not [r for r in routes_for(routes, LAN2) if r.code == "B"], "summary-only: no /24 reaches the spokes"


def test_a_spoke_lan_going_down_is_withdrawn_everywhere(lab):
    times = lan_down_withdraws(lab, "B", bound=10, shortcut=True)
    print(f"withdrawal times: {times}")
