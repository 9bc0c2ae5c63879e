"""GRE in ESP: the tunnel's transport with `tunnel protection ipsec profile` (RFC 4303).

The same GRE bytes `GreTransport` would send go into ESP, in transport mode between the
two NBMA addresses (DMVPN's `mode transport`: next header 47), or in tunnel mode inside
an inner NBMA-to-NBMA IPv4 header (next header 4) when the transform set says `mode
tunnel`. The SA comes from `ipsec.sadb.SaDatabase`, which IKE fills through the agent:

- Send: `peer(nbma)` is the handle the tunnel's fast path caches per next hop: a
  `PeerHandle`, one per NBMA address, holding that peer's current route (the current
  SA's seal, the socket's sendto and the address), which `refresh` rebuilds whenever an
  SA of that peer is installed or removed, so the handle survives rekeys.
  `send_gre(gre, handle)` costs one attribute read, one seal and one sendto (an
  IPv4Address as a dict key would cost a hash of ~0.25 us per packet: `ipaddress` does
  not cache it). ESP
  goes out of a raw IPPROTO_ESP socket (the kernel adds the IPv4 header), or with NAT-T
  as the payload of a UDP datagram from our port 4500 to the peer's port (RFC 3948: no
  marker before ESP; the agent owns that socket and lends its sendto).
- No SA yet: the GRE packet is queued (32 per peer, the oldest dropped: "queue
  overflow") and `on_need_sa(nbma)` is called, so the agent starts IKE; `install`
  flushes the queue when Quick Mode completes. IOS drops instead of queueing, but
  dropping the NHRP Registration that triggered IKE would delay the spoke by a full
  registration retry, so a short queue it is.
- Receive: ESP from the raw socket (its IPv4 header stripped by IHL) and ESP-in-UDP
  handed over by the agent from its 4500 socket (`receive_udp_esp`) -> the SPI's
  `InboundSa.open` -> the GRE check `GreTransport` uses (`decode_peer_gre`). Every
  refusal is a counted drop ("esp invalid sa", "esp verify_failed", ...), never an
  exception. Cleartext GRE from a peer (the raw GRE socket stays open for it) is read
  and dropped, counted as "cleartext GRE with tunnel protection", as IOS drops it.
  Sources that sent authentic ESP are collected in `heard`, for DPD (`peer_alive`).
- Peers are keyed as the agent names them: behind a NAT that moved the NAT-T port, an
  `ipsec.endpoint.NatEndpoint` (address and port), so several spokes behind one public
  address each have their own handle, route, queue and SA (a NAT fleet).

Imports ipsec.esp and ipsec.sadb (ipsec never imports tunnel), and the GRE pieces of
`tunnel`.
"""

from __future__ import annotations

import struct
from collections import Counter, deque
from ipaddress import IPv4Address
from typing import Any, Callable, Iterator

from dmvpnlab.ipsec.esp import NO_NEXT_HEADER, PROTO_GRE, PROTO_IPV4, EspError, OutboundSa
from dmvpnlab.ipsec.endpoint import NatEndpoint, peer_of
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.sadb import SaDatabase, SaPair
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4
from dmvpnlab.tunnel.ipv4 import build_ipv4
from dmvpnlab.tunnel.socket import RawGreSocket
from dmvpnlab.tunnel.gre import GreDecodeError, decode_gre
from dmvpnlab.tunnel.transport import GreFraming, Received, TunnelCounters, decode_peer_gre

IPPROTO_ESP = 50
QUEUE_LIMIT = 32
CLEARTEXT_DROP = "cleartext GRE with tunnel protection"

_SPI = struct.Struct("!I")
_BUFSIZE = 65535

#: (seal(gre) -> ESP bytes, sendto(data, address), address): what sending to a peer takes.
Route = tuple[Callable[[bytes], bytes], Callable[[bytes, Any], object], tuple[str, int]]


class PeerHandle:
    """One NBMA peer as the tunnel's fast path holds it: the address and its current
    send route (None: no SA, the packet waits), kept current by `EspTransport`."""

    __slots__ = ("nbma", "route")

    def __init__(self, nbma: IPv4Address, route: Route | None) -> None:
        self.nbma = nbma
        self.route = route

    def __repr__(self) -> str:
        return f"PeerHandle({self.nbma}, {'SA' if self.route is not None else 'no SA'})"


