"""The NHRP engine behaves like a Cisco DMVPN router: registration, NHS, Phase 2, Phase 3.

Engines run in the in-memory network of tests/nhrp_sim.py (fake clock, fake routing
tables). Where a Cisco capture shows the same exchange, the packets our engines put on
the wire are compared with it: byte for byte when the lab uses the capture's addresses,
field by field ("shape", addresses aside) in the project's address plan.
"""

from __future__ import annotations

import random
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network


from cisco_captures import capture, nhrp_packets
from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.cache import EntryType
from dmvpnlab.nhrp.codec import Cie, ExtensionType, NhrpPacket, PacketType, decode, encode
from dmvpnlab.nhrp.config import NhrpEngineConfig, NhsConfig
from dmvpnlab.nhrp.engine import Decision, NhrpEngine
from dmvpnlab.nhrp.events import ShortcutAdded, ShortcutRemoved
from nhrp_sim import (
    AUTH,
    HUB_NBMA,
    HUB_TUNNEL,
    Net,
    dmvpn,
    hub_config,
    hub_table,
    ip_packet,
    lan,
    lan_host,
    nbma_address,
    spoke_config,
    spoke_table,
    tunnel_address,
)

A = IPv4Address
N = IPv4Network
SPOKE1, SPOKE2 = tunnel_address(1), tunnel_address(2)
SPOKE1_NBMA, SPOKE2_NBMA = nbma_address(1), nbma_address(2)
INTERVAL = 100.0  # holdtime 300 / 3


def _cisco(name: str) -> list[bytes]:
    return [data for _, data in nhrp_packets(capture(name))]


def _ext_codes(packet: NhrpPacket) -> list[int]:
    return [int(e.type) | (0x8000 if e.compulsory else 0) for e in packet.extensions]


def _cie_shape(cie: Cie) -> tuple:
    return (cie.code, cie.prefix_len, cie.mtu, cie.holdtime, cie.preference, cie.nbma is None, cie.proto is None)


def shape(packet: NhrpPacket) -> dict:
    """Everything Cisco decides about a packet except the addresses (and the request ID)."""
    extensions = []
    for ext in packet.extensions:
        code = int(ext.type) | (0x8000 if ext.compulsory else 0)
        if ext.type in (ExtensionType.RESPONDER_ADDRESS, ExtensionType.FORWARD_TRANSIT_NHS,
                        ExtensionType.REVERSE_TRANSIT_NHS, ExtensionType.CISCO_NAT):
            extensions.append((code, [_cie_shape(c) for c in ext.cies()]))
        else:
            extensions.append((code, ext.payload))
    return {
        "type": packet.type, "hop_count": packet.hop_count, "flags": packet.flags,
        "traffic_code": packet.traffic_code, "cies": [_cie_shape(c) for c in packet.cies],
        "extensions": extensions, "payload_len": len(packet.payload),
    }


def _with_request_id(data: bytes, request_id: int) -> bytes:
    packet = decode(data)
    packet.request_id = request_id
    return encode(packet)


def cisco_lab(spokes: int = 2) -> Net:
    """The capture's lab: NBMA 192.168.123.0/24, tunnel 172.16.123.0/24, holdtime 7200, "DMVPN"."""
    tunnel = N("172.16.123.0/24")
    hub_nbma, hub_proto = A("192.168.123.1"), A("172.16.123.1")
    net = Net()
    net.add("hub", NhrpEngineConfig("Tunnel0", IPv4Interface("172.16.123.1/24"), hub_nbma, holdtime=7200,
                              authentication=b"DMVPN", multicast_dynamic=True, redirect=True),
            [(tunnel, None, True)] + [(N(f"{i}.{i}.{i}.{i}/32"), A(f"172.16.123.{i}"), True) for i in range(2, spokes + 2)],
            {A("1.1.1.1")})
    for i in range(2, spokes + 2):
        net.add(f"spoke{i - 1}", NhrpEngineConfig("Tunnel0", IPv4Interface(f"172.16.123.{i}/24"), A(f"192.168.123.{i}"),
                                            holdtime=7200, authentication=b"DMVPN", shortcut=True,
                                            nhs=[NhsConfig(hub_proto, hub_nbma)]),
                [(tunnel, None, True), (N("0.0.0.0/0"), hub_proto, True)], {A(f"{i}.{i}.{i}.{i}")})
    return net


