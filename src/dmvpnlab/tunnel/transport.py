"""The tunnel's NBMA side as one object: what carries GRE to and from the peers.

Everything the mGRE interface sends to an NBMA peer, or receives from one, goes through
its transport: NHRP and data, the general path and the per-packet fast path alike. Today
that is `GreTransport`, plain GRE in IP protocol 47 over `socket.RawGreSocket`. With
`tunnel protection`, an ESP transport takes its place (or wraps it: ESP carries the
same GRE bytes, in transport mode between the same NBMA addresses), so the interface is
written in terms of GRE bytes and peers, never of sockets:

- `send(proto, payload, nbma)`: encapsulate one payload (GRE protocol type `proto`) and
  send it; False when it was lost on the way out (counted).
- `receive()`: every packet waiting, decapsulated and key-checked, as (NBMA source,
  GRE protocol type, payload). Malformed and wrong-key GRE is counted, not yielded
  (`decode_peer_gre` is that check, shared with the ESP transport). `filenos()` are
  the descriptors whose readability means `receive` has work.
- The fast path's three pieces, so it costs one bytes concatenation and one call per
  packet: `header(proto)` (the constant GRE header for this key), `peer(nbma)` (a
  handle to cache per next hop: here the socket address, for ESP it can be the SA) and
  `send_gre(gre_bytes, peer)`, which raises OSError when the packet is lost; the
  caller counts what it sends that way.

Counters: the transport counts GRE packets and bytes both ways and its own drops; the
tunnel counts NHRP and the drops it decides, in the same `TunnelCounters`. Imports only
`tunnel.gre` and `tunnel.socket`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, Callable, Iterator, Protocol

from dmvpnlab.tunnel.demux import GreDemux
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, GreDecodeError, decode_gre, gre_header
from dmvpnlab.tunnel.socket import RawGreSocket

#: (NBMA source as the socket reports it, dotted quad; GRE protocol type; payload).
#: The source stays text because only the slow path needs an IPv4Address of it.
Received = tuple[Any, int, bytes]  # (source: address text, or an ipsec.endpoint.NatEndpoint; GRE protocol; payload)

_BUFSIZE = 65535


@dataclass
class TunnelCounters:
    """Per-tunnel NBMA-side counters (show interfaces, show dmvpn, the JSON state API)."""

    gre_in: int = 0
    gre_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    nhrp_in: int = 0
    nhrp_out: int = 0
    drops: Counter[str] = field(default_factory=Counter)


def decode_peer_gre(gre: bytes, key: int | None, drops: Counter[str]) -> tuple[int, bytes] | None:
    """The general receive path of GRE from a peer, whatever carried it (a raw GRE
    socket, or ESP once opened): (protocol type, payload), or None when the packet is
    malformed or carries the wrong key, counted in `drops`. Callers try the constant
    header of their key first (a slice compare); this is for everything else."""
    try:
        packet = decode_gre(gre)
    except GreDecodeError:
        drops["malformed gre"] += 1
        return None
    if packet.key != key:
        drops["tunnel key mismatch"] += 1
        return None
    return packet.proto, packet.payload


def demux_peer_gre(gre: bytes, dst: bytes, src: bytes, key: int | None, drops: Counter[str],
                   demux: GreDemux, name: str) -> tuple[int, bytes] | None:
    """`decode_peer_gre` for a router with several tunnels (`demux` active): GRE another
    tunnel takes (its source, key or point-to-point peer) is that tunnel's, not a drop
    here; what no tunnel takes is counted once (by the first tunnel)."""
    try:
        packet = decode_gre(gre)
    except GreDecodeError:
        if demux.counts_strays(name):
            drops["malformed gre"] += 1
        return None
    owner = demux.owner(dst, src, packet.key)
    if owner == name:
        return packet.proto, packet.payload
    if owner is None and demux.counts_strays(name):
        mine = demux.claims.get(name)
        drops["tunnel key mismatch" if mine is not None and dst == mine.local else "no tunnel for destination"] += 1
    return None


class Transport(Protocol):
    """What `MgreTunnel` needs of its NBMA side (see the module docstring)."""

    counters: TunnelCounters
    key: int | None
    send_gre: Callable[[bytes, Any], object]

    def set_key(self, key: int | None) -> None: ...
    def header(self, proto: int) -> bytes: ...
    def peer(self, nbma: IPv4Address) -> Any: ...
    def send(self, proto: int, payload: bytes, nbma: IPv4Address) -> bool: ...
    def receive(self) -> Iterator[Received]: ...
    def fileno(self) -> int: ...
    def filenos(self) -> list[int]: ...
    def close(self) -> None: ...


class GreFraming:
    """What every transport does with GRE alike: the constant headers of its `tunnel
    key`, and counting a GRE packet that went out. Plain GRE and GRE in ESP differ only
    in how the bytes travel."""

    key: int | None
    counters: TunnelCounters
    #: Set by the agent when the router has several tunnels (tunnel.demux); None: one.
    demux: GreDemux | None = None
    name: str = ""

    def set_key(self, key: int | None) -> None:
        """`tunnel key`: sent in every header, and received GRE must carry it."""
        self.key = key
        self._headers = {proto: gre_header(proto, key) for proto in (GRE_PROTO_IPV4, GRE_PROTO_NHRP)}

    def header(self, proto: int) -> bytes:
        found = self._headers.get(proto)
        return found if found is not None else gre_header(proto, self.key)

    def _count_sent(self, gre: bytes) -> None:
        self.counters.gre_out += 1
        self.counters.bytes_out += len(gre)


class GreTransport(GreFraming):
    """Plain GRE (RFC 2784, key per RFC 2890) over a raw IP socket."""

    def __init__(self, key: int | None = None, sock: RawGreSocket | None = None) -> None:
        """`sock` defaults to a new raw GRE socket; benchmarks pass a stand-in with the
        same `send`, `sendto` and `recvfrom` to time the per-packet Python alone."""
        self.sock = sock if sock is not None else RawGreSocket()
        self.counters = TunnelCounters()
        self.send_gre: Callable[[bytes, Any], object] = self.sock.sendto
        self.set_key(key)

    def peer(self, nbma: IPv4Address) -> tuple[str, int]:
        return (str(nbma), 0)

    def fileno(self) -> int:
        return self.sock.fileno()

    def filenos(self) -> list[int]:
        """Every descriptor the agent's loop reads for this transport (`receive`)."""
        return [self.sock.fileno()]

    def close(self) -> None:
        self.sock.close()

    def send(self, proto: int, payload: bytes, nbma: IPv4Address) -> bool:
        gre = self.header(proto) + payload
        if not self.sock.send(nbma, gre):
            self.counters.drops["send failed"] += 1
            return False
        self._count_sent(gre)
        return True

    def receive(self) -> Iterator[Received]:
        """Read the socket dry. Data with exactly our header (the common case) is sliced
        without decoding; anything else goes through the full GRE decoder. Packets and
        bytes are summed in locals and added to the counters when the loop ends."""
        recvfrom = self.sock.recvfrom
        counters = self.counters
        drops = counters.drops
        header = self._headers[GRE_PROTO_IPV4]
        header_len = len(header)
        key = self.key
        demux = self.demux
        # None: one tunnel, take everything; else our destination [and p2p peer], and the
        # sources point-to-point tunnels on our destination and key take before us
        mine, remote, shadow = demux.view(self.name) if demux is not None else (None, None, frozenset())
        ipv4, bufsize = GRE_PROTO_IPV4, _BUFSIZE  # locals: this loop runs per packet
        packets = octets = 0
        try:
            while True:
                try:
                    data, (src, _port) = recvfrom(bufsize)
                except BlockingIOError:
                    return
                ihl = (data[0] & 0x0F) * 4 if data else 0
                if ihl < 20 or len(data) < ihl + 4:
                    if demux is None or demux.counts_strays(self.name):
                        drops["malformed gre"] += 1
                    continue
                start = ihl + header_len
                if data[ihl:start] == header and (mine is None or (
                        data[16:20] == mine and (remote is None or data[12:16] == remote)
                        and (not shadow or data[12:16] not in shadow))):
                    packets += 1
                    octets += len(data) - ihl
                    yield src, ipv4, data[start:]
                    continue
                if mine is not None and demux is not None:
                    found = demux_peer_gre(data[ihl:], data[16:20], data[12:16], key, drops, demux, self.name)
                else:
                    found = decode_peer_gre(data[ihl:], key, drops)
                if found is not None:
                    packets += 1
                    octets += len(data) - ihl
                    yield src, found[0], found[1]
        finally:
            counters.gre_in += packets
            counters.bytes_in += octets
