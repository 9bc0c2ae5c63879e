"""The NHRP engine under hostile packets: a refusal is a counted drop, never an exception.

Regressions of the "hostile input" issue and of what the engine fuzz targets found
(fuzz/targets/nhrp_engine.py). Each packet here is also in fuzz/corpus/<target>/ under
its builder's name (checked below), so every fuzz run replays it. What every test
asserts, in its own words: `receive` does not raise; the packet is counted in
`dropped` by reason; nothing in the cache changed; and, for a request, the RFC 2332
Error Indication went back (never for a reply, an indication or an Error Indication).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Callable

import pytest

from dmvpnlab.nhrp import inbound, messages
from dmvpnlab.nhrp.codec import (
    MAX_PACKET, Cie, ErrorCode, Extension, ExtensionType, NhrpPacket, PacketType, decode, encode,
)
from dmvpnlab.nhrp.engine import NhrpEngine
from nhrp_engine_kit import _natted_lab
from nhrp_sim import AUTH, HUB_NBMA, HUB_TUNNEL, Net, dmvpn, hub_config, lan_host, nbma_address, tunnel_address

A = IPv4Address
SPOKE1, SPOKE2 = tunnel_address(1), tunnel_address(2)
SPOKE1_NBMA, SPOKE2_NBMA = nbma_address(1), nbma_address(2)
ME1 = messages.Identity(SPOKE1_NBMA, SPOKE1, 300, auth=AUTH)
ME2 = messages.Identity(SPOKE2_NBMA, SPOKE2, 300, auth=AUTH)
CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"
REDIRECTED = lan_host(2)  # what spoke1 resolves after the hub's redirect (request id 2)

#: The issue's example: a Registration Request whose Cisco NAT extension holds 3 bytes.
ISSUE_EXAMPLE = bytes.fromhex(
    "000108000000000000ff004b2b4b0034010304000404800200000007644001010a0000020a0000010020000045fc012c000000"
    "ff8003000080040000800500000009000300000080000000")


def _with(packet: NhrpPacket, ext_type: int, payload: bytes, compulsory: bool = False) -> bytes:
    """`packet` with the payload of its first `ext_type` extension replaced (or one added before End)."""
    extensions = list(packet.extensions)
    for i, ext in enumerate(extensions):
        if ext.type == ext_type:
            extensions[i] = Extension(ext.type, ext.compulsory, payload)
            break
    else:
        extensions.insert(len(extensions) - 1, Extension(ext_type, compulsory, payload))
    return encode(replace(packet, extensions=extensions))


def _registration() -> NhrpPacket:
    return messages.registration_request(ME1, HUB_TUNNEL, HUB_NBMA, 7, True)


def _resolution(target: IPv4Address = lan_host(2), me: messages.Identity = ME1) -> NhrpPacket:
    return messages.resolution_request(me, target, 9)


# --- what a hub is sent ---------------------------------------------------------------

def registration_nat_extension_overruns() -> bytes:
    """Found by nhrp-engine-hub: a NAT CIE whose addresses run past the extension."""
    return _with(_registration(), ExtensionType.CISCO_NAT, Cie(nbma=HUB_NBMA, proto=HUB_TUNNEL).to_bytes()[:16])


def resolution_forward_transit_not_a_cie_list() -> bytes:
    """The issue's second case: a request the hub forwards, its Forward Transit record broken."""
    return _with(_resolution(), ExtensionType.FORWARD_TRANSIT_NHS, b"\x00\x00\x00")


def resolution_nat_extension_not_a_cie_list() -> bytes:
    return _with(_resolution(), ExtensionType.CISCO_NAT, b"\x01\x02\x03\x04\x05")


def registration_unknown_compulsory_extension() -> bytes:
    return _with(_registration(), 0x1234, b"future", compulsory=True)


def resolution_claims_broadcast_nbma() -> bytes:
    return encode(replace(_resolution(), src_nbma=A("255.255.255.255")))


def error_indication_for_the_hub() -> bytes:
    return encode(messages.error_indication(ME1, b"\x00" * 7, ErrorCode.PROTOCOL_ERROR, HUB_TUNNEL, 3))


def registration_grown_past_a_small_limit() -> bytes:
    """30 CIEs: the reply is over the fuzz targets' small transport limit (256 bytes)."""
    return encode(replace(_registration(), cies=_registration().cies * 30))


