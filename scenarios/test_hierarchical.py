"""Hierarchical DMVPN, Phase 3: region hubs are NHSs of their spokes and NHCs of a central hub.

topologies/hierarchical.yaml: hub (central, 10.0.0.1); hubA (10.0.0.51) serves spoke1 and
spoke2, hubB (10.0.0.61) serves spoke3 and spoke4; hubA and hubB register with hub. A
spoke in region A reaches a spoke in region B first across all three hubs, then, after
hubA's redirect and a Resolution Request that crosses both levels, directly.
"""

from __future__ import annotations

import pytest

from crossings import agent_state, captures, ping, shortcuts, wait_for
from dmvpnlab.nhrp.codec import PacketType
from fault_checks import nhs_states

pytestmark = pytest.mark.dmvpn_topology("topologies/hierarchical.yaml")
H1, H2, H3 = "192.168.1.10", "192.168.2.10", "192.168.3.10"


def registered_at(lab, hub: str) -> set[str]:
    return {e["next_hop"] for e in agent_state(lab, hub)["nhrp"]["cache"] if "registered" in e["flags"]}


def test_spokes_register_with_their_region_hub_and_region_hubs_with_the_central_hub(lab):
    assert registered_at(lab, "hub") == {"10.0.0.51", "10.0.0.61"}
    assert registered_at(lab, "hubA") == {"10.0.0.2", "10.0.0.3"}
    assert registered_at(lab, "hubB") == {"10.0.0.4", "10.0.0.5"}
    assert nhs_states(lab, "hubA") == {"10.0.0.1": "R"}
    assert nhs_states(lab, "spoke3") == {"10.0.0.61": "R"}


def test_a_spoke_reaches_another_region_across_both_levels_then_directly(lab):
    since, result = ping(lab, "h1", H3, count=10)
    assert result.ok, result.stdout
    assert wait_for(lambda: "192.168.3.0/24 via 10.0.0.4" in shortcuts(lab, "spoke1"), timeout=3)
    assert wait_for(lambda: "192.168.1.0/24 via 10.0.0.2" in shortcuts(lab, "spoke3"), timeout=3)
    seen = captures(lab)
    per_seq = seen.links_per_seq(seen.echo(H1, H3, since=since))
    assert {"hubA-isp", "hub-isp", "hubB-isp"} <= per_seq[1], per_seq[1]
    late = [seq for seq in per_seq if seq > 5]
    assert late and all(per_seq[seq] & {"hubA-isp", "hub-isp", "hubB-isp"} == set() for seq in late), per_seq
    # spoke1's Resolution Request for spoke3 crossed the central hub on its way to hubB.
    requests = seen.messages(PacketType.RESOLUTION_REQUEST, link="hub-isp", since=since)
    assert any(str(m.packet.src_proto) == "10.0.0.2" for m in requests)
    print(f"spoke1 -> spoke3: echo 1 crossed {sorted(per_seq[1])}; echoes 6..10 only "
          f"{sorted(set().union(*(per_seq[s] for s in late)))}")


def test_spokes_of_one_region_shortcut_under_their_region_hub_alone(lab):
    since, result = ping(lab, "h1", H2, count=8)
    assert result.ok
    assert wait_for(lambda: "192.168.2.0/24 via 10.0.0.3" in shortcuts(lab, "spoke1"), timeout=3)
    seen = captures(lab)
    crossed = set().union(*seen.links_per_seq(seen.echo(H1, H2, since=since)).values())
    assert "hubA-isp" in crossed and "hub-isp" not in crossed and "hubB-isp" not in crossed
