"""A spoke behind NAT: it registers with its post-NAT address and Phase 3 shortcuts still form."""

from __future__ import annotations

import pytest

from crossings import agent_state, direct_after_redirect, wait_for
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/nat.yaml")

SPOKE1_NBMA = "100.64.1.1"
SPOKE2_PRIVATE, SPOKE2_PUBLIC = "172.16.1.1", "100.64.2.1"  # nat1 owns spoke2's public /30


def hub_cache(lab):
    return agent_state(lab, "hub")["nhrp"]["cache"]


def test_the_hub_registers_the_natted_spoke_at_its_public_address_and_keeps_the_claimed_one(lab):
    def natted_entry():
        return next((e for e in hub_cache(lab) if e["next_hop"] == "10.0.0.3"), None)

    assert wait_for(lambda: natted_entry() is not None, timeout=5)
    entry = natted_entry()
    assert entry["nbma"] == SPOKE2_PUBLIC and entry["claimed_nbma"] == SPOKE2_PRIVATE
    assert "nat" in entry["flags"]


def test_shortcuts_form_through_the_nat_in_both_directions(lab):
    since, seen, late = direct_after_redirect(lab)
    direct = {(str(s.outer_src), str(s.outer_dst)) for s in late if s.link == "spoke1-isp"}
    assert direct == {(SPOKE1_NBMA, SPOKE2_PUBLIC)}
    behind_nat = {(str(s.outer_src), str(s.outer_dst)) for s in late if s.link == "spoke2-nat1"}
    assert behind_nat == {(SPOKE1_NBMA, SPOKE2_PRIVATE)}
    # spoke1 answers the natted spoke's resolution through the hub: spoke2's NAT has no
    # mapping for spoke1 until spoke2 itself sends to it.
    relayed = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, link="hub-isp", since=since)
               if str(m.outer_src) == "203.0.113.1" and str(m.outer_dst) == SPOKE2_PUBLIC]
    assert relayed and str(relayed[0].packet.cies[0].nbma) == SPOKE1_NBMA