HUB_REGRESSIONS: dict[str, Callable[[], bytes]] = {
    "issue-75-byte-registration-nat-not-a-cie-list": lambda: ISSUE_EXAMPLE,
    "registration-nat-extension-overruns": registration_nat_extension_overruns,
    "resolution-forward-transit-not-a-cie-list": resolution_forward_transit_not_a_cie_list,
    "resolution-nat-extension-not-a-cie-list": resolution_nat_extension_not_a_cie_list,
    "registration-unknown-compulsory-extension": registration_unknown_compulsory_extension,
    "resolution-claims-broadcast-nbma": resolution_claims_broadcast_nbma,
    "error-indication-for-the-hub": error_indication_for_the_hub,
    "registration-grown-past-a-small-limit": registration_grown_past_a_small_limit,
}


# --- what a spoke is sent ---------------------------------------------------------------

def _reply(**changes) -> NhrpPacket:
    """spoke2's answer to spoke1's resolution of REDIRECTED (request id 2)."""
    request = messages.resolution_request(ME1, REDIRECTED, 2)
    return replace(messages.resolution_reply(ME2, request, 24), **changes)


def reply_for_another_target() -> bytes:
    return encode(_reply(dst_proto=A("192.168.77.1")))


def reply_claims_multicast_nbma() -> bytes:
    reply = _reply()
    return encode(replace(reply, cies=[replace(reply.cies[0], nbma=A("224.0.0.5"))]))


def reply_without_an_answer() -> bytes:
    return encode(_reply(cies=[]))


def registration_reply_nat_extension_not_a_cie_list() -> bytes:
    reply = messages.registration_reply(messages.Identity(HUB_NBMA, HUB_TUNNEL, 300, auth=AUTH), _registration(), 0)
    return _with(replace(reply, request_id=1), ExtensionType.CISCO_NAT, b"\xff" * 13)


def traffic_indication_unknown_compulsory_extension() -> bytes:
    hub = messages.Identity(HUB_NBMA, HUB_TUNNEL, 300, auth=AUTH)
    indication = messages.traffic_indication(hub, bytes.fromhex("450000540000400040010000c0a8010ac0a8020a") + bytes(8))
    return _with(indication, 0x2000, b"", compulsory=True)


SPOKE_REGRESSIONS: dict[str, Callable[[], bytes]] = {
    "reply-for-another-target": reply_for_another_target,
    "reply-claims-multicast-nbma": reply_claims_multicast_nbma,
    "reply-without-an-answer": reply_without_an_answer,
    "registration-reply-nat-extension-not-a-cie-list": registration_reply_nat_extension_not_a_cie_list,
    "traffic-indication-unknown-compulsory-extension": traffic_indication_unknown_compulsory_extension,
}


@pytest.mark.parametrize("target,name,build", [("nhrp-engine-hub", n, b) for n, b in HUB_REGRESSIONS.items()]
                         + [("nhrp-engine-spoke", n, b) for n, b in SPOKE_REGRESSIONS.items()])
def test_every_regression_is_in_the_fuzz_corpus(target, name, build):
    assert (CORPUS / target / f"{name}.bin").read_bytes() == build()


# --- helpers ----------------------------------------------------------------------------

def _state(engine: NhrpEngine) -> list[tuple]:
    return [tuple(frozenset(v) if isinstance(v, set) else v for v in vars(e).values()) for e in engine.cache]


def _refused(engine: NhrpEngine, data: bytes, outer: IPv4Address, reason: str, now: float = 1.0) -> list[NhrpPacket]:
    """Deliver `data`; assert it was refused for `reason` with the state untouched; what went out."""
    before, targets = _state(engine), engine.multicast_targets()
    engine.outbox.clear()
    engine.events.clear()
    engine.receive(data, outer, now)
    assert engine.dropped[reason] == 1, dict(engine.dropped)
    assert _state(engine) == before and engine.multicast_targets() == targets and engine.events == []
    sent = [decode(d) for _, d in engine.outbox]
    assert all(len(d) <= engine.max_packet for _, d in engine.outbox)
    return sent


def _registered_hub(**config) -> tuple[Net, NhrpEngine]:
    net = dmvpn(2, hub=config or None, spoke=config or None)
    hub = net.nodes["hub"].engine
    hub.events.clear()
    return net, hub


# --- the hub ------------------------------------------------------------------------------

def test_issue_example_registration_is_refused_not_registered_and_answered_with_an_error_indication():
    hub = NhrpEngine(hub_config(authentication=None), lambda _a: None, 0.0)
    [error] = _refused(hub, ISSUE_EXAMPLE, SPOKE1_NBMA, "malformed extension")
    assert hub.cache.peer(SPOKE1) is None and hub.multicast_targets() == []
    assert hub.outbox[0][0] == SPOKE1_NBMA
    assert error.type == PacketType.ERROR_INDICATION and error.error_code == ErrorCode.PROTOCOL_ERROR
    assert error.error_offset == 64  # the NAT extension's header in the packet in error
    assert (error.src_proto, error.dst_proto) == (HUB_TUNNEL, SPOKE1)
    assert error.payload == ISSUE_EXAMPLE and error.extensions == []


