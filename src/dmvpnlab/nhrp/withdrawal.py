"""When routing takes back what NHRP handed out: purges from the owner, checks at the requester.

Why: a shortcut is only as good as the route it was answered from. IOS handles both ends:

- The owner (the router that answered a Resolution Request from one of its own routes)
  remembers whom it answered, for which prefix. When its route for that prefix changes
  or goes (a LAN interface shut, the routing protocol withdrew it, it now points back
  into the tunnel), it sends an NHRP Purge Request for the prefix to every requester it
  answered, and to its NHS, instead of letting them use a dead shortcut until it expires.
  A Purge Reply is asked for; an unanswered purge is sent again (PURGE_RETRIES times,
  PURGE_RETRY_SECONDS apart), as RFC 2332 5.2.5 wants.
- The requester removes a shortcut whose prefix is no longer routed into the tunnel at
  all by anything but NHRP itself (the covering summary or default is gone): that
  traffic would not have reached the hub to be redirected, so the shortcut must not
  carry it either. The question is asked through the engine's `covering` oracle (the
  agent answers it from the kernel, ignoring NHRP's own routes); without one it is skipped.

Both checks run from the engine's tick, at most once per ROUTE_CHECK_SECONDS, through the
route lookup the engine already has, so a route change is acted on within about a
second, and the engine stays sans-I/O: the agent need not tell it anything. An answer
is remembered for the holding time it advertised (the requester forgets it by then).

`RouteWatch` is a mixin of `NhrpEngine` (like `sending.Sender`): it reads the engine's
cache, routes, identity and NHS list, and sends through it. Imports only `nhrp`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Callable

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.cache import CacheEntry, EntryType, NhrpCache
from dmvpnlab.nhrp.codec import Cie, NhrpPacket, encode
from dmvpnlab.nhrp.routes import CoveringOracle, RouteOracle

if TYPE_CHECKING:
    from dmvpnlab.nhrp.records import NhsState

ROUTE_CHECK_SECONDS = 1.0  # how often answered prefixes and shortcuts are checked against routing
PURGE_RETRY_SECONDS = 1.0
PURGE_RETRIES = 2  # sends after the first one, while no Purge Reply came
# A shortcut whose covering route is gone is removed only once it has stayed gone this long:
# a routing protocol moving the summary to another hub (EIGRP going active when the first
# hub dies) deletes and re-adds it, and a shortcut must not be lost to that moment.
UNROUTED_GRACE_SECONDS = 3.0


@dataclass
class Answered:
    """A prefix this router answered a resolution with, from one of its own routes."""

    prefix: IPv4Network
    target: IPv4Address  # the address the request asked for (re-looked-up to see a change)
    requesters: dict[IPv4Address, IPv4Address] = field(default_factory=dict)  # tunnel address -> NBMA
    until: float = 0.0  # forget after this (the holding time we advertised)


@dataclass
class PendingPurge:
    """A Purge Request sent and not yet answered by a Purge Reply."""

    nbma: IPv4Address
    data: bytes
    packet: NhrpPacket
    sent_at: float
    tries_left: int


class RouteWatch:
    """The owner's purges and the requester's route checks (see the module docstring)."""

    cache: NhrpCache
    routes: RouteOracle
    me: messages.Identity
    nhs: list["NhsState"]
    _ids: "itertools.count[int]"  # the engine's request id counter
    dropped: "Counter[str]"
    _send: Callable[..., None]
    _emit: Callable[..., None]
    _log: Callable[[str, str], None]
    _forget: Callable[[CacheEntry], None]
    _owner_prefix: Callable[[IPv4Address], "int | None"]
    nhs_nbma: Callable[["NhsState"], "IPv4Address | None"]

    def _init_route_watch(self, covering: CoveringOracle | None) -> None:
        self.covering = covering
        self.answered: dict[IPv4Network, Answered] = {}
        self.purges: dict[int, PendingPurge] = {}
        self.withdrawn: list[IPv4Network] = []  # prefixes purged because their route changed (newest last)
        self._routes_checked = float("-inf")
        self._unrouted_since: dict[IPv4Network, float] = {}

    # --- the owner -----------------------------------------------------------------------

    def _note_answer(self, target: IPv4Address, prefix_len: int, requester: IPv4Address,
                     requester_nbma: IPv4Address, holdtime: int, now: float) -> None:
        """Remember that `requester` (at `requester_nbma`) got `target/prefix_len` from us."""
        if target == self.me.proto:
            return  # our own tunnel address: no route can take it away
        prefix = IPv4Network(f"{target}/{prefix_len}", strict=False)
        answered = self.answered.get(prefix)
        if answered is None:
            answered = self.answered[prefix] = Answered(prefix, target)
        answered.requesters[requester] = requester_nbma
        answered.until = max(answered.until, now + holdtime)

    def _purge_withdrawn(self, now: float) -> None:
        for prefix, answered in list(self.answered.items()):
            if now >= answered.until:
                del self.answered[prefix]
                continue
            if self._owner_prefix(answered.target) == prefix.prefixlen:
                continue
            del self.answered[prefix]
            self.withdrawn.append(prefix)
            del self.withdrawn[:-32]
            self._log("cache", f"NHRP: Route for {prefix} changed: purging it at "
                               f"{', '.join(str(r) for r in answered.requesters)}")
            cie = Cie(code=0, prefix_len=prefix.prefixlen, mtu=self.me.mtu, holdtime=0, preference=255,
                      nbma=self.me.nbma, proto=prefix.network_address)
            peers = dict(answered.requesters)
            for state in self.nhs:
                nbma = self.nhs_nbma(state)
                if nbma is not None and state.proto is not None and nbma not in peers.values():
                    peers[state.proto] = nbma
            for proto, nbma in peers.items():
                request_id = next(self._ids)
                packet = messages.purge_request(self.me, proto, [cie], request_id, want_reply=True)
                data = encode(packet)
                self.purges[request_id] = PendingPurge(nbma, data, packet, now, PURGE_RETRIES)
                self._emit(nbma, packet, data)

    def _retry_purges(self, now: float) -> None:
        for request_id, pending in list(self.purges.items()):
            if now - pending.sent_at < PURGE_RETRY_SECONDS:
                continue
            if pending.tries_left <= 0:
                del self.purges[request_id]
                continue
            pending.tries_left -= 1
            pending.sent_at = now
            self._emit(pending.nbma, pending.packet, pending.data)

    def _on_purge_reply(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if self.purges.pop(packet.request_id, None) is None:
            self.dropped["unexpected reply"] += 1

    # --- the requester ---------------------------------------------------------------------

    def _drop_unrouted_shortcuts(self, now: float) -> None:
        """Shortcuts whose prefix nothing but NHRP has routed into the tunnel for
        UNROUTED_GRACE_SECONDS go."""
        if self.covering is None:
            return
        unrouted = {}
        for entry in self.cache.resolved():  # shortcuts are resolution results
            if "shortcut" not in entry.flags or entry.type is not EntryType.DYNAMIC:
                continue
            route = self.covering(entry.prefix)
            if route is not None and route.via_tunnel and not route.local:
                continue
            since = unrouted[entry.prefix] = self._unrouted_since.get(entry.prefix, now)
            if now - since < UNROUTED_GRACE_SECONDS:
                continue
            del unrouted[entry.prefix]
            self._log("cache", f"NHRP: {entry.prefix} is no longer routed via {self.me.proto}'s tunnel: "
                               f"removing its shortcut")
            self.cache.remove(entry.prefix)
            self._forget(entry)
        self._unrouted_since = unrouted

    # --- from the engine's tick ------------------------------------------------------------

    def _check_routes(self, now: float) -> None:
        self._retry_purges(now)
        if now - self._routes_checked < ROUTE_CHECK_SECONDS:
            return
        self._routes_checked = now
        self._purge_withdrawn(now)
        self._drop_unrouted_shortcuts(now)

    def mark_override(self, prefix: IPv4Network, override: bool) -> None:
        """The agent installed the shortcut for `prefix` as a next-hop override of a
        routing protocol's route (`nho` in `show ip nhrp`), or as an H route (not)."""
        entry = self.cache.get(prefix)
        if entry is None or "shortcut" not in entry.flags:
            return
        if override:
            entry.flags.add("nho")
        else:
            entry.flags.discard("nho")
