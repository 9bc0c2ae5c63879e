"""CML lab topologies/cml/phase1.yaml, run unchanged: DMVPN Phase 1, everything through the hub.

The file is a CML 2 (0.3.0) lab: three iosv routers on an unmanaged switch, their whole
IOS configs inside it (point-to-point GRE spokes with `tunnel destination`, static
routes to the hub). It comes up as `dmvpnlab up` brings it up; the spokes register (the
hub's `show dmvpn`); `ping 10.0.2.1 source Loopback0` typed at Spoke1 gives `!!!!!`; and
the captures show every echo and every reply cross the hub's switch port twice (spoke ->
hub, hub -> other spoke), never spoke to spoke, with no NHRP resolution at all.
"""

from __future__ import annotations

import pytest

from cml_checks import (CML, NBMA, TUNNEL, WAN, assert_all_echoes, bring_up, direct, echo_loopbacks, lab_captures,
                        router_ping, seqs, spokes_registered, via_hub)
from crossings import wait_for
from test_cli_configure import cli
from dmvpnlab.nhrp.codec import PacketType


@pytest.fixture(scope="module")
def lab():
    yield from bring_up(CML / "phase1.yaml")


def test_the_spokes_register_with_the_hub(lab):
    took = spokes_registered(lab)
    print(f"both spokes UP in the hub's show dmvpn {took:.2f} s after Lab.up returned")
    text = cli(lab, "Spoke1", "show dmvpn")
    assert "Type:Spoke" in text and NBMA["Hub"] in text and TUNNEL["Hub"] in text, text
    assert wait_for(lambda: " UP " in cli(lab, "Spoke1", "show dmvpn"), timeout=10)


def test_ping_from_spoke1_loopback_to_spoke2_loopback_goes_through_the_hub(lab):
    spokes_registered(lab)
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    seen = lab_captures(lab)
    for reply in (False, True):
        sightings = echo_loopbacks(seen, since, reply=reply)
        assert len(seqs(sightings)) == 5, sightings
        hub = via_hub(sightings)
        first, second = ("Spoke2", "Spoke1") if reply else ("Spoke1", "Spoke2")
        for seq in seqs(sightings):
            legs = {(str(s.outer_src), str(s.outer_dst)) for s in hub if s.seq == seq}
            assert legs == {(NBMA[first], NBMA["Hub"]), (NBMA["Hub"], NBMA[second])}, (reply, seq, legs)
        assert {s.link for s in sightings} >= {WAN["Spoke1"], WAN["Spoke2"], WAN["Hub"]}
        assert direct(sightings) == [], "Phase 1: never spoke to spoke"
    assert seen.messages(PacketType.RESOLUTION_REQUEST, since=since) == [], "nothing to resolve in Phase 1"
