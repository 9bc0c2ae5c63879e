"""CML lab topologies/cml/phase2.yaml, run unchanged: DMVPN Phase 2 with EIGRP, resolution, then direct.

mGRE everywhere; the hub re-advertises spoke routes on Tunnel0 (`no ip split-horizon
eigrp 100`) and keeps the far spoke as next hop (`no ip next-hop-self eigrp 100`), so
Spoke1 learns 10.0.2.0/24 via 192.168.0.3 and must resolve that next hop. The first
`ping 10.0.2.1 source Loopback0` at Spoke1 gives `!!!!!`, its first echo crosses the hub
while Spoke1 asks the hub to resolve 192.168.0.3 (the hub forwards the request, Spoke2
answers Spoke1 directly); once resolved, the next ping never touches the hub.
"""

from __future__ import annotations

import pytest

from cml_checks import (CML, NBMA, TUNNEL, WAN, assert_all_echoes, bring_up, direct, dmvpn_peers, echo_loopbacks,
                        lab_captures, route_line, routed, router_ping, seqs, spokes_registered, via_hub)
from crossings import wait_for
from test_cli_configure import cli
from dmvpnlab.nhrp.codec import PacketType


@pytest.fixture(scope="module")
def lab():
    yield from bring_up(CML / "phase2.yaml")


def test_spokes_register_and_learn_each_others_loopback_with_the_spoke_as_next_hop(lab):
    spokes_registered(lab)
    routed(lab, "Spoke1", "10.0.2.0/24")
    routed(lab, "Spoke2", "10.0.1.0/24")
    table = cli(lab, "Spoke1", "show ip route")
    assert route_line(table, "D", "10.0.2.0/24", 90, TUNNEL["Spoke2"]), table


def test_first_echo_via_the_hub_resolution_then_spoke_to_spoke(lab):
    spokes_registered(lab)
    routed(lab, "Spoke1", "10.0.2.0/24")
    routed(lab, "Spoke2", "10.0.1.0/24")
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    seen = lab_captures(lab)
    requests = echo_loopbacks(seen, since)
    assert 1 in seqs(via_hub(requests)), "the first echo goes through the hub while the next hop resolves"
    asked = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=WAN["Spoke1"], since=since)
             if str(m.packet.src_proto) == TUNNEL["Spoke1"] and str(m.packet.dst_proto) == TUNNEL["Spoke2"]]
    assert asked and str(asked[0].outer_dst) == NBMA["Hub"], "Spoke1 asks its NHS for 192.168.0.3"
    forwarded = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, link=WAN["Hub"], since=since)
                 if str(m.outer_dst) == NBMA["Spoke2"] and str(m.packet.src_proto) == TUNNEL["Spoke1"]]
    assert forwarded, "the hub forwards it to Spoke2"
    replies = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, since=since)
               if str(m.packet.src_proto) == TUNNEL["Spoke1"]]
    assert replies and {(str(r.outer_src), str(r.outer_dst)) for r in replies} == {(NBMA["Spoke2"], NBMA["Spoke1"])}
    assert WAN["Hub"] not in {r.link for r in replies}, "Spoke2 answers Spoke1 directly"

    assert wait_for(lambda: dmvpn_peers(lab, "Spoke1").get(NBMA["Spoke2"]) == "UP", timeout=5), \
        cli(lab, "Spoke1", "show dmvpn")
    again, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    seen = lab_captures(lab)
    later = echo_loopbacks(seen, again) + echo_loopbacks(seen, again, reply=True)
    assert seqs(later) == {1, 2, 3, 4, 5}
    assert via_hub(later) == [], "resolved: the hub sees none of it"
    assert {s.seq for s in direct(later)} == {1, 2, 3, 4, 5}
