"""GRE in ESP: the tunnel's transport with `tunnel protection`, two ends back to back.

Each end has real SAs (random keys, installed from a hand-made `ChildSaUp` pair) and
stand-in sockets that record what would be sent; what one end sends is delivered to the
other as the kernel would (raw ESP with its IPv4 header, or the UDP payload on 4500).
So every assertion is about bytes that really went through seal and open.
"""

from __future__ import annotations

import errno
import time
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import pytest
from scapy.all import ESP as ScapyEsp
from scapy.all import IP, UDP, Ether

from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel.esp_transport import CLEARTEXT_DROP, EspTransport
from dmvpnlab.tunnel.frames import format_mac, tunnel_mac
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre, gre_header
from dmvpnlab.tunnel.mgre import MgreTunnel
from esp_pairs import child_sa_pair
from test_tunnel_transport import FakeTap  # the GRE tests' TAP stand-in, same contract

KEY = 7
A, B = IPv4Address("100.64.1.1"), IPv4Address("100.64.2.1")


class FakeRaw:
    """A raw socket (ESP or GRE) with the system calls replaced."""

    def __init__(self, proto: int, local: IPv4Address) -> None:
        self.proto, self.local = proto, local
        self.sent: list[tuple[bytes, Any]] = []
        self.incoming: list[tuple[bytes, tuple[str, int]]] = []
        self.fail: OSError | None = None

    def sendto(self, data: bytes, address: Any) -> int:
        if self.fail is not None:
            raise self.fail
        self.sent.append((data, address))
        return len(data)

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[str, int]]:
        if not self.incoming:
            raise BlockingIOError
        return self.incoming.pop(0)

    def deliver(self, src: IPv4Address, payload: bytes) -> None:
        """As a raw IPv4 socket returns it: outer IPv4 header included."""
        outer = bytes(IP(src=str(src), dst=str(self.local), proto=self.proto) / payload)
        self.incoming.append((outer, (str(src), 0)))

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class End:
    """One router's ESP transport, its sockets and its UDP 4500 sends."""

    def __init__(self, local: IPv4Address) -> None:
        self.local = local
        self.esp, self.gre = FakeRaw(50, local), FakeRaw(47, local)
        self.udp_sent: list[tuple[bytes, Any]] = []
        self.need: list[IPv4Address] = []
        self.transport = EspTransport(SaDatabase(), local, KEY, esp_sock=self.esp, gre_sock=self.gre,  # type: ignore[arg-type]
                                      on_need_sa=self.need.append)
        self.transport.udp_sendto = lambda data, address: self.udp_sent.append((data, address))


def ends(words: str = "esp-aes 256 esp-sha256-hmac", install: bool = True, **kw: Any) -> tuple[End, End]:
    a, b = End(A), End(B)
    at_a, at_b = child_sa_pair(A, B, words, **kw)
    if install:
        a.transport.install(at_a, 0.0)
        b.transport.install(at_b, 0.0)
    return a, b


def carry(sender: End, receiver: End) -> list[tuple[str, int, bytes]]:
    """Deliver everything `sender` sent (raw ESP and UDP) to `receiver`; what it yields."""
    for data, _address in sender.esp.sent:
        receiver.esp.deliver(sender.local, data)
    for data, (_host, _port) in sender.udp_sent:
        receiver.transport.receive_udp_esp(data, (str(sender.local), 4500))
    sender.esp.sent.clear()
    sender.udp_sent.clear()
    return list(receiver.transport.receive())


@pytest.mark.parametrize("words", ["esp-aes 256 esp-sha256-hmac", "esp-gcm", "esp-3des esp-sha-hmac"])
def test_gre_goes_out_as_esp_only_and_opens_at_the_peer(words):
    a, b = ends(words)
    assert a.transport.send(GRE_PROTO_NHRP, b"registration", B)
    [(esp, address)] = a.esp.sent
    assert address == ("100.64.2.1", 0) and a.gre.sent == []
    assert b"registration" not in esp, "the payload is encrypted"
    assert int.from_bytes(esp[:4], "big") == a.transport.sadb.outbound[B].spi
    assert carry(a, b) == [("100.64.1.1", GRE_PROTO_NHRP, b"registration")]
    assert (b.transport.counters.gre_in, a.transport.counters.gre_out) == (1, 1)
    assert b.transport.heard == {"100.64.1.1"}


