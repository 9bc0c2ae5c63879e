"""The NHRP engine resolves like Cisco: Phase 2 through the hub, Phase 3 redirect and shortcut.

Engines run in the in-memory network of tests/nhrp_sim.py (fake clock, fake routing
tables). Where a Cisco capture shows the same exchange, the packets our engines put on
the wire are compared with it: byte for byte when the lab uses the capture's addresses,
field by field ("shape", addresses aside) in the project's address plan.
Registration: test_nhrp_engine_registration.py.
"""

from __future__ import annotations

from dmvpnlab.nhrp.cache import EntryType
from dmvpnlab.nhrp.codec import ExtensionType, PacketType, decode
from dmvpnlab.nhrp.engine import Decision
from dmvpnlab.nhrp.events import ShortcutAdded, ShortcutRemoved
from nhrp_engine_kit import (
    A,
    N,
    SPOKE1,
    SPOKE1_NBMA,
    SPOKE2,
    SPOKE2_NBMA,
    _cisco,
    _ext_codes,
    _with_request_id,
    cisco_lab,
    shape,
)
from nhrp_sim import HUB_NBMA, HUB_TUNNEL, Net, dmvpn, ip_packet, lan, lan_host, spoke_config


# =====================================================================================
# Phase 2: resolution through the hub, reply direct
# =====================================================================================


def test_a_miss_goes_via_the_nhs_and_sends_one_resolution_request_not_one_per_packet():
    net = dmvpn(2)
    net.down.add("hub")  # no answer: the request stays in flight
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    decisions = [spoke1.next_hop_nbma(SPOKE2, net.now) for _ in range(10)]
    net.flush()
    assert decisions == [Decision(HUB_NBMA, False)] * 10
    [request] = net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")
    assert request.dst_nbma == HUB_NBMA and request.packet.dst_proto == SPOKE2
    assert spoke1.cache.peer(SPOKE2).type is EntryType.INCOMPLETE


def test_phase2_exchange_in_the_captures_lab_is_byte_identical_to_cisco():
    cisco_request, cisco_forwarded, cisco_reply = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    net = cisco_lab(2)
    mark = net.mark()
    net.nodes["spoke1"].engine.next_hop_nbma(A("172.16.123.3"), net.now)
    net.flush()
    request, forwarded, reply = net.since(mark)
    assert [(w.src, w.dst) for w in (request, forwarded, reply)] == [("spoke1", "hub"), ("hub", "spoke2"), ("spoke2", "spoke1")]
    cisco_id = decode(cisco_request).request_id
    assert _with_request_id(request.data, cisco_id) == cisco_request
    assert _with_request_id(forwarded.data, cisco_id) == cisco_forwarded
    assert _with_request_id(reply.data, cisco_id) == cisco_reply


def _spoke1_resolves_spoke2_as_in_the_capture() -> tuple[Net, int]:
    """The capture's holdtimes; spoke1 sends to spoke2 once and everything is delivered."""
    net = dmvpn(2, hub={"holdtime": 7200}, spoke={"holdtime": 7200})
    mark = net.mark()
    net.nodes["spoke1"].engine.next_hop_nbma(SPOKE2, net.now)
    net.flush()
    return net, mark


def test_hub_forwards_the_resolution_request_to_the_owner_with_hop_count_254_and_itself_in_forward_transit():
    _, cisco_forwarded, _ = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    net, mark = _spoke1_resolves_spoke2_as_in_the_capture()
    [forwarded] = net.since(mark, PacketType.RESOLUTION_REQUEST, src="hub")
    assert (forwarded.dst, forwarded.dst_nbma) == ("spoke2", SPOKE2_NBMA)
    assert shape(forwarded.packet) == shape(decode(cisco_forwarded))
    assert forwarded.packet.hop_count == 254
    [transit] = forwarded.packet.extension(ExtensionType.FORWARD_TRANSIT_NHS).cies()
    assert (transit.nbma, transit.proto) == (HUB_NBMA, HUB_TUNNEL)
    assert (forwarded.packet.src_nbma, forwarded.packet.src_proto) == (SPOKE1_NBMA, SPOKE1)


