"""The NHRP engine registers like a Cisco spoke (NHC) and holds registrations like a Cisco hub (NHS).

Engines run in the in-memory network of tests/nhrp_sim.py (fake clock, fake routing
tables). Where a Cisco capture shows the same exchange, the packets our engines put on
the wire are compared with it: byte for byte when the lab uses the capture's addresses,
field by field ("shape", addresses aside) in the project's address plan.
Resolution and redirect: test_nhrp_engine_resolution.py; purge, clear, NAT:
test_nhrp_engine_clear_nat.py.
"""

from __future__ import annotations

import random
from dataclasses import replace

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import Cie, ExtensionType, NhrpPacket, PacketType, decode, encode
from dmvpnlab.nhrp.config import NhsConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from nhrp_engine_kit import (
    A,
    INTERVAL,
    SPOKE1,
    SPOKE1_NBMA,
    SPOKE2_NBMA,
    _cisco,
    _ext_codes,
    _registered,
    _registration_times,
    cisco_lab,
    shape,
)
from nhrp_sim import (
    AUTH,
    HUB_NBMA,
    HUB_TUNNEL,
    dmvpn,
    hub_config,
    ip_packet,
    lan_host,
    nbma_address,
    spoke_config,
    spoke_table,
)


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


def test_a_registration_timeout_configured_live_applies_at_once_not_after_the_old_interval():
    import dataclasses

    net = dmvpn(1)  # holdtime 300: the next registration 100 s away
    net.run(10)
    engine = net.nodes["spoke1"].engine
    engine.reconfigure(dataclasses.replace(engine.config, registration_timeout=5), net.now)
    net.run(12)
    assert _registration_times(net, "spoke1") == [0.0, 15.0, 20.0]


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
