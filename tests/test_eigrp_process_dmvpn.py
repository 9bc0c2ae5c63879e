"""EIGRP over a DMVPN tunnel: a hub and spokes on one NBMA Tunnel0 (tests/eigrp_wire.py):
a spoke's multicast reaches only the hub, the hub's reaches every spoke, as NHRP's
multicast replication does. The knobs a DMVPN hub needs, end to end through real packets.

Metrics are the published DMVPN lab numbers with IOS tunnel defaults (100 kbit/s,
50000 us): a spoke LAN at the hub 26882560, at another spoke through the hub 28162560.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from eigrp_wire import dmvpn

from dmvpnlab.routing.eigrp.codec import Opcode, decode

SPOKE_LAN_AT_HUB = 26882560
SPOKE_LAN_AT_SPOKE = 28162560
HUB_OFF = {"split_horizon": False}


def sent(wire, router: str, opcode: int) -> list:
    return [p for n, _, _, d in wire.sent if n == router for p in [decode(d)] if p.opcode == opcode and p.tlvs]


def test_hub_and_spokes_form_adjacencies_over_the_nbma_tunnel():
    wire = dmvpn(3)
    wire.run(3)
    hub = wire.routers["hub"]
    assert [str(v.address) for v in hub.neighbor_views(wire.now)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    for n in (1, 2, 3):   # spokes peer with the hub only: their multicast never reaches each other
        assert [str(v.address) for v in wire.routers[f"spoke{n}"].neighbor_views(wire.now)] == ["10.0.0.1"]
    assert wire.route("hub", "192.168.2.0/24").metric == SPOKE_LAN_AT_HUB


def test_split_horizon_on_the_hub_hides_spoke_lans_from_other_spokes():
    wire = dmvpn(3)
    wire.run(3)
    assert wire.route("spoke1", "192.168.2.0/24") is None
    assert wire.hops("spoke1", "192.168.0.0/24") == ["10.0.0.1"]


def test_no_split_horizon_on_the_hub_gives_spokes_each_other_via_the_hub():
    wire = dmvpn(3, hub_tunnel=HUB_OFF)
    wire.run(3)
    for me in (1, 2, 3):
        for other in {1, 2, 3} - {me}:
            route = wire.route(f"spoke{me}", f"192.168.{other}.0/24")
            assert route.next_hops == ((IPv4Address("10.0.0.1"), "Tunnel0"),)
            assert route.metric == SPOKE_LAN_AT_SPOKE


def test_no_next_hop_self_keeps_the_originating_spoke_as_next_hop():
    wire = dmvpn(3, hub_tunnel={"split_horizon": False, "next_hop_self": False})
    wire.run(3)
    assert wire.hops("spoke1", "192.168.2.0/24") == ["10.0.0.3"]
    assert wire.hops("spoke1", "192.168.3.0/24") == ["10.0.0.4"]
    assert wire.hops("spoke1", "192.168.0.0/24") == ["10.0.0.1"]   # the hub's own LAN
    assert wire.route("spoke1", "192.168.2.0/24").metric == SPOKE_LAN_AT_SPOKE
    # the hub told spoke2 its own LAN with next hop spoke2: spoke2 does not take itself
    topo = {str(t.prefix): t for t in wire.routers["spoke2"].topology_views()}
    assert [p.via for p in topo["192.168.2.0/24"].paths if p.kind == "neighbor"] == [IPv4Address("10.0.0.1")]


def test_stub_spokes_advertise_only_connected_and_are_never_queried():
    wire = dmvpn(3, hub_tunnel=HUB_OFF, spoke_kw={"stub": frozenset({"connected"})})
    wire.run(3)
    hub = wire.routers["hub"]
    # spoke1 hears spoke2's LAN from the hub but, a stub, does not advertise it back
    assert wire.hops("spoke1", "192.168.2.0/24") == ["10.0.0.1"]
    topo = {str(t.prefix): t for t in hub.topology_views()}
    assert [str(p.via) for p in topo["192.168.2.0/24"].paths if p.kind == "neighbor"] == ["10.0.0.3"]
    advertised = {str(d.network) for p in sent(wire, "spoke1", Opcode.UPDATE) for t in p.tlvs
                  for d in t.destinations if not t.metric.unreachable}
    assert advertised == {"192.168.1.0/24", "10.0.0.0/24"}
    views = {str(v.address): v for v in hub.neighbor_views(wire.now)}
    assert views["10.0.0.2"].stub == ("connected",) and views["10.0.0.2"].prefixes == 2
    assert views["10.0.0.2"].version == "23.0/2.0" and views["10.0.0.2"].up
    assert wire.routers["spoke1"].neighbor_views(wire.now)[0].stub is None   # the hub is no stub
    wire.sent.clear()
    wire.routers["spoke1"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(1)
    assert sent(wire, "hub", Opcode.QUERY) == []
    assert all(wire.route(n, "192.168.1.0/24") is None for n in ("hub", "spoke2", "spoke3"))


def test_without_stub_the_hub_queries_the_other_spokes():
    wire = dmvpn(3, hub_tunnel=HUB_OFF)
    wire.run(3)
    wire.sent.clear()
    wire.routers["spoke1"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(1)
    assert len(sent(wire, "hub", Opcode.QUERY)) == 2     # spoke2 and spoke3, never the querier
    assert [len(sent(wire, f"spoke{n}", Opcode.REPLY)) for n in (2, 3)] == [1, 1]   # one answer each
    # the spoke that lost its LAN told the hub in its query; it withdraws nothing after
    assert sent(wire, "spoke1", Opcode.UPDATE) == []


def test_hub_summary_is_all_the_spokes_see_and_the_hub_discards_on_null0():
    wire = dmvpn(3, hub_tunnel={"split_horizon": False, "summaries": (IPv4Network("192.168.0.0/16"),)})
    wire.run(3)
    for n in (1, 2, 3):
        prefixes = {str(r.prefix) for r in wire.routers[f"spoke{n}"].routes()}
        assert prefixes == {"192.168.0.0/16"}
        assert wire.hops(f"spoke{n}", "192.168.0.0/16") == ["10.0.0.1"]
    discard = wire.route("hub", "192.168.0.0/16")
    assert (discard.next_hops, discard.ad) == (((None, "Null0"),), 5)
    assert discard.metric == 28160    # the best component: the hub's own FastEthernet-ish LAN
    topo = {str(t.prefix): t for t in wire.routers["hub"].topology_views()}
    assert [(p.kind, p.interface) for p in topo["192.168.0.0/16"].paths] == [("Summary", "Null0")]


def test_a_summary_configured_live_replaces_the_components_at_the_spokes():
    from dataclasses import replace
    wire = dmvpn(2, hub_tunnel=HUB_OFF)
    wire.run(3)
    assert wire.route("spoke1", "192.168.2.0/24") is not None
    s = wire.settings["hub"]
    tunnel = replace(s.interfaces[0], summaries=(IPv4Network("192.168.0.0/16"),))
    wire.routers["hub"].reconfigure(replace(s, interfaces=(tunnel,) + s.interfaces[1:]), wire.now)
    wire.run(1)
    assert {str(r.prefix) for r in wire.routers["spoke1"].routes()} == {"192.168.0.0/16"}
    assert wire.routers["hub"].neighbor_views(wire.now)    # no reset


def test_a_spoke_lan_going_down_is_withdrawn_everywhere_in_bounded_packets():
    wire = dmvpn(3, hub_tunnel=HUB_OFF)
    wire.run(3)
    wire.sent.clear()
    wire.routers["spoke1"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(1)
    assert all(wire.route(n, "192.168.1.0/24") is None for n in ("hub", "spoke2", "spoke3"))
    reliable = [d for _, _, _, d in wire.sent if decode(d).opcode != Opcode.HELLO]
    assert len(reliable) <= 20
    assert all(t.state == "P" for n in wire.routers for t in wire.routers[n].topology_views())
    wire.routers["spoke1"].set_interface_state("Ethernet0/1", True, wire.now)
    wire.run(1)
    assert wire.hops("spoke2", "192.168.1.0/24") == ["10.0.0.1"]


def test_a_spoke_that_dies_is_removed_by_hold_time_and_its_lan_with_it():
    wire = dmvpn(2, hub_tunnel=HUB_OFF)
    wire.run(3)
    del wire.routers["spoke2"]      # power off: nothing more from it
    wire.run(16)
    assert [str(v.address) for v in wire.routers["hub"].neighbor_views(wire.now)] == ["10.0.0.2"]
    assert wire.route("spoke1", "192.168.2.0/24") is None and wire.route("hub", "192.168.2.0/24") is None


def test_twenty_spokes_all_learn_every_lan():
    wire = dmvpn(20, hub_tunnel={"split_horizon": False, "next_hop_self": False})
    wire.run(3)
    for n in range(1, 21):
        prefixes = {str(r.prefix) for r in wire.routers[f"spoke{n}"].routes()}
        assert prefixes == {f"192.168.{m}.0/24" for m in range(0, 21) if m != n}
    assert wire.hops("spoke7", "192.168.13.0/24") == ["10.0.0.14"]


def test_a_lossy_tunnel_still_converges_and_withdraws():
    """A fifth of all packets lost at random (hellos, updates, queries, replies, acks):
    retransmission and DUAL still bring every spoke every LAN, and a withdrawal
    everywhere, with nothing left active."""
    import random
    rng = random.Random(5)
    wire = dmvpn(5, hub_tunnel=HUB_OFF)
    wire.drop = lambda *a: rng.random() < 0.2
    wire.run(30)
    for n in range(1, 6):
        assert {str(r.prefix) for r in wire.routers[f"spoke{n}"].routes()} == {
            f"192.168.{m}.0/24" for m in range(0, 6) if m != n}
    wire.routers["spoke3"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(30)
    assert all(wire.route(n, "192.168.3.0/24") is None for n in wire.routers)
    assert all(t.state == "P" for n in wire.routers for t in wire.routers[n].topology_views())
    assert all(len(wire.routers[n].neighbor_views(wire.now)) >= 1 for n in wire.routers)


def test_a_spoke_that_never_replies_is_reset_when_stuck_in_active():
    """spoke2 acks the hub's query but its DUAL never answers (lost replies would be
    retransmitted, then reset by the retry limit, so this takes a silent DUAL): after the
    active time (180 s) the hub resets spoke2, finishes and forms the adjacency again."""
    wire = dmvpn(3, hub_tunnel=HUB_OFF)
    wire.run(3)
    deaf = wire.routers["spoke2"]._dual
    answer = deaf.received
    deaf.received = lambda nbr, op, routes: None if op == Opcode.QUERY else answer(nbr, op, routes)
    wire.routers["spoke1"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(5, step=0.5)
    [entry] = [t for t in wire.routers["hub"].topology_views() if str(t.prefix) == "192.168.1.0/24"]
    assert entry.state == "A" and entry.replies_waiting == (IPv4Address("10.0.0.3"),)
    assert wire.route("hub", "192.168.1.0/24") is None     # active: nothing installed meanwhile
    deaf.received = answer
    wire.run(185, step=0.5)
    assert any("Neighbor 10.0.0.3 (Tunnel0) is down: stuck in active" in x for x in wire.routers["hub"].log)
    assert wire.route("spoke3", "192.168.1.0/24") is None
    assert all(t.state == "P" for t in wire.routers["hub"].topology_views())
    assert "10.0.0.3" in [str(v.address) for v in wire.routers["hub"].neighbor_views(wire.now)]
    assert wire.hops("hub", "192.168.2.0/24") == ["10.0.0.3"]


def test_the_hub_restarting_is_relearned_by_every_spoke():
    from eigrp_wire import EigrpProcess
    wire = dmvpn(3, hub_tunnel={"split_horizon": False, "next_hop_self": False})
    wire.run(3)
    wire.routers["hub"].stop(wire.now)
    wire.deliver()
    assert all(wire.routers[f"spoke{n}"].routes() == [] for n in (1, 2, 3))   # goodbye: all gone at once
    wire.routers["hub"] = EigrpProcess(wire.settings["hub"], wire.now)
    wire.run(6)
    assert wire.hops("spoke1", "192.168.3.0/24") == ["10.0.0.4"]
    assert wire.hops("spoke3", "192.168.0.0/24") == ["10.0.0.1"]