def test_registration_whose_nat_cie_overruns_is_refused():
    _, hub = _registered_hub()
    hub.clear(SPOKE1, 0.0)
    [error] = _refused(hub, registration_nat_extension_overruns(), SPOKE1_NBMA, "malformed extension")
    assert error.error_code == ErrorCode.PROTOCOL_ERROR and hub.cache.peer(SPOKE1) is None


def test_request_the_hub_forwards_with_a_broken_forward_transit_record_goes_no_further():
    net, hub = _registered_hub()
    [error] = _refused(hub, resolution_forward_transit_not_a_cie_list(), SPOKE1_NBMA, "malformed extension")
    assert hub.outbox[0][0] == SPOKE1_NBMA, "the error goes back where the request came from"
    assert error.error_code == ErrorCode.PROTOCOL_ERROR and error.dst_proto == SPOKE1
    assert decode(error.payload).request_id == 9


def test_request_with_a_broken_nat_extension_is_refused_by_the_hub_and_by_the_owner():
    net, hub = _registered_hub()
    _refused(hub, resolution_nat_extension_not_a_cie_list(), SPOKE1_NBMA, "malformed extension")
    owner = net.nodes["spoke2"].engine
    [error] = _refused(owner, resolution_nat_extension_not_a_cie_list(), HUB_NBMA, "malformed extension")
    assert owner.cache.peer(SPOKE1) is None, "the owner learns nothing from a request it refused"
    assert error.error_code == ErrorCode.PROTOCOL_ERROR


def test_unknown_compulsory_extension_is_refused_with_unrecognized_extension_and_a_plain_one_ignored():
    _, hub = _registered_hub()
    hub.clear(SPOKE1, 0.0)
    data = registration_unknown_compulsory_extension()
    [error] = _refused(hub, data, SPOKE1_NBMA, "unrecognized extension")
    assert error.error_code == ErrorCode.UNRECOGNIZED_EXTENSION
    assert data[error.error_offset:error.error_offset + 2] == (0x8000 | 0x1234).to_bytes(2, "big")
    hub.receive(_with(_registration(), 0x1234, b"future", compulsory=False), SPOKE1_NBMA, 2.0)
    assert hub.cache.peer(SPOKE1).nbma == SPOKE1_NBMA


def test_a_transit_hub_passes_an_unknown_compulsory_extension_on_and_the_owner_refuses_it():
    net = dmvpn(2)
    spoke1 = net.nodes["spoke1"].engine
    mark = net.mark()
    spoke1.outbox.append((HUB_NBMA, _with(_resolution(lan_host(2)), 0x1234, b"x", compulsory=True)))
    net.flush()
    forwarded, error, relayed = net.since(mark)[1:]
    assert (forwarded.src, forwarded.dst, forwarded.packet.type) == ("hub", "spoke2", PacketType.RESOLUTION_REQUEST)
    assert any(e.type == 0x1234 for e in forwarded.packet.extensions)
    assert (error.src, error.dst, error.packet.error_code) == ("spoke2", "hub", ErrorCode.UNRECOGNIZED_EXTENSION)
    assert (relayed.src, relayed.dst, relayed.packet.type) == ("hub", "spoke1", PacketType.ERROR_INDICATION)
    assert net.nodes["spoke2"].engine.cache.peer(SPOKE1) is None


def test_a_request_claiming_a_broadcast_nbma_is_refused_and_never_answered_there():
    net, hub = _registered_hub()
    assert _refused(net.nodes["spoke2"].engine, resolution_claims_broadcast_nbma(), HUB_NBMA,
                    "bad nbma address") == []


def test_an_error_indication_is_never_answered():
    _, hub = _registered_hub()
    hub.receive(error_indication_for_the_hub(), SPOKE1_NBMA, 1.0)
    hub.receive(error_indication_for_the_hub()[:-3], SPOKE1_NBMA, 1.0)  # malformed too
    assert hub.outbox == [] and hub.received["Error Indication"] == 1 and hub.dropped["malformed"] == 1


