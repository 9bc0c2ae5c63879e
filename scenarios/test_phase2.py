"""DMVPN Phase 2: first packets via the hub, NHRP resolution, then spoke to spoke."""

from __future__ import annotations

import pytest

from crossings import H1, H2, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, captures, ping
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.topology("topologies/phase2.yaml")


def test_first_packet_via_hub_then_resolution_then_direct(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    requests = seen.echo(H1, H2, since=since)
    per_seq = seen.links_per_seq(requests)
    assert HUB_WAN in per_seq[1], "the first packet goes through the hub"

    asked = seen.messages(PacketType.RESOLUTION_REQUEST, link=SPOKE1_WAN, since=since)
    assert asked and str(asked[0].outer_dst) == HUB_NBMA and str(asked[0].packet.dst_proto) == "10.0.0.3"
    forwarded = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=HUB_WAN, since=since)
                 if str(m.outer_dst) == SPOKE2_NBMA]
    assert forwarded and forwarded[0].packet.hop_count == 254
    replies = seen.messages(PacketType.RESOLUTION_REPLY, since=since)
    assert replies, "spoke2 answers the resolution"
    assert {(str(r.outer_src), str(r.outer_dst)) for r in replies} == {(SPOKE2_NBMA, SPOKE1_NBMA)}
    assert not [r for r in replies if r.link == HUB_WAN], "the reply does not cross the hub"

    answered_at = min(r.time for r in replies)
    later = [s for s in requests if s.time > answered_at + 0.05]
    assert later, "traffic continued after the resolution"
    assert HUB_WAN not in seen.links(later)
    assert {SPOKE1_WAN, SPOKE2_WAN} <= seen.links(later)
    direct = [s for s in later if s.link == SPOKE1_WAN]
    assert {(str(s.outer_src), str(s.outer_dst)) for s in direct} == {(SPOKE1_NBMA, SPOKE2_NBMA)}


def test_replies_take_the_direct_path_once_resolved(lab):
    since, result = ping(lab, "h1", H2, count=3)
    assert result.ok
    seen = captures(lab)
    replies = seen.echo(H1, H2, reply=True, since=since)
    assert len(seen.links_per_seq(replies)) == 3
    assert HUB_WAN not in seen.links(replies)