class EspTransport(GreFraming):
    """GRE over ESP to and from NBMA peers, SAs from an `SaDatabase`."""

    def __init__(self, sadb: SaDatabase, local: IPv4Address, key: int | None = None, *,
                 esp_sock: RawGreSocket | None = None, gre_sock: RawGreSocket | None = None,
                 on_need_sa: Callable[[IPv4Address], None] | None = None,
                 queue_limit: int = QUEUE_LIMIT) -> None:
        """`local` is our NBMA address (the outer source; tunnel mode's inner header
        needs it). The sockets default to new raw ESP and GRE sockets; tests and
        benchmarks pass stand-ins with `sendto`, `recvfrom`, `fileno` and `close`."""
        self.sadb = sadb
        self.local = local
        self.esp_sock = esp_sock if esp_sock is not None else RawGreSocket(protocol=IPPROTO_ESP)
        self.gre_sock = gre_sock if gre_sock is not None else RawGreSocket()
        self.on_need_sa: Callable[[IPv4Address], None] = on_need_sa or (lambda _peer: None)
        self.udp_sendto: Callable[[bytes, Any], object] | None = None  # the agent's port-4500 socket
        self.queue_limit = queue_limit
        self.counters = TunnelCounters()
        self.esp: Counter[str] = Counter()  # queued, flushed, dummy packets...: not drops
        self.heard: set[str | NatEndpoint] = set()  # address text, or a NatEndpoint
        self._routes: dict[IPv4Address, Route] = {}
        self._handles: dict[IPv4Address, PeerHandle] = {}
        self._queues: dict[IPv4Address, deque[bytes]] = {}
        self._udp_in: deque[tuple[bytes, str | NatEndpoint]] = deque()
        self.send_gre: Callable[[bytes, PeerHandle], None] = self._send_to_handle
        #: `tunnel protection ... shared`: other tunnels' transports over our SAs, by GRE key
        #: (tunnel.esp_shared.SharedEspView); what we open with their key is theirs.
        self.siblings: dict[int | None, Any] = {}
        self.set_key(key)

    # --- the Transport protocol -----------------------------------------------------

    def set_key(self, key: int | None) -> None:
        super().set_key(key)
        self._data_header = self._headers[GRE_PROTO_IPV4]

    def peer(self, nbma: IPv4Address) -> PeerHandle:
        handle = self._handles.get(nbma)
        if handle is None:
            handle = self._handles[nbma] = PeerHandle(nbma, self._routes.get(nbma))
        return handle

    def fileno(self) -> int:
        return self.esp_sock.fileno()

    def filenos(self) -> list[int]:
        return [self.esp_sock.fileno(), self.gre_sock.fileno()]

    def close(self) -> None:
        self.esp_sock.close()
        self.gre_sock.close()

    def _send_gre(self, gre: bytes, nbma: IPv4Address) -> None:
        self._send_to_handle(gre, self.peer(nbma))

    def _send_to_handle(self, gre: bytes, handle: PeerHandle) -> None:
        """Seal and send one GRE packet, or queue it until IKE has an SA. Raises OSError
        when the socket lost it (the fast path counts that)."""
        route = handle.route
        if route is None:
            self._enqueue(handle.nbma, gre)
            return
        seal, sendto, address = route
        try:
            esp = seal(gre)
        except EspError as refused:  # hard lifetime or sequence space ended before IKE rekeyed
            self.counters.drops[f"esp {refused.reason}"] += 1
            self._set_route(handle.nbma, None)
            self._enqueue(handle.nbma, gre)
            return
        sendto(esp, address)

    def send(self, proto: int, payload: bytes, nbma: IPv4Address) -> bool:
        gre = self.header(proto) + payload
        try:
            self._send_gre(gre, nbma)
        except OSError:
            self.counters.drops["send failed"] += 1
            return False
        self._count_sent(gre)
        return True

    def receive(self) -> Iterator[Received]:
        """Everything waiting: ESP from the raw socket, ESP-in-UDP handed over, and
        cleartext GRE (dropped). Yields what opened, decapsulated and key-checked."""
        recvfrom, opened = self.esp_sock.recvfrom, self._open
        demux = self.demux
        mine = demux.local_of(self.name) if demux is not None else None  # None: one tunnel
        while True:
            try:
                data, (src, _port) = recvfrom(_BUFSIZE)
            except BlockingIOError:
                break
            ihl = (data[0] & 0x0F) * 4 if data else 0
            if ihl < 20 or len(data) < ihl + 8:
                if demux is None or demux.counts_strays(self.name):
                    self.counters.drops["malformed esp"] += 1
                continue
            if mine is not None and demux is not None and data[16:20] != mine:
                # ESP to another address of this router: another tunnel's, or nobody's
                if not demux.esp_to(self.name, data[16:20]) and demux.counts_strays(self.name):
                    self.counters.drops["no tunnel for destination"] += 1
                continue
            found = opened(data[ihl:], src)
            if found is not None:
                yield found
        udp_in = self._udp_in
        while udp_in:
            data, src = udp_in.popleft()
            found = opened(data, src)
            if found is not None:
                yield found
        self._drain_cleartext()

    # --- ESP ------------------------------------------------------------------------

    def _open(self, esp: bytes, src: "str | NatEndpoint") -> Received | None:
        """One ESP packet -> (source, GRE protocol type, payload), or None (counted)."""
        counters = self.counters
        if len(esp) < 8:
            counters.drops["malformed esp"] += 1
            return None
        spi = _SPI.unpack_from(esp)[0]
        sa = self.sadb.inbound.get(spi)
        if sa is None:
            if self.demux is not None and self.demux.spi_elsewhere(self.name, spi):
                return None  # another tunnel's SA (same source): its packet, not our drop
            self.sadb.counters["invalid sa"] += 1
            counters.drops["esp invalid sa"] += 1
            return None
        try:
            gre, next_header, _seq = sa.open(esp)
        except EspError as refused:
            counters.drops[f"esp {refused.reason}"] += 1
            return None
        self.heard.add(src)
        if next_header != PROTO_GRE:
            unwrapped = self._unwrap(gre, next_header)
            if unwrapped is None:
                return None
            gre = unwrapped
        header = self._data_header
        if gre[:len(header)] == header:  # data with our key: the common case, a slice
            proto, payload = GRE_PROTO_IPV4, gre[len(header):]
        else:
            if self.siblings and self._to_sibling(gre, src):
                return None
            found = decode_peer_gre(gre, self.key, counters.drops)
            if found is None:
                return None
            proto, payload = found
        counters.gre_in += 1
        counters.bytes_in += len(gre)
        return src, proto, payload

    def _to_sibling(self, gre: bytes, src: "str | NatEndpoint") -> bool:
        """GRE opened from our SAs with another shared tunnel's key: handed to that tunnel."""
        try:
            packet = decode_gre(gre)
        except GreDecodeError:
            return False
        sibling = self.siblings.get(packet.key)
        if sibling is None or packet.key == self.key:
            return False
        sibling.deliver(src, packet.proto, packet.payload, len(gre))
        return True

    def _unwrap(self, payload: bytes, next_header: int) -> bytes | None:
        """Tunnel mode's inner NBMA-to-NBMA IPv4 header around GRE, or a dummy packet."""
        if next_header == NO_NEXT_HEADER:
            self.esp["dummy packets"] += 1
            return None
        if next_header == PROTO_IPV4 and len(payload) >= 20:
            ihl = (payload[0] & 0x0F) * 4
            if payload[0] >> 4 == 4 and ihl >= 20 and len(payload) >= ihl and payload[9] == PROTO_GRE:
                return payload[ihl:]
        self.counters.drops["esp unexpected payload"] += 1
        return None

    def receive_udp_esp(self, data: bytes, source: tuple[str, int]) -> None:
        """One UDP-encapsulated ESP packet (RFC 3948) from the agent's 4500 socket; it is
        opened by the next `receive` (the agent then drains the tunnel). Its source is
        the address text, or behind a NAT that changed the port the NatEndpoint
        (`ipsec.endpoint`), so spokes sharing one public address stay apart."""
        if len(self._udp_in) >= 4096:  # the agent drains after every read: only a bug fills this
            self.counters.drops["udp esp backlog"] += 1
            return
        peer = peer_of(source[0], source[1])
        self._udp_in.append((data, peer if isinstance(peer, NatEndpoint) else source[0]))

    def _drain_cleartext(self) -> None:
        recvfrom = self.gre_sock.recvfrom
        demux = self.demux
        mine = demux.local_of(self.name) if demux is not None else None  # None: one tunnel
        while True:
            try:
                data, _address = recvfrom(_BUFSIZE)
            except BlockingIOError:
                return
            if mine is not None and demux is not None and not self._cleartext_is_mine(data, mine, demux):
                continue
            self.counters.drops[CLEARTEXT_DROP] += 1

    def _cleartext_is_mine(self, data: bytes, mine: bytes, demux: Any) -> bool:
        """Cleartext GRE on a router with several tunnels: a tunnel without protection
        takes its own; GRE to our source with our key is ours to drop; the rest is a
        stray, counted once by whichever tunnel counts strays."""
        ihl = (data[0] & 0x0F) * 4 if data else 0
        try:
            key = decode_gre(data[ihl:]).key if ihl >= 20 else None
        except GreDecodeError:
            key = -1
        dst = data[16:20]
        if demux.owner(dst, data[12:16], key, protected=False) is not None:
            return False
        if dst == mine and (key == self.key or key in self.siblings):
            return True
        if demux.counts_strays(self.name):
            self.counters.drops["no tunnel for destination"] += 1
        return False

    def _note_spis(self) -> None:
        if self.demux is not None:
            self.demux.note_spis(self.name, set(self.sadb.inbound))

    # --- SAs from IKE ---------------------------------------------------------------

    def install(self, up: ChildSaUp, now: float) -> SaPair:
        """Install one SA pair, send on it from now on, flush what waited for it."""
        pair = self.sadb.install(up, now)
        self._note_spis()
        self.refresh(up.peer)
        self.flush(up.peer)
        return pair

    def install_inbound(self, up: ChildSaUp) -> None:
        """Open the peer's packets on `up`'s inbound SA before its Quick Mode completes
        (see ipsec.events.ChildSaLarval); sending waits for `install`."""
        self.sadb.install_inbound(up)
        self._note_spis()

    def remove(self, spi_in: int) -> SaPair | None:
        pair = self.sadb.remove(spi_in)
        self._note_spis()
        if pair is not None:
            self.refresh(pair.peer)
        return pair

    def remove_peer(self, peer: IPv4Address | None = None) -> list[SaPair]:
        pairs = self.sadb.remove_peer(peer)
        self._note_spis()
        for peer_address in {p.peer for p in pairs}:
            self.refresh(peer_address)
        return pairs

    def refresh(self, peer: IPv4Address) -> None:
        """Rebuild the send route of `peer` from its current outbound SA."""
        pair = self.sadb.pair_of_outbound(peer)
        if pair is None:
            self._set_route(peer, None)
            return
        up = pair.up
        if up.nat_t:
            sendto = self.udp_sendto
            if sendto is None:  # no 4500 socket: nothing can carry this SA
                self._set_route(peer, None)
                self.counters.drops["nat-t without udp socket"] += 1
                return
            address = (str(peer), up.peer_port)
        else:
            sendto, address = self.esp_sock.sendto, (str(peer), 0)
        self._set_route(peer, (self._sealer(pair.outbound, peer), sendto, address))

    def _set_route(self, peer: IPv4Address, route: Route | None) -> None:
        """The one place a peer's route changes: the table and the peer's handle."""
        if route is None:
            self._routes.pop(peer, None)
        else:
            self._routes[peer] = route
        handle = self._handles.get(peer)
        if handle is not None:
            handle.route = route

    def _sealer(self, sa: OutboundSa, peer: IPv4Address) -> Callable[[bytes], bytes]:
        if sa.mode == "transport":
            return sa.seal  # next header 47 is seal's default: no wrapper per packet
        local, seal = self.local, sa.seal
        return lambda gre: seal(build_ipv4(local, peer, PROTO_GRE, gre), PROTO_IPV4)

    def has_sa(self, peer: IPv4Address) -> bool:
        return peer in self._routes

    def _enqueue(self, peer: IPv4Address, gre: bytes) -> None:
        queue = self._queues.get(peer)
        if queue is None:
            queue = self._queues[peer] = deque()
        if len(queue) >= self.queue_limit:
            queue.popleft()
            self.counters.drops["queue overflow"] += 1
        queue.append(gre)
        self.esp["queued"] += 1
        self.on_need_sa(peer)

    def queued(self, peer: IPv4Address) -> int:
        queue = self._queues.get(peer)
        return len(queue) if queue is not None else 0

    def waiting(self) -> dict[IPv4Address, int]:
        """Packets waiting for an SA, per peer (the state answer shows them)."""
        return {peer: len(queue) for peer, queue in self._queues.items() if queue}

    def flush(self, peer: IPv4Address) -> int:
        """Send what waited for `peer`'s SA, oldest first; the number sent."""
        queue = self._queues.pop(peer, None)
        if not queue or peer not in self._routes:
            if queue:
                self._queues[peer] = queue
            return 0
        sent = 0
        while queue:
            try:
                self._send_gre(queue.popleft(), peer)
                sent += 1
            except OSError:
                self.counters.drops["send failed"] += 1
        self.esp["flushed"] += sent
        return sent

    def discard(self, peer: IPv4Address | None = None) -> int:
        """Drop what waits for `peer` (every peer when None): IKE gave up on it."""
        peers = [peer] if peer is not None else list(self._queues)
        dropped = sum(len(self._queues.pop(p, ())) for p in peers)
        if dropped:
            self.counters.drops["queue dropped"] += dropped
        return dropped
