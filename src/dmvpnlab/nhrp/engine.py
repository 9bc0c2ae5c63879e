"""The NHRP state machine of one tunnel interface: NHC (spoke) and NHS (hub) in one.

Sans-I/O: the engine takes bytes, the time and local events, and leaves what to send in
`outbox` (NBMA destination, NHRP bytes) and what changed in `events`. It never opens a
socket or sleeps, so every rule below is tested with plain bytes and a fake clock, and
the same engine serves the live agent and the load generators.

What it does, as Cisco IOS does it on the wire (the tests compare with IOS captures):
- NHC: Registration Request to every NHS at start, every holdtime/3 (or `ip nhrp
  registration timeout`), retries with exponential backoff while unanswered; NHS state
  E (expecting replies) / R (responding) / W (waiting, not tried yet).
- NHS (`registrar`): registrations with holdtime expiry; a unique registration of an
  address another router holds (by its NBMA, or its claimed NBMA behind NAT) is refused
  with CIE code 14; a registration is purged only by its holder; `map multicast dynamic`.
- Resolution: a request is answered by the router that owns the target (its own tunnel
  address or a route that does not point back into the tunnel), else forwarded to the
  tunnel next hop that the routing table names (hop count - 1, Forward Transit record).
  The owner answers the requester directly, NBMA to NBMA.
- Phase 2: a packet whose tunnel next hop has no mapping goes via the NHS while a
  Resolution Request is in flight.
- Phase 3: the hub sends a rate-limited Traffic Indication to the source of a packet it
  forwards back out the tunnel; a spoke with `ip nhrp shortcut` resolves the original
  destination and installs the prefix the owner returned as a shortcut (event).
- Used entries are refreshed before they expire; idle ones expire and their shortcuts go.
- Behind NAT (NAT fleets too): an NBMA is whatever peer object the agent hands in, and a
  spoke whose NAT moved its NAT-T port arrives as an IPv4Address that also carries the
  port (dmvpnlab.ipsec.endpoint; this package only reads `port`), so spokes behind one
  public address keep their own entries and multicast targets. A spoke learns its own
  post-NAT address from its registration reply (`seen_as`). An owner behind NAT answers
  a requester behind NAT through the NHS, which adds the owner's post-NAT address to the
  NAT extension: the requester goes there, or to the owner's claimed NBMA when that
  address is its own NAT's (same inside segment, no hairpin); behind two different NATs
  the owner also sends a copy straight to the requester (its IKE punches the hole). The
  NHS neither forwards nor relays between two NATs when either moved its spoke's ports
  (the NAT extension has no port: the shortcut would be a black hole).
- Routing takes back what it gave (`withdrawal`): the owner purges the prefixes it
  answered when its route for them changes; a shortcut nothing routes into the tunnel
  any more is removed.

What a peer's packet must be before a handler acts on it is `inbound`: a packet refused
there, or whose answer would not fit, is a counted drop (`dropped`, by reason) and,
for a request, an RFC 2332 Error Indication; a handler builds its answer before it
changes the cache, so a refused packet leaves the state as it was. An Error Indication
for a requester registered here is passed on like a reply; one for us is logged.

Settings (`config`), events (`events`), its bookkeeping records (`records`), how it
sends and refuses (`sending`) and the routing lookup (`routes`) live apart, so the
agent and the kernel side need not import the state machine. Imports only `nhrp`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.nhrp import inbound, messages
from dmvpnlab.nhrp.cache import CacheEntry, EntryType, NhrpCache, host
from dmvpnlab.nhrp.codec import (CIE_NO_BINDING, CIE_SUCCESS, PACKET_NAMES, Cie, ErrorCode, NhrpDecodeError,
                                  NhrpPacket, PacketType, decode)
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.events import Event, PeerChanged, ShortcutAdded, ShortcutRemoved
from dmvpnlab.nhrp.records import Decision, MulticastSet, NhsState, PendingResolution
from dmvpnlab.nhrp.routes import CoveringOracle, RouteOracle
from dmvpnlab.nhrp.sending import Sender
from dmvpnlab.nhrp.nhc import NhsClient
from dmvpnlab.nhrp.registrar import Registrar
from dmvpnlab.nhrp.withdrawal import RouteWatch

__all__ = ["NhrpEngine", "Decision", "NhsState", "PendingResolution", "RESOLUTION_TIMEOUT"]

RESOLUTION_TIMEOUT = 5.0  # an unanswered Resolution Request is given up after this
# Retransmissions of an unanswered Resolution Request, seconds after the first send: a
# lossy path still resolves (IOS retransmits too) before RESOLUTION_TIMEOUT gives up.
RESOLUTION_RETRIES = (1.0, 3.0)


class NhrpEngine(Sender, RouteWatch, NhsClient, Registrar):
    """One tunnel's NHRP: feed it packets and ticks, drain `outbox` and `events`."""

    def __init__(self, config: NhrpEngineConfig, routes: RouteOracle, now: float,
                 debug: Callable[[str, str], None] | None = None, covering: CoveringOracle | None = None) -> None:
        super().__init__(debug)
        self._init_route_watch(covering)
        self._init_registrar()
        self.config = config
        self.routes = routes
        self.cache = NhrpCache()
        self.events: list[Event] = []
        self.multicast_dynamic: set[IPv4Address] = MulticastSet()
        self._multicast_sorted: tuple[tuple[int, int], list[IPv4Address]] = ((0, -1), [])
        # Our NBMA as the NHS saw it (its registration reply's NAT extension), when we sit
        # behind NAT: tells a peer behind the same NAT from one behind another.
        self.seen_as: IPv4Address | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, PendingResolution] = {}
        self.retransmitted: Counter[str] = Counter()  # resolution requests resent (a lossy path)
        self._redirects: dict[tuple[IPv4Address, IPv4Address], float] = {}
        # When a Traffic Indication for a destination arrived: the benchmarks measure
        # redirect -> shortcut installed from it.
        self.redirect_received: dict[IPv4Address, float] = {}
        self.me = self._identity()
        self.nhs: list[NhsState] = [NhsState(config=nhs, request_id=next(self._ids)) for nhs in config.nhs]
        self._install_static(now)

    # --- configuration ------------------------------------------------------------

    def _identity(self) -> messages.Identity:
        return messages.Identity(
            nbma=self.config.nbma_address,
            proto=self.config.tunnel_address.ip,
            holdtime=self.config.holdtime,
            mtu=self.config.mtu,
            auth=self.config.authentication,
        )

    def _install_static(self, now: float) -> None:
        for proto, nbma in self.config.static_maps:
            self.cache.put(CacheEntry(prefix=host(proto), next_hop=proto, nbma=nbma, type=EntryType.STATIC,
                                      created=now, expires=None))
        for state in self.nhs:  # a dynamic NHS gets its entry once its address is learnt
            proto, nbma = state.proto, state.config.nbma
            if proto is not None and nbma is not None and self.cache.peer(proto) is None:
                self.cache.put(CacheEntry(prefix=host(proto), next_hop=proto, nbma=nbma,
                                          type=EntryType.STATIC, created=now, expires=None))

    def reconfigure(self, config: NhrpEngineConfig, now: float) -> None:
        """Apply a changed config live (configure terminal): keep learned state that still fits."""
        nbma_changed = config.nbma_address != self.config.nbma_address
        interval_before = self._registration_interval()
        self.config = config
        self.me = self._identity()
        for entry in self.cache.snapshot():
            if entry.type is EntryType.STATIC:
                self.cache.remove(entry.prefix)
        # An NHS is the same one while its address and NBMA are (priority, cluster and
        # multicast may change under it); its registration state carries over.
        known = {(s.config.proto, s.config.nbma): s for s in self.nhs}
        states = []
        for nhs in config.nhs:
            state = known.get((nhs.proto, nhs.nbma)) or NhsState(config=nhs, request_id=next(self._ids))
            state.config = nhs
            states.append(state)
        self.nhs = states
        # A shorter registration interval (`ip nhrp registration timeout`, holdtime) applies
        # now, not after the next registration the longer one scheduled (up to 40 min away).
        interval = self._registration_interval()
        if interval < interval_before:
            for state in self.nhs:
                state.next_send = min(state.next_send, now + interval)
                state.backoff = min(state.backoff, self._retry_cap())
        self._install_static(now)
        if nbma_changed:
            self.nbma_changed(config.nbma_address, now)

    def nbma_changed(self, new_nbma: IPv4Address, now: float) -> None:
        """Our WAN address changed: purge stale bindings and register again at once.

        Peers hold our old NBMA: the NHS as a (unique) registration, which would refuse
        the new one with code 14 until it expired, and spokes that resolved us. Each of
        them gets a Purge Request (N flag: no reply wanted) for our address before the
        new Registration Request, so the NHS takes it and spokes resolve us again.
        """
        old_nbma = self.config.nbma_address
        self.config.nbma_address = new_nbma
        self.me = self._identity()
        stale = Cie(code=0, prefix_len=32, mtu=self.me.mtu, holdtime=0, preference=255,
                    nbma=old_nbma, proto=self.me.proto)
        peers: dict[IPv4Address, IPv4Address] = {}
        for entry in self.cache.clear_dynamic():
            self._forget(entry)
            if entry.is_host and entry.nbma is not None:
                peers.setdefault(entry.nbma, entry.next_hop)
        for state in self.nhs:
            nbma = self.nhs_nbma(state)
            if nbma is not None:
                peers[nbma] = state.proto or self.me.proto
        for nbma, proto in peers.items():
            self._send(nbma, messages.purge_request(self.me, proto, [stale], next(self._ids), want_reply=False))
        for state in self.nhs:
            state.next_send = now
            state.backoff = 1.0
        self.tick(now)

    # --- output helpers -------------------------------------------------------------

    def _forget(self, entry: CacheEntry) -> None:
        if "shortcut" in entry.flags:
            self.events.append(ShortcutRemoved(entry.prefix, entry.next_hop))
        if entry.is_host:
            self.events.append(PeerChanged(entry.next_hop))
            if entry.nbma is not None and "registered" in entry.flags:
                self._release_multicast(entry.nbma)
        self._log("cache", f"NHRP: Deleting cache entry for {entry.prefix} via {entry.next_hop}")

    # --- timers ---------------------------------------------------------------------

    def tick(self, now: float) -> None:
        self._registration_tick(now)
        for entry in self.cache.expired(now):
            self._forget(entry)
            for dependent in self.cache.via(entry.next_hop) if entry.is_host else []:
                self.cache.remove(dependent.prefix)
                self._forget(dependent)
        for request_id, pending in list(self._pending.items()):
            if (pending.packet is not None and pending.retries < len(RESOLUTION_RETRIES)
                    and now - pending.sent_at >= RESOLUTION_RETRIES[pending.retries]
                    and now - pending.sent_at < RESOLUTION_TIMEOUT and pending.nbma is not None):
                pending.retries += 1
                self.retransmitted["resolution request"] += 1
                self._log("packet", f"NHRP: Retransmitting Resolution Request for {pending.target}, "
                                    f"id {request_id}, attempt {pending.retries + 1}")
                self._send(pending.nbma, pending.packet)
            if now - pending.sent_at >= RESOLUTION_TIMEOUT:
                del self._pending[request_id]
                entry = self.cache.get(host(pending.target))
                if entry is not None and entry.type is EntryType.INCOMPLETE:
                    self.cache.remove(entry.prefix)
        self._refresh_used(now)
        self._check_routes(now)
        for key, sent_at in list(self._redirects.items()):
            if now - sent_at > self.config.redirect_timeout:
                del self._redirects[key]

    def _refresh_used(self, now: float) -> None:
        """Resolve again, before expiry, the entries that carried traffic lately."""
        for entry in self.cache.resolved():  # registrations are refreshed by their holders
            if entry.type is not EntryType.DYNAMIC or "registered" in entry.flags or entry.expires is None:
                continue
            window = max(2.0, min(120.0, entry.holdtime / 3))
            remaining = entry.expires - now
            used = self._last_used(entry)
            if remaining <= window and used is not None and now - used <= window and "refreshing" not in entry.flags:
                entry.flags.add("refreshing")
                target = entry.prefix.network_address if not entry.is_host else entry.next_hop
                self._resolve(target, now, for_shortcut="shortcut" in entry.flags)

    def _last_used(self, entry: CacheEntry) -> float | None:
        peer = self.cache.peer(entry.next_hop)
        times = [t for t in (entry.last_used, peer.last_used if peer else None) if t is not None]
        return max(times) if times else None

    def _nbma_of(self, proto: IPv4Address) -> IPv4Address | None:
        entry = self.cache.peer(proto)
        return entry.nbma if entry is not None and entry.usable else None

    # --- dataplane questions --------------------------------------------------------

    def next_hop_nbma(self, next_hop: IPv4Address, now: float) -> Decision:
        """The NBMA address for a tunnel next hop; on a miss go via the NHS and resolve (Phase 2)."""
        entry = self.cache.peer(next_hop)
        if entry is not None and entry.usable:
            entry.last_used = now
            entry.flags.add("used")
            return Decision(entry.nbma, True)
        nhs_nbma = self._active_nhs_nbma()
        # incomplete: a request is in flight; negative: the NHS said no binding, so keep
        # going via the NHS until that entry expires instead of asking once per packet.
        if entry is None:
            self._resolve(next_hop, now, for_shortcut=False)
        return Decision(nhs_nbma, False)

    def note_used(self, next_hop: IPv4Address, now: float) -> None:
        """The data path sent to `next_hop` (fast path): keep it eligible for refresh."""
        entry = self.cache.peer(next_hop)
        if entry is not None:
            entry.last_used = now
            entry.flags.add("used")

    def multicast_targets(self) -> list[IPv4Address]:
        targets = list(self.config.multicast_static)
        targets += [self.nhs_nbma(s) for s in self.nhs if s.config.multicast]
        if self.config.multicast_dynamic:
            targets += self._sorted_dynamic()
        seen: dict[IPv4Address, None] = {}
        for target in targets:
            if target is not None:
                seen.setdefault(target)
        return list(seen)

    def _sorted_dynamic(self) -> list[IPv4Address]:
        """The dynamic multicast peers in address order, sorted again only after a change."""
        dynamic = self.multicast_dynamic
        version = getattr(dynamic, "version", None)
        if version is None:  # replaced by a plain set (a test): no change count to trust
            return sorted(dynamic)
        key = (id(dynamic), version)
        if self._multicast_sorted[0] != key:
            self._multicast_sorted = (key, sorted(dynamic))
        return self._multicast_sorted[1]

    def hairpin(self, packet: bytes, from_nbma: IPv4Address, now: float) -> None:
        """The hub forwarded `packet` back out the tunnel it came in on: redirect (Phase 3)."""
        if not self.config.redirect or len(packet) < 20:
            return
        source, destination = IPv4Address(packet[12:16]), IPv4Address(packet[16:20])
        key = (source, destination)
        last = self._redirects.get(key)
        if last is not None and now - last < self.config.redirect_timeout:
            return
        self._redirects[key] = now
        self._send(from_nbma, messages.traffic_indication(self.me, packet))

    # --- receive ----------------------------------------------------------------------

    def receive(self, data: bytes, outer_src: IPv4Address, now: float) -> None:
        """An NHRP packet arrived in GRE (protocol 0x2001) from NBMA `outer_src`."""
        try:
            packet = decode(data)
        except NhrpDecodeError as error:
            self.dropped["malformed"] += 1
            self._log("packet", f"NHRP: Dropping malformed packet from {outer_src}: {error}")
            return
        name = PACKET_NAMES.get(packet.type, str(packet.type))
        self.received[name] += 1
        if self._debug is not None and self.debugging():
            self._log("packet", f"NHRP: Receive {name} via {self.config.interface} vrf 0, packet size: {len(data)}")
            self._log_packet(packet, len(data))
        if packet.hop_count == 0:
            self.dropped["hop count 0"] += 1
            return
        # An Error Indication carries no extensions, so no password (messages.error_indication):
        # it is exempt, and only ever logged or passed on, never acted upon.
        if (self.config.authentication is not None and packet.type != PacketType.ERROR_INDICATION
                and packet.auth_password() != self.config.authentication):
            self.dropped["authentication"] += 1
            self._log("packet", f"NHRP: Authentication failure for {name} from {outer_src}")
            return
        refusal = inbound.refusal(packet, data, outer_src)
        if refusal is not None:
            self._refuse(packet, data, outer_src, refusal)
            return
        handler = {
            PacketType.REGISTRATION_REQUEST: self._on_registration_request,
            PacketType.REGISTRATION_REPLY: self._on_registration_reply,
            PacketType.RESOLUTION_REQUEST: self._on_resolution_request,
            PacketType.RESOLUTION_REPLY: self._on_resolution_reply,
            PacketType.TRAFFIC_INDICATION: self._on_traffic_indication,
            PacketType.PURGE_REQUEST: self._on_purge_request,
            PacketType.PURGE_REPLY: self._on_purge_reply,
            PacketType.ERROR_INDICATION: self._on_error_indication,
        }.get(packet.type)
        if handler is not None:
            handler(packet, data, outer_src, now)

    # NHS side ---------------------------------------------------------------------------

    # NHC side ---------------------------------------------------------------------------

    # Resolution -------------------------------------------------------------------------

    def _resolve(self, target: IPv4Address, now: float, for_shortcut: bool) -> None:
        """Send a Resolution Request for `target` along the routed path (via the NHS on a miss)."""
        if any(p.target == target for p in self._pending.values()):
            return
        route = self.routes(target)
        nbma: IPv4Address | None = None
        if route is not None and route.via_tunnel:
            hop = route.next_hop or target
            if hop != target:
                nbma = self._nbma_of(hop)
        if nbma is None:
            nbma = self._active_nhs_nbma()
        if nbma is None:
            self.dropped["no route for resolution"] += 1
            return
        request_id = next(self._ids)
        packet = messages.resolution_request(self.me, target, request_id)
        self._pending[request_id] = PendingResolution(target, request_id, now, for_shortcut, nbma=nbma, packet=packet)
        if self.cache.peer(target) is None and not for_shortcut:
            self.cache.put(CacheEntry(prefix=host(target), next_hop=target, nbma=None, type=EntryType.INCOMPLETE,
                                      created=now, expires=now + RESOLUTION_TIMEOUT * 36, flags={"negative"}))
        self._send(nbma, packet)

    def _owner_prefix(self, target: IPv4Address) -> int | None:
        """The prefix length to answer with when this router owns `target`, else None."""
        if target == self.me.proto:
            return 32
        route = self.routes(target)
        if route is None:
            return None
        if route.local:  # an address of ours: its interface's network, as IOS answers (connected)
            return route.prefix.prefixlen
        if not route.via_tunnel:
            return route.prefix.prefixlen
        return None

    def _on_resolution_request(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        prefix_len = self._owner_prefix(packet.dst_proto)
        if prefix_len is not None:
            if self._unrecognized(packet, data, outer_src):
                return
            seen = messages.requester_seen_at(packet)
            reply = self._build(packet, data, outer_src, messages.resolution_reply(self.me, packet, prefix_len))
            if reply is None:
                return
            self._learn_requester(packet, seen or packet.src_nbma, now)
            self._note_answer(packet.dst_proto, prefix_len, packet.src_proto, seen or packet.src_nbma,
                              self.config.holdtime, now)
            # A requester behind NAT cannot receive from us until it has sent to us (its
            # NAT has no mapping yet): answer back along the request's path, through the
            # NHS that holds its registration; our first data to it follows its own.
            self._emit(outer_src if seen is not None else packet.src_nbma, *reply)
            if seen is not None and self.seen_as is not None and int(seen) != int(self.seen_as):
                # Both behind (different) NATs: a copy straight to the requester's public
                # address makes our side start IKE towards it, which opens our NAT's
                # mapping for the requester's own attempt (UDP hole punching).
                self._emit(seen, *reply)
            return
        route = self.routes(packet.dst_proto)
        hop = (route.next_hop or packet.dst_proto) if route is not None and route.via_tunnel else None
        nbma = self._nbma_of(hop) if hop is not None else None
        if nbma is None or nbma == outer_src or packet.hop_count <= 1:
            if nbma is None and hop is not None and self.nhs and hop not in (s.proto for s in self.nhs):
                nbma = self._active_nhs_nbma()
            if nbma is None or nbma == outer_src or packet.hop_count <= 1:
                if self._unrecognized(packet, data, outer_src):
                    return
                self.dropped["resolution: no binding"] += 1
                self._answer(packet.src_nbma, packet, data, outer_src,
                             messages.resolution_reply(self.me, packet, 32, CIE_NO_BINDING))
                return
        self._log("packet", f"NHRP: Forwarding Resolution Request for {packet.dst_proto} to {hop} ({nbma})")
        requester = self.cache.peer(packet.src_proto)
        seen = requester.nbma if requester is not None and requester.nbma != packet.src_nbma else None
        if _no_path_between_nats(requester, self.cache.peer(hop) if hop is not None else None):
            self.dropped["resolution: no direct path between NATs"] += 1
            return  # see _relay: the requester stays on the hub path
        self._answer(nbma, packet, data, outer_src, messages.forwarded(self.me, packet, requester_seen_at=seen))

    def _learn_requester(self, packet: NhrpPacket, nbma: IPv4Address, now: float) -> None:
        """The owner learns the requester's mapping from the request, as Cisco does.

        `nbma` is where the requester is reachable: its claimed address, or the post-NAT
        address the forwarding NHS saw (Cisco NAT extension)."""
        holdtime = packet.cies[0].holdtime if packet.cies else self.config.holdtime
        existing = self.cache.peer(packet.src_proto)
        if existing is not None and (existing.type is EntryType.STATIC or "registered" in existing.flags):
            return  # a registration (unique flag, holdtime, multicast target) outranks what a request implies
        self.cache.put(CacheEntry(
            prefix=host(packet.src_proto), next_hop=packet.src_proto, nbma=nbma, type=EntryType.DYNAMIC,
            created=now, expires=now + holdtime, holdtime=holdtime, flags={"router", "nhop", "rib"},
            claimed_nbma=packet.src_nbma if nbma != packet.src_nbma else None,
            request_id=packet.request_id, requester=packet.src_proto))
        self.events.append(PeerChanged(packet.src_proto))

    def _on_resolution_reply(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if packet.src_proto != self.me.proto:
            self._relay(packet.src_proto, packet, data, outer_src)
            return
        if self._unrecognized(packet, data, outer_src):
            return
        # The reply names the target it answers (its destination, copied from our request):
        # one for another target, or without an answer, is refused and the request stays open.
        pending = self._pending.get(packet.request_id)
        if pending is None or pending.target != packet.dst_proto or not packet.cies:
            self.dropped["unexpected reply"] += 1
            return
        del self._pending[packet.request_id]
        cie = packet.cies[0]
        if cie.code != CIE_SUCCESS or cie.nbma is None or cie.proto is None:
            entry = self.cache.peer(pending.target)
            if entry is not None and entry.type is EntryType.INCOMPLETE:
                entry.type = EntryType.NEGATIVE
            return
        peer = cie.proto
        # An owner behind NAT claims its private address; its reply comes straight from
        # its public one, which is where we must send.
        nhs_nbmas = {self.nhs_nbma(s) for s in self.nhs}
        natted = outer_src != cie.nbma and outer_src not in nhs_nbmas
        nbma = outer_src if natted else cie.nbma
        if not natted:
            # Relayed by the NHS with the owner's post-NAT address: go there, unless it is
            # our own NAT's (the owner shares our NAT: its private NBMA is on our inside
            # segment, and the box need not hairpin).
            seen = messages.owner_seen_at(packet)
            if seen is not None and (self.seen_as is None or int(seen) != int(self.seen_as)):
                nbma, natted = seen, True
        existing = self.cache.peer(peer)
        if existing is None or existing.type is not EntryType.STATIC:
            self.cache.put(CacheEntry(
                prefix=host(peer), next_hop=peer, nbma=nbma, type=EntryType.DYNAMIC, created=now,
                expires=now + cie.holdtime, holdtime=cie.holdtime, flags={"router", "nhop", "rib"},
                claimed_nbma=cie.nbma if natted else None,
                request_id=packet.request_id, mtu=cie.mtu, preference=cie.preference))
            self.events.append(PeerChanged(peer))
        target_prefix = IPv4Network(f"{packet.dst_proto}/{cie.prefix_len}", strict=False)
        if self.config.shortcut and target_prefix != host(peer):
            old = self.cache.get(target_prefix)
            same = old is not None and old.next_hop == peer
            # `nho` says how the agent installed the route (mark_override): a refresh keeps it.
            self.cache.put(CacheEntry(
                prefix=target_prefix, next_hop=peer, nbma=nbma, type=EntryType.DYNAMIC, created=now,
                expires=now + cie.holdtime, holdtime=cie.holdtime,
                flags={"router", "rib", "shortcut"} | (old.flags & {"nho"} if same and old else set()),
                request_id=packet.request_id, mtu=cie.mtu, preference=cie.preference))
            if not same:
                self.events.append(ShortcutAdded(target_prefix, peer))
        self._log("cache", f"NHRP: Adding cache entry for {target_prefix} via {peer} NBMA {cie.nbma}")

    def _relay(self, requester_proto: IPv4Address, packet: NhrpPacket, data: bytes, outer_src: IPv4Address) -> None:
        """An NHS passes a reply (or an Error Indication) on to the requester it holds a
        registration for, a hop further."""
        requester = self.cache.peer(requester_proto)
        if requester is None or requester.nbma is None or not requester.usable or packet.hop_count <= 1:
            self.dropped["unexpected reply"] += 1
            return
        owner = packet.cies[0].proto if packet.type == PacketType.RESOLUTION_REPLY and packet.cies else None
        held = self.cache.peer(owner) if owner is not None else None
        seen = held.nbma if held is not None and held.claimed_nbma is not None else None
        if _no_path_between_nats(requester, held):
            self.dropped["resolution: no direct path between NATs"] += 1
            return
        self._answer(requester.nbma, packet, data, outer_src, messages.relayed(packet, owner, seen))

    def _on_error_indication(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        """RFC 2332 5.2.7: one for this router is logged (never answered); one for a
        requester registered here goes on to it, as its reply would have."""
        if packet.dst_proto != self.me.proto:
            self._relay(packet.dst_proto, packet, data, outer_src)
            return
        name = {int(c): c.name.lower().replace("_", " ") for c in ErrorCode}.get(packet.error_code, "unknown")
        self._log("packet", f"NHRP: Error Indication from {packet.src_proto}, code: {name}({packet.error_code}), "
                            f"offset: {packet.error_offset}")

    def _on_traffic_indication(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if not self.config.shortcut or len(packet.payload) < 20 or self._unrecognized(packet, data, outer_src):
            return
        destination = IPv4Address(packet.payload[16:20])
        entry = self.cache.longest_match(destination)
        if entry is not None and "shortcut" in entry.flags and entry.type is EntryType.DYNAMIC:
            return
        self._log("packet", f"NHRP: Traffic Indication from {outer_src} for {destination}: resolving")
        self.redirect_received[destination] = now
        self._resolve(destination, now, for_shortcut=True)

    # --- operator actions ---------------------------------------------------------------

    def clear(self, address: IPv4Address | None, now: float) -> int:
        """`clear ip nhrp [ADDR]`: drop learned entries (and their shortcuts)."""
        gone = self.cache.clear_dynamic(address)
        for entry in gone:
            self._forget(entry)  # a registration's NBMA leaves the multicast list there
        return len(gone)


def _no_path_between_nats(requester: CacheEntry | None, owner: CacheEntry | None) -> bool:
    """Two spokes registered from behind two different NATs, one of which moved its
    spoke's IKE ports: the NAT extension carries an address, not a port, so neither could
    reach the other's mapping (and the address alone names that NAT's first spoke). An
    NHS neither forwards nor relays their resolution: no shortcut into a black hole (or
    to the wrong spoke); the requester's traffic stays on the hub path, as IOS's does
    between spokes behind PAT."""
    if requester is None or owner is None or requester.nbma is None or owner.nbma is None:
        return False
    if requester.claimed_nbma is None or owner.claimed_nbma is None or int(requester.nbma) == int(owner.nbma):
        return False
    return _port_translated(requester.nbma) or _port_translated(owner.nbma)


def _port_translated(nbma: IPv4Address) -> bool:
    """A peer whose NAT moved its UDP ports: the agent hands NHRP such a peer as an
    IPv4Address that also carries the port (`port`: dmvpnlab.ipsec.endpoint.NatEndpoint);
    one at the address alone kept its ports (or has no NAT)."""
    return getattr(nbma, "port", None) is not None
