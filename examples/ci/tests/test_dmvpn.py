"""Our DMVPN design, checked on every push: the spokes register, the first packet
between two branches goes through the hub, and after the hub's redirect the branches talk
directly over an NHRP shortcut. dmvpnlab's pytest plugin (installed with the package)
brings the lab up from topologies/dmvpn.yaml once for this module and tears it down;
when a test fails, the message says which path was expected and seen, and where the
captures (pcapng, open in Wireshark) and the HTML report of the run are.
"""

import time

import pytest

from dmvpnlab.testing import assert_path

pytestmark = pytest.mark.dmvpn_topology("topologies/dmvpn.yaml")

HUB, SPOKE1, SPOKE2 = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def test_every_spoke_is_registered_at_the_hub(dmvpn_lab):
    registered = {str(e.next_hop): str(e.nbma) for e in dmvpn_lab.nhrp("hub") if e.type == "dynamic"}
    assert registered == {SPOKE1: "100.64.1.1", SPOKE2: "100.64.2.1"}


def test_first_packet_via_the_hub_then_direct(dmvpn_lab):
    since = time.time()
    assert dmvpn_lab.ping("h1", "h2", count=10).ok
    first, *_ = dmvpn_lab.paths("h1", "h2", since=since)
    assert first.path == ["spoke1", "hub", "spoke2"]   # first.count: how many packets took it
    assert_path(dmvpn_lab, "h1", "h2", ["spoke1", "spoke2"], since=since)


def test_the_shortcut_is_an_nhrp_route_on_both_spokes(dmvpn_lab):
    dmvpn_lab.ping("h1", "h2", count=3)
    spoke1 = {str(r.prefix): r for r in dmvpn_lab.routes("spoke1")}
    spoke2 = {str(r.prefix): r for r in dmvpn_lab.routes("spoke2")}
    assert spoke1["192.168.2.0/24"].code == "H" and str(spoke1["192.168.2.0/24"].next_hop) == SPOKE2
    assert spoke2["192.168.1.0/24"].code == "H" and str(spoke2["192.168.1.0/24"].next_hop) == SPOKE1
    assert "192.168.2.0/24" in dmvpn_lab.cli("spoke1", "show ip route nhrp")
