"""The tunnel's transport (plain GRE over a raw socket) and the MgreTunnel paths over it.

A stand-in socket records what would be sent and plays back what would be received, so
the fast paths and the general paths can be compared byte for byte without root.
"""

from __future__ import annotations

import errno
import time
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import pytest
from scapy.all import IP, TCP, UDP, Ether

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import encode
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel.frames import format_mac, tunnel_mac
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre, gre_header
from dmvpnlab.tunnel.mgre import MgreTunnel
from dmvpnlab.tunnel.transport import GreTransport

KEY = 12345
LOCAL = IPv4Interface("10.0.0.2/24")
PEER, PEER_NBMA = IPv4Address("10.0.0.3"), IPv4Address("100.64.2.1")
HUB, HUB_NBMA = IPv4Address("10.0.0.1"), IPv4Address("203.0.113.1")
NBMA = IPv4Address("100.64.1.1")


class FakeSocket:
    """What GreTransport uses of a RawGreSocket, with the system calls replaced."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.incoming: list[tuple[bytes, tuple[str, int]]] = []
        self.fail: OSError | None = None

    def sendto(self, data: bytes, address: Any) -> int:
        if self.fail is not None:
            raise self.fail
        self.sent.append((data, address))
        return len(data)

    def send(self, nbma: Any, data: bytes) -> bool:
        if self.fail is not None:
            return False
        self.sent.append((data, (str(nbma), 0)))
        return True

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[str, int]]:
        if not self.incoming:
            raise BlockingIOError
        return self.incoming.pop(0)

    def deliver(self, src: IPv4Address, gre: bytes) -> None:
        """Queue one packet as a raw socket returns it: outer IPv4 header included."""
        outer = bytes(IP(src=str(src), dst=str(NBMA), proto=47) / gre)
        self.incoming.append((outer, (str(src), 0)))

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class FakeTap:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.written: list[bytes] = []

    def read(self) -> bytes | None:
        return self.frames.pop(0) if self.frames else None

    def write(self, frame: bytes) -> bool:
        self.written.append(frame)
        return True

    def close(self) -> None:
        pass


# --- the transport alone -------------------------------------------------------------

def test_send_puts_the_keyed_header_in_front_and_counts():
    sock = FakeSocket()
    transport = GreTransport(KEY, sock=sock)
    assert transport.send(GRE_PROTO_NHRP, b"nhrp", PEER_NBMA)
    assert sock.sent == [(gre_header(GRE_PROTO_NHRP, KEY) + b"nhrp", ("100.64.2.1", 0))]
    assert (transport.counters.gre_out, transport.counters.bytes_out) == (1, 4 + 8)


def test_a_lost_send_is_counted_not_raised():
    sock = FakeSocket()
    sock.fail = OSError(errno.ENOBUFS, "full")
    transport = GreTransport(None, sock=sock)
    assert not transport.send(GRE_PROTO_IPV4, b"x", PEER_NBMA)
    assert transport.counters.drops["send failed"] == 1 and transport.counters.gre_out == 0


def test_the_fast_path_pieces_make_the_same_bytes_as_send():
    sock = FakeSocket()
    transport = GreTransport(KEY, sock=sock)
    transport.send_gre(transport.header(GRE_PROTO_IPV4) + b"data", transport.peer(PEER_NBMA))
    transport.send(GRE_PROTO_IPV4, b"data", PEER_NBMA)
    assert sock.sent[0] == sock.sent[1]


def test_receive_yields_decapsulated_gre_and_counts_it():
    sock = FakeSocket()
    transport = GreTransport(KEY, sock=sock)
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"data", KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_NHRP, b"nhrp", KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"summed", KEY, checksum=True))
    assert list(transport.receive()) == [("100.64.2.1", GRE_PROTO_IPV4, b"data"),
                                         ("100.64.2.1", GRE_PROTO_NHRP, b"nhrp"),
                                         ("100.64.2.1", GRE_PROTO_IPV4, b"summed")]
    assert transport.counters.gre_in == 3
    assert transport.counters.bytes_in == (8 + 4) + (8 + 4) + (12 + 6)


def test_wrong_key_and_malformed_gre_are_counted_and_not_yielded():
    sock = FakeSocket()
    transport = GreTransport(KEY, sock=sock)
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"data", KEY + 1))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"data", None))
    sock.deliver(PEER_NBMA, b"\x00\x07\x08\x00")  # GRE version 7
    sock.incoming.append((b"\x45" + bytes(10), ("100.64.2.1", 0)))  # shorter than its IP header
    assert list(transport.receive()) == []
    assert transport.counters.drops == {"tunnel key mismatch": 2, "malformed gre": 2}
    assert transport.counters.gre_in == 0


def test_set_key_changes_what_is_sent_and_what_is_accepted():
    sock = FakeSocket()
    transport = GreTransport(KEY, sock=sock)
    transport.set_key(None)
    assert transport.header(GRE_PROTO_IPV4) == b"\x00\x00\x08\x00"
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"data", KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, b"data", None))
    assert [payload for _, _, payload in transport.receive()] == [b"data"]
    assert transport.counters.drops["tunnel key mismatch"] == 1


# --- the tunnel over it ----------------------------------------------------------------

def tunnel(**settings: Any) -> tuple[MgreTunnel, FakeTap, FakeSocket]:
    config = NhrpEngineConfig(interface="Tunnel0", tunnel_address=LOCAL, nbma_address=NBMA,
                              static_maps=[(PEER, PEER_NBMA), (HUB, HUB_NBMA)], **settings)
    engine = NhrpEngine(config, lambda _address: None, time.monotonic())
    tap, sock = FakeTap(), FakeSocket()
    mgre = MgreTunnel("Tunnel0", LOCAL, NBMA, KEY, 1400, 1360, engine, tap=tap,
                      transport=GreTransport(sock=sock))
    return mgre, tap, sock


def to_peer(l3: Any, next_hop: IPv4Address = PEER) -> bytes:
    return bytes(Ether(src=format_mac(tunnel_mac(LOCAL.ip)), dst=format_mac(tunnel_mac(next_hop))) / l3)


def test_first_packet_takes_the_general_path_the_next_the_fast_one_with_the_same_bytes():
    mgre, tap, sock = tunnel()
    inner = IP(src="192.168.1.10", dst="192.168.2.10") / UDP() / (b"x" * 100)
    tap.frames = [to_peer(inner), to_peer(inner)]
    mgre.drain_tap()
    assert mgre.dataplane.counters.unicast_packets == 1, "only the first went through the dataplane"
    expected = (gre_header(GRE_PROTO_IPV4, KEY) + bytes(inner), ("100.64.2.1", 0))
    assert sock.sent == [expected, expected]
    assert (mgre.counters.gre_out, mgre.counters.bytes_out) == (2, 2 * len(expected[0]))


def test_fast_path_sends_are_handed_to_nhrp_as_used_next_hops_once_per_tick():
    mgre, tap, _sock = tunnel()
    noted: list[IPv4Address] = []
    mgre.engine.note_used = lambda next_hop, _now: noted.append(next_hop)  # type: ignore[method-assign]
    inner = IP(src="192.168.1.10", dst="192.168.2.10") / UDP()
    tap.frames = [to_peer(inner)] * 3
    assert mgre.drain_tap() == 3, "drain_tap says how many frames it read"
    mgre.hand_over_used(0.0)
    assert noted == [PEER], "two fast sends to one next hop: one mark, the next hop itself"
    mgre.hand_over_used(1.0)
    assert noted == [PEER], "marks are handed over once, then forgotten"


def test_drain_socket_says_how_many_packets_it_took():
    mgre, _tap, sock = tunnel()
    unicast = bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP())
    for _ in range(2):
        sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, unicast, KEY))
    assert mgre.drain_socket() == 2
    assert mgre.drain_socket() == 0


def test_a_tcp_syn_leaves_the_fast_path_and_has_its_mss_clamped():
    mgre, tap, sock = tunnel()
    warm = IP(src="192.168.1.10", dst="192.168.2.10") / UDP()
    syn = IP(src="192.168.1.10", dst="192.168.2.10") / TCP(flags="S", options=[("MSS", 1460)])
    tap.frames = [to_peer(warm), to_peer(syn)]
    mgre.drain_tap()
    assert mgre.dataplane.counters.mss_clamped == 1
    assert IP(sock.sent[1][0][8:])[TCP].options[0] == ("MSS", 1360)


def test_received_unicast_is_written_behind_the_dataplanes_header_multicast_via_the_dataplane():
    mgre, tap, sock = tunnel()
    unicast = bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP())
    group = bytes(IP(src="10.0.0.3", dst="224.0.0.5") / UDP())
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, unicast, KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, group, KEY))
    mgre.drain_socket()
    assert tap.written == [mgre.dataplane.kernel_header + unicast, mgre.dataplane.to_tap(group)]
    assert tap.written[1][:6] == bytes.fromhex("01005e000005")


def test_received_nhrp_goes_to_the_engine():
    mgre, _tap, sock = tunnel()
    peer = messages.Identity(nbma=PEER_NBMA, proto=PEER, holdtime=300)
    request = encode(messages.resolution_request(peer, LOCAL.ip, 7))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_NHRP, request, KEY))
    mgre.drain_socket()
    assert mgre.counters.nhrp_in == 1
    assert mgre.engine.received["Resolution Request"] == 1
    assert mgre.engine.outbox and mgre.engine.outbox[0][0] == PEER_NBMA


def test_a_redirecting_hub_sends_a_traffic_indication_to_where_the_packet_came_from():
    mgre, tap, sock = tunnel(redirect=True)
    packet = IP(src="192.168.2.10", dst="192.168.3.10") / UDP()
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, bytes(packet), KEY))
    mgre.drain_socket()
    tap.frames = [to_peer(packet, HUB)]  # the kernel routes it back out of the tunnel
    mgre.drain_tap()
    [(nbma, _indication)] = mgre.engine.outbox
    assert nbma == PEER_NBMA and mgre.engine.sent["Traffic Indication"] == 1


@pytest.mark.parametrize("key", [None, KEY])
def test_the_tunnel_key_is_the_transports(key):
    mgre, _tap, _sock = tunnel()
    mgre.set_key(key)
    assert mgre.key == mgre.transport.key == key


# --- hostile input on the receive paths: counted drops, and the batch goes on ----------------

GOOD = bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP() / (b"y" * 20))
ISSUE_NHRP = bytes.fromhex(  # a Registration Request whose NAT extension is not a CIE list
    "000108000000000000ff004b2b4b0034010304000404800200000007644001010a0000020a0000010020000045fc012c000000"
    "ff8003000080040000800500000009000300000080000000")


@pytest.mark.parametrize("redirect", [False, True])
@pytest.mark.parametrize("bad", [
    pytest.param(bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP() / (b"z" * 60))[:40], id="truncated"),
    pytest.param(b"\x60" + GOOD[1:], id="version-6"),
    pytest.param(b"\x45\x00\x00", id="shorter-than-a-header"),
    pytest.param(b"\x44" + GOOD[1:], id="header-length-16"),
])
def test_what_a_peer_sends_that_is_not_ipv4_is_counted_never_written_and_the_batch_goes_on(bad, redirect):
    mgre, tap, sock = tunnel(redirect=redirect)
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, bad, KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, GOOD, KEY))
    mgre.drain_socket()
    assert [frame[14:] for frame in tap.written] == [GOOD]
    assert mgre.dataplane.counters.drops == {"malformed-ipv4-from-tunnel": 1}


def test_trailing_bytes_behind_an_ipv4_packet_are_cut_before_the_kernel_sees_it():
    mgre, tap, sock = tunnel()
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, GOOD + b"trailer", KEY))
    mgre.drain_socket()
    assert [frame[14:] for frame in tap.written] == [GOOD]


def test_a_bad_nhrp_packet_in_a_batch_is_a_counted_drop_and_the_packets_behind_it_arrive():
    mgre, tap, sock = tunnel()
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_NHRP, ISSUE_NHRP, KEY))
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_NHRP, b"\x00\x01garbage", KEY))
    sock.deliver(PEER_NBMA, b"\x00\x07\x08\x00")  # GRE version 7
    sock.deliver(PEER_NBMA, encode_gre(GRE_PROTO_IPV4, GOOD, KEY))
    mgre.drain_socket()
    assert [frame[14:] for frame in tap.written] == [GOOD]
    assert mgre.counters.nhrp_in == 2 and mgre.counters.drops["malformed gre"] == 1
    assert mgre.engine.dropped == {"malformed extension": 1, "malformed": 1}


def test_a_short_ipv4_frame_to_a_fast_path_peer_is_dropped_and_the_frames_behind_it_go_out():
    mgre, tap, sock = tunnel()
    good = to_peer(IP(src="192.168.1.10", dst="192.168.2.10") / UDP())
    short = good[:14] + b"\x45\x00\x00\x14\x00\x00"  # once raised IndexError on the fast path
    tap.frames = [good, short, good[:-1], good]  # the first puts the peer on the fast path
    mgre.drain_tap()
    assert [data for data, _ in sock.sent] == [gre_header(GRE_PROTO_IPV4, KEY) + good[14:]] * 2
    assert mgre.dataplane.counters.drops == {"malformed-ipv4": 2}


def test_a_send_the_kernel_refuses_for_a_broadcast_destination_is_a_lost_packet():
    from dmvpnlab.tunnel.socket import RawGreSocket

    sock = RawGreSocket.__new__(RawGreSocket)  # no raw socket: only the error handling is under test

    def refuse(_data: bytes, _address: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    sock.sendto = refuse
    assert sock.send("255.255.255.255", b"gre") is False


@pytest.mark.parametrize("name", ["truncated-ipv4-in-gre", "not-ipv4-in-gre", "short-ipv4-frame-to-a-fast-path-peer"])
def test_tunnel_receive_fuzz_findings_stay_fixed(name):
    from pathlib import Path

    from fuzz.targets.tunnel_frames import run_tunnel_receive

    run_tunnel_receive((Path(__file__).resolve().parents[1] / "fuzz/corpus/tunnel-receive" / f"{name}.bin").read_bytes())