def test_owner_replies_directly_to_the_requester_with_flags_f802_and_the_responder_extension():
    _, _, cisco_reply = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    net, mark = _spoke1_resolves_spoke2_as_in_the_capture()
    [reply] = net.since(mark, PacketType.RESOLUTION_REPLY)
    assert (reply.src, reply.dst, reply.dst_nbma) == ("spoke2", "spoke1", SPOKE1_NBMA)
    assert shape(reply.packet) == shape(decode(cisco_reply))
    assert reply.packet.flags == 0xF802
    [responder] = reply.packet.extension(ExtensionType.RESPONDER_ADDRESS).cies()
    [cie] = reply.packet.cies
    assert (responder.nbma, responder.proto) == (cie.nbma, cie.proto) == (SPOKE2_NBMA, SPOKE2)


def test_after_the_reply_the_next_packet_goes_direct_to_the_spoke():
    net = dmvpn(2)
    spoke1 = net.nodes["spoke1"].engine
    assert spoke1.next_hop_nbma(SPOKE2, net.now) == Decision(HUB_NBMA, False)
    net.flush()
    assert spoke1.next_hop_nbma(SPOKE2, net.now) == Decision(SPOKE2_NBMA, True)
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]


def test_first_packet_crosses_the_hub_then_packets_go_spoke_to_spoke():
    net = dmvpn(2)
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]


def test_owner_learns_the_requester_from_the_request():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    mark = net.mark()
    assert net.nodes["spoke2"].engine.next_hop_nbma(SPOKE1, net.now) == Decision(SPOKE1_NBMA, True)
    assert net.ping("spoke2", lan_host(2), lan_host(1)) == ["spoke2", "spoke1"]
    assert net.since(mark, PacketType.RESOLUTION_REQUEST) == []


def test_resolved_entry_expires_by_the_holdtime_in_the_reply():
    net = dmvpn(2)
    net.nodes["spoke2"].engine.reconfigure(spoke_config(2, holdtime=60), net.now)
    net.ping("spoke1", lan_host(1), lan_host(2))
    entry = net.nodes["spoke1"].engine.cache.peer(SPOKE2)
    assert entry.holdtime == 60 and entry.expires == net.now + 60
    net.run(59)
    assert net.nodes["spoke1"].engine.cache.peer(SPOKE2) is not None
    net.run(1)
    assert net.nodes["spoke1"].engine.cache.peer(SPOKE2) is None
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]


def test_used_entry_is_refreshed_with_a_new_resolution_request_before_it_expires():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    mark = net.mark()
    paths = []
    net.run(700, step=5, every=lambda: paths.append(net.ping("spoke1", lan_host(1), lan_host(2))))
    refreshes = net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")
    assert len(refreshes) >= 2
    assert all(w.dst == "hub" for w in refreshes)  # resolved along the routed path, like the first time
    assert all(path == ["spoke1", "spoke2"] for path in paths)


