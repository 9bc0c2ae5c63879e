"""EIGRP over DMVPN Phase 3: the hub summarises to 192.168.0.0/16, NHRP builds shortcuts.

`ip summary-address eigrp 100 192.168.0.0 255.255.0.0` on the hub's Tunnel0: the spokes
(stubs) learn only the summary, via the hub. The first packets to spoke2's LAN cross the
hub, the hub redirects, spoke1's shortcut for 192.168.2.0/24 is an H route under the
summary, then spoke to spoke. Spoke2's LAN shut from its CLI: the hub loses the /24 (a
stub's update), the shortcut is purged, and `no shutdown` brings it all back.
"""

from __future__ import annotations

import pytest

from routing_checks import LAN2, lan_down_withdraws, phase3_shortcut, routes_for, show_routes

pytestmark = pytest.mark.dmvpn_topology("topologies/eigrp.yaml", vars={"phase": 3})
SUMMARY = "192.168.0.0/16"


def test_first_packets_via_hub_then_redirect_and_shortcut(lab):
    phase3_shortcut(lab, "D", SUMMARY, timeout=30)
    _text, routes = show_routes(lab, "spoke1")
    assert not [r for r in routes_for(routes, LAN2) if r.code == "D"], "the summary suppresses the /24s"


def test_a_spoke_lan_going_down_is_withdrawn_everywhere(lab):
    times = lan_down_withdraws(lab, "D", bound=10, shortcut=True)
    print(f"withdrawal times: {times}")
