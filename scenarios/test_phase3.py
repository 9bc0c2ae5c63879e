"""DMVPN Phase 3: redirect (Traffic Indication), resolution, shortcut, expiry."""

from __future__ import annotations


import pytest

from crossings import (H1, H2, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, captures, ping,
                       shortcuts, wait_for)
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/phase3-expiry.yaml")

SHORTCUT_HOLDTIME = 12  # nhrp_holdtime of the spokes in phase3-expiry.yaml


def test_redirect_then_resolution_then_direct_path(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)

    indications = seen.messages(PacketType.TRAFFIC_INDICATION, link=SPOKE1_WAN, since=since)
    assert indications, "the hub redirects spoke1"
    first = indications[0]
    assert (str(first.outer_src), str(first.outer_dst)) == (HUB_NBMA, SPOKE1_NBMA)
    assert str(first.packet.dst_proto) == H1  # addressed to the source of the packet
    assert first.packet.payload[16:20] == bytes(map(int, H2.split(".")))

    asked = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=SPOKE1_WAN, since=first.time)
             if str(m.packet.dst_proto) == H2]
    assert asked, "spoke1 resolves the original destination"
    replies = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, link=SPOKE1_WAN, since=first.time)
               if str(m.outer_dst) == SPOKE1_NBMA]
    assert replies and str(replies[0].outer_src) == SPOKE2_NBMA
    assert replies[0].packet.cies[0].prefix_len == 24

    requests = seen.echo(H1, H2, since=since)
    assert HUB_WAN in seen.links_per_seq(requests)[1]
    later = [s for s in requests if s.time > replies[0].time + 0.05]
    assert later and HUB_WAN not in seen.links(later)
    assert {SPOKE1_WAN, SPOKE2_WAN} <= seen.links(later)


def test_both_directions_get_shortcuts(lab):
    since, result = ping(lab, "h1", H2, count=5)
    assert result.ok
    assert wait_for(lambda: "192.168.2.0/24 via 10.0.0.3 dev Tunnel0" in shortcuts(lab, "spoke1"), timeout=3)
    assert wait_for(lambda: "192.168.1.0/24 via 10.0.0.2 dev Tunnel0" in shortcuts(lab, "spoke2"), timeout=3)
    seen = captures(lab)
    replies = seen.echo(H1, H2, reply=True, since=since)
    assert HUB_WAN not in seen.links(replies)


def test_idle_shortcut_expires_and_traffic_falls_back_to_the_hub(lab):
    ping(lab, "h1", H2, count=3)
    assert wait_for(lambda: "192.168.2.0/24" not in shortcuts(lab, "spoke1"),
                    timeout=2 * SHORTCUT_HOLDTIME + 2), "the shortcut route went away"
    since, result = ping(lab, "h1", H2, count=1)
    assert result.ok
    seen = captures(lab)
    assert HUB_WAN in seen.links(seen.echo(H1, H2, since=since))
    # ...and the redirect builds it again
    assert wait_for(lambda: "192.168.2.0/24" in shortcuts(lab, "spoke1"),
                    timeout=5)
