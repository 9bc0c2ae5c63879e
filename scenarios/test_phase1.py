"""DMVPN Phase 1: spoke-to-spoke traffic always hairpins through the hub."""

from __future__ import annotations

import pytest

from crossings import H1, H2, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, captures, ping
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/phase1.yaml")


def test_spoke_to_spoke_icmp_crosses_the_hub_wan_link_both_ways(lab):
    since, result = ping(lab, "h1", H2, count=5)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    for reply in (False, True):
        sightings = seen.echo(H1, H2, reply=reply, since=since)
        per_seq = seen.links_per_seq(sightings)
        assert sorted(per_seq) == [1, 2, 3, 4, 5]
        for seq, links in per_seq.items():
            assert {HUB_WAN, SPOKE1_WAN, SPOKE2_WAN} <= links, (seq, links)
        on_hub = [s for s in sightings if s.link == HUB_WAN]
        tunnels = {(str(s.outer_src), str(s.outer_dst)) for s in on_hub}
        first, second = (SPOKE2_NBMA, SPOKE1_NBMA) if reply else (SPOKE1_NBMA, SPOKE2_NBMA)
        assert tunnels == {(first, HUB_NBMA), (HUB_NBMA, second)}, tunnels


def test_spokes_never_talk_to_each_other_directly(lab):
    since, result = ping(lab, "h1", H2, count=3)
    assert result.ok
    seen = captures(lab)
    direct = [s for s in seen.icmp if s.time >= since and s.encapsulated
              and {str(s.outer_src), str(s.outer_dst)} == {SPOKE1_NBMA, SPOKE2_NBMA}]
    assert direct == []
    assert seen.messages(PacketType.RESOLUTION_REQUEST, since=since) == []