def _registered(net: Net, spoke: str) -> bool:
    node = net.nodes[spoke]
    entry = net.nodes["hub"].engine.cache.peer(node.config.tunnel_address.ip)
    return entry is not None and entry.nbma == node.public and "registered" in entry.flags


def _registration_times(net: Net, spoke: str, mark: int = 0) -> list[float]:
    return [w.time for w in net.since(mark, PacketType.REGISTRATION_REQUEST, src=spoke)]


# =====================================================================================
# Registration (NHC)
# =====================================================================================


def test_spoke_sends_a_registration_request_to_each_nhs_at_start():
    second_hub = NhsConfig(A("10.0.0.254"), A("203.0.113.5"))
    engine = NhrpEngine(spoke_config(1, nhs=[NhsConfig(HUB_TUNNEL, HUB_NBMA), second_hub]), lambda a: None, 0.0)
    engine.start(0.0)
    sent = [(nbma, decode(data)) for nbma, data in engine.outbox]
    assert [(nbma, p.type, p.dst_proto) for nbma, p in sent] == [
        (HUB_NBMA, PacketType.REGISTRATION_REQUEST, HUB_TUNNEL),
        (A("203.0.113.5"), PacketType.REGISTRATION_REQUEST, A("10.0.0.254")),
    ]


def test_registration_request_has_the_shape_of_the_cisco_request():
    cisco_request = decode(_cisco("dmvpn-nhrp-registration.pcap")[0])
    net = dmvpn(1, spoke={"holdtime": 7200})
    ours = net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")[0].packet
    assert shape(ours) == shape(cisco_request)
    assert ours.flags == 0x8002 and ours.hop_count == 255
    assert [(c.prefix_len, c.mtu, c.preference) for c in ours.cies] == [(32, 17916, 255)]
    assert _ext_codes(ours) == [0x8003, 0x8004, 0x8005, 0x8007, 0x0009, 0x8000]
    assert (ours.src_nbma, ours.src_proto, ours.dst_proto) == (SPOKE1_NBMA, SPOKE1, HUB_TUNNEL)
    [nat] = ours.extension(ExtensionType.CISCO_NAT).cies()
    assert (nat.nbma, nat.proto) == (HUB_NBMA, HUB_TUNNEL)


def test_registration_request_in_the_captures_lab_is_byte_identical_to_cisco():
    cisco_request, _ = _cisco("dmvpn-nhrp-registration.pcap")
    net = cisco_lab(1)
    assert net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")[0].data == cisco_request


def test_hub_answers_the_cisco_request_with_the_cisco_reply_byte_for_byte():
    cisco_request, cisco_reply = _cisco("dmvpn-nhrp-registration.pcap")
    net = cisco_lab(0)
    hub = net.nodes["hub"].engine
    hub.receive(cisco_request, A("192.168.123.2"), 0.0)
    assert hub.outbox == [(A("192.168.123.2"), cisco_reply)]


def test_hub_reply_has_the_shape_of_the_cisco_reply_with_itself_as_responder():
    cisco_reply = decode(_cisco("dmvpn-nhrp-registration.pcap")[1])
    net = dmvpn(1, hub={"holdtime": 7200}, spoke={"holdtime": 7200})
    ours = net.since(0, PacketType.REGISTRATION_REPLY, src="hub")[0].packet
    assert shape(ours) == shape(cisco_reply)
    [responder] = ours.extension(ExtensionType.RESPONDER_ADDRESS).cies()
    assert (responder.nbma, responder.proto) == (HUB_NBMA, HUB_TUNNEL)
    request = net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")[0].packet
    assert ours.extension(ExtensionType.CISCO_NAT) == request.extension(ExtensionType.CISCO_NAT)
    assert (ours.request_id, ours.src_proto, ours.src_nbma) == (request.request_id, SPOKE1, SPOKE1_NBMA)


