"""EIGRP neighbours, hellos and the reliable transport (RTP, RFC 7868 section 5), sans-I/O.

Why sans-I/O (like nhrp/engine.py): bytes and the clock go in, `outbox` entries
(destination, interface, bytes) and `events` come out, so every rule is tested with real
packets through the codec and a fake clock, and the agent only moves bytes later.

What it does, as IOS does it:
- Hellos every `hello_interval` on each interface (multicast 224.0.0.10). The IOS
  configuration guide gives 60/180 s only to low-speed (T1 or less) NBMA media, and counts
  a medium as NBMA only when it does not do (pseudo-)multicast; an mGRE tunnel replicates
  multicast to its `ip nhrp map multicast` peers and IOS shows "Hello-interval is 5,
  Hold-time is 15" on a DMVPN Tunnel0 whatever its bandwidth (100 kbit/s by default).
  So 5/15 are the defaults here, per interface overridable (`ip hello-interval eigrp`,
  `ip hold-time eigrp`) by the caller.
- A neighbour is discovered by its first hello. K values must equal ours, else no
  adjacency and the IOS log line "K-value mismatch". The hold time is the one the peer
  announces in its PARAMETERS TLV; any packet from it restarts the hold timer.
- INIT exchange: on discovery we send the peer a unicast hello (so a peer that has not
  heard us yet knows us before our INIT lands) and queue a unicast UPDATE with the INIT
  flag; the neighbour is up (event NeighborUp) once our INIT is acked and the peer's INIT
  came. An INIT from an up neighbour means it restarted ("peer restarted": reset and
  start over) - unless the ack in that same packet is what brought it up: FRR's eigrpd
  answers our INIT with a fresh INIT carrying the ack.
- Reliable delivery: one global sequence number space (as IOS), one packet in flight per
  neighbour, acks are hellos with an ack number (or piggybacked on unicast packets), a
  retransmission after RTO (RTO = 6 * SRTT clamped to 200..5000 ms as IOS shows), 16
  retransmissions then the neighbour is reset ("retry limit exceeded").
- A multicast while some neighbours still have unacked packets: a hello with a SEQUENCE
  TLV naming those laggards and NEXT MULTICAST SEQUENCE, then the multicast with the CR
  flag; laggards get the packet unicast when their queue reaches it.
- Goodbye: `stop()` sends PARAMETERS with K1..K5 = 255; receiving one takes the
  neighbour down at once ("Interface Goodbye received"). Hold expiry: "holding time
  expired".
- MD5 (a key chain per interface, `add_interface(keys=...)`, or the router-wide `auth`):
  every packet we send is signed with the first (lowest id) key, hellos over their first
  44 bytes + key as FRR says Cisco does, other packets whole; a received packet is
  checked with the key of the id it names; one that fails is a counted drop
  (`drops["auth"]`) and never forms or refreshes an adjacency.
- The peer's STUB TLV and software version are kept (NeighborUp.stub, NeighborView);
  `stub` set here puts our STUB TLV in every hello.
Bad peer input is a counted drop in `drops`, never an exception.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable, Optional

from dmvpnlab.routing.eigrp.codec import (
    FLAG_CR, FLAG_INIT, MULTICAST_GROUP, Opcode, Packet, decode, encode, sign_md5, verify_md5,
)
from dmvpnlab.routing.eigrp.neighbor_types import (
    Delivered, Event, Md5Auth, NeighborDown, NeighborUp, NeighborView, Outbound,
)
from dmvpnlab.routing.eigrp.tlvs import (
    STUB_CONNECTED, STUB_RECEIVE_ONLY, STUB_REDISTRIBUTED, STUB_STATIC, STUB_SUMMARY,
    Authentication, EigrpDecodeError, NextMulticastSequence, Parameters, Sequence,
    SoftwareVersion, Stub, Tlv,
)

MULTICAST = IPv4Address(MULTICAST_GROUP)
RETRY_LIMIT = 16
RTO_MIN = 0.2   # seconds; IOS shows RTO 200 for a fresh neighbour
RTO_MAX = 5.0
RELIABLE_OPCODES = (Opcode.UPDATE, Opcode.QUERY, Opcode.REPLY, Opcode.SIA_QUERY, Opcode.SIA_REPLY)
GOODBYE = (255, 255, 255, 255, 255)
_EPSILON = 1e-6  # float clocks: 0.3 - 0.1 must count as the 200 ms it is
_HOLD_SLACK = 1e-3  # the heap only preselects: tick() applies the exact hold test


@dataclass
class _Interface:
    name: str
    address: IPv4Address
    hello_interval: float
    hold_time: int
    next_hello: float
    network: Optional[IPv4Network] = None   # peers must be on it ("not on common subnet")
    keys: tuple[Md5Auth, ...] = ()          # the key chain: the first (lowest id) signs


@dataclass
class _Pending:
    packet: Packet
    sent_at: float | None = None
    first_sent: float | None = None
    retries: int = 0


@dataclass
class _Neighbor:
    handle: int
    address: IPv4Address
    interface: str
    hold_time: int
    last_heard: float
    created: float
    up_since: float | None = None
    queue: list[_Pending] = field(default_factory=list)
    last_rx_seq: int = 0
    peer_init_seen: bool = False
    init_seq: int = 0         # the sequence number of the peer's INIT we took
    our_init_acked: bool = False
    cr_sequence: int | None = None
    srtt: float = 0.0
    stub: Optional[int] = None
    retrans: int = 0
    version: str = ""
    hold_due: float = 0.0     # the deadline of its live entry in the hold-timer heap

    @property
    def rto(self) -> float:
        return min(RTO_MAX, max(RTO_MIN, 6 * self.srtt))


class EigrpNeighbors:
    """Neighbour table + RTP of one EIGRP process (one AS) over its interfaces."""

    def __init__(self, asn: int, router_id: IPv4Address, k_values: tuple[int, ...] = (1, 0, 1, 0, 0),
                 hello_interval: float = 5.0, hold_time: int = 15, now: float = 0.0,
                 auth: Md5Auth | None = None) -> None:
        self.asn = asn
        self.router_id = IPv4Address(router_id)
        self.k_values = tuple(k_values)
        self.hello_interval = hello_interval
        self.hold_time = hold_time
        self.auth = auth
        self.stub: Optional[int] = None     # our STUB TLV flags, sent in every hello
        self.outbox: list[Outbound] = []
        self.sent: dict[str, int] = {}      # per kind: hello, ack, update, query, reply...
        self.received: dict[str, int] = {}
        # Called with (direction "send"/"receive", interface, neighbour or None, packet)
        # for every packet sent or accepted: the process's `debug eigrp packets`.
        self.on_packet: Optional[Callable[[str, str, Optional[IPv4Address], Packet], None]] = None
        self.events: list[Event] = []
        self.log: list[str] = []
        self.drops: dict[str, int] = {}
        self._interfaces: dict[str, _Interface] = {}
        self._neighbors: dict[tuple[str, IPv4Address], _Neighbor] = {}
        # What tick() looks at, so that it costs O(due + busy), not O(neighbours): a heap of
        # hold deadlines (lazy: a packet moves last_heard on, the entry is checked when it
        # comes due and pushed again), and the neighbours with something in their queue.
        self._holds: list[tuple[float, int, tuple[str, IPv4Address]]] = []
        self._queued: set[tuple[str, IPv4Address]] = set()
        self._rearm: list[_Neighbor] = []    # popped by _due(), pushed back after the tick
        self.tick_visits = 0      # neighbours tick() looked at (the tests count them)
        self._seq = 0
        self._handles = 0
        self._now = now
        self._stopped = False

    # ---- configuration -------------------------------------------------------------
    def add_interface(self, name: str, address: IPv4Address | IPv4Interface, hello_interval: float | None = None,
                      hold_time: int | None = None, keys: tuple[Md5Auth, ...] | None = None,
                      now: float | None = None) -> None:
        """Start EIGRP on an interface; the first hello goes out at once (as IOS does).
        `address` with a prefix length also checks that peers share the subnet; `keys`
        (lowest key id first) override the router-wide `auth` on this interface."""
        network = address.network if isinstance(address, IPv4Interface) else None
        ip = address.ip if isinstance(address, IPv4Interface) else IPv4Address(address)
        chain = tuple(keys) if keys is not None else ((self.auth,) if self.auth else ())
        self._now = self._now if now is None else now
        self._interfaces[name] = _Interface(
            name, ip, hello_interval or self.hello_interval,
            hold_time or self.hold_time, self._now, network, chain)

    def remove_interface(self, name: str, goodbye: bool = True) -> None:
        """EIGRP leaves an interface: a goodbye (peers drop us at once), its neighbours go."""
        iface = self._interfaces.get(name)
        if iface is None:
            return
        if goodbye and not self._stopped:
            self._send_hello(iface, goodbye=True)
        for nbr in [n for n in self._neighbors.values() if n.interface == name]:
            self._down(nbr, "interface removed")
        del self._interfaces[name]

    def reset(self, address: IPv4Address, reason: str) -> None:
        """Tear an adjacency down (stuck in active, `clear ip eigrp neighbors`)."""
        for nbr in [n for n in self._neighbors.values() if n.address == IPv4Address(address)]:
            self._down(nbr, reason)

    def queued(self, interface: str) -> int:
        """Reliable packets waiting on the interface's neighbours (the xmit queue)."""
        return sum(len(n.queue) for n in self._neighbors.values() if n.interface == interface)

    def queue_length(self, interface: str, address: IPv4Address) -> int:
        nbr = self._neighbors.get((interface, IPv4Address(address)))
        return len(nbr.queue) if nbr is not None else 0

    def pending_routes(self, interface: str) -> int:
        """Route TLVs still queued (unacked or unsent) to the interface's neighbours."""
        return sum(len(p.packet.tlvs) for n in self._neighbors.values() if n.interface == interface
                   for p in n.queue)

    def peers(self, interface: str) -> list[NeighborView]:
        return [v for v in self.neighbors() if v.interface == interface]

    # ---- sending -------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq % 0xFFFFFFFF + 1
        return self._seq

    def _emit(self, destination: IPv4Address, interface: str, packet: Packet) -> None:
        iface = self._interfaces.get(interface)
        keys = iface.keys if iface is not None else ((self.auth,) if self.auth else ())
        kind = _kind(packet)
        self.sent[kind] = self.sent.get(kind, 0) + 1
        if self.on_packet is not None:
            self.on_packet("send", interface, None if destination == MULTICAST else destination, packet)
        if keys:
            tlvs = (Authentication(keys[0].key_id),) + packet.tlvs
            data = sign_md5(replace(packet, tlvs=tlvs, checksum=None), keys[0].key, basic=_basic_hello(packet))
        else:
            data = encode(replace(packet, checksum=None))
        self.outbox.append(Outbound(destination, interface, data))

    def _parameters(self, hold: int, goodbye: bool = False) -> Parameters:
        ks = GOODBYE if goodbye else self.k_values
        return Parameters(*ks, k6=255 if goodbye else 0, hold_time=hold)

    def _send_hello(self, iface: _Interface, extra: tuple[Tlv, ...] = (), goodbye: bool = False,
                    to: IPv4Address = MULTICAST) -> None:
        stub = (Stub(self.stub),) if self.stub is not None and not goodbye else ()
        tlvs = (self._parameters(iface.hold_time, goodbye), SoftwareVersion()) + stub + extra
        self._emit(to, iface.name, Packet(Opcode.HELLO, self.asn, tlvs))

    def _send_ack(self, nbr: _Neighbor, seq: int) -> None:
        self._emit(nbr.address, nbr.interface, Packet(Opcode.HELLO, self.asn, (), ack=seq))

    def _transmit(self, nbr: _Neighbor, item: _Pending, now: float) -> None:
        """Unicast a queued packet (first send or retransmission), ack piggybacked."""
        pkt = replace(item.packet, ack=nbr.last_rx_seq, flags=item.packet.flags & ~FLAG_CR)
        self._emit(nbr.address, nbr.interface, pkt)
        item.sent_at = now
        if item.first_sent is None:
            item.first_sent = now

    def send_reliable(self, packet_tlvs: tuple[Tlv, ...], opcode: Opcode,
                      to: IPv4Address | None = None, now: float | None = None,
                      flags: int = 0, interface: str | None = None) -> int:
        """Queue an UPDATE/QUERY/REPLY to one neighbour (`to`) or multicast to every up
        neighbour; returns its sequence number. Delivery is retried until acked."""
        now = self._now if now is None else now
        self._now = now
        seq = self._next_seq()
        packet = Packet(opcode, self.asn, tuple(packet_tlvs), flags, seq)
        if to is not None and interface is not None:    # the caller knows where: no scan
            known = self._neighbors.get((interface, IPv4Address(to)))
            if known is not None:
                self._enqueue(known, packet, now)
            return seq
        if to is not None:
            for nbr in self._neighbors.values():
                if nbr.address == IPv4Address(to):
                    self._enqueue(nbr, packet, now)
            return seq
        for iface in self._interfaces.values():
            peers = [n for n in self._neighbors.values()
                     if n.interface == iface.name and n.up_since is not None]
            if not peers:
                continue
            laggards = [n for n in peers if n.queue]
            ready = [n for n in peers if not n.queue]
            for n in peers:
                n.queue.append(_Pending(packet))
                self._queued.add((n.interface, n.address))
            if not ready:
                continue
            mflags = flags
            if laggards:
                seq_tlv = Sequence.ipv4(*(str(n.address) for n in laggards))
                self._send_hello(iface, (seq_tlv, NextMulticastSequence(seq)))
                mflags |= FLAG_CR
            self._emit(MULTICAST, iface.name, replace(packet, flags=mflags))
            for n in ready:
                n.queue[0].sent_at = n.queue[0].first_sent = now
        return seq

    def _enqueue(self, nbr: _Neighbor, packet: Packet, now: float) -> None:
        nbr.queue.append(_Pending(packet))
        self._queued.add((nbr.interface, nbr.address))
        if len(nbr.queue) == 1:
            self._transmit(nbr, nbr.queue[0], now)

    def stop(self, now: float) -> None:
        """The process stops: goodbye on every interface, every neighbour goes down."""
        self._now = now
        self._stopped = True
        for iface in self._interfaces.values():
            self._send_hello(iface, goodbye=True)
        for nbr in list(self._neighbors.values()):
            self._down(nbr, "process stopped")

    # ---- timers --------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Hellos due, hold timers, retransmissions."""
        self._now = now
        if self._stopped:
            return
        for iface in self._interfaces.values():
            if now >= iface.next_hello:
                self._send_hello(iface)
                iface.next_hello = now + iface.hello_interval
        for nbr in self._due(now):
            self.tick_visits += 1
            if now - nbr.last_heard >= nbr.hold_time:
                self._down(nbr, "holding time expired")
                continue
            if nbr.queue and nbr.queue[0].sent_at is not None:
                head = nbr.queue[0]
                if now - head.sent_at >= nbr.rto - _EPSILON:
                    if head.retries >= RETRY_LIMIT:
                        self._down(nbr, "retry limit exceeded")
                        continue
                    head.retries += 1
                    nbr.retrans += 1
                    self._transmit(nbr, head, now)
        for nbr in self._rearm:     # still there: its hold entry goes back in the heap
            if self._neighbors.get((nbr.interface, nbr.address)) is nbr:
                self._schedule_hold(nbr)
        self._rearm = []

    def _due(self, now: float) -> list[_Neighbor]:
        """The neighbours tick() must look at, in table order (as a scan of all would meet
        them): those whose hold deadline may have passed, and those with a queue."""
        found: dict[int, _Neighbor] = {}
        self._rearm = []
        while self._holds and self._holds[0][0] <= now + _HOLD_SLACK:
            due, _, key = heapq.heappop(self._holds)
            nbr = self._neighbors.get(key)
            if nbr is None or nbr.hold_due != due:
                continue        # gone, or a stale entry (a newer one is in the heap)
            found[nbr.handle] = nbr
            self._rearm.append(nbr)
        busy = [self._neighbors[k] for k in self._queued if k in self._neighbors and self._neighbors[k].queue]
        self._queued = {(n.interface, n.address) for n in busy}
        for nbr in busy:
            found[nbr.handle] = nbr
        return [found[h] for h in sorted(found)]

    def _schedule_hold(self, nbr: _Neighbor) -> None:
        nbr.hold_due = nbr.last_heard + nbr.hold_time
        heapq.heappush(self._holds, (nbr.hold_due, nbr.handle, (nbr.interface, nbr.address)))

    # ---- receiving -----------------------------------------------------------------
    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def receive(self, interface: str, source: IPv4Address, data: bytes, now: float) -> None:
        """One EIGRP packet (IP payload) from `source` on `interface`."""
        self._now = now
        source = IPv4Address(source)
        iface = self._interfaces.get(interface)
        if self._stopped:
            return self._drop("process stopped")
        if iface is None:
            return self._drop("unknown interface")
        if source == iface.address:
            return self._drop("own packet")
        if iface.network is not None and source not in iface.network:
            return self._drop("not on common subnet")
        try:
            packet = decode(data, verify_checksum=True)
        except EigrpDecodeError:
            return self._drop("malformed")
        if packet.asn != self.asn:
            return self._drop("asn")
        if iface.keys:
            auth = packet.tlvs[0] if packet.tlvs else None
            key = next((k for k in iface.keys if isinstance(auth, Authentication) and k.key_id == auth.key_id), None)
            if key is None or not (verify_md5(data, key.key) or (
                    _basic_hello(packet) and verify_md5(data, key.key, basic=True))):
                return self._drop("auth")
            packet = replace(packet, tlvs=packet.tlvs[1:])
        elif packet.find(Authentication) is not None:
            return self._drop("auth")
        kind = _kind(packet)
        self.received[kind] = self.received.get(kind, 0) + 1
        nbr = self._neighbors.get((interface, source))
        if self.on_packet is not None:
            self.on_packet("receive", interface, source, packet)
        if packet.opcode == Opcode.HELLO:
            nbr = self._hello(iface, source, packet, nbr, now)
            if nbr is None:
                return None
        elif nbr is None:
            return self._drop("unknown neighbor")
        nbr.last_heard = now
        was_up = nbr.up_since is not None
        if packet.ack:
            self._acked(nbr, packet.ack, now)
        if packet.opcode in RELIABLE_OPCODES and packet.sequence:
            self._reliable(nbr, iface, packet, now, was_up)
        return None

    def _hello(self, iface: _Interface, source: IPv4Address, packet: Packet,
               nbr: _Neighbor | None, now: float) -> _Neighbor | None:
        params = packet.find(Parameters)
        if params is None:      # a bare ACK
            if nbr is None:
                self._drop("unknown neighbor")
            return nbr
        ks = (params.k1, params.k2, params.k3, params.k4, params.k5)
        if params.is_goodbye:
            if nbr is not None:
                self._down(nbr, "Interface Goodbye received")
            return None
        if ks != self.k_values:
            self._nbr_log(source, iface.name, "down", "K-value mismatch")
            self._drop("k-mismatch")
            if nbr is not None:
                self._down(nbr, "K-value mismatch")
            return None
        if nbr is None:
            nbr = self._new_neighbor(iface.name, source, params.hold_time, now)
        if params.hold_time != nbr.hold_time:
            nbr.hold_time = params.hold_time
            if now + nbr.hold_time < nbr.hold_due:     # shorter now: the heap must know sooner
                nbr.last_heard = now
                self._schedule_hold(nbr)
        stub = packet.find(Stub)
        nbr.stub = stub.flags if stub is not None else None
        version = packet.find(SoftwareVersion)
        if version is not None:
            nbr.version = f"{version.ios_major}.{version.ios_minor}/{version.tlv_major}.{version.tlv_minor}"
        seq_tlv = packet.find(Sequence)
        nxt = packet.find(NextMulticastSequence)
        if nxt is not None:
            listed = seq_tlv is not None and str(iface.address) in seq_tlv.ipv4_addresses
            nbr.cr_sequence = None if listed else nxt.sequence
        return nbr

    def _new_neighbor(self, interface: str, source: IPv4Address, hold: int, now: float) -> _Neighbor:
        """A neighbour heard for the first time: an entry in INIT and our INIT update queued."""
        self._handles += 1
        nbr = _Neighbor(self._handles - 1, source, interface, hold, now, now)
        self._neighbors[(interface, source)] = nbr
        self._schedule_hold(nbr)
        # A unicast hello first, so a peer that has not heard us yet (it just started, or
        # our next multicast hello is seconds away) knows us before our INIT arrives.
        iface = self._interfaces.get(interface)
        if iface is not None:
            self._send_hello(iface, to=source)
        self._enqueue(nbr, Packet(Opcode.UPDATE, self.asn, (), FLAG_INIT, self._next_seq()), now)
        return nbr

    def _acked(self, nbr: _Neighbor, ack: int, now: float) -> None:
        if not nbr.queue or nbr.queue[0].packet.sequence != ack or nbr.queue[0].sent_at is None:
            return
        head = nbr.queue.pop(0)
        if head.retries == 0:
            sample = now - (head.first_sent or now)
            nbr.srtt = sample if nbr.srtt == 0 else 0.8 * nbr.srtt + 0.2 * sample
        if head.packet.flags & FLAG_INIT:
            nbr.our_init_acked = True
            self._maybe_up(nbr, now)
        if nbr.queue and nbr.queue[0].sent_at is None:
            self._transmit(nbr, nbr.queue[0], now)

    def _reliable(self, nbr: _Neighbor, iface: _Interface, packet: Packet, now: float,
                  was_up: bool = False) -> None:
        if packet.flags & FLAG_CR:
            if nbr.cr_sequence != packet.sequence:
                return self._drop("conditional receive not for us")
            nbr.cr_sequence = None
        if packet.flags & FLAG_INIT:
            if was_up and packet.sequence == nbr.init_seq and packet.ack:
                # A retransmission of the INIT we took already (our ack came late: a hub
                # busy with hundreds of spokes). A restarted peer's INIT acks nothing of
                # ours; resetting on this one started the INIT ping-pong of issue 14 (a
                # 250-spoke hub after `clear ip eigrp neighbors`: 6000 resets, no end).
                self._send_ack(nbr, packet.sequence)
                return self._drop("duplicate")
            if was_up:
                # The peer restarted within our hold time: reset and start over with this
                # INIT at once, rather than make it retry until its next hello. Not when
                # this very packet's ack brought the adjacency up: FRR's eigrpd answers
                # our INIT with a fresh INIT carrying the ack, and resetting on it made
                # both sides re-INIT each other forever.
                self._down(nbr, "peer restarted")
                nbr = self._new_neighbor(nbr.interface, nbr.address, nbr.hold_time, now)
            nbr.last_rx_seq = nbr.init_seq = packet.sequence
            nbr.peer_init_seen = True
            self._send_ack(nbr, packet.sequence)
            self._maybe_up(nbr, now)
            return None
        if not nbr.peer_init_seen:
            return self._drop("before INIT")
        if packet.sequence <= nbr.last_rx_seq:    # a retransmission we already took
            self._send_ack(nbr, packet.sequence)
            return self._drop("duplicate")
        nbr.last_rx_seq = packet.sequence
        self._send_ack(nbr, packet.sequence)
        self.events.append(Delivered(nbr.address, packet))
        return None

    # ---- state changes -------------------------------------------------------------
    def _nbr_log(self, address: IPv4Address, interface: str, state: str, reason: str) -> None:
        self.log.append(f"%DUAL-5-NBRCHANGE: EIGRP-IPv4 {self.asn}: Neighbor {address} "
                        f"({interface}) is {state}: {reason}")

    def _maybe_up(self, nbr: _Neighbor, now: float) -> None:
        if nbr.up_since is None and nbr.peer_init_seen and nbr.our_init_acked:
            nbr.up_since = now
            self._nbr_log(nbr.address, nbr.interface, "up", "new adjacency")
            self.events.append(NeighborUp(nbr.address, nbr.interface, nbr.stub))

    def _down(self, nbr: _Neighbor, reason: str) -> None:
        self._neighbors.pop((nbr.interface, nbr.address), None)
        self._nbr_log(nbr.address, nbr.interface, "down", reason)
        self.events.append(NeighborDown(nbr.address, reason))

    # ---- show ----------------------------------------------------------------------
    def neighbors(self, now: float | None = None) -> list[NeighborView]:
        """Rows for `show ip eigrp neighbors` (adjacencies still in INIT included, as IOS)."""
        now = self._now if now is None else now
        return [NeighborView(n.handle, n.address, n.interface,
                             max(0, int(n.hold_time - (now - n.last_heard))),
                             now - (n.up_since if n.up_since is not None else n.created),
                             int(n.srtt * 1000), int(n.rto * 1000), len(n.queue), n.last_rx_seq,
                             n.up_since is not None, n.retrans, n.queue[0].retries if n.queue else 0,
                             stub_words(n.stub), n.version)
                for n in sorted(self._neighbors.values(), key=lambda x: x.handle)]

    def stub_of(self, address: IPv4Address) -> Optional[int]:
        return next((n.stub for n in self._neighbors.values() if n.address == IPv4Address(address)), None)

    def is_up(self, address: IPv4Address) -> bool:
        return any(n.address == IPv4Address(address) and n.up_since is not None
                   for n in self._neighbors.values())


