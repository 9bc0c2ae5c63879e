"""OSPF over DMVPN Phase 3: point-to-multipoint, the shortcut overrides the hub next hop.

OSPF cannot summarise inside an area, so spoke1 learns spoke2's /24 via the hub. The
first packets cross the hub, the hub redirects, spoke1 resolves and NHRP overrides the
OSPF route's next hop for that same prefix (`O %` in `show ip route`, as IOS shows it);
later packets go spoke to spoke. Then spoke2's LAN is shut from its CLI: the prefix
leaves every table within OSPF's reaction time and the shortcut goes with it.
"""

from __future__ import annotations

import pytest

from routing_checks import LAN2, lan_down_withdraws, phase3_shortcut

pytestmark = pytest.mark.dmvpn_topology("topologies/ospf.yaml", vars={"phase": 3})


def test_first_packets_via_hub_then_redirect_and_shortcut(lab):
    phase3_shortcut(lab, "O", LAN2, timeout=30)


def test_a_spoke_lan_going_down_is_withdrawn_everywhere(lab):
    times = lan_down_withdraws(lab, "O", bound=10, shortcut=True)
    print(f"withdrawal times: {times}")