def test_nhs_state_goes_waiting_then_expecting_then_responding():
    net = dmvpn(1, start=False)
    spoke = net.nodes["spoke1"].engine
    assert [s.state for s in spoke.nhs] == ["W"]
    net.down.add("hub")
    spoke.start(net.now)
    net.flush()
    assert [s.state for s in spoke.nhs] == ["E"]
    net.down.clear()
    net.run(1.0)
    assert [s.state for s in spoke.nhs] == ["R"]
    assert _registered(net, "spoke1")


def test_spoke_re_registers_every_third_of_the_holdtime():
    net = dmvpn(1)
    net.run(350)
    assert _registration_times(net, "spoke1") == [0.0, 100.0, 200.0, 300.0]


def test_registration_timeout_sets_the_re_registration_interval():
    net = dmvpn(1, spoke={"registration_timeout": 30})
    net.run(95)
    assert _registration_times(net, "spoke1") == [0.0, 30.0, 60.0, 90.0]


def test_unanswered_registration_is_retried_with_exponential_backoff_capped_at_the_interval():
    net = dmvpn(1, start=False)
    net.down.add("hub")
    net.nodes["spoke1"].engine.start(0.0)
    net.flush()
    net.run(400)
    times = _registration_times(net, "spoke1")
    assert times[:8] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0, 127.0]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) == 64.0  # REGISTRATION_RETRY_MAX (below the 100 s interval)
    assert net.nodes["spoke1"].engine.nhs[0].state == "E"


def test_unanswered_re_registration_is_retried_from_one_second():
    net = dmvpn(1)
    net.down.add("hub")
    net.run(120)
    assert _registration_times(net, "spoke1") == [0.0, 100.0, 101.0, 103.0, 107.0, 115.0]
    assert net.nodes["spoke1"].engine.nhs[0].state == "E"


