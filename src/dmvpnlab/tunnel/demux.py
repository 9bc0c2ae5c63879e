"""Which of a router's tunnel interfaces a received GRE (or ESP) packet is for.

Why: every tunnel of the agent has its own raw socket for IP protocol 47 (and 50 with
`tunnel protection`), and a raw socket sees *every* packet of its protocol that reaches
the namespace. With Tunnel0 and Tunnel1 on one router (dual-cloud DMVPN), each tunnel
must take only its own packets, as IOS demultiplexes them: the outer destination is the
tunnel's source address and the GRE key is its `tunnel key` (absent = no key); a
point-to-point tunnel (`tunnel mode gre ip`) takes only what comes from its `tunnel
destination`, and wins over a multipoint tunnel with the same source and key for that
peer, so several point-to-point tunnels may share a source and key. A packet another
tunnel of the same router takes is not an error on this one (not counted); a packet no
tunnel takes is counted once, by the first tunnel (IOS drops it).

A `GreDemux` is shared by the transports of one router. It is inactive (every method
answers "take it / count it here") while the router has one tunnel, so the single-tunnel
fast path stays what it was: no destination check at all. Sans-I/O: plain bytes and
ints; imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address


@dataclass
class Claim:
    """What one tunnel accepts: GRE to `local` (packed) carrying `key`; ESP SPIs of its SAs."""

    local: bytes
    key: int | None
    protected: bool = False
    spis: set[int] = field(default_factory=set)
    remote: bytes | None = None  # point-to-point: the `tunnel destination` (packed)


class GreDemux:
    """The (destination, key) claims of a router's tunnels, in configuration order."""

    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}
        self.unmatched = 0  # packets no tunnel took (counted once, router-wide)

    @property
    def active(self) -> bool:
        """More than one tunnel: destinations and keys must be told apart."""
        return len(self.claims) > 1

    def register(self, name: str, local: IPv4Address, key: int | None, protected: bool = False,
                 remote: IPv4Address | None = None) -> None:
        old = self.claims.get(name)
        spis = old.spis if old is not None else set()
        self.claims[name] = Claim(local.packed, key, protected, spis, remote.packed if remote is not None else None)

    def unregister(self, name: str) -> None:
        self.claims.pop(name, None)

    def local_of(self, name: str) -> bytes | None:
        """The packed destination `name` accepts, when the demux is active (else None)."""
        claim = self.claims.get(name)
        return claim.local if claim is not None and self.active else None

    def view(self, name: str) -> tuple[bytes | None, bytes | None, frozenset[bytes]]:
        """What tunnel `name`'s receive loop checks per packet: (destination, source or
        None, sources taken by point-to-point tunnels on the same destination and key);
        (None, None, {}) while the router has one tunnel: take everything."""
        claim = self.claims.get(name)
        if claim is None or not self.active:
            return None, None, frozenset()
        shadow = frozenset(c.remote for n, c in self.claims.items() if n != name and c.remote is not None
                           and claim.remote is None and c.local == claim.local and c.key == claim.key)
        return claim.local, claim.remote, shadow

    def owner(self, dst: bytes, src: bytes, key: int | None, protected: bool | None = None) -> str | None:
        """The tunnel that takes GRE to `dst` from `src` with `key`: a point-to-point
        tunnel to `src` first, else a multipoint one (`protected` False: only tunnels
        without protection, whose GRE is cleartext)."""
        found = None
        for name, c in self.claims.items():
            if c.local != dst or c.key != key or (protected is not None and c.protected != protected):
                continue
            if c.remote == src:
                return name
            if c.remote is None and found is None:
                found = name
        return found

    def conflict(self, name: str, local: IPv4Address, key: int | None,
                 remote: IPv4Address | None = None) -> str | None:
        """The other tunnel already taking (local, key[, remote]), if any: IOS refuses two
        tunnels with the same source and key (and destination, point-to-point)."""
        packed = remote.packed if remote is not None else None
        for other, claim in self.claims.items():
            if other != name and claim.local == local.packed and claim.key == key and claim.remote == packed:
                return other
        return None

    def _others(self, name: str) -> list[Claim]:
        return [c for n, c in self.claims.items() if n != name]

    def esp_to(self, name: str, dst: bytes) -> bool:
        """Does another protected tunnel of this router take ESP to `dst`?"""
        return any(c.protected and c.local == dst for c in self._others(name))

    def spi_elsewhere(self, name: str, spi: int) -> bool:
        """Does another tunnel's SA database open this SPI (same source, `shared`)?"""
        return any(spi in c.spis for c in self._others(name))

    def counts_strays(self, name: str) -> bool:
        """Only the first tunnel counts a packet no tunnel takes (once, not per socket)."""
        first = next(iter(self.claims), None)
        if first is None or first == name:
            if self.active:
                self.unmatched += 1
            return True
        return False

    def note_spis(self, name: str, spis: set[int]) -> None:
        """The inbound SPIs tunnel `name` opens now (its SA database after a change)."""
        claim = self.claims.get(name)
        if claim is not None:
            claim.spis = set(spis)
