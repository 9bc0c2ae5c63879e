"""The mGRE interface's per-packet decisions, with plain frames (no TAP, no root)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPv6, Raw

from dmvpnlab.tunnel.dataplane import (
    DROP_ARP_UNANSWERED,
    DROP_DF_TOO_BIG,
    DROP_IPV6,
    DROP_MALFORMED_IPV4,
    DROP_NON_IP,
    DROP_RUNT,
    DROP_UNKNOWN_NEXT_HOP,
    Drop,
    Multicast,
    TunnelDataplane,
    Unicast,
    WriteTap,
)
from dmvpnlab.tunnel.frames import format_mac, tunnel_mac
from dmvpnlab.tunnel.ipv4 import header_checksum_ok, internet_checksum, tcp_checksum_ok

TAP_MAC = bytes.fromhex("020000000a02")
TAP = format_mac(TAP_MAC)
ADDR = IPv4Interface("10.0.0.2/24")


@pytest.fixture
def dp() -> TunnelDataplane:
    return TunnelDataplane(ADDR, TAP_MAC, mtu=1400, tcp_mss=1360)


def from_kernel(dst_mac: str, l3) -> bytes:
    return bytes(Ether(src=TAP, dst=dst_mac) / l3)


def test_arp_request_is_answered_into_the_tap(dp):
    req = from_kernel("ff:ff:ff:ff:ff:ff", ARP(hwsrc=TAP, psrc="10.0.0.2", pdst="10.0.0.1"))
    [action] = dp.from_tap(req)
    assert isinstance(action, WriteTap)
    reply = Ether(action.frame)
    assert (reply.dst, reply[ARP].op, reply[ARP].hwsrc) == (TAP, 2, "02:00:0a:00:00:01")
    assert dp.counters.arp_replies == 1 and dp.counters.to_tap_frames == 1


def test_unicast_goes_to_the_next_hop_named_by_the_dst_mac(dp):
    ip = IP(src="192.168.2.10", dst="192.168.1.10") / ICMP()
    [action] = dp.from_tap(from_kernel("02:00:0a:00:00:01", ip))
    assert action == Unicast(IPv4Address("10.0.0.1"), bytes(ip))
    assert dp.counters.unicast_packets == 1 and dp.counters.from_tap_frames == 1


def test_ethernet_padding_is_not_sent_into_the_tunnel(dp):
    ip = bytes(IP(src="10.0.0.2", dst="10.0.0.3") / ICMP())
    [action] = dp.from_tap(bytes(Ether(src=TAP, dst="02:00:0a:00:00:03", type=0x0800)) + ip + b"\x00" * 18)
    assert action.packet == ip


def test_ospf_hello_to_224_0_0_5_is_multicast(dp):
    hello = IP(src="10.0.0.2", dst="224.0.0.5", proto=89, ttl=1) / Raw(b"\x02\x01" + bytes(42))
    [action] = dp.from_tap(from_kernel("01:00:5e:00:00:05", hello))
    assert action == Multicast(bytes(hello))
    assert dp.counters.multicast_packets == 1


def test_broadcast_ipv4_is_multicast(dp):
    rip = IP(src="10.0.0.2", dst="10.0.0.255") / UDP(sport=520, dport=520) / Raw(b"x" * 24)
    [action] = dp.from_tap(from_kernel("ff:ff:ff:ff:ff:ff", rip))
    assert isinstance(action, Multicast) and action.packet == bytes(rip)


@pytest.mark.parametrize("frame, reason", [
    (bytes(Ether(src=TAP, dst="33:33:00:00:00:02") / IPv6(dst="ff02::2")), DROP_IPV6),
    (bytes(Ether(src=TAP, dst="02:00:0a:00:00:01", type=0x88cc) / Raw(b"lldp")), DROP_NON_IP),
    (b"\x02\x00", DROP_RUNT),
    (b"", DROP_RUNT),
    (bytes(Ether(src=TAP, dst="02:00:0a:00:00:01", type=0x0800) / Raw(b"\x45\x00")), DROP_MALFORMED_IPV4),
    (bytes(Ether(src=TAP, dst="02:00:0a:00:00:01", type=0x0800) / Raw(bytes(IP(len=999)))), DROP_MALFORMED_IPV4),
    (bytes(Ether(src=TAP, dst="02:00:0a:00:00:01", type=0x0800) / Raw(b"\x65" + bytes(30))), DROP_MALFORMED_IPV4),
    (from_kernel("fa:16:3e:00:00:01", IP(dst="10.0.0.9") / ICMP()), DROP_UNKNOWN_NEXT_HOP),
    (bytes(Ether(src=TAP, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00\x01")), DROP_ARP_UNANSWERED),
], ids=["ipv6", "lldp", "2-bytes", "empty", "short-ipv4", "bad-total-length", "ip-version-6-in-0800",
        "foreign-dst-mac", "short-arp"])
def test_malformed_or_foreign_frames_are_dropped_and_counted_never_raised(dp, frame, reason):
    assert dp.from_tap(frame) == [Drop(reason)]
    assert dp.counters.drops == {reason: 1}
    assert dp.counters.as_dict()["total_drops"] == 1


def test_random_garbage_never_raises(dp):
    import random
    rng = random.Random(1)
    for n in range(3000):
        frame = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        if n % 3 == 0 and len(frame) > 14:  # make many of them look like IPv4/ARP to go deeper
            frame = frame[:12] + (b"\x08\x00\x45" if n % 2 else b"\x08\x06\x00\x01\x08\x00\x06\x04") + frame[14:]
        for action in dp.from_tap(frame):
            assert isinstance(action, (Drop, Unicast, Multicast, WriteTap))
        dp.to_tap(frame, None)
    assert dp.counters.from_tap_frames == 3000


def test_df_set_and_too_big_sends_frag_needed_back_into_the_tap(dp):
    big = IP(src="192.168.2.10", dst="192.168.1.10", flags="DF") / ICMP() / Raw(b"p" * 1472)
    actions = dp.from_tap(from_kernel("02:00:0a:00:00:01", big))
    assert actions[1] == Drop(DROP_DF_TOO_BIG)
    assert isinstance(actions[0], WriteTap)
    frame = actions[0].frame
    eth = Ether(frame)
    assert eth.dst == TAP and eth.type == 0x0800
    icmp_pkt = frame[14:]
    assert header_checksum_ok(icmp_pkt) and internet_checksum(icmp_pkt[20:]) == 0
    assert (eth[IP].src, eth[IP].dst) == ("10.0.0.2", "192.168.2.10")
    assert (eth[ICMP].type, eth[ICMP].code, eth[ICMP].nexthopmtu) == (3, 4, 1400)
    assert dp.counters.frag_needed_sent == 1


def test_too_big_without_df_is_fragmented_to_ip_mtu(dp):
    big = IP(src="192.168.2.10", dst="192.168.1.10", id=3) / UDP() / Raw(b"p" * 3000)
    actions = dp.from_tap(from_kernel("02:00:0a:00:00:01", big))
    assert [type(a) for a in actions] == [Unicast] * 3
    assert [len(a.packet) for a in actions] == [1396, 1396, 276]  # 3008 = 1376 + 1376 + 256
    assert all(a.next_hop == IPv4Address("10.0.0.1") for a in actions)
    assert dp.counters.fragments_created == 3


def test_big_multicast_is_fragmented_too(dp):
    big = IP(src="10.0.0.2", dst="224.0.0.10", proto=88) / Raw(b"e" * 2000)
    actions = dp.from_tap(from_kernel("01:00:5e:00:00:0a", big))
    assert [type(a) for a in actions] == [Multicast, Multicast]


def test_adjust_mss_clamps_syns_leaving_through_the_tunnel(dp):
    syn = IP(src="192.168.2.10", dst="192.168.1.10") / TCP(flags="S", options=[("MSS", 1460)])
    [action] = dp.from_tap(from_kernel("02:00:0a:00:00:01", syn))
    assert dict(IP(action.packet)[TCP].options)["MSS"] == 1360
    assert tcp_checksum_ok(action.packet)
    assert dp.counters.mss_clamped == 1


def test_no_adjust_mss_leaves_syns_alone():
    dp = TunnelDataplane(ADDR, TAP_MAC, mtu=1400)
    syn = bytes(IP(src="192.168.2.10", dst="192.168.1.10") / TCP(flags="S", options=[("MSS", 1460)]))
    [action] = dp.from_tap(from_kernel("02:00:0a:00:00:01", IP(syn)))
    assert action.packet == syn


def test_to_tap_builds_frame_for_the_kernel(dp):
    pkt = bytes(IP(src="192.168.1.10", dst="192.168.2.10") / ICMP())
    frame = dp.to_tap(pkt, IPv4Address("10.0.0.1"))
    assert frame == TAP_MAC + tunnel_mac("10.0.0.1") + b"\x08\x00" + pkt
    assert dp.to_tap(pkt, None)[6:12] == bytes.fromhex("020000000000")
    assert dp.counters.to_tap_frames == 2


def test_to_tap_uses_group_macs_for_multicast_and_broadcast(dp):
    assert dp.to_tap(bytes(IP(dst="224.0.0.5") / Raw(b"x")))[:6] == bytes.fromhex("01005e000005")
    assert dp.to_tap(bytes(IP(dst="10.0.0.255") / Raw(b"x")))[:6] == b"\xff" * 6
    assert dp.to_tap(bytes(IP(dst="255.255.255.255") / Raw(b"x")))[:6] == b"\xff" * 6


def test_to_tap_clamps_incoming_syn_ack(dp):
    synack = bytes(IP(src="192.168.1.10", dst="192.168.2.10") / TCP(flags="SA", options=[("MSS", 1460)]))
    frame = dp.to_tap(synack, IPv4Address("10.0.0.1"))
    assert dict(Ether(frame)[TCP].options)["MSS"] == 1360 and tcp_checksum_ok(frame[14:])


def test_constructor_rejects_nonsense():
    with pytest.raises(ValueError):
        TunnelDataplane(ADDR, b"\x00", mtu=1400)
    with pytest.raises(ValueError):
        TunnelDataplane(ADDR, TAP_MAC, mtu=40)


# --- from the tunnel: what a peer decapsulated to must be IPv4 ---------------------------------

def test_from_tunnel_frames_an_ipv4_packet_for_the_kernel_and_cuts_trailing_bytes(dp):
    pkt = bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP())
    assert dp.from_tunnel(pkt) == dp.to_tap(pkt)
    assert dp.from_tunnel(pkt + b"junk") == dp.to_tap(pkt)
    assert dp.counters.drops == {}


@pytest.mark.parametrize("bad", [b"", b"\x45" * 19, b"\x65" + bytes(19), b"\x44" + bytes(19),
                                 bytes.fromhex("4500ffff") + bytes(16), bytes.fromhex("46000014") + bytes(20)],
                         ids=["empty", "short", "version-6", "header-16", "total-over-length", "total-under-header"])
def test_from_tunnel_drops_and_counts_what_is_not_an_ipv4_packet(dp, bad):
    assert dp.from_tunnel(bad) is None
    assert dp.counters.drops == {"malformed-ipv4-from-tunnel": 1}
    assert dp.counters.to_tap_frames == 0
