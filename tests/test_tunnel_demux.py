"""Several tunnels on one router: each takes its own GRE/ESP, the rest is not its drop.

Every tunnel's raw socket sees every packet of its IP protocol; these tests hand the same
packets to two transports sharing one `GreDemux`, as the kernel does, and check who
takes what and that a packet no tunnel takes is counted once.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from scapy.layers.inet import IP

from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.tunnel.demux import GreDemux
from dmvpnlab.tunnel.esp_transport import CLEARTEXT_DROP, EspTransport
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, encode_gre
from dmvpnlab.tunnel.transport import GreTransport

X, Y, Z = IPv4Address("198.51.100.2"), IPv4Address("198.51.100.6"), IPv4Address("198.51.100.9")
PEER = IPv4Address("203.0.113.1")
PACKET = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / b"x")


class Wire:
    """What a raw socket of one protocol in the router's namespace receives: everything."""

    def __init__(self, proto: int = 47) -> None:
        self.proto = proto
        self.incoming: list[tuple[bytes, tuple[str, int]]] = []

    def deliver(self, dst: IPv4Address, payload: bytes, src: IPv4Address = PEER) -> None:
        self.incoming.append((bytes(IP(src=str(src), dst=str(dst), proto=self.proto) / payload), (str(src), 0)))

    def socket(self) -> "Tap":
        return Tap(self)


class Tap:
    """One raw socket on the wire: its own copy of every packet."""

    def __init__(self, wire: Wire) -> None:
        self.wire, self.read = wire, 0
        self.sent: list[tuple[bytes, Any]] = []

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[str, int]]:
        if self.read >= len(self.wire.incoming):
            raise BlockingIOError
        self.read += 1
        return self.wire.incoming[self.read - 1]

    def sendto(self, data: bytes, address: Any) -> int:
        self.sent.append((data, address))
        return len(data)

    def send(self, nbma: Any, data: bytes) -> bool:
        return self.sendto(data, (str(nbma), 0)) > 0

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def pair(local_a: IPv4Address, key_a: int | None, local_b: IPv4Address, key_b: int | None):
    wire, demux = Wire(), GreDemux()
    a, b = GreTransport(key_a, sock=wire.socket()), GreTransport(key_b, sock=wire.socket())  # type: ignore[arg-type]
    for name, transport, local, key in (("Tunnel0", a, local_a, key_a), ("Tunnel1", b, local_b, key_b)):
        transport.demux, transport.name = demux, name
        demux.register(name, local, key)
    return wire, demux, a, b


def test_one_tunnel_alone_checks_no_destination():
    demux = GreDemux()
    demux.register("Tunnel0", X, 100)
    assert not demux.active and demux.local_of("Tunnel0") is None
    assert demux.counts_strays("Tunnel0") and demux.unmatched == 0


def test_each_tunnel_takes_its_destination_and_key_and_strays_are_counted_once():
    wire, demux, a, b = pair(X, 100, Y, 200)
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, 100))   # Tunnel0's
    wire.deliver(Y, encode_gre(GRE_PROTO_IPV4, PACKET, 200))   # Tunnel1's
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, 999))   # nobody's: wrong key
    wire.deliver(Z, encode_gre(GRE_PROTO_IPV4, PACKET, 100))   # nobody's: not a tunnel source
    wire.deliver(Y, b"\x00")                                    # malformed
    assert [p for *_x, p in a.receive()] == [PACKET]
    assert [p for *_x, p in b.receive()] == [PACKET]
    assert a.counters.drops == {"tunnel key mismatch": 1, "no tunnel for destination": 1, "malformed gre": 1}
    assert b.counters.drops == {}
    assert (a.counters.gre_in, b.counters.gre_in) == (1, 1)
    assert demux.unmatched == 3