def test_the_fast_path_pieces_seal_on_the_current_sa_even_after_a_rekey():
    a, b = ends()
    handle = a.transport.peer(B)  # what the tunnel caches per next hop
    a.transport.send_gre(a.transport.header(GRE_PROTO_IPV4) + b"before", handle)
    old_spi = a.transport.sadb.outbound[B].spi
    new_a, new_b = child_sa_pair(A, B, spi_ab=0x5000, spi_ba=0x6000)
    a.transport.install(new_a, 1.0)
    b.transport.install(new_b, 1.0)
    a.transport.send_gre(a.transport.header(GRE_PROTO_IPV4) + b"after", handle)
    spis = [int.from_bytes(d[:4], "big") for d, _ in a.esp.sent]
    assert spis == [old_spi, 0x5000]
    assert [p for _, _, p in carry(a, b)] == [b"before", b"after"]


def test_a_fast_path_handle_follows_its_peer_from_no_sa_to_sa_to_removed():
    a, b = ends()
    a.transport.remove_peer(B)
    b.transport.remove_peer(A)
    handle = a.transport.peer(B)  # cached while no SA exists
    assert a.transport.peer(B) is handle, "one handle per peer"
    a.transport.send_gre(a.transport.header(GRE_PROTO_IPV4) + b"waits", handle)
    assert a.esp.sent == [] and a.transport.queued(B) == 1
    new_a, new_b = child_sa_pair(A, B, spi_ab=0x7000, spi_ba=0x8000)
    b.transport.install(new_b, 1.0)
    a.transport.install(new_a, 1.0)  # flushes the queue
    a.transport.send_gre(a.transport.header(GRE_PROTO_IPV4) + b"sealed", handle)
    assert [int.from_bytes(d[:4], "big") for d, _ in a.esp.sent] == [0x7000, 0x7000]
    assert [p for _, _, p in carry(a, b)] == [b"waits", b"sealed"]
    a.transport.remove(new_a.spi_in)
    a.transport.send_gre(a.transport.header(GRE_PROTO_IPV4) + b"again", handle)
    assert a.transport.queued(B) == 1 and a.esp.sent == [], "no SA: it waits again, nothing is sent"


def test_without_an_sa_packets_wait_bounded_ike_is_asked_and_the_sa_flushes_them():
    a, b = ends(install=False)
    for n in range(40):
        assert a.transport.send(GRE_PROTO_IPV4, bytes([n]), B)
    assert a.esp.sent == [] and a.need and set(a.need) == {B}
    assert a.transport.queued(B) == 32
    assert a.transport.counters.drops["queue overflow"] == 8 and a.transport.esp["queued"] == 40
    at_a, at_b = child_sa_pair(A, B)
    b.transport.install(at_b, 0.0)
    a.transport.install(at_a, 0.0)
    assert a.transport.queued(B) == 0 and a.transport.esp["flushed"] == 32
    assert [p for _, _, p in carry(a, b)] == [bytes([n]) for n in range(8, 40)], "oldest dropped, order kept"


def test_discard_drops_what_waited_for_a_peer_ike_gave_up_on():
    a, _ = ends(install=False)
    a.transport.send(GRE_PROTO_IPV4, b"x", B)
    assert a.transport.discard(B) == 1 and a.transport.counters.drops["queue dropped"] == 1


def test_cleartext_gre_while_protected_is_dropped_and_counted():
    a, b = ends()
    b.gre.deliver(A, encode_gre(GRE_PROTO_IPV4, b"in the clear", KEY))
    assert list(b.transport.receive()) == []
    assert b.transport.counters.drops[CLEARTEXT_DROP] == 1 and b.transport.counters.gre_in == 0


def test_unknown_spi_tampering_replay_and_garbage_are_counted_drops():
    a, b = ends()
    a.transport.send(GRE_PROTO_IPV4, b"payload", B)
    a.transport.send(GRE_PROTO_IPV4, b"second", B)
    [(esp, _), (second, _)] = a.esp.sent
    b.esp.deliver(A, esp)
    b.esp.deliver(A, esp)  # the same packet again: replay
    tampered = bytearray(second)
    tampered[20] ^= 1
    b.esp.deliver(A, bytes(tampered))  # a fresh sequence number, a bad ICV
    b.esp.deliver(A, second)  # the genuine one still opens: the bad ICV did not move the window
    b.esp.deliver(A, b"\x00\x00\x99\x99" + esp[4:])  # nobody's SPI
    b.esp.deliver(A, b"\x01\x02")  # shorter than an ESP header
    b.esp.incoming.append((b"\x41" + bytes(3), ("100.64.1.1", 0)))  # IHL 4: no IP header at all
    assert [p for _, _, p in b.transport.receive()] == [b"payload", b"second"]
    drops = b.transport.counters.drops
    assert (drops["esp replay_failed"], drops["esp verify_failed"], drops["esp invalid sa"], drops["malformed esp"]) == (1, 1, 1, 2)
    assert b.transport.sadb.counters["invalid sa"] == 1


