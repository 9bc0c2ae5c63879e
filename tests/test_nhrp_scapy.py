"""The scapy NHRP layer: bound to GRE 0x2001, fields for analysis, codec behind `.nhrp`."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import GRE, IP
from scapy.layers.l2 import Ether
from scapy.packet import Padding
from scapy.utils import rdpcap

from cisco_captures import capture
from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.scapy import NHRP


def test_cisco_registration_capture_dissects_as_nhrp_layer():
    frames = rdpcap(str(capture("dmvpn-nhrp-registration.pcap")))
    req = frames[0][NHRP]
    assert req.type == codec.PacketType.REGISTRATION_REQUEST
    assert (req.hop_count, req.flags, req.request_id) == (255, 0x8002, 1)
    assert (req.src_nbma, req.src_proto, req.dst_proto) == ("192.168.123.2", "172.16.123.2", "172.16.123.1")
    assert req.checksum_ok
    assert req.nhrp.auth_password() == b"DMVPN"
    assert req.nhrp.cies[0].holdtime == 7200
    assert "Registration Request" in req.summary()


def test_forwarded_resolution_request_shows_decremented_hop_count():
    frames = rdpcap(str(capture("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")))
    assert [f[NHRP].hop_count for f in frames] == [255, 254, 255]
    assert [f[NHRP].type for f in frames] == [1, 1, 2]


def test_traffic_indication_exposes_triggering_packet_through_codec():
    ti = rdpcap(str(capture("dmvpn-phase-3-traffic-indication.pcap")))[0][NHRP]
    assert ti.type == 8 and ti.flags == 0  # flags word carries the traffic code
    assert IP(ti.nhrp.payload).dst == "3.3.3.3"


def test_layer_built_from_codec_packet_roundtrips_through_gre():
    pkt = codec.NhrpPacket(codec.PacketType.PURGE_REQUEST, IPv4Address("203.0.113.1"), IPv4Address("10.0.0.1"),
                           IPv4Address("10.0.0.2"), flags=codec.PURGE_N, request_id=42,
                           cies=[codec.Cie(proto=IPv4Address("10.0.0.3"))])
    frame = Ether() / IP(src="203.0.113.1", dst="100.64.1.1") / GRE(proto=0x2001) / NHRP.from_nhrp(pkt)
    back = Ether(bytes(frame))
    layer = back[NHRP]
    assert layer.request_id == 42 and layer.type == 5
    assert layer.nhrp == codec.decode(codec.encode(pkt))
    assert layer.checksum_ok


def test_hand_built_layer_gets_length_and_checksum():
    raw = bytes(NHRP(type=3, src_nbma="1.2.3.4", src_proto="10.0.0.2", dst_proto="10.0.0.1", request_id=5))
    decoded = codec.decode(raw)  # verifies the checksum
    assert decoded.type == 3 and decoded.request_id == 5 and decoded.src_nbma == IPv4Address("1.2.3.4")


def test_link_padding_is_not_part_of_the_nhrp_layer():
    data = codec.encode(codec.NhrpPacket(4, IPv4Address("1.1.1.1"), IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")))
    layer = NHRP(data + b"\x00" * 6)
    assert layer.nhrp.type == 4
    assert Padding in layer and bytes(layer[Padding]) == b"\x00" * 6


def test_malformed_nhrp_raises_codec_error_not_scapy_error():
    layer = NHRP(b"\x00\x02" + bytes(30))
    with pytest.raises(codec.NhrpDecodeError):
        layer.nhrp


def test_gre_data_packets_are_not_dissected_as_nhrp():
    frames = rdpcap(str(capture("dmvpn-gre-encapsulated-icmp.pcap")))
    assert all(GRE in f and NHRP not in f for f in frames)