def test_traffic_reported_by_the_fast_path_keeps_the_entry_refreshed():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    # The agent's fast path sends without asking NHRP and reports use once per tick.
    net.run(700, step=5, every=lambda: spoke1.note_used(SPOKE2, net.now))
    assert len(net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")) >= 2
    assert spoke1.cache.peer(SPOKE2) is not None


def test_idle_entry_is_not_refreshed_and_expires():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    mark = net.mark()
    net.run(301)
    assert net.since(mark, PacketType.RESOLUTION_REQUEST) == []
    assert net.nodes["spoke1"].engine.cache.peer(SPOKE2) is None


def test_resolution_for_an_unregistered_address_is_answered_negative_and_not_repeated_per_packet():
    net = dmvpn(2)
    unknown = A("10.0.0.77")
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    spoke1.next_hop_nbma(unknown, net.now)
    net.flush()
    [nak] = net.since(mark, PacketType.RESOLUTION_REPLY, src="hub")
    assert [c.code for c in nak.packet.cies] == [12]
    assert spoke1.cache.peer(unknown).type is EntryType.NEGATIVE
    for _ in range(10):
        assert spoke1.next_hop_nbma(unknown, net.now) == Decision(HUB_NBMA, False)
    net.flush()
    assert len(net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")) == 1


def test_unanswered_resolution_is_retransmitted_then_tried_again_after_the_timeout():
    net = dmvpn(2)
    net.down.add("spoke2")
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    spoke1.next_hop_nbma(SPOKE2, net.now)
    net.run(3)
    spoke1.next_hop_nbma(SPOKE2, net.now)  # still in flight: no new request
    net.run(3)
    spoke1.next_hop_nbma(SPOKE2, net.now)  # given up after 5 s: a new one
    net.flush()
    requests = net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")
    # the first, its retransmissions 1 s and 3 s later (same request id), then a new request
    ids = [r.packet.request_id for r in requests]
    assert len(ids) == 4 and ids[0] == ids[1] == ids[2] != ids[3]
    assert spoke1.retransmitted["resolution request"] == 2


def test_a_resolution_request_for_the_hub_does_not_downgrade_a_registration():
    net = dmvpn(1)
    hub = net.nodes["hub"].engine
    spoke1 = net.nodes["spoke1"].engine
    spoke1._resolve(HUB_TUNNEL, net.now, for_shortcut=False)
    net.flush()
    entry = hub.cache.peer(SPOKE1)
    assert {"registered", "unique"} <= entry.flags
    assert hub.multicast_targets() == [SPOKE1_NBMA]


# =====================================================================================
# Phase 3: redirect and shortcut
# =====================================================================================


def test_hairpin_sends_a_traffic_indication_to_the_source_nbma_shaped_like_cisco():
    cisco_indication = decode(_cisco("dmvpn-phase-3-traffic-indication.pcap")[0])
    net = dmvpn(2, phase=3)
    hub = net.nodes["hub"].engine
    triggering = ip_packet(lan_host(1), lan_host(2), b"\x08\x00\xf7\xff\x00\x01\x00\x02" + b"x" * 50)
    hub.hairpin(triggering, SPOKE1_NBMA, net.now)
    [(nbma, data)] = hub.outbox
    indication = decode(data)
    assert nbma == SPOKE1_NBMA
    assert shape(indication) == shape(cisco_indication)
    assert _ext_codes(indication) == [0x8004, 0x8005, 0x8007, 0x0009, 0x8000]
    assert (indication.src_nbma, indication.src_proto, indication.dst_proto) == (HUB_NBMA, HUB_TUNNEL, lan_host(1))
    assert indication.payload == triggering[:28]
    assert indication.traffic_code == 0


def test_traffic_indication_in_the_captures_lab_is_byte_identical_to_cisco():
    cisco_indication = _cisco("dmvpn-phase-3-traffic-indication.pcap")[0]
    net = cisco_lab(2)
    hub = net.nodes["hub"].engine
    hub.hairpin(decode(cisco_indication).payload + b"rest of the packet", A("192.168.123.2"), net.now)
    assert hub.outbox == [(A("192.168.123.2"), cisco_indication)]


def test_phase3_resolution_in_the_captures_lab_is_byte_identical_to_cisco():
    _, cisco_request, cisco_forwarded, cisco_reply = _cisco("dmvpn-phase-3-traffic-indication.pcap")
    net = cisco_lab(2)
    mark = net.mark()
    assert net.ping("spoke1", A("2.2.2.2"), A("3.3.3.3")) == ["spoke1", "hub", "spoke2"]
    indication, request, forwarded, reply = net.since(mark)
    assert indication.packet.type == PacketType.TRAFFIC_INDICATION
    cisco_id = decode(cisco_request).request_id
    assert _with_request_id(request.data, cisco_id) == cisco_request
    assert _with_request_id(forwarded.data, cisco_id) == cisco_forwarded
    assert _with_request_id(reply.data, cisco_id) == cisco_reply
    assert net.nodes["spoke1"].shortcuts == {N("3.3.3.3/32"): A("172.16.123.3")}
    assert net.ping("spoke1", A("2.2.2.2"), A("3.3.3.3")) == ["spoke1", "spoke2"]


def test_second_hairpin_of_the_same_flow_within_the_interval_sends_nothing():
    net = dmvpn(2, phase=3)
    hub = net.nodes["hub"].engine
    packet = ip_packet(lan_host(1), lan_host(2))
    hub.hairpin(packet, SPOKE1_NBMA, 10.0)
    hub.hairpin(packet, SPOKE1_NBMA, 11.0)
    assert len(hub.outbox) == 1
    hub.hairpin(ip_packet(lan_host(1), A("192.168.2.11")), SPOKE1_NBMA, 11.0)  # another flow
    assert len(hub.outbox) == 2
    hub.tick(13.0)
    hub.hairpin(packet, SPOKE1_NBMA, 13.0)
    assert len(hub.outbox) == 3


def test_hub_without_redirect_sends_no_traffic_indication():
    net = dmvpn(2, phase=3, hub={"redirect": False})
    mark = net.mark()
    for _ in range(3):
        assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    assert net.since(mark) == []


def test_spoke_with_shortcut_installs_the_owner_prefix_via_the_owner_tunnel_address():
    net = dmvpn(2, phase=3)
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    assert ShortcutAdded(lan(2), SPOKE2) in net.nodes["spoke1"].events
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]


def test_resolution_for_the_redirect_asks_for_the_inner_destination_through_the_hub():
    net = dmvpn(2, phase=3)
    mark = net.mark()
    net.ping("spoke1", lan_host(1), lan_host(2))
    [request] = net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")
    assert (request.dst, request.packet.dst_proto) == ("hub", lan_host(2))
    [reply] = net.since(mark, PacketType.RESOLUTION_REPLY)
    assert (reply.src, reply.dst) == ("spoke2", "spoke1")
    assert reply.packet.cies[0].prefix_len == 24


def test_spoke_without_shortcut_ignores_a_traffic_indication():
    net = dmvpn(2, phase=3, spoke={"shortcut": False})
    mark = net.mark()
    for _ in range(3):
        assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    assert [w.packet.type for w in net.since(mark)] == [PacketType.TRAFFIC_INDICATION]
    assert net.nodes["spoke1"].shortcuts == {}


def test_both_directions_get_shortcuts():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    assert net.ping("spoke2", lan_host(2), lan_host(1)) == ["spoke2", "hub", "spoke1"]
    assert net.nodes["spoke2"].shortcuts == {lan(1): SPOKE1}
    assert net.ping("spoke2", lan_host(2), lan_host(1)) == ["spoke2", "spoke1"]
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "spoke2"]


