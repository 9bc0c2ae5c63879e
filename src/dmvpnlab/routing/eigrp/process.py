"""One EIGRP router for one AS: the neighbour table (RTP) and DUAL joined, sans-I/O.

Why this module: neighbors.py knows adjacencies and reliable delivery, dual.py knows
routes; neither knows the other. `EigrpProcess` is the one object the live agent, the
unit tests and the benchmark drive: bytes and the clock go in (`receive`, `tick`,
`reconfigure`, `stop`), packets to send come out in `outbox` (Outbound from neighbors.py:
224.0.0.10 or a neighbour's address, the interface, the bytes) and `routes()` says what
to install, `routes_version` bumping whenever that changes.

How it carries DUAL's packets: hellos are multicast per interface; every UPDATE, QUERY
and REPLY is sent reliably *unicast to each neighbour* (RFC 7868 allows either). On a
DMVPN hub the tunnel turns a multicast into one copy per spoke anyway, so unicast costs
the same packets on the wire and needs no CR/SEQUENCE choreography when one spoke lags.
Route TLVs are packed one destination per TLV (as IOS classic does, and as tshark reads
right) into packets that fit the interface MTU; the full table sent to a new neighbour
after the INIT exchange ends with the EOT flag (an empty UPDATE with EOT if there is
nothing to tell, so the peer knows the table is complete).

Everything IOS does on the knobs DMVPN uses comes from the parts: split horizon,
next-hop-self and summaries are per-interface DUAL settings (changed live without a
reset), stub flags travel in our hellos and keep stub peers out of our queries, passive
interfaces are advertised but run no hellos, MD5 signs with the lowest key id of the
interface's key chain. Malformed or unwelcome input is dropped and counted, never raised.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from typing import Callable, Optional

from dmvpnlab.routing.eigrp.codec import FLAG_EOT, HEADER_LEN, Opcode, Packet
from dmvpnlab.routing.eigrp.dual import AD_EXTERNAL, AD_SUMMARY, Dual, Outgoing
from dmvpnlab.routing.eigrp.metric import KValues
from dmvpnlab.routing.eigrp.neighbors import (
    Delivered, EigrpNeighbors, Md5Auth, NeighborDown, NeighborUp, NeighborView, Outbound,
)
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings
from dmvpnlab.routing.eigrp.tlvs import (
    AUTH_MD5_TLV_LEN, STUB_CONNECTED, STUB_RECEIVE_ONLY, STUB_REDISTRIBUTED, STUB_STATIC, STUB_SUMMARY,
    Ipv4External, Ipv4Internal, Tlv, encode_tlv,
)
from dmvpnlab.routing.eigrp.views import (
    EigrpRoute, InterfaceView, TopologyView, packet_debug, topology,
)

IP_HEADER_LEN = 20
_STUB_WORDS = {"connected": STUB_CONNECTED, "summary": STUB_SUMMARY, "static": STUB_STATIC,
               "redistributed": STUB_REDISTRIBUTED, "receive-only": STUB_RECEIVE_ONLY}
_RETUNABLE = ("split_horizon", "next_hop_self", "summaries")   # changed without a reset
_ROUTER_WIDE = ("asn", "router_id", "k_values", "stub")       # changed: the process restarts


def stub_flags(words: Optional[frozenset[str]]) -> Optional[int]:
    """The STUB TLV flags of `eigrp stub [words]` (no words: connected + summary)."""
    if words is None:
        return None
    flags = 0
    for word in words:
        flags |= _STUB_WORDS.get(word, 0)
    return flags or (STUB_CONNECTED | STUB_SUMMARY)


class EigrpProcess:
    """`router eigrp ASN` running: feed it packets and time, drain `outbox`, read `routes()`."""

    #: A bug of ours in receive/tick is counted ("internal error") so one bad packet cannot
    #: take the router down; the fuzz target sets this to see the exception instead.
    raise_errors = False

    def __init__(self, settings: EigrpSettings, now: float,
                 debug: Optional[Callable[[str], None]] = None) -> None:
        self.debug = debug
        # A debug callable may carry `wanted()`: the `debug eigrp packets` lines are then only
        # formatted while someone listens (formatting them costs more than handling the packet).
        self._debug_wanted: Optional[Callable[[], bool]] = getattr(debug, "wanted", None)
        self.outbox: list[Outbound] = []
        self.drops: dict[str, int] = {}      # process-level drops (the parts count their own)
        self._version = 0
        self._routes: list[EigrpRoute] = []
        # per prefix: (order key, route): refreshed only for the prefixes DUAL says changed
        self._by_prefix: dict[IPv4Network, tuple[tuple[int, int, int], EigrpRoute]] = {}
        self._routes_dual: Optional[Dual] = None   # the Dual whose changes _by_prefix follows
        self._stopped = False
        self._dirty, self._dirty_at = True, now
        self._addresses: dict[str, IPv4Address] = {}
        self._now = now
        self._start(settings, now)
        self._refresh()

    # ---- life cycle ------------------------------------------------------------------
    def _start(self, settings: EigrpSettings, now: float, down: frozenset[str] = frozenset()) -> None:
        self.settings = settings
        flags = stub_flags(settings.stub)
        self._nbrs = EigrpNeighbors(settings.asn, settings.router_id, settings.k_values, now=now)
        self._nbrs.stub = flags
        self._nbrs.on_packet = self._on_packet if self.debug is not None else None
        self._dual = Dual(k=KValues(*settings.k_values), variance=settings.variance, stub=flags)
        self._dual.maximum_paths = max(1, settings.maximum_paths)
        self._dual.tick(now)
        self._ifaces: dict[str, EigrpInterfaceSettings] = {}
        self._down: set[str] = set(down)     # line protocol down: kept, not in the process
        for iface in settings.interfaces:
            self._add_interface(iface, now)
        self._pump(now)

    def stop(self, now: float) -> None:
        """`no router eigrp` / agent shutdown: goodbyes on every interface, no routes left."""
        if self._stopped:
            return
        self._now = now
        self._nbrs.stop(now)
        self._pump(now)
        self._stopped = True
        self._touch(True, now)

    def reconfigure(self, settings: EigrpSettings, now: float) -> None:
        """A live configuration change, applied the way IOS does: a new AS, router id, K
        values or stub role restarts the process (goodbyes first); `variance` and
        `maximum-paths` re-pick successors; split horizon, next-hop-self and summaries
        re-announce on the interface; any other interface change (address, bandwidth,
        delay, hello/hold, keys, passive) restarts EIGRP on that interface only."""
        self._now = now
        if self._stopped:
            return
        old = self.settings
        if any(getattr(old, f) != getattr(settings, f) for f in _ROUTER_WIDE):
            self._nbrs.stop(now)
            self._pump(now)
            self._start(settings, now, frozenset(self._down))
            return
        self.settings = settings
        if (old.variance, old.maximum_paths) != (settings.variance, settings.maximum_paths):
            self._dual.set_paths(settings.variance, settings.maximum_paths)
        wanted = {i.name: i for i in settings.interfaces}
        for name in [n for n in self._ifaces if n not in wanted]:
            self._remove_interface(name)
        for name, new in wanted.items():
            current = self._ifaces.get(name)
            if current is None:
                self._add_interface(new, now)
            elif current != new:
                if all(getattr(current, f) == getattr(new, f) for f in current.__dataclass_fields__
                       if f not in _RETUNABLE):
                    self._ifaces[name] = new
                    if name not in self._down:
                        self._dual.retune(name, split_horizon=new.split_horizon, next_hop_self=new.next_hop_self,
                                          summaries=tuple(str(s) for s in new.summaries))
                else:
                    was_down = name in self._down
                    self._remove_interface(name)
                    if was_down:     # a config change does not bring the line protocol up
                        self._down.add(name)
                    self._add_interface(new, now)
        self._pump(now)

    def set_interface_state(self, name: str, up: bool, now: float) -> None:
        """The interface's line protocol went down/up (carrier, `shutdown`): its
        neighbours and its connected subnet go, and come back with it."""
        self._now = now
        iface = self._ifaces.get(name)
        if iface is None or self._stopped or (name in self._down) == (not up):
            return
        if up:
            self._down.discard(name)
            self._add_interface(iface, now)
        else:
            self._remove_interface(name, goodbye=False)
            self._ifaces[name] = iface
            self._down.add(name)
        self._pump(now)

    def _add_interface(self, iface: EigrpInterfaceSettings, now: float) -> None:
        self._ifaces[iface.name] = iface
        if iface.name in self._down:
            return
        self._dual.interface_up(iface.name, str(iface.address), iface.bandwidth_kbps, iface.delay_usec,
                                mtu=iface.mtu, split_horizon=iface.split_horizon,
                                next_hop_self=iface.next_hop_self,
                                summaries=tuple(str(s) for s in iface.summaries))
        if not iface.passive:
            keys = tuple(Md5Auth(k.key_id, k.secret) for k in sorted(iface.md5_keys, key=lambda k: k.key_id))
            self._nbrs.add_interface(iface.name, iface.address, iface.hello_seconds, iface.hold_seconds,
                                     keys=keys, now=now)

    def _remove_interface(self, name: str, goodbye: bool = True) -> None:
        self._ifaces.pop(name, None)
        self._down.discard(name)
        self._dual.interface_down(name)
        self._nbrs.remove_interface(name, goodbye=goodbye)

    # ---- input -----------------------------------------------------------------------
    def receive(self, interface: str, source: IPv4Address, data: bytes, now: float) -> None:
        """One EIGRP packet (the IP payload) that arrived on `interface` from `source`."""
        self._now = now
        try:
            if self._stopped:
                return self._drop("process stopped")
            iface = self._ifaces.get(interface)
            if iface is None or interface in self._down:
                return self._drop("unknown interface")
            if iface.passive:
                return self._drop("passive interface")
            self._nbrs.receive(interface, IPv4Address(source), bytes(data), now)
            self._pump(now, changed=False)
        except Exception:   # a bug of ours must not take the router down: counted, kept visible
            self._drop("internal error")
            if self.raise_errors:
                raise
        return None

    def tick(self, now: float) -> None:
        """Hellos due, hold timers, retransmissions, stuck-in-active."""
        self._now = now
        if self._stopped:
            return
        try:
            self._nbrs.tick(now)
            self._dual.tick(now)
            self._pump(now, changed=False)
        except Exception:
            self._drop("internal error")
            if self.raise_errors:
                raise

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    # ---- joining the parts -----------------------------------------------------------
    def _pump(self, now: float, changed: bool = True) -> None:
        """Move events between the parts until both are quiet, then collect what to send.
        Routes are recomputed lazily (routes()), stamped with the time of the first change
        since the last look: hellos and acks alone change nothing."""
        while True:
            events, self._nbrs.events = self._nbrs.events, []
            for event in events:
                self._on_event(event, now)
            outgoing, self._dual.outbox = self._dual.outbox, []
            for out in outgoing:
                self._send(out, now)
            stuck, self._dual.events = self._dual.events, []
            for sia in stuck:
                for address in sia.neighbors:
                    self._nbrs.reset(IPv4Address(address), "stuck in active")
            if not (events or outgoing or stuck):
                break
            changed = True
        if self._nbrs.outbox:
            self.outbox.extend(self._nbrs.outbox)
            self._nbrs.outbox = []
        self._touch(changed, now)

    def _touch(self, changed: bool, now: float) -> None:
        if changed and not self._dirty:
            self._dirty, self._dirty_at = True, now

    def _on_event(self, event: object, now: float) -> None:
        if isinstance(event, NeighborUp):
            for out in self._take_dual_outbox():
                self._send(out, now)
            self._dual.neighbor_up(str(event.address), event.interface, stub=event.stub is not None)
            startup = [o for o in self._take_dual_outbox()]
            mine = [o for o in startup if o.neighbor == str(event.address) and o.opcode == Opcode.UPDATE]
            for out in startup:
                if out not in mine:
                    self._send(out, now)
            routes = tuple(t for o in mine for t in o.routes)
            self._send_to(event.interface, event.address, Opcode.UPDATE, routes, now, eot=True)
        elif isinstance(event, NeighborDown):
            self._dual.neighbor_down(str(event.address))
        elif isinstance(event, Delivered):
            self._delivered(event, now)

    def _take_dual_outbox(self) -> list[Outgoing]:
        out, self._dual.outbox = self._dual.outbox, []
        return out

    def _delivered(self, event: Delivered, now: float) -> None:
        packet = event.packet
        routes = tuple(t for t in packet.tlvs if isinstance(t, (Ipv4Internal, Ipv4External)))
        if len(routes) != len(packet.tlvs):
            self._drop("unsupported tlv")
        if packet.opcode == Opcode.SIA_QUERY:   # still working on it: say so, keep the adjacency
            interface = next((v.interface for v in self._nbrs.neighbors() if v.address == event.address), None)
            if interface is not None:
                self._send_to(interface, event.address, Opcode.SIA_REPLY, routes, now)
            return
        if packet.opcode == Opcode.SIA_REPLY:
            return
        if packet.opcode in (Opcode.UPDATE, Opcode.QUERY, Opcode.REPLY):
            self._dual.received(str(event.address), Opcode(packet.opcode), routes)

    def _send(self, out: Outgoing, now: float) -> None:
        if out.neighbor is not None:
            targets = [out.neighbor]
        else:
            targets = sorted(a for a, (i, _) in self._dual.neighbors.items() if i == out.interface)
        for target in targets:
            self._send_to(out.interface, self._address(target), out.opcode, out.routes, now)

    def _send_to(self, interface: str, neighbor: IPv4Address, opcode: Opcode, routes: tuple[Tlv, ...],
                 now: float, eot: bool = False) -> None:
        """Reliable unicast, split into packets that fit the interface MTU."""
        iface = self._ifaces.get(interface)
        mtu = iface.mtu if iface is not None else 1500
        budget = mtu - IP_HEADER_LEN - HEADER_LEN - (AUTH_MD5_TLV_LEN if iface and iface.md5_keys else 0)
        chunks: list[list[Tlv]] = [[]]
        size = 0
        for tlv in routes:
            length = len(encode_tlv(tlv))
            if chunks[-1] and size + length > budget:
                chunks.append([])
                size = 0
            chunks[-1].append(tlv)
            size += length
        for n, chunk in enumerate(chunks):
            if not chunk and not eot:
                continue
            flags = FLAG_EOT if eot and n == len(chunks) - 1 else 0
            self._nbrs.send_reliable(tuple(chunk), opcode, to=neighbor, now=now, flags=flags, interface=interface)

    def _on_packet(self, direction: str, interface: str, neighbor: Optional[IPv4Address], packet: Packet) -> None:
        if self.debug is None or (self._debug_wanted is not None and not self._debug_wanted()):
            return
        queue = self._nbrs.queued(interface)
        peer = self._nbrs.queue_length(interface, neighbor) if neighbor is not None else 0
        for line in packet_debug(direction, interface, neighbor, packet, self.settings.asn, (0, queue), (0, peer)):
            self.debug(line)

    # ---- output ----------------------------------------------------------------------
    def routes(self) -> list[EigrpRoute]:
        """What to install now: one entry per prefix with all its next hops."""
        self._refresh()
        return list(self._routes)

    @property
    def routes_version(self) -> int:
        """Bumps whenever routes() would answer differently."""
        self._refresh()
        return self._version

    def _refresh(self) -> None:
        """Bring routes() up to date from the prefixes DUAL changed since the last look (on
        a 500-spoke hub, rebuilding and sorting the whole table per update was O(n) per
        packet). The list is ordered as Dual.routes lists it: prefixes with a successor
        route by prefix, then summary-only prefixes by prefix."""
        if not self._dirty:
            return
        self._dirty = False
        dual = self._dual
        changed = dual.take_route_changes()
        if dual is not self._routes_dual:        # a restarted process: a new Dual, a full look
            self._routes_dual, changed = dual, None
        if changed is None or self._stopped:
            changed = set(dual.table) | {s for i in dual.interfaces.values() for s in i.summaries}
            changed |= set(self._by_prefix)
        groups = {p: [] for p in changed} if self._stopped else dual.routes_of(changed)
        modified = False
        for prefix, group in groups.items():
            old = self._by_prefix.get(prefix)
            fresh = self._route(prefix, group, old[1] if old is not None else None) if group else None
            if fresh is None:
                if old is not None:
                    del self._by_prefix[prefix]
                    modified = True
            elif old is None or old[1] != fresh[1]:
                self._by_prefix[prefix] = fresh
                modified = True
        if modified:
            self._version += 1
            self._routes = [r for _, r in sorted(self._by_prefix.values(), key=lambda kr: kr[0])]

    def _route(self, prefix: IPv4Network, group: list, old: Optional[EigrpRoute]
               ) -> tuple[tuple[int, int, int], EigrpRoute]:
        """One prefix's routes from DUAL (its successors, then a summary's Null0) as the
        route to install; `since` kept while it stays the same."""
        address = self._address
        summary_only = all(r.ad == AD_SUMMARY and r.interface == "Null0" for r in group)
        if len(group) > 1:
            group = sorted(group, key=lambda r: (r.metric, address(r.next_hop)))
        first = group[0]
        if first.ad == AD_SUMMARY:
            hops: tuple = ((None, "Null0"),)
            ad = AD_SUMMARY
        else:
            hops = tuple((address(r.next_hop), r.interface) for r in group)
            ad = self.settings.distance_external if first.ad == AD_EXTERNAL else self.settings.distance_internal
        same = old is not None and (old.next_hops, old.ad, old.metric) == (hops, ad, first.metric)
        began = old.since if same and old is not None else self._dirty_at
        key = (int(summary_only), int(prefix.network_address), int(prefix.netmask))
        return key, EigrpRoute(prefix, hops, ad, first.metric, first.ad == AD_EXTERNAL, began)

    def _address(self, text: str) -> IPv4Address:
        """Next hops are neighbours' addresses, a few values used over and over: parsed once
        (a 200-spoke hub re-reading 200 routes per change spent most of it in ipaddress)."""
        known = self._addresses.get(text)
        if known is None:
            if len(self._addresses) > 4096:
                self._addresses.clear()
            known = self._addresses[text] = IPv4Address(text)
        return known

    # ---- views -----------------------------------------------------------------------
    def neighbor_views(self, now: float) -> list[NeighborView]:
        """`show ip eigrp neighbors [detail]`: handle, address, interface, hold, uptime, SRTT,
        RTO, Q, seq; `up` False while still in INIT; stub flags; prefixes learned from it."""
        if self._stopped:
            return []
        learned: dict[str, int] = {}
        for entry in self._dual.table.values():
            for key, path in entry.paths.items():
                if path.neighbor is not None and path.reachable:
                    learned[key] = learned.get(key, 0) + 1
        return [replace(v, prefixes=learned.get(str(v.address), 0)) for v in self._nbrs.neighbors(now)]

    def topology_views(self) -> list[TopologyView]:
        """`show ip eigrp topology [all-links]`: every prefix with all its paths (flags say
        which are successors and feasible successors), summaries as `via Summary`."""
        return [] if self._stopped else topology(self._dual)

    def interface_views(self, now: float) -> list[InterfaceView]:
        """`show ip eigrp interfaces [detail]`: one row per interface in the process (passive
        ones flagged: IOS lists only the others), in configuration order."""
        rows = []
        for name, iface in self._ifaces.items():
            if name in self._down or self._stopped:
                continue
            peers = self._nbrs.peers(name)
            srtt = sum(p.srtt_ms for p in peers) // len(peers) if peers else 0
            keys = tuple(sorted(k.key_id for k in iface.md5_keys))
            rows.append(InterfaceView(
                name, len(peers), 0, self._nbrs.queued(name), srtt, 0, 0, 0, self._nbrs.pending_routes(name),
                iface.hello_seconds, iface.hold_seconds, iface.passive, iface.split_horizon, iface.next_hop_self,
                "md5" if keys else "", keys, tuple(iface.summaries)))
        return rows

    def counters(self) -> dict[str, dict[str, int]]:
        """`show ip eigrp traffic`: {"sent": {kind: n}, "received": {kind: n}, "drops": {reason: n}}
        with kinds hello, update, query, reply, ack, sia_query, sia_reply (0 when none)."""
        kinds = ("hello", "update", "query", "reply", "ack", "sia_query", "sia_reply")
        drops = dict(self._nbrs.drops)
        for reason, n in self.drops.items():
            drops[reason] = drops.get(reason, 0) + n
        if self._dual.drops:
            drops["dual"] = drops.get("dual", 0) + self._dual.drops
        return {"sent": {k: self._nbrs.sent.get(k, 0) for k in kinds},
                "received": {k: self._nbrs.received.get(k, 0) for k in kinds},
                "drops": drops}

    @property
    def log(self) -> list[str]:
        """%DUAL-5-NBRCHANGE lines, oldest first (the caller may clear it)."""
        return self._nbrs.log


__all__ = ["EigrpProcess", "EigrpRoute", "Outbound", "stub_flags"]