def test_same_source_different_keys_and_no_key():
    wire, demux, a, b = pair(X, 100, X, None)
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, 100))
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, None))
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, 7))
    assert len(list(a.receive())) == 1 and len(list(b.receive())) == 1
    assert a.counters.drops == {"tunnel key mismatch": 1} and b.counters.drops == {}
    assert demux.conflict("Tunnel2", X, None) == "Tunnel1" and demux.conflict("Tunnel2", X, 5) is None


def test_unregistering_makes_a_lone_tunnel_take_everything_again():
    wire, demux, a, _b = pair(X, 100, Y, 200)
    demux.unregister("Tunnel1")
    wire.deliver(Z, encode_gre(GRE_PROTO_IPV4, PACKET, 100))
    assert len(list(a.receive())) == 1


def test_a_protected_tunnel_leaves_another_tunnels_esp_and_cleartext_gre_alone():
    esp_wire, gre_wire, demux = Wire(50), Wire(47), GreDemux()
    protected = EspTransport(SaDatabase(), X, 100, esp_sock=esp_wire.socket(),  # type: ignore[arg-type]
                             gre_sock=gre_wire.socket())  # type: ignore[arg-type]
    plain = GreTransport(200, sock=gre_wire.socket())  # type: ignore[arg-type]
    protected.demux, protected.name, plain.demux, plain.name = demux, "Tunnel0", demux, "Tunnel1"
    demux.register("Tunnel0", X, 100, protected=True)
    demux.register("Tunnel1", Y, 200)
    gre_wire.deliver(Y, encode_gre(GRE_PROTO_IPV4, PACKET, 200))  # the plain tunnel's
    gre_wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, 100))  # ours in the clear: IOS drops it
    esp_wire.deliver(Z, b"\x00\x00\x10\x01" + b"\x00" * 20)       # ESP to no tunnel source
    assert list(protected.receive()) == []
    assert protected.counters.drops == {CLEARTEXT_DROP: 1, "no tunnel for destination": 1}
    assert [p for *_x, p in plain.receive()] == [PACKET]
    assert plain.counters.drops == {}  # our cleartext GRE is the protected tunnel's to drop


def test_an_unknown_spi_of_another_tunnel_is_not_this_tunnels_drop():
    esp_wire, gre_wire, demux = Wire(50), Wire(47), GreDemux()
    a = EspTransport(SaDatabase(), X, 100, esp_sock=esp_wire.socket(), gre_sock=gre_wire.socket())  # type: ignore[arg-type]
    a.demux, a.name = demux, "Tunnel0"
    demux.register("Tunnel0", X, 100, protected=True)
    demux.register("Tunnel1", X, 200, protected=True)
    demux.note_spis("Tunnel1", {0x1001})
    esp_wire.deliver(X, b"\x00\x00\x10\x01" + b"\x00" * 20)
    esp_wire.deliver(X, b"\x00\x00\x10\x02" + b"\x00" * 20)
    assert list(a.receive()) == []
    assert a.counters.drops == {"esp invalid sa": 1}


def test_point_to_point_tunnels_on_one_source_take_their_own_peer_and_win_over_multipoint():
    wire, demux = Wire(), GreDemux()
    mgre_ = GreTransport(None, sock=wire.socket())  # type: ignore[arg-type]
    p2p = GreTransport(None, sock=wire.socket())  # type: ignore[arg-type]
    other = IPv4Address("203.0.113.9")
    for name, transport, remote in (("Tunnel0", mgre_, None), ("Tunnel1", p2p, PEER)):
        transport.demux, transport.name = demux, name
        demux.register(name, X, None, remote=remote)
    assert demux.conflict("Tunnel2", X, None, other) is None and demux.conflict("Tunnel2", X, None, PEER) == "Tunnel1"
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, None), src=PEER)   # the p2p tunnel's peer
    wire.deliver(X, encode_gre(GRE_PROTO_IPV4, PACKET, None), src=other)  # anyone else: the mGRE's
    assert [src for src, *_x in mgre_.receive()] == [str(other)]
    assert [src for src, *_x in p2p.receive()] == [str(PEER)]
    assert mgre_.counters.drops == {} and p2p.counters.drops == {}
