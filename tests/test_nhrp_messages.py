"""What we put in each NHRP message is what Cisco puts there: builders against the captures.

Each test rebuilds a packet of the Cisco IOS reference captures (cisco_captures.py finds
them) from the addresses of that lab (NBMA 192.168.123.0/24, tunnel 172.16.123.0/24,
password "DMVPN") and asserts the bytes are the capture's bytes, so any drift in a flag,
a CIE field or the extension order fails.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from cisco_captures import capture, nhrp_packets
from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import Cie, ExtensionType, NhrpPacket, PacketType, decode, encode

A = IPv4Address
HUB = messages.Identity(nbma=A("192.168.123.1"), proto=A("172.16.123.1"), holdtime=7200, auth=b"DMVPN")
SPOKE1 = messages.Identity(nbma=A("192.168.123.2"), proto=A("172.16.123.2"), holdtime=7200, auth=b"DMVPN")
SPOKE2 = messages.Identity(nbma=A("192.168.123.3"), proto=A("172.16.123.3"), holdtime=7200, auth=b"DMVPN")


def _cisco(name: str) -> list[bytes]:
    return [data for _, data in nhrp_packets(capture(name))]


def _ext_codes(packet: NhrpPacket) -> list[int]:
    return [int(e.type) | (0x8000 if e.compulsory else 0) for e in packet.extensions]


def test_registration_request_is_byte_identical_to_cisco_spoke():
    cisco_request, _ = _cisco("dmvpn-nhrp-registration.pcap")
    ours = messages.registration_request(SPOKE1, HUB.proto, HUB.nbma, request_id=1, unique=True)
    assert encode(ours) == cisco_request


def test_registration_request_without_unique_clears_only_the_unique_flag():
    ours = messages.registration_request(SPOKE1, HUB.proto, HUB.nbma, request_id=1, unique=False)
    assert ours.flags == 0x0002


def test_registration_reply_is_byte_identical_to_cisco_hub():
    cisco_request, cisco_reply = _cisco("dmvpn-nhrp-registration.pcap")
    ours = messages.registration_reply(HUB, decode(cisco_request), code=0, seen_nbma=A("192.168.123.2"))
    assert encode(ours) == cisco_reply


def test_registration_reply_behind_nat_adds_the_address_the_hub_saw():
    cisco_request, _ = _cisco("dmvpn-nhrp-registration.pcap")
    reply = messages.registration_reply(HUB, decode(cisco_request), code=0, seen_nbma=A("198.51.100.7"))
    nat = reply.extension(ExtensionType.CISCO_NAT).cies()
    assert nat[-1].nbma == A("198.51.100.7") and nat[-1].proto == A("172.16.123.2")


def test_refused_registration_reply_carries_the_code_in_the_cie():
    cisco_request, _ = _cisco("dmvpn-nhrp-registration.pcap")
    reply = messages.registration_reply(HUB, decode(cisco_request), code=14)
    assert [c.code for c in reply.cies] == [14]
    assert reply.request_id == 1


def test_resolution_request_is_byte_identical_to_cisco_spoke():
    cisco_request, _, _ = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    ours = messages.resolution_request(SPOKE1, A("172.16.123.3"), request_id=3)
    assert encode(ours) == cisco_request


def test_forwarded_resolution_request_is_byte_identical_to_cisco_hub():
    cisco_request, cisco_forwarded, _ = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    assert encode(messages.forwarded(HUB, decode(cisco_request))) == cisco_forwarded


def test_resolution_reply_is_byte_identical_to_cisco_owner():
    _, cisco_forwarded, cisco_reply = _cisco("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    ours = messages.resolution_reply(SPOKE2, decode(cisco_forwarded), prefix_len=32)
    assert encode(ours) == cisco_reply
    assert ours.flags == 0xF802


def test_traffic_indication_is_byte_identical_to_cisco_hub():
    cisco_indication = _cisco("dmvpn-phase-3-traffic-indication.pcap")[0]
    trigger = decode(cisco_indication).payload + b"more payload the hub does not copy"
    ours = messages.traffic_indication(HUB, trigger)
    assert encode(ours) == cisco_indication


def test_phase3_resolution_for_a_loopback_is_byte_identical_to_cisco():
    _, cisco_request, cisco_forwarded, cisco_reply = _cisco("dmvpn-phase-3-traffic-indication.pcap")
    assert encode(messages.resolution_request(SPOKE1, A("3.3.3.3"), request_id=5)) == cisco_request
    assert encode(messages.forwarded(HUB, decode(cisco_request))) == cisco_forwarded
    assert encode(messages.resolution_reply(SPOKE2, decode(cisco_forwarded), prefix_len=32)) == cisco_reply


def test_traffic_indication_copies_the_ip_header_and_eight_bytes_whatever_the_options():
    with_options = bytes([0x46]) + bytes(23) + b"12345678" + b"rest"
    with_options = with_options[:12] + A("192.168.1.10").packed + A("192.168.2.10").packed + with_options[20:]
    ours = messages.traffic_indication(HUB, with_options)
    assert ours.payload == with_options[:24 + 8]
    assert ours.dst_proto == A("192.168.1.10")


def test_without_authentication_the_extension_is_left_out():
    me = messages.Identity(nbma=A("192.168.123.2"), proto=A("172.16.123.2"), holdtime=7200)
    ours = messages.registration_request(me, HUB.proto, HUB.nbma, request_id=1, unique=True)
    assert _ext_codes(ours) == [0x8003, 0x8004, 0x8005, 0x0009, 0x8000]


@pytest.mark.parametrize("want_reply,flags", [(True, 0x0000), (False, 0x8000)])
def test_purge_request_sets_n_only_when_no_reply_is_wanted(want_reply, flags):
    cie = Cie(prefix_len=32, nbma=SPOKE1.nbma, proto=SPOKE1.proto)
    purge = messages.purge_request(SPOKE1, HUB.proto, [cie], request_id=9, want_reply=want_reply)
    assert purge.flags == flags
    assert decode(encode(purge)).cies == [cie]


def test_purge_reply_echoes_the_request_with_a_fresh_hop_count():
    cie = Cie(prefix_len=32, nbma=SPOKE1.nbma, proto=SPOKE1.proto)
    purge = messages.forwarded(HUB, messages.purge_request(SPOKE1, HUB.proto, [cie], request_id=9, want_reply=True))
    reply = messages.purge_reply(HUB, purge)
    assert (reply.type, reply.request_id, reply.cies, reply.hop_count) == (PacketType.PURGE_REPLY, 9, [cie], 255)


def test_error_indication_carries_no_extensions():
    error = messages.error_indication(HUB, b"offending bytes", 11, SPOKE1.proto)
    assert decode(encode(error)).extensions == []
