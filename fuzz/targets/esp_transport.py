"""The protected tunnel's receive side: raw ESP and UDP 4500 into the agent's IPsec node.

Target `esp-transport`: what a hostile underlay can hand a router with `tunnel
protection`, through the same doors the live agent opens. The first input byte picks
the door: even, the raw ESP socket (the rest is what recvfrom returns: an IPv4 header,
then whatever follows); odd, the UDP 4500 socket (the rest is the UDP payload, which the
IPsec node demultiplexes itself: non-ESP marker -> the real IKE engine, 0xFF -> NAT
keepalive, else ESP to the transport). Then the tunnel's receive loop runs.

One long-lived node (a real `IkeEngine`, SA database, `EspTransport` with stand-in
sockets) with SA pairs installed for several transforms, transport and tunnel mode,
with and without NAT-T, and a GRE key. Checked on every input: nothing raises; every
packet the transport yields came out of an SA with an ICV and is one of the GRE
packets sealed for the seeds (nothing forged gets through), with the GRE protocol type
and payload it was sealed with; the SA database's outbound map still names only
installed SAs. Seeds are the sealed packets through both doors, a NAT keepalive and an
IKE-shaped datagram.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.agent.ipsec_node import IpsecNode, new_engine
from dmvpnlab.ipsec.esp import OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.ipsec.settings import ChildPolicy, IpsecSettings
from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre
from dmvpnlab.tunnel.ipv4 import build_ipv4
from fuzz.harness import Target

LOCAL = IPv4Address("100.64.1.1")
KEY = 12345
#: (transform, mode, NAT-T) of each peer's SA pair; peer n is 203.0.113.(n + 1).
SAS = (("esp-aes 256 esp-sha256-hmac", "transport", False), ("esp-gcm", "transport", True),
       ("esp-aes esp-sha-hmac", "tunnel", False), ("esp-null esp-md5-hmac", "transport", False))


def _clock() -> float:
    return 0.0  # lifetimes never run out during a run: determinism


class _Socket:
    """A raw socket whose system calls are replaced: one input at a time."""

    def __init__(self) -> None:
        self.incoming: list[tuple[bytes, tuple[str, int]]] = []

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[str, int]]:
        if not self.incoming:
            raise BlockingIOError
        return self.incoming.pop()

    def sendto(self, data: bytes, _address: Any) -> int:
        return len(data)

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def _keymat(words: str, n: int, direction: str) -> bytes:
    total = parse_transform(words).key_lengths().total
    return hashlib.sha512(f"{words}/{n}/{direction}".encode()).digest()[:total].ljust(total, b"k")


def _peer(n: int) -> IPv4Address:
    return IPv4Address(f"203.0.113.{n + 1}")


@lru_cache(maxsize=1)
def _world() -> tuple[IpsecNode, EspTransport, _Socket, tuple[bytes, ...], frozenset[tuple[int, bytes]]]:
    """The node, its transport, its ESP socket, the seeds and what may come out."""
    esp_sock = _Socket()
    transport = EspTransport(SaDatabase(_clock), LOCAL, KEY, esp_sock=esp_sock, gre_sock=_Socket())  # type: ignore[arg-type]
    settings = IpsecSettings(local_address=LOCAL, child=ChildPolicy("FUZZ"))
    node = IpsecNode(settings, transport, new_engine(settings, 0.0, lambda _c, _l: None), clock=_clock, bind=False)
    node.on_udp_esp = lambda: None
    seeds, allowed = [], set()
    for n, (words, mode, nat_t) in enumerate(SAS):
        peer = _peer(n)
        transform = parse_transform(words)
        spi_in = 0x5000 + n
        transport.install(ChildSaUp(peer=peer, transform=transform, mode=mode, spi_in=spi_in,  # type: ignore[arg-type]
                                    keymat_in=_keymat(words, n, "in"), spi_out=0x6000 + n,
                                    keymat_out=_keymat(words, n, "out"), lifetime_seconds=3600,
                                    lifetime_kilobytes=4_608_000, nat_t=nat_t, peer_port=4500 if nat_t else 500,
                                    initiator=False), 0.0)
        sealer = OutboundSa(transform, spi_in, _keymat(words, n, "in"), mode=mode, clock=_clock)  # type: ignore[arg-type]
        for proto, payload in ((GRE_PROTO_NHRP, b"\x00\x01\x08\x00" + bytes(range(40))),
                               (GRE_PROTO_IPV4, build_ipv4(IPv4Address("192.168.2.10"), IPv4Address("192.168.1.10"),
                                                           17, bytes(30)))):
            gre = encode_gre(proto, payload, KEY)
            esp = (sealer.seal(gre, 47) if mode == "transport"
                   else sealer.seal(build_ipv4(peer, LOCAL, 47, gre), 4))
            allowed.add((proto, payload))
            door = b"\x01" if nat_t else b"\x00"
            seeds.append(door + (esp if nat_t else build_ipv4(peer, LOCAL, 50, esp)))
    seeds += [b"\x01\xff", b"\x01" + bytes(4) + bytes(28), b"\x00" + build_ipv4(_peer(0), LOCAL, 50, b"\x00" * 8)]
    return node, transport, esp_sock, tuple(seeds), frozenset(allowed)


def receive(data: bytes) -> None:
    node, transport, esp_sock, _seeds, allowed = _world()
    if not data:
        return
    door, body = data[0], data[1:]
    source = str(_peer(data[0] % len(SAS)))
    if door % 2 == 0:
        esp_sock.incoming.append((body, (source, 0)))
    else:
        node.receive_udp(body, source, 4500, 4500)
    for src, proto, payload in transport.receive():
        if (proto, payload) not in allowed:
            raise AssertionError(f"a packet no one sealed came out of the tunnel: {proto:#x} {payload[:32].hex()}")
        if not isinstance(src, str):  # (a NatEndpoint only from a NAT-changed port: not 4500)
            raise AssertionError(f"source {src!r} is not the socket's text address")
    for peer, sa in transport.sadb.outbound.items():
        if sa.spi not in {p.spi_out for p in transport.sadb if p.peer == peer}:
            raise AssertionError(f"outbound SA of {peer} is not an installed pair")
    node.tick(0.0)  # timers, rekey/expiry checks, DPD hand-over, with whatever the input started


TARGETS = [Target("esp-transport", lambda: list(_world()[3]), receive)]
