"""The NHRP cache: protocol address (or prefix) -> NBMA address, as IOS keeps it.

Entry types and flags are the words `show ip nhrp` prints, so the CLI renders entries
without translating: static (configured `ip nhrp map` / `nhs ... nbma`), dynamic
(registrations on the NHS, resolution results on spokes), incomplete (a resolution in
flight) and negative (a resolution that failed). A Phase 3 shortcut is two entries: the
peer's /32 ("router nhop rib") and the target prefix whose next hop is that peer:
"router rib" when the agent installed it as an H route, "router rib nho" when as a
next-hop override of a routing protocol's route for the same prefix. Imports nothing
of the project.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network
from typing import Iterator


class EntryType(str, Enum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    INCOMPLETE = "incomplete"
    NEGATIVE = "negative"


@dataclass
class CacheEntry:
    """One NHRP cache entry; `expires` None means it never expires (static)."""

    prefix: IPv4Network
    next_hop: IPv4Address
    nbma: IPv4Address | None
    type: EntryType
    created: float
    expires: float | None
    holdtime: int = 0
    flags: set[str] = field(default_factory=set)
    claimed_nbma: IPv4Address | None = None
    request_id: int | None = None
    requester: IPv4Address | None = None
    preference: int = 255
    mtu: int = 0
    last_used: float | None = None

    @property
    def is_host(self) -> bool:
        return self.prefix.prefixlen == 32

    @property
    def usable(self) -> bool:
        """True when data can be sent with this entry (it has a real NBMA address)."""
        return self.type in (EntryType.STATIC, EntryType.DYNAMIC) and self.nbma is not None

    def remaining(self, now: float) -> float | None:
        return None if self.expires is None else max(0.0, self.expires - now)


# A hub looks up every registered peer's /32 per packet: the cache must hold them all
# (at 4096 a 10,000-spoke hub built a new IPv4Network for most lookups).
@lru_cache(maxsize=1 << 17)
def host(address: IPv4Address) -> IPv4Network:
    return IPv4Network((int(address), 32))


def _mask(prefixlen: int) -> int:
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF


class NhrpCache:
    """Entries keyed by prefix; lookups are by exact host or by longest prefix.

    Why the indexes: a hub holds one entry per spoke (thousands), and what it does per
    packet or per tick must not walk them all. Entries are indexed by next hop (a peer's
    shortcuts, found when the peer goes), by NBMA address (who else registered from
    there), by prefix length (longest match in at most 33 lookups), and by expiry (a
    heap: a tick pops what is due). The fields indexed are never changed in place (an
    entry is replaced with `put`); `flags` and `last_used` are, and are not indexed.
    Heap items of replaced or removed entries are dropped lazily when they come up.
    """

    def __init__(self) -> None:
        self._entries: dict[IPv4Network, CacheEntry] = {}
        self._by_next_hop: dict[IPv4Address, set[IPv4Network]] = {}
        self._by_nbma: dict[IPv4Address, set[IPv4Network]] = {}
        self._lengths: Counter[int] = Counter()
        self._expiry: list[tuple[float, int, IPv4Network]] = []
        self._sequence = itertools.count()
        # Resolution results (dynamic, not registrations): the entries the refresh and
        # shortcut timers look at; a hub's registrations are not among them.
        self._resolved: set[IPv4Network] = set()
        # Bumped on every insert/removal: the data path caches next hop -> NBMA and
        # drops that cache when the generation moves.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CacheEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: (int(e.prefix.network_address), e.prefix.prefixlen)))

    def counts(self) -> dict[str, int]:
        """How many entries, and how many are registrations (a summary: one walk, no copies)."""
        registered = sum(1 for e in self._entries.values() if "registered" in e.flags)
        return {"entries": len(self._entries), "registered": registered}

    def snapshot(self) -> list[CacheEntry]:
        """The entries in no particular order (a copy: callers may remove while walking)."""
        return list(self._entries.values())

    def resolved(self) -> list[CacheEntry]:
        """Dynamic entries that are not registrations: resolution results and shortcuts."""
        return [self._entries[p] for p in self._resolved]

    # --- the indexes ----------------------------------------------------------------------

    def _index(self, entry: CacheEntry) -> None:
        self._by_next_hop.setdefault(entry.next_hop, set()).add(entry.prefix)
        if entry.nbma is not None:
            self._by_nbma.setdefault(entry.nbma, set()).add(entry.prefix)
        self._lengths[entry.prefix.prefixlen] += 1
        if entry.expires is not None:
            heapq.heappush(self._expiry, (entry.expires, next(self._sequence), entry.prefix))
        if entry.type is EntryType.DYNAMIC and "registered" not in entry.flags:
            self._resolved.add(entry.prefix)

    def _unindex(self, entry: CacheEntry) -> None:
        for index, key in ((self._by_next_hop, entry.next_hop), (self._by_nbma, entry.nbma)):
            members = index.get(key) if key is not None else None
            if members is not None:
                members.discard(entry.prefix)
                if not members:
                    del index[key]
        self._lengths[entry.prefix.prefixlen] -= 1
        if not self._lengths[entry.prefix.prefixlen]:
            del self._lengths[entry.prefix.prefixlen]
        self._resolved.discard(entry.prefix)

    def _delete(self, entry: CacheEntry) -> None:
        del self._entries[entry.prefix]
        self._unindex(entry)

    # --- changes --------------------------------------------------------------------------

    def put(self, entry: CacheEntry) -> CacheEntry:
        """Insert or replace; a static entry is never replaced by a dynamic one."""
        old = self._entries.get(entry.prefix)
        if old is not None and old.type is EntryType.STATIC and entry.type is not EntryType.STATIC:
            return old
        same_binding = old is not None and (old.nbma, old.next_hop, old.type) == (entry.nbma, entry.next_hop, entry.type)
        if old is not None:
            if old.nbma == entry.nbma:
                entry.created = old.created
            self._unindex(old)
        self._entries[entry.prefix] = entry
        self._index(entry)
        if not same_binding:  # a refresh keeps the data path's next hop -> NBMA cache (100/s at 10k spokes)
            self.generation += 1
        return entry

    def remove(self, prefix: IPv4Network) -> CacheEntry | None:
        self.generation += 1
        entry = self._entries.get(prefix)
        if entry is not None:
            self._delete(entry)
        return entry

    def expired(self, now: float) -> list[CacheEntry]:
        """Remove and return entries whose holding time ran out (only the due ones are looked at)."""
        gone: list[CacheEntry] = []
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, _, prefix = heapq.heappop(heap)
            entry = self._entries.get(prefix)
            if entry is not None and entry.expires is not None and entry.expires <= now:
                self._delete(entry)
                gone.append(entry)
        if gone:
            self.generation += 1
        return gone

    def clear_dynamic(self, address: IPv4Address | None = None) -> list[CacheEntry]:
        """`clear ip nhrp [ADDR]`: drop dynamic/incomplete/negative entries, keep static ones."""
        gone = [
            e
            for e in self._entries.values()
            if e.type is not EntryType.STATIC and (address is None or address in e.prefix or e.next_hop == address)
        ]
        for entry in gone:
            self._delete(entry)
        if gone:
            self.generation += 1
        return gone

    # --- lookups --------------------------------------------------------------------------

    def get(self, prefix: IPv4Network) -> CacheEntry | None:
        return self._entries.get(prefix)

    def peer(self, address: IPv4Address) -> CacheEntry | None:
        """The /32 entry of a tunnel next hop, the question mGRE asks per packet."""
        return self._entries.get(host(address))

    def longest_match(self, address: IPv4Address) -> CacheEntry | None:
        value = int(address)
        for length in sorted(self._lengths, reverse=True):
            entry = self._entries.get(IPv4Network((value & _mask(length), length)))
            if entry is not None:
                return entry
        return None

    def via(self, next_hop: IPv4Address) -> list[CacheEntry]:
        """Prefix entries (shortcuts) whose next hop is `next_hop`, excluding its own /32."""
        own = host(next_hop)
        return [self._entries[p] for p in self._by_next_hop.get(next_hop, ()) if p != own]

    def with_nbma(self, nbma: IPv4Address) -> list[CacheEntry]:
        return [self._entries[p] for p in self._by_nbma.get(nbma, ())]

    def covered_by(self, target: IPv4Address, prefix: IPv4Network) -> list[CacheEntry]:
        """Entries a purge of `prefix` for `target` names: inside the prefix, or via the target."""
        if prefix.prefixlen == 32:
            names = set(self._by_next_hop.get(target, ()))
            names.add(prefix)
            return [self._entries[p] for p in names if p in self._entries]
        return [e for e in self._entries.values() if e.prefix.subnet_of(prefix) or e.next_hop == target]
