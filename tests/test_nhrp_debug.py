"""`debug nhrp packet|extension` lines look like IOS's."""

from __future__ import annotations

from ipaddress import IPv4Address as A

from dmvpnlab.nhrp import debug, messages
from dmvpnlab.nhrp.codec import decode, encode

ME = messages.Identity(A("100.64.1.1"), A("10.0.0.2"), 300, auth=b"DMVPN")


def registration():
    return decode(encode(messages.registration_request(ME, A("10.0.0.1"), A("203.0.113.1"), 7, unique=True)))


def test_packet_lines_show_fixed_mandatory_and_cie_parts():
    lines = debug.packet_lines(registration(), 105)
    assert lines[0] == " (F) afn: AF_IP(1), type: IP(800), hop: 255, ver: 1"
    assert ' (M) flags: "unique nat ", reqid: 7' in lines
    assert "     src protocol: 10.0.0.2, dst protocol: 10.0.0.1" in lines
    cie = lines.index(" (C-1) code: no error(0)")
    assert lines[cie + 1] == "       prefix: 32, mtu: 17916, hd_time: 300"


def test_extension_lines_name_each_extension_and_its_cies():
    lines = debug.extension_lines(registration())
    assert lines[:3] == [" Responder Address Extension:", " Forward Transit NHS Record Extension:",
                         " Reverse Transit NHS Record Extension:"]
    assert "   type: Cleartext(1), data: DMVPN" in lines
    assert any("client NBMA: 203.0.113.1" in line for line in lines)


def test_a_traffic_indication_shows_its_traffic_code():
    trigger = bytes.fromhex("4500001c000000000111") + bytes(2) + A("192.168.1.10").packed + A("192.168.2.10").packed + bytes(8)
    ti = decode(encode(messages.traffic_indication(ME, trigger)))
    assert " (M) traffic code: redirect(0)" in debug.packet_lines(ti, 100)
