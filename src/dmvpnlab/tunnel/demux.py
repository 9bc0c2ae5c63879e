"""Which of a router's tunnel interfaces a received GRE (or ESP) packet is for.

Why: every tunnel of the agent has its own raw socket for IP protocol 47 (and 50 with
`tunnel protection`), and a raw socket sees *every* packet of its protocol that reaches
the namespace. With Tunnel0 and Tunnel1 on one router (dual-cloud DMVPN), each tunnel
must take only its own packets, as IOS demultiplexes them: the outer destination is the
tunnel's source address and the GRE key is its `tunnel key` (absent = no key). A packet
another tunnel of the same router takes is not an error on this one (not counted); a
packet no tunnel takes is counted once, by the first tunnel (IOS drops it).

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


class GreDemux:
    """The (destination, key) claims of a router's tunnels, in configuration order."""

    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}
        self.unmatched = 0  # packets no tunnel took (counted once, router-wide)

    @property
    def active(self) -> bool:
        """More than one tunnel: destinations and keys must be told apart."""
        return len(self.claims) > 1

    def register(self, name: str, local: IPv4Address, key: int | None, protected: bool = False) -> None:
        old = self.claims.get(name)
        spis = old.spis if old is not None else set()
        self.claims[name] = Claim(local.packed, key, protected, spis)

    def unregister(self, name: str) -> None:
        self.claims.pop(name, None)

    def local_of(self, name: str) -> bytes | None:
        """The packed destination `name` accepts, when the demux is active (else None)."""
        claim = self.claims.get(name)
        return claim.local if claim is not None and self.active else None

    def conflict(self, name: str, local: IPv4Address, key: int | None) -> str | None:
        """The other tunnel already taking (local, key), if any: IOS refuses two tunnels
        with the same source and key (unless `tunnel protection ... shared`)."""
        for other, claim in self.claims.items():
            if other != name and claim.local == local.packed and claim.key == key:
                return other
        return None

    def _others(self, name: str) -> list[Claim]:
        return [c for n, c in self.claims.items() if n != name]

    def gre_elsewhere(self, name: str, dst: bytes, key: int | None, protected: bool | None = None) -> bool:
        """Does another tunnel of this router take GRE to `dst` with `key`? (`protected`
        False: only the tunnels without `tunnel protection`, whose GRE is cleartext.)"""
        return any(c.local == dst and c.key == key and (protected is None or c.protected == protected)
                   for c in self._others(name))

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