_KINDS = {Opcode.UPDATE: "update", Opcode.QUERY: "query", Opcode.REPLY: "reply", Opcode.HELLO: "hello",
          Opcode.REQUEST: "request", Opcode.SIA_QUERY: "sia_query", Opcode.SIA_REPLY: "sia_reply"}


def _kind(packet: Packet) -> str:
    """The `show ip eigrp traffic` line a packet counts on (an ACK is a hello with an ack)."""
    if packet.is_ack:
        return "ack"
    return _KINDS.get(packet.opcode, "unknown")


def _basic_hello(packet: Packet) -> bool:
    """A hello with TLVs (not an ACK) is signed over its first 44 bytes and the key only:
    what FRR's eigrpd sends and says Cisco does ("Cisco routers use only first 44 bytes of
    basic hello for their MD5 calculations", eigrpd/eigrp_packet.h). We accept the
    whole-packet form on hellos too. (FRR 8.4 itself verifies no MD5 hello from anyone:
    its check hashes the received buffer from the IP header on, FRR issue #4663.)"""
    return packet.opcode == Opcode.HELLO and not packet.is_ack and bool(
        [t for t in packet.tlvs if not isinstance(t, Authentication)])


_STUB_WORDS = ((STUB_CONNECTED, "connected"), (STUB_SUMMARY, "summary"), (STUB_STATIC, "static"),
               (STUB_REDISTRIBUTED, "redistributed"), (STUB_RECEIVE_ONLY, "receive-only"))


def stub_words(flags: Optional[int]) -> Optional[tuple[str, ...]]:
    """STUB TLV flags as the words of `eigrp stub ...` (what `show ip eigrp neighbors
    detail` prints); None for a peer that is no stub."""
    if flags is None:
        return None
    return tuple(word for bit, word in _STUB_WORDS if flags & bit)


__all__ = ["GOODBYE", "MULTICAST", "RETRY_LIMIT", "Delivered", "EigrpNeighbors", "Event", "Md5Auth",
           "NeighborDown", "NeighborUp", "NeighborView", "Outbound", "stub_words"]
