"""EIGRP DUAL (RFC 7868 section 3) and the topology table, sans-I/O.

Why a separate core: neighbour discovery and RTP (neighbors.py) deliver reliable update,
query and reply packets; this module only decides. It keeps, per prefix, every path (each
neighbour's reported distance and the distance through it, plus connected routes), the
feasible distance, successors and feasible successors, and runs the passive/active
query/reply exchange. Its outputs are the routes to install (`routes`) and what to send
(`outbox`), so tests drive textbook topologies in memory and the agent drives the real one.

Per-interface knobs are the DMVPN ones: split horizon (off on a hub so spokes learn each
other's LANs), next-hop-self (off keeps the other spoke as next hop: Phase 2), summary
addresses (advertise the summary, suppress components, Null0 route with AD 5); and the
router-wide `eigrp stub` (advertise only connected/summary, never queried) and `variance`.
Announcements are computed as a diff between what we last told each interface and what we
would tell it now, so poisoning a route we stop advertising falls out of the same code.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

from dmvpnlab.routing.eigrp.codec import Opcode
from dmvpnlab.routing.eigrp.dual_types import (
    ACTIVE_TIMEOUT, AD_EXTERNAL, AD_INTERNAL, AD_SUMMARY, MAXIMUM_PATHS, ORIGIN_LOCAL,
    ORIGIN_LOCAL_INCREASE, ORIGIN_MULTIPLE, ORIGIN_SUCCESSOR, UNREACHABLE, Entry, Interface,
    Network, Outgoing, Path, Route, RouteTlv, State, StuckInActive,
)
from dmvpnlab.routing.eigrp.metric import (
    DEFAULT_K, INFINITY, MAX_HOPS, KValues, composite, scaled_bandwidth, scaled_delay, through_interface,
)
from dmvpnlab.routing.eigrp.summaries import SummaryIndex, inside
from dmvpnlab.routing.eigrp.tlvs import STUB_CONNECTED, STUB_SUMMARY, Destination, Ipv4External, Ipv4Internal, Metric


class Dual:
    """DUAL for one EIGRP AS; feed it events, read `routes`, drain `outbox` and `events`."""

    def __init__(self, *, k: KValues = DEFAULT_K, variance: int = 1,
                 stub: Optional[int] = None, active_timeout: float = ACTIVE_TIMEOUT) -> None:
        self.k, self.variance, self.stub, self.active_timeout = k, max(1, variance), stub, active_timeout
        self.maximum_paths = MAXIMUM_PATHS
        self.interfaces: dict[str, Interface] = {}
        self.neighbors: dict[str, tuple[str, bool]] = {}      # address -> (interface, is stub)
        self.table: dict[Network, Entry] = {}
        self.outbox: list[Outgoing] = []
        self.events: list[StuckInActive] = []
        self.drops = 0
        self._told: dict[str, dict[Network, Optional[RouteTlv]]] = {}  # interface -> advertised (None: unsure)
        # prefixes whose advertisement may have changed since the last announcement (None:
        # all of them): a hub with hundreds of spokes must not rebuild its whole table per packet
        self._dirty: Optional[set[Network]] = None
        # the same "what changed" for the summaries' best components and for routes_of()
        # (None: everything), each consumed by its own reader
        self._summary_dirty: Optional[set[Network]] = None
        self._route_dirty: Optional[set[Network]] = None
        self._summary_index = SummaryIndex()
        self._active: set[Network] = set()     # prefixes that went active (tick looks only then)
        self._now = 0.0

    # -- inputs ---------------------------------------------------------------------------

    def interface_up(self, name: str, address: str, bandwidth: int, delay: int, *, mtu: int = 1500,
                     split_horizon: bool = True, next_hop_self: bool = True,
                     summaries: tuple[str, ...] = ()) -> None:
        """A connected interface in the EIGRP process (`address` as A.B.C.D/len)."""
        prefix = ipaddress.IPv4Interface(address).network
        self.interfaces[name] = Interface(name, prefix, bandwidth, delay, mtu, split_horizon,
                                          next_hop_self, tuple(Network(s) for s in summaries),
                                          str(ipaddress.IPv4Interface(address).ip))
        self._told.setdefault(name, {})
        metric = Metric(scaled_delay(delay), scaled_bandwidth(bandwidth), mtu=mtu)
        self._set_path(prefix, "connected", Path(name, None, "0.0.0.0", Metric(), metric))
        self._touch_all()
        self._announce()

    def interface_down(self, name: str) -> None:
        """Its neighbours go first (no query may leave by a dead interface), then the subnet."""
        iface = self.interfaces.pop(name, None)
        if iface is None:
            return
        self._told.pop(name, None)
        self._lose_neighbors([a for a, (i, _) in self.neighbors.items() if i == name])
        self._remove_path(iface.prefix, "connected")
        self._touch_all()
        self._announce()

    def retune(self, name: str, *, split_horizon: bool, next_hop_self: bool,
               summaries: tuple[str, ...]) -> None:
        """Change what an interface is told (no reset): the announcement diff sends
        what now differs and poisons what it may no longer hear."""
        iface = self.interfaces.get(name)
        if iface is None:
            return
        self.interfaces[name] = Interface(iface.name, iface.prefix, iface.bandwidth, iface.delay, iface.mtu,
                                          split_horizon, next_hop_self, tuple(Network(x) for x in summaries),
                                          iface.address)
        self._touch_all()
        self._announce()

    def set_paths(self, variance: int, maximum_paths: int) -> None:
        """`variance` / `maximum-paths` changed: pick the successors of passive routes again."""
        self.variance, self.maximum_paths = max(1, variance), max(1, maximum_paths)
        for entry in self.table.values():
            if entry.state is State.PASSIVE and entry.successors:
                self._pick(entry)
        self._touch_all()
        self._announce()

    def neighbor_up(self, address: str, interface: str, stub: bool = False) -> None:
        """A new adjacency: it gets our whole table (split horizon etc. applied)."""
        if interface not in self.interfaces:
            self.drops += 1
            return
        self.neighbors[address] = (interface, stub)
        advertisement = self._advertisement(interface)
        if advertisement:
            self.outbox.append(Outgoing(interface, address, Opcode.UPDATE, tuple(advertisement.values())))
        self._told.setdefault(interface, {}).update(advertisement)

    def neighbor_down(self, address: str) -> None:
        """Paths via a lost neighbour go; replies it owed count as infinity."""
        if address in self.neighbors:
            self._lose_neighbors([address])
            self._announce()

    def _lose_neighbors(self, addresses: list[str]) -> None:
        for address in addresses:
            self.neighbors.pop(address, None)
        for entry in list(self.table.values()):
            entry.reply_to.difference_update(addresses)
            lost = [(a, entry.paths.pop(a)) for a in addresses if a in entry.paths]
            changed = bool(lost)
            if changed or entry.reply_to or entry.waiting:
                self._touch(entry.prefix)
            if entry.state is State.ACTIVE:
                for address, path in lost:
                    self._successor_worse(entry, address, path, None)
            if entry.waiting & set(addresses):
                entry.waiting.difference_update(addresses)
                self._maybe_finish(entry)
            elif changed:
                self._evaluate(entry, None)
                self._forget_if_empty(entry)

    def received(self, neighbor: str, opcode: Opcode, routes: tuple[RouteTlv, ...]) -> None:
        """An update, query or reply from `neighbor` (already reliable and in order)."""
        if neighbor not in self.neighbors or opcode not in (Opcode.UPDATE, Opcode.QUERY, Opcode.REPLY):
            self.drops += 1
            return
        interface = self.interfaces[self.neighbors[neighbor][0]]
        replies: list[RouteTlv] = []
        for tlv in routes:
            if not isinstance(tlv, (Ipv4Internal, Ipv4External)):
                self.drops += 1
                continue
            for dest in tlv.destinations:
                prefix = dest.network
                path = self._path_from(neighbor, interface, tlv)
                entry = self.table.setdefault(prefix, Entry(prefix))
                before = entry.paths.get(neighbor)
                entry.paths[neighbor] = path
                self._touch(prefix)
                if opcode == Opcode.REPLY:
                    entry.waiting.discard(neighbor)
                    if entry.state is State.ACTIVE:
                        self._maybe_finish(entry)
                    else:
                        self._evaluate(entry, None)
                elif opcode == Opcode.QUERY:
                    if entry.state is State.ACTIVE:
                        if neighbor in entry.successors:
                            # RFC 7868 3.5: the successor's query waits for the end of our
                            # computation (o_ij = 2); answering it at once would let it finish
                            # on replies that still lead through us (counting to infinity).
                            entry.origin = ORIGIN_MULTIPLE
                            entry.reply_to.add(neighbor)
                        else:   # another neighbour: answer at once, poisoned (no deadlock)
                            replies.append(self._reply_tlv(entry, interface.name))
                        continue
                    # gone active: the reply is owed (reply_to), sent when it ends - which
                    # may be at once, when there is nobody else to ask
                    if not self._evaluate(entry, neighbor):
                        replies.append(self._reply_tlv(entry, interface.name))
                else:
                    if entry.state is State.ACTIVE:
                        self._successor_worse(entry, neighbor, before, path)
                    self._evaluate(entry, None)
                self._forget_if_empty(entry)
        if replies:
            self.outbox.append(Outgoing(interface.name, neighbor, Opcode.REPLY, tuple(replies)))
        self._announce()

    def tick(self, now: float) -> None:
        """Advance the clock; report prefixes stuck in active."""
        self._now = now
        self._active = {p for p in self._active if p in self.table and self.table[p].state is State.ACTIVE}
        if not self._active:
            return
        for entry in self.table.values():
            if entry.state is State.ACTIVE and entry.waiting and now - entry.active_since > self.active_timeout:
                self.events.append(StuckInActive(entry.prefix, tuple(sorted(entry.waiting))))
                entry.active_since = now

    # -- outputs --------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        """Successor routes (equal cost, or unequal within `variance`) plus Null0 summaries."""
        out: list[Route] = []
        for entry in sorted(self.table.values(), key=lambda e: e.prefix):
            out.extend(self._entry_routes(entry))
        for summary, metric in sorted(self._summaries().items()):
            out.append(Route(summary, "0.0.0.0", "Null0", composite(metric, self.k), AD_SUMMARY))
        return out

    def take_route_changes(self) -> Optional[set[Network]]:
        """Prefixes whose `routes_of` may have changed since the last call (None: any; the
        summary prefixes are always in): what lets a reader refresh per change, not per table."""
        changed, self._route_dirty = self._route_dirty, set()
        if changed is not None:
            changed.update(s for i in self.interfaces.values() for s in i.summaries)
        return changed

    def routes_of(self, prefixes: set[Network]) -> dict[Network, list[Route]]:
        """The `routes` of these prefixes only, in the order `routes` lists them per prefix
        (a topology entry's successors, then a summary's Null0 route)."""
        summaries = self._summaries()
        out: dict[Network, list[Route]] = {}
        for prefix in prefixes:
            entry = self.table.get(prefix)
            routes = self._entry_routes(entry) if entry is not None else []
            if prefix in summaries:
                routes.append(Route(prefix, "0.0.0.0", "Null0", composite(summaries[prefix], self.k), AD_SUMMARY))
            out[prefix] = routes
        return out

    def _entry_routes(self, entry: Entry) -> list[Route]:
        out = []
        for key in entry.successors:
            path = entry.paths.get(key)
            if path is None or path.neighbor is None or not path.reachable:
                continue
            ad = AD_EXTERNAL if path.external else AD_INTERNAL
            out.append(Route(entry.prefix, path.next_hop, path.interface, self._dist(path), ad))
        return out

    def distance(self, prefix: str) -> int:
        """Our current distance to `prefix` (INFINITY if none)."""
        entry = self.table.get(Network(prefix))
        best = self._best(entry) if entry else None
        return self._dist(best) if best else INFINITY

    def feasible_successors(self, prefix: str) -> list[str]:
        """Neighbours that satisfy the feasibility condition (reported distance < FD)."""
        entry = self.table.get(Network(prefix))
        if entry is None:
            return []
        return sorted(k for k, p in entry.paths.items()
                      if p.neighbor and p.reachable and self._rd(p) < entry.fd and k not in entry.successors)

    # -- DUAL -----------------------------------------------------------------------------

    def _dist(self, path: Path) -> int:
        return composite(path.metric, self.k)

    def _rd(self, path: Path) -> int:
        return 0 if path.neighbor is None else composite(path.reported, self.k)

    def _best(self, entry: Entry) -> Optional[Path]:
        for key in entry.successors:
            if key in entry.paths and entry.paths[key].reachable:
                return entry.paths[key]
        return None

    def _path_from(self, neighbor: str, iface: Interface, tlv: RouteTlv) -> Path:
        metric = through_interface(tlv.metric, iface.bandwidth, iface.delay, iface.mtu)
        if metric.hop_count > MAX_HOPS or composite(metric, self.k) >= INFINITY:
            metric = UNREACHABLE      # `metric maximum-hops`, or a distance past the 32-bit metric
        next_hop = tlv.next_hop
        if next_hop == "0.0.0.0" or not _usable_next_hop(next_hop, iface):
            next_hop = neighbor       # third party only on the shared subnet, never ourselves
        external = tlv.external if isinstance(tlv, Ipv4External) else None
        return Path(iface.name, neighbor, next_hop, tlv.metric, metric, external)

    def _set_path(self, prefix: Network, key: str, path: Path) -> None:
        entry = self.table.setdefault(prefix, Entry(prefix))
        entry.paths[key] = path
        self._evaluate(entry, None)

    def _remove_path(self, prefix: Network, key: str) -> None:
        entry = self.table.get(prefix)
        if entry and entry.paths.pop(key, None) is not None:
            self._evaluate(entry, None)
            self._forget_if_empty(entry)

    def _touch(self, prefix: Network) -> None:
        if self._dirty is not None:
            self._dirty.add(prefix)
        if self._summary_dirty is not None:
            self._summary_dirty.add(prefix)
        if self._route_dirty is not None:
            self._route_dirty.add(prefix)

    def _touch_all(self) -> None:
        self._dirty = self._summary_dirty = self._route_dirty = None

    def _forget_if_empty(self, entry: Entry) -> None:
        if entry.state is State.PASSIVE and not any(p.reachable for p in entry.paths.values()):
            self.table.pop(entry.prefix, None)
            self._touch(entry.prefix)

    def _pick(self, entry: Entry) -> None:
        """Successors among feasible paths: the best, equal costs, and within variance."""
        feasible = [(self._dist(p), k) for k, p in entry.paths.items()
                    if p.reachable and self._rd(p) < entry.fd]
        if not feasible:
            entry.successors = []
            return
        feasible.sort()
        best = feasible[0][0]
        entry.successors = [k for d, k in feasible
                            if d == best or (self.variance > 1 and d < self.variance * best)][:self.maximum_paths]

    def _evaluate(self, entry: Entry, querier: Optional[str]) -> bool:
        """Local computation in passive state; go active when no path is feasible.
        True when it went active (a querier is then owed its reply by reply_to)."""
        if entry.state is State.ACTIVE:
            return False
        self._touch(entry.prefix)
        reachable = [p for p in entry.paths.values() if p.reachable]
        if not reachable and entry.fd == INFINITY:   # never had a route: nothing to lose
            entry.successors = []
            return False
        if any(self._rd(p) < entry.fd for p in reachable):
            self._pick(entry)
            entry.fd = min(entry.fd, self._dist(entry.paths[entry.successors[0]]))
            return False
        self._go_active(entry, querier)
        return True

    def _successor_worse(self, entry: Entry, key: str, before: Optional[Path], after: Optional[Path]) -> None:
        """While active, the distance through the successor rose (an update, a lost
        neighbour): the computation's result must be checked against the FD again."""
        if key not in entry.successors or before is None:
            return
        after_distance = self._dist(after) if after is not None else INFINITY
        if after_distance <= self._dist(before):
            return
        if entry.origin == ORIGIN_LOCAL:
            entry.origin = ORIGIN_LOCAL_INCREASE
        elif entry.origin == ORIGIN_SUCCESSOR:
            entry.origin = ORIGIN_MULTIPLE

    def _go_active(self, entry: Entry, querier: Optional[str]) -> None:
        if querier:
            entry.reply_to.add(querier)
        owed = bool(entry.reply_to & set(entry.successors))
        self._diffuse(entry, ORIGIN_SUCCESSOR if owed else ORIGIN_LOCAL)

    def _diffuse(self, entry: Entry, origin: int) -> None:
        """Query every neighbour but those waiting for our reply (RFC 7868 3.5)."""
        entry.state, entry.active_since, entry.origin = State.ACTIVE, self._now, origin
        self._active.add(entry.prefix)
        self._touch(entry.prefix)
        entry.waiting = {a for a, (_, stub) in self.neighbors.items()
                         if not stub and a not in entry.reply_to}
        old = self._best(entry)
        metric = old.metric if old else UNREACHABLE
        for iface in {self.neighbors[a][0] for a in entry.waiting}:
            everyone = all(a in entry.waiting for a, (i, _) in self.neighbors.items() if i == iface)
            if metric.unreachable and everyone and iface in self._told:
                # each neighbour there now holds the prefix as unreachable from us: if it
                # stays so, there is nothing to withdraw afterwards
                self._told[iface].pop(entry.prefix, None)
            else:
                self._mark_said(iface, entry.prefix)
        for address in sorted(entry.waiting):
            iface = self.neighbors[address][0]
            tlv = Ipv4Internal("0.0.0.0", metric, (_dest(entry.prefix),))
            self.outbox.append(Outgoing(iface, address, Opcode.QUERY, (tlv,)))
        self._maybe_finish(entry)

    def _maybe_finish(self, entry: Entry) -> None:
        """All replies in: FD resets to the new best distance, owed replies go out."""
        if entry.state is not State.ACTIVE or entry.waiting:
            return
        self._touch(entry.prefix)
        reachable = [p for p in entry.paths.values() if p.reachable]
        if entry.origin in (ORIGIN_LOCAL_INCREASE, ORIGIN_MULTIPLE):
            # the successor got worse during the computation: its result holds only if
            # the feasibility condition still does, else compute again (o_ij 0->1, 2->3)
            if not any(self._rd(p) < entry.fd for p in reachable):
                again = ORIGIN_SUCCESSOR if entry.origin == ORIGIN_MULTIPLE else ORIGIN_LOCAL
                self._diffuse(entry, again)
                return
            entry.state = State.PASSIVE
            self._pick(entry)
            entry.fd = min(entry.fd, self._dist(entry.paths[entry.successors[0]]))
            self._reply_owed(entry)
            return
        entry.state = State.PASSIVE
        entry.fd = INFINITY        # after the diffusing computation any path may be chosen
        self._pick(entry)
        if entry.successors:
            entry.fd = self._dist(entry.paths[entry.successors[0]])
        self._reply_owed(entry)

    def _reply_owed(self, entry: Entry) -> None:
        for address in sorted(entry.reply_to):
            if address in self.neighbors:
                iface = self.neighbors[address][0]
                self.outbox.append(Outgoing(iface, address, Opcode.REPLY, (self._reply_tlv(entry, iface),)))
        entry.reply_to.clear()
        self._forget_if_empty(entry)

    def _mark_said(self, interface: str, prefix: Network) -> None:
        """A query or reply told a neighbour something the multicast diff does not know:
        forget what the interface was told, so the next announcement repeats or poisons it."""
        if interface in self._told:
            self._told[interface][prefix] = None
            self._touch(prefix)

    def _reply_tlv(self, entry: Entry, interface: str) -> RouteTlv:
        """A reply tells one neighbour what the interface heard already, or something
        else: only then must the next announcement repeat the interface's version (on a
        hub, marking every reply re-sent a poison to all spokes per stub spoke's query)."""
        tlv = self._tlv_for(entry, interface)
        told = self._told.get(interface, {})
        if tlv is None:   # split horizon (or stub) poisons the reply
            if entry.prefix in told:
                self._mark_said(interface, entry.prefix)
            return Ipv4Internal("0.0.0.0", UNREACHABLE, (_dest(entry.prefix),))
        if told.get(entry.prefix) != tlv:
            self._mark_said(interface, entry.prefix)
        return tlv

    # -- announcements --------------------------------------------------------------------

    def _tlv_for(self, entry: Entry, interface: str) -> Optional[RouteTlv]:
        """What we would advertise for `entry` on `interface`, or None to stay silent."""
        iface = self.interfaces[interface]
        best = self._best(entry)
        if best is None or entry.state is State.ACTIVE:
            return None
        if self.stub is not None and (best.neighbor is not None or not self.stub & STUB_CONNECTED):
            return None
        if any(entry.prefix != s and inside(entry.prefix, s) for s in iface.summaries):
            return None
        same = best.interface == interface and best.neighbor is not None
        if same and iface.split_horizon:
            return None
        next_hop = best.next_hop if same and not iface.next_hop_self else "0.0.0.0"
        dest = (_dest(entry.prefix),)
        if best.external:
            return Ipv4External(next_hop, best.external, best.metric, dest)
        return Ipv4Internal(next_hop, best.metric, dest)

    def _summaries(self, interface: Optional[str] = None) -> dict[Network, Metric]:
        """Active summaries (some component present) and their metric: the best component's."""
        nets = {s for i in self.interfaces.values() if interface in (None, i.name) for s in i.summaries}
        self._sync_summaries()
        out: dict[Network, Metric] = {}
        for summary in nets:
            best = self._summary_index.metric(summary)
            if best is not None:
                out[summary] = best
        return out

    def _sync_summaries(self) -> None:
        """Tell the summary index the best path of each prefix touched since last time."""
        index = self._summary_index
        wanted = frozenset(s for i in self.interfaces.values() for s in i.summaries)
        dirty, self._summary_dirty = self._summary_dirty, set()
        if dirty is None or wanted != index.summaries:
            index.reset(wanted)
            dirty = set(self.table)
        if not wanted:
            return
        for prefix in dirty:
            entry = self.table.get(prefix)
            path = self._best(entry) if entry is not None else None
            index.update(prefix, (self._dist(path), entry.serial, path.metric) if path and entry else None)

    def _advertisement(self, interface: str) -> dict[Network, RouteTlv]:
        out: dict[Network, RouteTlv] = {}
        for prefix, entry in self.table.items():
            tlv = self._tlv_for(entry, interface)
            if tlv is not None:
                out[prefix] = tlv
        out.update(self._summary_tlvs(interface))
        return out

    def _summary_tlvs(self, interface: str) -> dict[Network, RouteTlv]:
        if self.stub is not None and not self.stub & STUB_SUMMARY:
            return {}
        return {summary: Ipv4Internal("0.0.0.0", metric, (_dest(summary),))
                for summary, metric in self._summaries(interface).items()}

    def _announce(self) -> None:
        """Send each interface the difference from what it was last told (poison what goes),
        looking only at the prefixes touched since the last announcement."""
        dirty, self._dirty = self._dirty, set()
        for name, iface in self.interfaces.items():
            told = self._told.setdefault(name, {})
            if dirty is None:
                now = self._advertisement(name)
                candidates = set(now) | set(told)
            else:
                now = {}
                for prefix in dirty:
                    entry = self.table.get(prefix)
                    tlv = self._tlv_for(entry, name) if entry is not None else None
                    if tlv is not None:
                        now[prefix] = tlv
                if iface.summaries:
                    now.update(self._summary_tlvs(name))
                candidates = set(dirty) | set(now) | {s for s in iface.summaries if s in told}
            changes: list[RouteTlv] = []
            for prefix in sorted(candidates):
                tlv = now.get(prefix)
                if tlv is not None:
                    if told.get(prefix) != tlv:
                        changes.append(tlv)
                        told[prefix] = tlv
                elif prefix in told:
                    entry = self.table.get(prefix)
                    if entry is not None and entry.state is State.ACTIVE:
                        continue
                    changes.append(Ipv4Internal("0.0.0.0", UNREACHABLE, (_dest(prefix),)))
                    del told[prefix]
            if changes and any(i == name for i, _ in self.neighbors.values()):
                self.outbox.append(Outgoing(name, None, Opcode.UPDATE, tuple(changes)))


def _dest(prefix: Network) -> Destination:
    return Destination(prefix.prefixlen, prefix.network_address.packed[:max(1, (prefix.prefixlen + 7) // 8)])


def _usable_next_hop(address: str, iface: Interface) -> bool:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return ip in iface.prefix and ip != iface.prefix.network_address and address != iface.address


__all__ = ["ACTIVE_TIMEOUT", "AD_EXTERNAL", "AD_INTERNAL", "AD_SUMMARY", "MAXIMUM_PATHS", "ORIGIN_LOCAL",
           "ORIGIN_LOCAL_INCREASE", "ORIGIN_MULTIPLE", "ORIGIN_SUCCESSOR", "UNREACHABLE", "Dual", "Entry", "Interface", "Outgoing",
           "Path", "Route", "State", "StuckInActive"]
