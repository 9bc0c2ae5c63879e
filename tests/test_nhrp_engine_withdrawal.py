"""Routing takes back what NHRP handed out: the owner purges, the requester re-checks, overrides.

Why: a shortcut is only as good as the route it was answered from. When the far spoke's
route for its LAN goes (interface shut, routing protocol withdrawal), IOS's owner sends
a Purge Request to whom it answered and the requester drops the shortcut at once; a
requester whose covering route into the tunnel is gone drops it too. And a shortcut for
a prefix a routing protocol already routes via the hub overrides that route's next hop
(`nho`) and gives it back when it goes. All on the in-memory network (nhrp_sim).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from nhrp_engine_kit import SPOKE1, SPOKE1_NBMA, SPOKE2
from nhrp_sim import HUB_NBMA, HUB_TUNNEL, TUNNEL, Net, dmvpn, hub_config, hub_table, lan, lan_host, spoke_config

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import Cie, PacketType, encode
from dmvpnlab.nhrp.events import ShortcutRemoved
from dmvpnlab.nhrp.withdrawal import PURGE_RETRIES, UNROUTED_GRACE_SECONDS

A = IPv4Address
N = IPv4Network


def _phase3_with_shortcut() -> Net:
    net = dmvpn(2, phase=3)
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}
    return net


def _shut_lan(net: Net, node: str, prefix: IPv4Network) -> None:
    table = net.nodes[node].table
    table[:] = [row for row in table if row[0] != prefix]


def test_owner_purges_the_prefix_at_the_requester_and_the_nhs_when_its_route_goes():
    net = _phase3_with_shortcut()
    mark = net.mark()
    _shut_lan(net, "spoke2", lan(2))
    net.run(2.0, step=0.25)
    purges = net.since(mark, PacketType.PURGE_REQUEST, src="spoke2")
    assert sorted(w.dst for w in purges) == ["hub", "spoke1"]
    to_spoke1 = next(w for w in purges if w.dst == "spoke1")
    assert to_spoke1.dst_nbma == SPOKE1_NBMA and to_spoke1.packet.dst_proto == SPOKE1
    cie = to_spoke1.packet.cies[0]
    assert (cie.proto, cie.prefix_len) == (lan(2).network_address, 24)
    assert not to_spoke1.packet.flags & 0x8000  # a reply is wanted
    spoke1 = net.nodes["spoke1"]
    assert spoke1.shortcuts == {} and ShortcutRemoved(lan(2), SPOKE2) in spoke1.events
    assert spoke1.engine.cache.peer(SPOKE2) is not None  # the spoke itself is still mapped
    replies = net.since(mark, PacketType.PURGE_REPLY, dst="spoke2")
    assert sorted(w.src for w in replies) == ["hub", "spoke1"]
    assert net.nodes["spoke2"].engine.purges == {} and net.nodes["spoke2"].engine.answered == {}
    assert net.nodes["spoke2"].engine.withdrawn == [lan(2)]


def test_purge_goes_out_within_one_route_check():
    net = _phase3_with_shortcut()
    mark = net.mark()
    _shut_lan(net, "spoke2", lan(2))
    net.run(1.0, step=0.25)
    assert net.since(mark, PacketType.PURGE_REQUEST, src="spoke2")
    assert net.nodes["spoke1"].shortcuts == {}


def test_no_purge_while_the_answered_route_stays():
    net = _phase3_with_shortcut()
    mark = net.mark()
    net.run(20.0)
    assert net.since(mark, PacketType.PURGE_REQUEST) == []
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}
    assert lan(2) in net.nodes["spoke2"].engine.answered


def test_owner_purges_when_its_route_now_points_back_into_the_tunnel():
    net = _phase3_with_shortcut()
    _shut_lan(net, "spoke2", lan(2))
    net.nodes["spoke2"].table.append((lan(2), HUB_TUNNEL, True))  # now learned via the hub
    net.run(2.0)
    assert net.nodes["spoke1"].shortcuts == {}


def test_owner_purges_when_a_longer_route_now_answers_the_target():
    net = _phase3_with_shortcut()
    net.nodes["spoke2"].table.append((N("192.168.2.0/25"), A("192.168.22.1"), False))
    net.run(2.0)
    assert net.nodes["spoke1"].shortcuts == {}


def test_unanswered_purge_is_sent_again_then_given_up():
    net = _phase3_with_shortcut()
    mark = net.mark()
    net.down.add("spoke1")
    _shut_lan(net, "spoke2", lan(2))
    net.run(10.0, step=0.5)
    to_spoke1 = net.since(mark, PacketType.PURGE_REQUEST, src="spoke2", dst="spoke1")
    assert len(to_spoke1) == 1 + PURGE_RETRIES
    assert len({w.packet.request_id for w in to_spoke1}) == 1
    assert net.nodes["spoke2"].engine.purges == {}


def test_an_answer_is_forgotten_after_the_holdtime_it_advertised():
    net = _phase3_with_shortcut()
    net.down.add("spoke1")  # no refresh comes
    net.run(301.0, step=5.0)
    assert net.nodes["spoke2"].engine.answered == {}
    mark = net.mark()
    _shut_lan(net, "spoke2", lan(2))
    net.run(3.0)
    assert net.since(mark, PacketType.PURGE_REQUEST) == []


def test_a_purge_reply_nobody_waits_for_is_a_counted_drop():
    net = _phase3_with_shortcut()
    spoke1, spoke2 = net.nodes["spoke1"].engine, net.nodes["spoke2"].engine
    request = messages.purge_request(spoke2.me, SPOKE1, [Cie(prefix_len=24, nbma=None, proto=A("192.168.2.0"))],
                                     999, want_reply=True)
    spoke2.receive(encode(messages.purge_reply(spoke1.me, request)), SPOKE1_NBMA, net.now)
    assert spoke2.dropped["unexpected reply"] == 1


def test_requester_drops_a_shortcut_nothing_routes_into_the_tunnel_any_more():
    net = _phase3_with_shortcut()
    mark = net.mark()
    _shut_lan(net, "spoke1", N("192.168.0.0/16"))  # the hub's summary withdrawn
    net.run(UNROUTED_GRACE_SECONDS + 2.0)
    assert net.nodes["spoke1"].shortcuts == {}
    assert net.since(mark, PacketType.PURGE_REQUEST) == []  # its own decision, nothing sent


def test_requester_keeps_a_shortcut_through_a_brief_gap_in_its_covering_route():
    """The summary moving from a dead hub to the other one: deleted, re-added a moment later."""
    net = _phase3_with_shortcut()
    table = net.nodes["spoke1"].table
    summary = next(row for row in table if row[0] == N("192.168.0.0/16"))
    table.remove(summary)
    net.run(UNROUTED_GRACE_SECONDS - 1.5)
    table.append(summary)
    net.run(UNROUTED_GRACE_SECONDS + 2.0)
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}


def test_requester_keeps_a_shortcut_a_default_route_via_the_hub_still_covers():
    net = _phase3_with_shortcut()
    net.nodes["spoke1"].table.append((N("0.0.0.0/0"), HUB_TUNNEL, True))
    _shut_lan(net, "spoke1", N("192.168.0.0/16"))
    net.run(5.0)
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}


def test_requester_drops_a_shortcut_whose_covering_route_leaves_the_tunnel():
    net = _phase3_with_shortcut()
    _shut_lan(net, "spoke1", N("192.168.0.0/16"))
    net.nodes["spoke1"].table.append((N("0.0.0.0/0"), A("100.64.1.2"), False))  # default via the WAN
    net.run(UNROUTED_GRACE_SECONDS + 2.0)
    assert net.nodes["spoke1"].shortcuts == {}


# Next-hop override: the spokes learn each LAN via the hub (OSPF point-to-multipoint, EIGRP
# without a summary), so the shortcut's prefix is exactly a route the table already has.


def _override_lab() -> Net:
    net = Net()
    net.add("hub", hub_config(redirect=True), hub_table(2), {lan(0)[1]})
    for i in (1, 2):
        table = [(TUNNEL, None, True), (lan(i), None, False)]
        table += [(lan(j), HUB_TUNNEL, True) for j in (0, 1, 2) if j != i]
        net.add(f"spoke{i}", spoke_config(i, shortcut=True), table, {lan(i)[1]})
    return net


def test_a_shortcut_for_a_prefix_routed_via_the_hub_overrides_its_next_hop_and_gives_it_back():
    net = _override_lab()
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    spoke1 = net.nodes["spoke1"]
    assert spoke1.shortcuts == {lan(2): SPOKE2}
    assert spoke1.shadowed == {lan(2): (lan(2), HUB_TUNNEL, True)}
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]
    spoke1.engine.mark_override(lan(2), True)
    assert spoke1.engine.cache.get(lan(2)).flags >= {"router", "rib", "nho"}
    spoke1.engine.clear(None, net.now)
    net.flush()
    assert spoke1.shortcuts == {} and (lan(2), HUB_TUNNEL, True) in spoke1.table
    assert net.ping("spoke1", lan_host(1), lan_host(2))[:2] == ["spoke1", "hub"]


def test_override_mark_survives_a_refresh_of_the_shortcut():
    net = _override_lab()
    net.ping("spoke1", lan_host(1), lan_host(2))
    engine = net.nodes["spoke1"].engine
    engine.mark_override(lan(2), True)
    engine._resolve(lan(2).network_address, net.now, for_shortcut=True)
    net.flush()
    assert "nho" in engine.cache.get(lan(2)).flags
    engine.mark_override(lan(2), False)
    assert "nho" not in engine.cache.get(lan(2)).flags


def test_override_shortcut_goes_when_the_protocol_withdraws_the_prefix_and_nothing_covers_it():
    net = _override_lab()
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"]
    spoke1.shadowed.pop(lan(2))  # the routing protocol withdrew 192.168.2.0/24
    net.run(UNROUTED_GRACE_SECONDS + 2.0)
    assert spoke1.shortcuts == {}
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1"]  # no route: not sent at all


def test_mark_override_ignores_what_is_not_a_shortcut():
    net = dmvpn(2, phase=3)
    engine = net.nodes["spoke1"].engine
    engine.mark_override(N(f"{HUB_TUNNEL}/32"), True)
    engine.mark_override(lan(9), True)
    assert "nho" not in engine.cache.peer(HUB_TUNNEL).flags


def test_purge_from_the_owner_leaves_other_spokes_shortcuts_alone():
    net = dmvpn(3, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    net.ping("spoke1", lan_host(1), lan_host(3))
    assert set(net.nodes["spoke1"].shortcuts) == {lan(2), lan(3)}
    _shut_lan(net, "spoke2", lan(2))
    net.run(2.0)
    assert net.nodes["spoke1"].shortcuts == {lan(3): A("10.0.0.4")}
    assert net.nodes["hub"].engine.cache.peer(SPOKE1) is not None  # registrations untouched
    assert HUB_NBMA in net.nodes["spoke1"].engine.multicast_targets()
