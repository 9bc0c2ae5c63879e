"""A NAT fleet as the hub's NHRP engine sees it: spokes behind one NAT box register from
one public address, each its own peer (the agent hands NHRP a NatEndpoint when the NAT
changed the port, see ipsec.endpoint), so each keeps its own cache entry, its own claimed
NBMA and its own place in `ip nhrp map multicast dynamic`'s list.

Engines run in tests/nhrp_sim.py's in-memory network: `seen_nbma` is what the others
see as a spoke's source (the NAT's outside address, with the port for the second spoke).
"""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.ipsec.endpoint import NatEndpoint
from dmvpnlab.nhrp.codec import PacketType
from nhrp_engine_kit import A, _registered
from nhrp_sim import Net, hub_config, hub_table, lan, lan_host, spoke_config, spoke_table

PUBLIC = A("100.64.1.1")  # nat1's outside: the first spoke keeps its ports, the second does not


NAT2 = A("100.64.4.1")  # nat2's outside, spoke4 behind it


def _fleet() -> Net:
    """spoke1 and spoke3 behind nat1, spoke4 behind nat2, spoke2 without NAT (Phase 3)."""
    net = Net()
    net.add("hub", hub_config(redirect=True), hub_table(4), {lan(0)[1]})
    behind = ((1, A("172.16.1.2"), PUBLIC), (3, A("172.16.1.4"), NatEndpoint(PUBLIC, 1024)),
              (4, A("172.16.2.5"), NAT2))
    for index, inside, seen in behind:
        node = net.add(f"spoke{index}", spoke_config(index, nbma_address=inside, shortcut=True),
                       spoke_table(index, 4, 3), {lan(index)[1]}, start=False)
        node.seen_nbma = seen
        node.engine.start(net.now)
        net.flush()
    net.add("spoke2", spoke_config(2, shortcut=True), spoke_table(2, 4, 3), {lan(2)[1]})
    return net


def _resolve(net: Net, src: int, dst: int):
    """Traffic spoke{src} -> spoke{dst}'s LAN until the redirect's resolution is answered;
    spoke{src}'s cache entry for spoke{dst}."""
    for _ in range(3):
        net.ping(f"spoke{src}", lan_host(src), lan_host(dst))
        net.flush()
    return net.nodes[f"spoke{src}"].engine.cache.peer(net.nodes[f"spoke{dst}"].config.tunnel_address.ip)


def test_a_spoke_behind_nat_knows_its_public_address_from_its_registration_reply():
    net = _fleet()
    assert net.nodes["spoke1"].engine.seen_as == PUBLIC and net.nodes["spoke4"].engine.seen_as == NAT2
    assert net.nodes["spoke2"].engine.seen_as is None


def test_an_owner_behind_another_nat_is_resolved_to_that_nats_public_address():
    net = _fleet()
    entry = _resolve(net, 1, 4)
    assert entry is not None and entry.nbma == NAT2 and entry.claimed_nbma == A("172.16.2.5")
    relayed = [w.packet for w in net.wire if w.src == "hub" and w.dst == "spoke1"
               and w.packet.type == PacketType.RESOLUTION_REPLY]
    assert relayed, "the owner behind NAT answered through the hub"


def test_an_owner_behind_the_same_nat_is_resolved_to_its_private_address():
    net = _fleet()
    entry = _resolve(net, 1, 3)
    assert entry is not None and entry.nbma == A("172.16.1.4"), "reachable on nat1's inside segment"


def test_no_shortcut_between_two_nats_when_one_moved_the_spokes_ports():
    net = _fleet()
    _resolve(net, 3, 4)  # spoke3: nat1 gave it other ports; spoke4 behind nat2
    assert net.nodes["spoke3"].shortcuts == {}, "its traffic stays on the hub path"
    assert net.nodes["hub"].engine.dropped["resolution: no direct path between NATs"] >= 1
    assert net.ping("spoke3", lan_host(3), lan_host(4)) == ["spoke3", "hub", "spoke4"]


def test_spokes_behind_one_nat_register_side_by_side():
    net = _fleet()
    hub = net.nodes["hub"].engine
    assert _registered(net, "spoke1") and _registered(net, "spoke3") and _registered(net, "spoke2")
    one, three = (hub.cache.peer(net.nodes[s].config.tunnel_address.ip) for s in ("spoke1", "spoke3"))
    assert one is not None and three is not None
    assert str(one.nbma) == str(three.nbma) == "100.64.1.1", "both at the NAT's public address"
    assert (one.claimed_nbma, three.claimed_nbma) == (A("172.16.1.2"), A("172.16.1.4"))
    assert one.nbma != three.nbma, "two peers: neither entry overwrote the other"


def test_the_multicast_list_holds_every_spoke_behind_the_nat():
    net = _fleet()
    targets = net.nodes["hub"].engine.multicast_targets()
    assert PUBLIC in targets and NatEndpoint(PUBLIC, 1024) in targets
    assert len(targets) == 4 and len(set(targets)) == 4


def test_each_spoke_behind_the_nat_renews_its_own_registration():
    net = _fleet()
    net.run(400, step=5)  # past the holdtime: only renewals keep the entries
    assert _registered(net, "spoke1") and _registered(net, "spoke3")
    assert all(isinstance(p, IPv4Address) for p in net.nodes["hub"].engine.multicast_targets())


def test_an_owner_behind_another_nat_also_answers_straight_to_the_requesters_nat():
    net = _fleet()
    _resolve(net, 1, 4)
    direct = [w for w in net.wire if w.src == "spoke4" and w.dst_nbma == PUBLIC
              and w.packet.type == PacketType.RESOLUTION_REPLY]
    assert direct, "the copy whose IKE opens nat2's mapping towards nat1"
    same_nat = _fleet()
    _resolve(same_nat, 1, 3)
    assert not [w for w in same_nat.wire if w.src == "spoke3" and w.dst_nbma == PUBLIC
                and w.packet.type == PacketType.RESOLUTION_REPLY], "its own NAT's address: no copy"
