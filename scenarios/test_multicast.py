"""Multicast over mGRE: the hub replicates to every registered spoke (map multicast dynamic),
a spoke sends to the NBMAs of its `ip nhrp map multicast` (the hub). Routing protocols
over the tunnel depend on this."""

from __future__ import annotations

import pytest

from crossings import HUB_NBMA, SPOKE1_NBMA, SPOKE2_NBMA, captures

pytestmark = pytest.mark.dmvpn_topology("topologies/phase3.yaml")

GROUP = "224.0.0.5"  # AllSPFRouters, what OSPF hellos use


def send_to_group(lab, node: str, count: int = 2) -> None:
    # ping to a group: nobody answers (Linux ignores broadcast/multicast echo); we only
    # look at where the requests went.
    lab.exec(node, ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", "-t", "1", "-I", "Tunnel0", GROUP])


def test_the_hub_replicates_a_multicast_packet_to_every_registered_spoke(lab):
    send_to_group(lab, "hub")
    seen = captures(lab)
    copies = [s for s in seen.icmp if str(s.dst) == GROUP and s.link == "hub-isp" and s.encapsulated]
    assert {str(s.outer_dst) for s in copies} == {SPOKE1_NBMA, SPOKE2_NBMA}
    assert {str(s.outer_src) for s in copies} == {HUB_NBMA}
    for spoke, nbma in (("spoke1-isp", SPOKE1_NBMA), ("spoke2-isp", SPOKE2_NBMA)):
        assert [s for s in seen.icmp if str(s.dst) == GROUP and s.link == spoke and str(s.outer_dst) == nbma]


def test_a_spoke_sends_multicast_to_the_hub_only(lab):
    send_to_group(lab, "spoke1")
    seen = captures(lab)
    sent = [s for s in seen.icmp if str(s.dst) == GROUP and s.link == "spoke1-isp" and str(s.outer_src) == SPOKE1_NBMA]
    assert sent and {str(s.outer_dst) for s in sent} == {HUB_NBMA}
    assert not [s for s in seen.icmp if str(s.dst) == GROUP and s.link == "spoke2-isp" and str(s.outer_src) == SPOKE1_NBMA]
