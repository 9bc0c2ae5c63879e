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
from nhrp_engine_kit import A, _registered
from nhrp_sim import Net, hub_config, hub_table, lan, spoke_config, spoke_table

PUBLIC = A("100.64.1.1")  # nat1's outside: the first spoke keeps its ports, the second does not


def _fleet() -> Net:
    net = Net()
    net.add("hub", hub_config(), hub_table(3), {lan(0)[1]})
    for index, inside, seen in ((1, A("172.16.1.2"), PUBLIC), (3, A("172.16.1.4"), NatEndpoint(PUBLIC, 1024))):
        node = net.add(f"spoke{index}", spoke_config(index, nbma_address=inside), spoke_table(index, 3, 3),
                       {lan(index)[1]}, start=False)
        node.seen_nbma = seen
        node.engine.start(net.now)
        net.flush()
    net.add("spoke2", spoke_config(2), spoke_table(2, 3, 3), {lan(2)[1]})
    return net


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
    assert len(targets) == 3 and len(set(targets)) == 3


def test_each_spoke_behind_the_nat_renews_its_own_registration():
    net = _fleet()
    net.run(400, step=5)  # past the holdtime: only renewals keep the entries
    assert _registered(net, "spoke1") and _registered(net, "spoke3")
    assert all(isinstance(p, IPv4Address) for p in net.nodes["hub"].engine.multicast_targets())
