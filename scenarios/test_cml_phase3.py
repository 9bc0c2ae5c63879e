"""CML lab topologies/cml/phase3.yaml, run unchanged: DMVPN Phase 3, via the hub, redirect, then direct.

EIGRP 100 with the hub summarising 10.0.0.0/16 on Tunnel0: the spokes know each other's
loopback only through the summary, via the hub. `ping 10.0.2.1 source Loopback0` at
Spoke1 gives `!!!!!`; the first echoes cross the hub, the hub (`ip nhrp redirect`) sends
Spoke1 a Traffic Indication, Spoke1 (`ip nhrp shortcut`) resolves 10.0.2.1, Spoke2
answers directly, Spoke1 installs an NHRP route (`H` in `show ip route`) for
10.0.2.0/24, and the next ping goes spoke to spoke.
"""

from __future__ import annotations

import re

import pytest

from cml_checks import (CML, LOOPBACK, NBMA, TUNNEL, WAN, assert_all_echoes, bring_up, direct, echo_loopbacks,
                        lab_captures, route_line, routed, router_ping, seqs, spokes_registered, via_hub)
from crossings import shortcuts, wait_for
from test_cli_configure import cli
from dmvpnlab.nhrp.codec import PacketType


SHORTCUT = re.compile(rf"^10\.0\.2\.0/24 via {re.escape(TUNNEL['Spoke2'])} dev Tunnel0", re.MULTILINE)

@pytest.fixture(scope="module")
def lab():
    yield from bring_up(CML / "phase3.yaml")


def _fresh(lab) -> None:
    """No shortcut on either spoke: the next packet to the other spoke's loopback goes via the hub."""
    for spoke in ("Spoke1", "Spoke2"):
        cli(lab, spoke, "clear ip nhrp")
    assert wait_for(lambda: not shortcuts(lab, "Spoke1").strip() and not shortcuts(lab, "Spoke2").strip(),
                    timeout=5)
    spokes_registered(lab)


def test_spokes_register_and_learn_only_the_hubs_summary(lab):
    spokes_registered(lab)
    routed(lab, "Spoke1", "10.0.0.0/16")
    routed(lab, "Spoke2", "10.0.0.0/16")
    table = cli(lab, "Spoke1", "show ip route")
    assert route_line(table, "D", "10.0.0.0/16", 90, TUNNEL["Hub"]), table
    assert not route_line(table, "D", "10.0.2.0/24", 90), "the summary suppresses the /24s"
    assert re.search(r"^C\s+10\.0\.1\.0(?:/24)? is directly connected, Loopback0$", table, re.MULTILINE), table
    assert re.search(r"^L\s+10\.0\.1\.1(?:/32)? is directly connected, Loopback0$", table, re.MULTILINE), table


def test_spoke2_answers_for_its_loopback_network_and_spoke1_routes_that(lab):
    """As IOS: Spoke2 answers for the route it has to 10.0.2.1 (connected 10.0.2.0/24 on
    Loopback0), and Spoke1's H route is that /24."""
    spokes_registered(lab)
    routed(lab, "Spoke1", "10.0.0.0/16")
    _fresh(lab)
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    assert wait_for(lambda: SHORTCUT.search(shortcuts(lab, "Spoke1")), timeout=5)
    seen = lab_captures(lab)
    replies = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, link=WAN["Spoke1"], since=since)
               if (str(m.outer_src), str(m.outer_dst)) == (NBMA["Spoke2"], NBMA["Spoke1"])]
    assert replies and replies[0].packet.cies[0].prefix_len == 24, replies
    table = cli(lab, "Spoke1", "show ip route")
    assert route_line(table, "H", "10.0.2.0/24", 250, TUNNEL["Spoke2"]), table


def test_via_the_hub_then_redirect_then_direct(lab):
    spokes_registered(lab)
    routed(lab, "Spoke1", "10.0.0.0/16")
    routed(lab, "Spoke2", "10.0.0.0/16")
    _fresh(lab)
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    seen = lab_captures(lab)
    requests = echo_loopbacks(seen, since)
    assert 1 in seqs(via_hub(requests)), "the first echo goes through the hub"
    indications = [m for m in seen.messages(PacketType.TRAFFIC_INDICATION, link=WAN["Spoke1"], since=since)
                   if (str(m.outer_src), str(m.outer_dst)) == (NBMA["Hub"], NBMA["Spoke1"])]
    assert indications, "the hub redirects Spoke1"
    assert str(indications[0].packet.dst_proto) == LOOPBACK["Spoke1"], "addressed to the packet's source"
    asked = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=WAN["Spoke1"], since=indications[0].time)
             if str(m.packet.dst_proto) == LOOPBACK["Spoke2"]]
    assert asked, "Spoke1 resolves the original destination"
    replies = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, link=WAN["Spoke1"], since=indications[0].time)
               if (str(m.outer_src), str(m.outer_dst)) == (NBMA["Spoke2"], NBMA["Spoke1"])]
    assert replies, "Spoke2 answers Spoke1 directly"
    # The prefix it answers for: see test_the_answer_is_for_spoke2s_loopback_network.
    assert wait_for(lambda: SHORTCUT.search(shortcuts(lab, "Spoke1")), timeout=5), shortcuts(lab, "Spoke1")
    again, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    seen = lab_captures(lab)
    later = echo_loopbacks(seen, again)
    assert seqs(later) == {1, 2, 3, 4, 5}
    assert via_hub(later) == [], "after the redirect the hub sees none of it"
    assert {s.seq for s in direct(later)} == {1, 2, 3, 4, 5}

