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


@lru_cache(maxsize=4096)
def host(address: IPv4Address) -> IPv4Network:
    return IPv4Network((int(address), 32))


class NhrpCache:
    """Entries keyed by prefix; lookups are by exact host or by longest prefix."""

    def __init__(self) -> None:
        self._entries: dict[IPv4Network, CacheEntry] = {}
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
        """The entries in no particular order (cheap: timers walk it every tick)."""
        return list(self._entries.values())

    def put(self, entry: CacheEntry) -> CacheEntry:
        """Insert or replace; a static entry is never replaced by a dynamic one."""
        old = self._entries.get(entry.prefix)
        if old is not None and old.type is EntryType.STATIC and entry.type is not EntryType.STATIC:
            return old
        if old is not None and old.nbma == entry.nbma:
            entry.created = old.created
        self._entries[entry.prefix] = entry
        self.generation += 1
        return entry

    def get(self, prefix: IPv4Network) -> CacheEntry | None:
        return self._entries.get(prefix)

    def peer(self, address: IPv4Address) -> CacheEntry | None:
        """The /32 entry of a tunnel next hop, the question mGRE asks per packet."""
        return self._entries.get(host(address))

    def longest_match(self, address: IPv4Address) -> CacheEntry | None:
        best: CacheEntry | None = None
        for entry in self._entries.values():
            if address in entry.prefix and (best is None or entry.prefix.prefixlen > best.prefix.prefixlen):
                best = entry
        return best

    def remove(self, prefix: IPv4Network) -> CacheEntry | None:
        self.generation += 1
        return self._entries.pop(prefix, None)

    def expired(self, now: float) -> list[CacheEntry]:
        """Remove and return entries whose holding time ran out."""
        gone = [e for e in self._entries.values() if e.expires is not None and e.expires <= now]
        for entry in gone:
            del self._entries[entry.prefix]
        if gone:
            self.generation += 1
        return gone

    def via(self, next_hop: IPv4Address) -> list[CacheEntry]:
        """Prefix entries (shortcuts) whose next hop is `next_hop`, excluding its own /32."""
        return [e for e in self._entries.values() if e.next_hop == next_hop and e.prefix != host(next_hop)]

    def with_nbma(self, nbma: IPv4Address) -> list[CacheEntry]:
        return [e for e in self._entries.values() if e.nbma == nbma]

    def clear_dynamic(self, address: IPv4Address | None = None) -> list[CacheEntry]:
        """`clear ip nhrp [ADDR]`: drop dynamic/incomplete/negative entries, keep static ones."""
        gone = [
            e
            for e in self._entries.values()
            if e.type is not EntryType.STATIC and (address is None or address in e.prefix or e.next_hop == address)
        ]
        for entry in gone:
            del self._entries[entry.prefix]
        if gone:
            self.generation += 1
        return gone