def test_idle_shortcut_expires_with_shortcut_removed_and_traffic_falls_back_to_the_hub():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    net.run(299)
    assert net.nodes["spoke1"].shortcuts == {lan(2): SPOKE2}
    net.run(1)
    assert ShortcutRemoved(lan(2), SPOKE2) in net.nodes["spoke1"].events
    assert net.nodes["spoke1"].shortcuts == {}
    assert net.ping("spoke1", lan_host(1), lan_host(2))[:2] == ["spoke1", "hub"]


def test_used_shortcut_is_refreshed_and_never_removed():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    paths = []
    net.run(1000, step=5, every=lambda: paths.append(net.ping("spoke1", lan_host(1), lan_host(2))))
    assert not any(isinstance(e, ShortcutRemoved) for e in net.nodes["spoke1"].events)
    assert all(path == ["spoke1", "spoke2"] for path in paths)


def test_shortcut_for_a_host_route_uses_the_owner_s_32():
    net = dmvpn(2, phase=3)
    loopback = A("192.168.22.1")
    net.nodes["spoke2"].local.add(loopback)
    net.nodes["hub"].table.append((N("192.168.22.1/32"), SPOKE2, True))
    net.ping("spoke1", lan_host(1), loopback)
    assert net.nodes["spoke1"].shortcuts == {N("192.168.22.1/32"): SPOKE2}
