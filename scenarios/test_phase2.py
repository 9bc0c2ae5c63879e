"""DMVPN Phase 2: first packets via the hub, NHRP resolution, then spoke to spoke."""

from __future__ import annotations

import pytest

from crossings import H1, H2, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, captures, ping
from dmvpnlab.nhrp.codec import PacketType

SPOKE1_TUNNEL, SPOKE2_TUNNEL = "10.0.0.2", "10.0.0.3"
pytestmark = pytest.mark.dmvpn_topology("topologies/phase2.yaml")


def test_first_packet_via_hub_then_resolution_then_direct(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    requests = seen.echo(H1, H2, since=since)
    per_seq = seen.links_per_seq(requests)
    assert HUB_WAN in per_seq[1], "the first packet goes through the hub"

    # spoke1's request (its source is spoke1). Not simply the first on spoke1's link: when
    # spoke2 resolves spoke1 too (below), the hub may forward spoke2's request to spoke1
    # before spoke1's own has left.
    asked = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=SPOKE1_WAN, since=since)
             if str(m.packet.src_proto) == SPOKE1_TUNNEL]
    assert asked and str(asked[0].outer_dst) == HUB_NBMA and str(asked[0].packet.dst_proto) == SPOKE2_TUNNEL
    forwarded = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=HUB_WAN, since=since)
                 if str(m.outer_dst) == SPOKE2_NBMA and str(m.packet.src_proto) == SPOKE1_TUNNEL]
    assert forwarded and forwarded[0].packet.hop_count == 254
    replies = seen.messages(PacketType.RESOLUTION_REPLY, since=since)
    # A reply keeps its request's source and request id: spoke1's answer is the reply
    # for spoke1's (source 10.0.0.2) request id.
    ours = [r for r in replies
            if (str(r.packet.src_proto), r.packet.request_id) == (SPOKE1_TUNNEL, asked[0].packet.request_id)]
    assert ours, "spoke2 answers the resolution"
    assert {(str(r.outer_src), str(r.outer_dst)) for r in ours} == {(SPOKE2_NBMA, SPOKE1_NBMA)}
    assert {r.link for r in ours} == {SPOKE2_WAN, SPOKE1_WAN}, "the reply does not cross the hub"
    # When spoke2's first echo reply leaves before the forwarded request has taught it
    # spoke1's address, spoke2 resolves spoke1 too (Cisco does the same), and spoke1
    # answers it directly. Any other reply must be that: the answer to a request spoke2 sent.
    theirs = {m.packet.request_id for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=SPOKE2_WAN, since=since)
              if str(m.outer_src) == SPOKE2_NBMA and str(m.packet.src_proto) == SPOKE2_TUNNEL}
    for reply in (r for r in replies if r not in ours):
        assert str(reply.packet.src_proto) == SPOKE2_TUNNEL and reply.packet.request_id in theirs, \
            f"a Resolution Reply answering no request spoke2 sent: {reply}"
        assert (str(reply.outer_src), str(reply.outer_dst)) == (SPOKE1_NBMA, SPOKE2_NBMA) and reply.link != HUB_WAN

    answered_at = min(r.time for r in ours)
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
