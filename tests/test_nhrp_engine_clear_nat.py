"""The NHRP engine forgets what it must: purge, clear, an NBMA change; and spokes behind NAT.

Engines run in the in-memory network of tests/nhrp_sim.py (fake clock, fake routing
tables). Where a Cisco capture shows the same exchange, the packets our engines put on
the wire are compared with it: byte for byte when the lab uses the capture's addresses,
field by field ("shape", addresses aside) in the project's address plan.
A NATed spoke's lab (nhrp_engine_kit._natted_lab) is shared with test_nhrp_hostile.py.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.cache import EntryType
from dmvpnlab.nhrp.codec import Cie, ExtensionType, PacketType, decode, encode
from dmvpnlab.nhrp.events import ShortcutRemoved
from nhrp_engine_kit import A, INTERVAL, N, SPOKE1, SPOKE1_NBMA, SPOKE2, SPOKE2_NBMA, _natted_lab, _registered
from nhrp_sim import AUTH, HUB_NBMA, HUB_TUNNEL, dmvpn, lan, lan_host


# =====================================================================================
# Purge, clear, NBMA change
# =====================================================================================


def _purge(target: IPv4Address, want_reply: bool) -> bytes:
    hub = messages.Identity(HUB_NBMA, HUB_TUNNEL, 300, auth=AUTH)
    return encode(messages.purge_request(hub, SPOKE1, [Cie(prefix_len=32, nbma=None, proto=target)], 77, want_reply))


def test_purge_request_removes_the_entry_and_its_shortcuts_and_is_answered():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"]
    spoke1.engine.receive(_purge(SPOKE2, want_reply=True), HUB_NBMA, net.now)
    assert spoke1.engine.cache.peer(SPOKE2) is None
    assert spoke1.engine.cache.get(lan(2)) is None
    [(nbma, data)] = spoke1.engine.outbox
    assert nbma == HUB_NBMA and decode(data).type == PacketType.PURGE_REPLY and decode(data).request_id == 77
    net.flush()
    assert spoke1.shortcuts == {}
    assert ShortcutRemoved(lan(2), SPOKE2) in spoke1.events


def test_purge_request_with_the_n_flag_is_not_answered():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    spoke1.receive(_purge(SPOKE2, want_reply=False), HUB_NBMA, net.now)
    assert spoke1.cache.peer(SPOKE2) is None
    assert spoke1.outbox == []


def test_purge_request_keeps_static_entries():
    net = dmvpn(1)
    spoke1 = net.nodes["spoke1"].engine
    spoke1.receive(_purge(HUB_TUNNEL, want_reply=False), HUB_NBMA, net.now)
    assert spoke1.cache.peer(HUB_TUNNEL).type is EntryType.STATIC


def test_clear_removes_dynamic_entries_and_their_shortcuts_and_keeps_static_ones():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"]
    assert spoke1.engine.clear(SPOKE2, net.now) == 2  # the peer /32 and the shortcut
    net.flush()
    assert spoke1.shortcuts == {}
    assert spoke1.engine.cache.peer(HUB_TUNNEL).type is EntryType.STATIC
    assert [e.prefix for e in spoke1.engine.cache] == [N("10.0.0.1/32")]
    assert net.ping("spoke1", lan_host(1), lan_host(2))[:2] == ["spoke1", "hub"]


def test_clear_everything_keeps_static_entries():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    spoke1.clear(None, net.now)
    assert [(e.prefix, e.type) for e in spoke1.cache] == [(N("10.0.0.1/32"), EntryType.STATIC)]


def test_clear_on_the_hub_removes_the_registration_and_its_multicast_target():
    net = dmvpn(2)
    hub = net.nodes["hub"].engine
    assert hub.clear(SPOKE1, net.now) == 1
    assert hub.cache.peer(SPOKE1) is None
    assert hub.multicast_targets() == [SPOKE2_NBMA]
    net.run(INTERVAL)
    assert _registered(net, "spoke1")


def test_nbma_change_re_registers_at_once_with_the_new_nbma_and_the_hub_takes_it():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    net.run(10)
    spoke1 = net.nodes["spoke1"]
    new = A("100.64.99.1")
    mark = net.mark()
    spoke1.nbma = new
    spoke1.engine.nbma_changed(new, net.now)
    net.flush()
    [request] = net.since(mark, PacketType.REGISTRATION_REQUEST, src="spoke1")
    assert request.packet.src_nbma == new and request.src_nbma == new
    sent = net.since(mark, src="spoke1")
    purges = [w for w in sent if w.packet.type == PacketType.PURGE_REQUEST]
    assert sent.index(request) > max(sent.index(w) for w in purges)  # stale bindings go first
    assert sorted(w.dst for w in purges) == ["hub", "spoke2"]
    assert all(w.packet.flags == 0x8000 and w.packet.cies[0].proto == SPOKE1 for w in purges)
    assert spoke1.engine.cache.peer(SPOKE2) is None  # what peers taught us about the old address is gone
    hub = net.nodes["hub"].engine
    assert hub.cache.peer(SPOKE1).nbma == new
    assert hub.multicast_targets() == sorted([new, SPOKE2_NBMA])
    assert spoke1.engine.nhs[0].state == "R"
    # the peer that resolved us forgets the old address instead of sending into the void
    assert net.nodes["spoke2"].engine.cache.peer(SPOKE1) is None
    assert net.ping("spoke2", lan_host(2), lan_host(1)) == ["spoke2", "hub", "spoke1"]
    assert net.ping("spoke2", lan_host(2), lan_host(1)) == ["spoke2", "spoke1"]


# =====================================================================================
# Spokes behind NAT
# =====================================================================================


def test_hub_registers_a_natted_spoke_at_the_address_it_saw_and_keeps_the_claimed_one():
    net = _natted_lab()
    entry = net.nodes["hub"].engine.cache.peer(SPOKE1)
    assert (entry.nbma, entry.claimed_nbma) == (SPOKE1_NBMA, A("172.16.1.1"))
    assert "nat" in entry.flags
    [reply] = net.since(0, PacketType.REGISTRATION_REPLY, dst="spoke1")
    assert reply.dst_nbma == SPOKE1_NBMA
    assert SPOKE1_NBMA in [c.nbma for c in reply.packet.extension(ExtensionType.CISCO_NAT).cies()]


def test_owner_answers_a_natted_requester_through_the_hub_and_learns_its_public_address():
    # The requester's NAT has no mapping for the owner yet: a reply sent straight to it
    # would be dropped, so it goes back along the request's path.
    net = _natted_lab()
    mark = net.mark()
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    to_hub, to_requester = net.since(mark, PacketType.RESOLUTION_REPLY)
    assert (to_hub.src, to_hub.dst) == ("spoke2", "hub")
    assert (to_requester.src, to_requester.dst_nbma) == ("hub", SPOKE1_NBMA)
    assert to_requester.packet.hop_count == to_hub.packet.hop_count - 1
    assert net.nodes["spoke2"].engine.cache.peer(SPOKE1).nbma == SPOKE1_NBMA
    assert net.nodes["spoke1"].engine.cache.peer(SPOKE2).nbma == SPOKE2_NBMA
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]