def test_wrong_tunnel_key_inside_esp_is_refused_like_cleartext_gre_would_be():
    a, b = ends()
    b.transport.set_key(KEY + 1)
    a.transport.send(GRE_PROTO_IPV4, b"x", B)
    assert carry(a, b) == []
    assert b.transport.counters.drops["tunnel key mismatch"] == 1


def test_nat_t_sends_esp_as_the_udp_payload_to_the_peers_port_and_receives_it_back():
    a, b = ends(nat_t=True, port_a=4500, port_b=4500)
    a.transport.send(GRE_PROTO_IPV4, b"through the NAT", B)
    [(data, address)] = a.udp_sent
    assert address == ("100.64.2.1", 4500) and a.esp.sent == []
    assert data[:4] != b"\x00\x00\x00\x00", "RFC 3948: ESP in UDP has no marker, its SPI is never 0"
    assert carry(a, b) == [("100.64.1.1", GRE_PROTO_IPV4, b"through the NAT")]


def test_tunnel_mode_carries_an_inner_nbma_header_around_gre():
    a, b = ends(mode="tunnel")
    a.transport.send(GRE_PROTO_IPV4, b"tunnelled", B)
    [(esp, _)] = a.esp.sent
    sa = b.transport.sadb.inbound[int.from_bytes(esp[:4], "big")]
    payload, next_header, _ = sa.open(esp)
    inner = IP(payload)
    assert next_header == 4 and (inner.src, inner.dst, inner.proto) == ("100.64.1.1", "100.64.2.1", 47)
    b.esp.deliver(A, esp)  # already opened once: the replay window refuses it...
    assert list(b.transport.receive()) == []
    a.transport.send(GRE_PROTO_IPV4, b"tunnelled", B)  # ...a fresh one goes through
    assert [p for _, _, p in carry(a, b)] == [b"tunnelled"]


def test_a_lost_send_is_counted_by_send_and_raised_by_send_gre_for_the_fast_path():
    a, _ = ends()
    a.esp.fail = OSError(errno.ENOBUFS, "full")
    assert not a.transport.send(GRE_PROTO_IPV4, b"x", B)
    assert a.transport.counters.drops["send failed"] == 1
    with pytest.raises(OSError):
        a.transport.send_gre(gre_header(GRE_PROTO_IPV4, KEY) + b"x", a.transport.peer(B))


def test_a_hard_expired_sa_stops_sealing_and_asks_ike_again():
    a, _ = ends(kilobytes=1)
    a.transport.send(GRE_PROTO_IPV4, bytes(1100), B)  # past 1 KB: the SA is spent
    a.transport.send(GRE_PROTO_IPV4, b"next", B)
    assert a.transport.counters.drops["esp expired"] == 1 and a.need == [B]
    assert a.transport.queued(B) == 1


def test_scapy_reads_what_we_send_as_esp_with_our_spi_and_sequence():
    a, _ = ends()
    for _ in range(3):
        a.transport.send(GRE_PROTO_IPV4, b"x", B)
    packets = [ScapyEsp(data) for data, _ in a.esp.sent]
    assert [p.seq for p in packets] == [1, 2, 3]
    assert {p.spi for p in packets} == {a.transport.sadb.outbound[B].spi}


# --- an mGRE tunnel over it ------------------------------------------------------------

def test_an_mgre_tunnel_over_esp_sends_fast_and_general_path_packets_alike_and_writes_what_opens():
    a, b = ends()
    local, peer = IPv4Interface("10.0.0.2/24"), IPv4Address("10.0.0.3")
    engine = NhrpEngine(NhrpEngineConfig(interface="Tunnel0", tunnel_address=local, nbma_address=A,
                                         static_maps=[(peer, B)]), lambda _a: None, time.monotonic())
    tap = FakeTap()
    mgre = MgreTunnel("Tunnel0", local, A, KEY, 1400, 1360, engine, tap=tap, transport=a.transport)  # type: ignore[arg-type]
    inner = IP(src="192.168.1.10", dst="192.168.2.10") / UDP() / (b"x" * 100)
    frame = bytes(Ether(src=format_mac(tunnel_mac(local.ip)), dst=format_mac(tunnel_mac(peer))) / inner)
    tap.frames = [frame, frame]
    mgre.drain_tap()
    assert mgre.dataplane.counters.unicast_packets == 1 and len(a.esp.sent) == 2, "second one on the fast path"
    assert [p for _, _, p in carry(a, b)] == [bytes(inner)] * 2
    # and back: b seals, a's tunnel writes the inner packet into its TAP
    b.transport.send(GRE_PROTO_IPV4, bytes(IP(src="192.168.2.10", dst="192.168.1.10") / UDP()), A)
    for data, _ in b.esp.sent:
        a.esp.deliver(B, data)
    mgre.drain_socket()
    assert len(tap.written) == 1 and IP(tap.written[0][14:]).src == "192.168.2.10"