def test_request_id_stays_the_same_across_re_registrations():
    net = dmvpn(1)
    net.down.add("hub")
    net.run(150)
    net.down.clear()
    net.run(300)
    ids = {w.packet.request_id for w in net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")}
    assert len(net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")) > 5
    assert len(ids) == 1


def test_restarted_hub_gets_every_spoke_back_within_one_registration_interval():
    net = dmvpn(3)
    net.run(42)
    net.restart("hub")
    assert not any(_registered(net, f"spoke{i}") for i in (1, 2, 3))
    net.run(INTERVAL)
    assert all(_registered(net, f"spoke{i}") for i in (1, 2, 3))
    assert sorted(net.nodes["hub"].engine.multicast_targets()) == sorted(nbma_address(i) for i in (1, 2, 3))


def test_a_refused_registration_leaves_the_nhs_expecting():
    net = dmvpn(1)
    impostor = net.add("impostor", spoke_config(1, nbma_address=A("100.64.9.1")), spoke_table(1, 1, 2))
    assert impostor.engine.nhs[0].state == "E"
    assert net.nodes["spoke1"].engine.nhs[0].state == "R"


# =====================================================================================
# Hub (NHS)
# =====================================================================================


def test_hub_keeps_a_registration_while_the_spoke_re_registers():
    net = dmvpn(1)
    net.run(1000)
    assert _registered(net, "spoke1")
    assert net.nodes["hub"].engine.multicast_targets() == [SPOKE1_NBMA]


def test_hub_removes_a_registration_and_its_multicast_target_when_the_holdtime_expires():
    net = dmvpn(2)
    net.run(50)
    del net.nodes["spoke1"]  # the spoke is gone: no more re-registrations
    net.run(249)
    assert net.nodes["hub"].engine.cache.peer(SPOKE1) is not None
    net.run(1)
    assert net.nodes["hub"].engine.cache.peer(SPOKE1) is None
    assert net.nodes["hub"].engine.multicast_targets() == [SPOKE2_NBMA]


def test_unique_registration_of_an_address_held_by_another_nbma_is_refused_with_code_14():
    net = dmvpn(1)
    mark = net.mark()
    net.add("impostor", spoke_config(1, nbma_address=A("100.64.9.1")), spoke_table(1, 1, 2))
    [reply] = net.since(mark, PacketType.REGISTRATION_REPLY, src="hub")
    assert reply.dst == "impostor"
    assert [c.code for c in reply.packet.cies] == [14]
    hub = net.nodes["hub"].engine
    assert hub.cache.peer(SPOKE1).nbma == SPOKE1_NBMA
    assert hub.multicast_targets() == [SPOKE1_NBMA]


def test_no_unique_registration_from_a_new_nbma_replaces_the_mapping():
    net = dmvpn(1, spoke={"unique": False})
    first = net.since(0, PacketType.REGISTRATION_REQUEST, src="spoke1")[0].packet
    assert first.flags == 0x0002
    mark = net.mark()
    net.add("moved", spoke_config(1, nbma_address=A("100.64.9.1"), unique=False), spoke_table(1, 1, 2))
    [reply] = net.since(mark, PacketType.REGISTRATION_REPLY, src="hub")
    assert [c.code for c in reply.packet.cies] == [0]
    hub = net.nodes["hub"].engine
    assert hub.cache.peer(SPOKE1).nbma == A("100.64.9.1")
    assert hub.multicast_targets() == [A("100.64.9.1")]


def test_wrong_authentication_is_dropped_counted_and_never_answered():
    net = dmvpn(0)
    mark = net.mark()
    net.add("spoke1", spoke_config(1, authentication=b"WRONG"), spoke_table(1, 1, 2))
    net.run(10)
    hub = net.nodes["hub"].engine
    assert hub.dropped["authentication"] == len(net.since(mark, src="spoke1")) >= 4
    assert net.since(mark, src="hub") == []
    assert hub.cache.peer(SPOKE1) is None
    assert net.nodes["spoke1"].engine.nhs[0].state == "E"


def test_missing_authentication_is_dropped_when_the_hub_requires_it():
    net = dmvpn(0)
    mark = net.mark()
    net.add("spoke1", spoke_config(1, authentication=None), spoke_table(1, 1, 2))
    assert net.nodes["hub"].engine.dropped["authentication"] == 1
    assert net.since(mark, src="hub") == []


def test_packet_with_hop_count_zero_is_dropped():
    hub = NhrpEngine(hub_config(), lambda a: None, 0.0)
    me = messages.Identity(nbma=SPOKE1_NBMA, proto=SPOKE1, holdtime=300, auth=AUTH)
    request = replace(messages.registration_request(me, HUB_TUNNEL, HUB_NBMA, 7, True), hop_count=0)
    hub.receive(encode(request), SPOKE1_NBMA, 0.0)
    assert hub.dropped["hop count 0"] == 1
    assert hub.outbox == [] and hub.cache.peer(SPOKE1) is None


def test_malformed_bytes_are_counted_and_never_raise():
    net = dmvpn(2, phase=3)
    valid = [w.data for w in net.wire]
    rng = random.Random(2332)
    samples = [b"", b"\x00", bytes(27)] + [rng.randbytes(rng.randrange(0, 200)) for _ in range(300)]
    for data in valid:  # truncations and bit flips of real packets (bad checksum)
        samples += [data[:rng.randrange(len(data))] for _ in range(20)]
        for _ in range(20):
            flipped = bytearray(data)
            flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            samples.append(bytes(flipped))
    hub = net.nodes["hub"].engine
    before = hub.dropped["malformed"]
    for data in samples:
        hub.receive(data, SPOKE1_NBMA, net.now)
    assert hub.dropped["malformed"] - before == len(samples)


def _mutations(packet: NhrpPacket, rng: random.Random) -> NhrpPacket:
    """A packet that still decodes (checksum fixed by encode) but says strange things."""
    choices = [
        lambda p: replace(p, src_proto=None),
        lambda p: replace(p, dst_proto=None),
        lambda p: replace(p, src_nbma=None),
        lambda p: replace(p, cies=[]),
        lambda p: replace(p, cies=[replace(c, prefix_len=rng.choice([0, 33, 64, 255])) for c in p.cies] or [Cie(prefix_len=99)]),
        lambda p: replace(p, cies=[replace(c, holdtime=0, nbma=None, proto=None) for c in p.cies]),
        lambda p: replace(p, cies=[Cie(code=rng.randrange(256), prefix_len=rng.randrange(256), holdtime=rng.randrange(65536),
                                       nbma=A(rng.getrandbits(32)), proto=A(rng.getrandbits(32)))] * rng.randrange(3)),
        lambda p: replace(p, flags=rng.getrandbits(16), request_id=rng.getrandbits(32)),
        lambda p: replace(p, payload=rng.randbytes(rng.randrange(40))),
        lambda p: replace(p, extensions=[e for e in p.extensions if e.type != ExtensionType.END][:rng.randrange(6)]),
        lambda p: replace(p, type=rng.randrange(1, 12)),
        lambda p: replace(p, hop_count=rng.randrange(1, 3)),
        lambda p: replace(p, src_proto=A(rng.getrandbits(32)), dst_proto=A(rng.getrandbits(32))),
    ]
    for _ in range(rng.randrange(1, 4)):
        packet = rng.choice(choices)(packet)
    return packet


def test_fuzzed_packets_that_decode_never_raise():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    net.nodes["hub"].engine.hairpin(ip_packet(lan_host(2), lan_host(1)), SPOKE2_NBMA, net.now)
    net.flush()
    originals = [w.packet for w in net.wire]
    purge = messages.purge_request(messages.Identity(SPOKE1_NBMA, SPOKE1, 300, auth=AUTH), HUB_TUNNEL,
                                   [Cie(nbma=SPOKE1_NBMA, proto=SPOKE1)], 9, True)
    originals.append(purge)
    rng = random.Random(4242)
    for _ in range(3000):
        mutated = _mutations(rng.choice(originals), rng)
        try:
            data = encode(mutated)
        except (ValueError, TypeError):
            continue
        for name in ("hub", "spoke1", "spoke2"):
            net.nodes[name].engine.receive(data, A(rng.getrandbits(32)), net.now)
        net.now += rng.random()
        for name in ("hub", "spoke1", "spoke2"):
            net.nodes[name].engine.tick(net.now)
            net.nodes[name].engine.outbox.clear()
            net.nodes[name].engine.events.clear()
    for engine in (n.engine for n in net.nodes.values()):
        for nbma, data in engine.outbox:
            decode(data)


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


def test_unanswered_resolution_is_tried_again_after_the_timeout():
    net = dmvpn(2)
    net.down.add("spoke2")
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    spoke1.next_hop_nbma(SPOKE2, net.now)
    net.run(3)
    spoke1.next_hop_nbma(SPOKE2, net.now)
    net.run(3)
    spoke1.next_hop_nbma(SPOKE2, net.now)
    net.flush()
    assert len(net.since(mark, PacketType.RESOLUTION_REQUEST, src="spoke1")) == 2


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


def _natted_lab() -> Net:
    """spoke1's WAN is 172.16.1.1 behind a NAT whose outside address is spoke1's normal NBMA."""
    net = Net()
    net.add("hub", hub_config(), hub_table(2), {lan(0)[1]})
    spoke1 = net.add("spoke1", spoke_config(1, nbma_address=A("172.16.1.1")), spoke_table(1, 2, 2), {lan(1)[1]},
                     start=False)
    spoke1.seen_nbma = SPOKE1_NBMA
    spoke1.engine.start(net.now)
    net.flush()
    net.add("spoke2", spoke_config(2), spoke_table(2, 2, 2), {lan(2)[1]})
    return net


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