def _near_maximum(packet: NhrpPacket, size: int) -> bytes:
    """`packet` with as many CIEs as make it `size` bytes (or just under)."""
    base = len(encode(replace(packet, cies=[])))
    one = len(packet.cies[0].to_bytes())
    data = encode(replace(packet, cies=packet.cies[:1] * ((size - base) // one)))
    assert size - one < len(data) <= size
    return data


def test_a_near_maximum_registration_is_refused_with_sdu_size_exceeded_and_not_registered():
    _, hub = _registered_hub()
    hub.clear(SPOKE1, 0.0)
    data = _near_maximum(_registration(), MAX_PACKET)
    [error] = _refused(hub, data, SPOKE1_NBMA, "too large")
    assert error.error_code == ErrorCode.SDU_SIZE_EXCEEDED and hub.cache.peer(SPOKE1) is None
    assert error.payload == data[:inbound.ERROR_QUOTE]


def test_the_largest_registration_whose_reply_fits_is_registered():
    _, hub = _registered_hub()
    hub.clear(SPOKE1, 0.0)
    reply_growth = len(encode(messages.registration_reply(hub.me, _registration(), 0, SPOKE1_NBMA))) - len(
        encode(_registration()))
    hub.receive(_near_maximum(_registration(), inbound.MAX_SEND - reply_growth), SPOKE1_NBMA, 1.0)
    assert hub.cache.peer(SPOKE1) is not None and max(len(d) for _, d in hub.outbox) <= inbound.MAX_SEND


def test_the_hub_refuses_to_forward_a_request_from_behind_nat_that_forwarding_would_grow_too_large():
    net = _natted_lab()  # spoke1 at 172.16.1.1 behind a NAT whose outside is SPOKE1_NBMA
    hub = net.nodes["hub"].engine
    hub.events.clear()
    me = messages.Identity(A("172.16.1.1"), SPOKE1, 300, auth=AUTH)
    data = _near_maximum(_resolution(lan_host(2), me), inbound.MAX_SEND - 30)  # transit + NAT CIEs add 40
    [error] = _refused(hub, data, SPOKE1_NBMA, "too large")
    assert hub.outbox[0][0] == SPOKE1_NBMA and error.error_code == ErrorCode.SDU_SIZE_EXCEEDED


def test_a_purge_whose_reply_would_not_fit_removes_nothing():
    net = dmvpn(2)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    hub = messages.Identity(HUB_NBMA, HUB_TUNNEL, 300, auth=AUTH)
    purge = messages.purge_request(hub, SPOKE1, [Cie(prefix_len=32, proto=SPOKE2)], 77, want_reply=True)
    spoke1.max_packet = len(encode(purge)) - 1  # a transport that cannot carry the reply
    [error] = _refused(spoke1, encode(purge), HUB_NBMA, "too large", net.now)
    assert spoke1.cache.peer(SPOKE2) is not None and error.error_code == ErrorCode.SDU_SIZE_EXCEEDED


def test_an_error_indication_quotes_no_more_than_fits():
    long = bytes(10) + (2000).to_bytes(2, "big") + bytes(1988)  # ar$pktsz says 2000
    assert len(inbound.quote(long, 65507)) == inbound.ERROR_QUOTE
    assert len(inbound.quote(long, 100)) == 100 - inbound.ERROR_OVERHEAD
    padded = ISSUE_EXAMPLE + b"link padding"
    assert inbound.quote(padded, 65507) == ISSUE_EXAMPLE


# --- a spoke ------------------------------------------------------------------------------

def _resolving_spoke() -> tuple[Net, NhrpEngine]:
    """spoke1 resolving REDIRECTED after the hub's redirect; the owner, spoke2, not answering."""
    net = dmvpn(2, phase=3)
    net.down.add("spoke2")
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    assert [(p.request_id, p.target) for p in spoke1._pending.values()] == [(2, REDIRECTED)]
    spoke1.events.clear()
    return net, spoke1


@pytest.mark.parametrize("build,reason", [
    (reply_for_another_target, "unexpected reply"),
    (reply_without_an_answer, "unexpected reply"),
    (reply_claims_multicast_nbma, "bad nbma address"),
])
def test_a_bad_reply_is_refused_and_the_request_stays_open(build, reason):
    net, spoke1 = _resolving_spoke()
    assert _refused(spoke1, build(), SPOKE2_NBMA, reason, net.now) == [], "a reply is never answered"
    assert 2 in spoke1._pending
    spoke1.receive(encode(_reply()), SPOKE2_NBMA, net.now)  # the real answer still completes it
    assert spoke1.cache.get(IPv4Network("192.168.2.0/24")).next_hop == SPOKE2


def test_a_registration_reply_with_a_broken_nat_extension_is_refused():
    net = dmvpn(1)
    spoke1 = net.nodes["spoke1"].engine
    assert _refused(spoke1, registration_reply_nat_extension_not_a_cie_list(), HUB_NBMA, "malformed extension",
                    net.now) == []


def test_a_traffic_indication_with_an_unknown_compulsory_extension_starts_no_resolution():
    net = dmvpn(2, phase=3)
    spoke1 = net.nodes["spoke1"].engine
    assert _refused(spoke1, traffic_indication_unknown_compulsory_extension(), HUB_NBMA, "unrecognized extension",
                    net.now) == []
    assert spoke1._pending == {}
