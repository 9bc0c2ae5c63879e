"""Ethernet/ARP on the TAP: next-hop-encoding MACs and the ARP answers that create them."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest
from scapy.all import ARP, Ether

from dmvpnlab.tunnel.frames import (
    FrameError,
    arp_reply_for,
    build_ethernet,
    format_mac,
    ip_from_tunnel_mac,
    is_multicast_mac,
    multicast_mac_for,
    parse_arp,
    parse_ethernet,
    parse_mac,
    tunnel_mac,
)

TAP_MAC = bytes.fromhex("020000000a01")  # any MAC the TAP has
TUNNEL = IPv4Interface("10.0.0.2/24")


def arp_request(target: str, sender: str = "10.0.0.2", src_mac: bytes = TAP_MAC, op: int = 1) -> bytes:
    return bytes(Ether(src=format_mac(src_mac), dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=op, hwsrc=format_mac(src_mac), psrc=sender, pdst=target))


def test_tunnel_mac_encodes_the_address_after_02_00():
    assert tunnel_mac(IPv4Address("10.0.0.1")) == bytes.fromhex("02000a000001")
    assert format_mac(tunnel_mac("172.16.123.254")) == "02:00:ac:10:7b:fe"


def test_ip_from_tunnel_mac_inverts_and_rejects_foreign_macs():
    assert ip_from_tunnel_mac(tunnel_mac("10.0.0.3")) == IPv4Address("10.0.0.3")
    assert ip_from_tunnel_mac(bytes.fromhex("fa163e7fb6c9")) is None
    assert ip_from_tunnel_mac(b"\x02\x00\x0a") is None
    assert ip_from_tunnel_mac(bytes(6)) is None


def test_multicast_macs_are_group_addresses():
    assert is_multicast_mac(bytes.fromhex("01005e000005"))
    assert is_multicast_mac(b"\xff" * 6)
    assert not is_multicast_mac(tunnel_mac("10.0.0.1"))
    assert multicast_mac_for(IPv4Address("224.0.0.5")) == bytes.fromhex("01005e000005")
    assert multicast_mac_for(IPv4Address("239.255.1.2")) == bytes.fromhex("01005e7f0102")


def test_ethernet_parse_build_roundtrip_and_runt_error():
    f = build_ethernet(b"\x01" * 6, b"\x02" * 6, 0x0800, b"data")
    assert parse_ethernet(f) == (b"\x01" * 6, b"\x02" * 6, 0x0800, b"data")
    with pytest.raises(FrameError):
        parse_ethernet(f[:13])


def test_parse_mac_accepts_colons_and_dashes_and_rejects_garbage():
    assert parse_mac("02-00-0A-00-00-01") == tunnel_mac("10.0.0.1")
    for bad in ("02:00", "zz:00:00:00:00:00", "0200.0a00.0001"):
        with pytest.raises(FrameError):
            parse_mac(bad)


def test_arp_request_for_tunnel_peer_is_answered_field_by_field():
    reply = arp_reply_for(arp_request("10.0.0.1"), TAP_MAC, TUNNEL)
    assert reply is not None
    eth = parse_ethernet(reply)
    assert eth.dst == TAP_MAC and eth.src == tunnel_mac("10.0.0.1") and eth.ethertype == 0x0806
    arp = parse_arp(eth.payload)
    assert arp.op == 2
    assert arp.sender_mac == tunnel_mac("10.0.0.1") and arp.sender_ip == IPv4Address("10.0.0.1")
    assert arp.target_mac == TAP_MAC and arp.target_ip == IPv4Address("10.0.0.2")
    s = Ether(reply)  # scapy agrees on every field
    assert (s[ARP].hwtype, s[ARP].ptype, s[ARP].hwlen, s[ARP].plen) == (1, 0x0800, 6, 4)
    assert (s[ARP].hwsrc, s[ARP].psrc, s[ARP].pdst) == ("02:00:0a:00:00:01", "10.0.0.1", "10.0.0.2")


@pytest.mark.parametrize("frame", [
    arp_request("10.0.0.2", sender="10.0.0.2"),  # gratuitous / our own address
    arp_request("10.0.0.2", sender="10.0.0.7"),  # the TAP's own address
    arp_request("10.0.0.255"),                    # subnet broadcast is no peer
    arp_request("192.168.5.1"),                   # off-subnet
    arp_request("10.0.0.1", op=2),                # a reply, not a request
    arp_request("10.0.0.1", src_mac=bytes.fromhex("020000000099")),  # not from our TAP
    arp_request("10.0.0.1")[:30],                 # truncated
    b"",
], ids=["gratuitous", "own-address", "subnet-broadcast", "off-subnet", "arp-reply",
        "not-from-tap", "truncated", "empty"])
def test_arp_not_for_a_tunnel_peer_is_not_answered(frame):
    assert arp_reply_for(frame, TAP_MAC, TUNNEL) is None


def test_off_subnet_target_answered_when_any_target_is_asked_for():
    reply = arp_reply_for(arp_request("192.168.5.1"), TAP_MAC, TUNNEL, any_target=True)
    assert reply is not None and parse_ethernet(reply).src == tunnel_mac("192.168.5.1")
    assert arp_reply_for(arp_request("10.0.0.2", sender="0.0.0.0"), TAP_MAC, TUNNEL, any_target=True) is None
