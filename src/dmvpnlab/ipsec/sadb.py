"""The ESP SA database (sans-I/O): which SA seals for a peer, which SA opens an SPI.

IKE hands over keys as `ChildSaUp` events; the data plane wants two lookups per packet
and nothing more: the current outbound SA of an NBMA peer (`outbound[peer]`, one dict
get) and the inbound SA of an SPI (`inbound[spi]`, one dict get). This module keeps
both maps consistent with the SA pairs IKE negotiated:

- `install(up, now)` builds the `OutboundSa`/`InboundSa` (ipsec.esp) of one pair with
  its lifetimes and makes it the peer's outbound SA at once: after a rekey the peer may
  already send on the new SA and we must too (RFC 2408 leaves it to us; IOS switches
  outbound as soon as Quick Mode completes). The replaced pair's inbound SA stays, so
  packets the peer sealed before the switch still open, until IKE deletes it
  (`remove(spi_in)` on `ChildSaDown`) or its hard lifetime ends.
- `expiring(now)` is the periodic check: pairs past their soft limit of traffic
  (kilobytes or sequence space; the engine rekeys on time itself) are reported once
  each, for `IkeEngine.rekey_child`; pairs past the hard lifetime are removed and
  reported so the agent can log it.
- `views(...)` answers `show crypto ipsec sa` with `ipsec.views.ChildSaView`s.

An SPI with no SA counts as "invalid sa" (IOS's `#pkts invalid sa (rcv)`) here, not on
an SA, since there is none to count it on. Conn ids are numbered as IOS numbers crypto
engine connections (2001, 2002, ... for IPsec SAs; ISAKMP SAs have their own 1001...).

Imports esp, esp_transforms, events and views: nothing that does I/O.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Callable, Iterator, NamedTuple

from dmvpnlab.ipsec.esp import MAX_SEQ, InboundSa, Lifetime, OutboundSa
from dmvpnlab.ipsec.esp_replay import DEFAULT_WINDOW
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.views import ChildSaView

FIRST_CONN_ID = 2001


@dataclass
class SaPair:
    """One Quick Mode's result: the two SAs of one peer, and what IKE said of them."""

    up: ChildSaUp
    outbound: OutboundSa
    inbound: InboundSa
    installed: float
    conn_id_in: int
    conn_id_out: int
    rekey_asked: bool = False  # reported by `expiring` once, not on every tick
    replaced: bool = False  # a newer pair of the same peer took over sending

    @property
    def peer(self) -> IPv4Address:
        return self.up.peer

    @property
    def spi_in(self) -> int:
        return self.up.spi_in

    @property
    def spi_out(self) -> int:
        return self.up.spi_out


class Expiring(NamedTuple):
    """What `SaDatabase.expiring` found: `rekey` pairs (still installed) and `expired`
    pairs (already removed)."""

    rekey: list[SaPair]
    expired: list[SaPair]


class SaDatabase:
    """Every ESP SA of one protected tunnel, by peer (sending) and by SPI (receiving)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 replay_window: int | None = DEFAULT_WINDOW) -> None:
        """`clock` is the SAs' lifetime clock (the agent's monotonic clock; tests pass a
        fake one); `replay_window` is the inbound window (None: replay check off)."""
        self.clock = clock
        self.replay_window = replay_window
        self.outbound: dict[IPv4Address, OutboundSa] = {}
        self.inbound: dict[int, InboundSa] = {}
        self.pairs: dict[int, SaPair] = {}  # by spi_in, in installation order
        self.larval: dict[int, InboundSa] = {}  # responder's inbound SAs between QM2 and QM3
        self.counters: Counter[str] = Counter()
        self._next_conn_id = FIRST_CONN_ID
        # Called (no arguments) when an SA's kilobytes cross its soft limit, from the
        # data path: the owner runs `expiring` then instead of waiting for its next tick.
        self.on_soft_limit: Callable[[], None] = lambda: None

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[SaPair]:
        return iter(list(self.pairs.values()))

    def install(self, up: ChildSaUp, now: float) -> SaPair:
        """Build and install one SA pair; it becomes the peer's outbound SA at once.

        Raises ValueError (TransformError) when the keys do not fit the transform or an
        SPI is out of range: that is an engine bug, not peer input, so it is loud."""
        if up.spi_in in self.pairs:
            raise ValueError(f"inbound SPI 0x{up.spi_in:08x} is already installed")
        lifetime = Lifetime(seconds=up.lifetime_seconds, kilobytes=up.lifetime_kilobytes)
        outbound = OutboundSa(up.transform, up.spi_out, up.keymat_out, mode=up.mode, lifetime=lifetime,
                              clock=self.clock)
        inbound = self.larval.pop(up.spi_in, None)  # what it opened since QM2 stays counted
        if inbound is None:
            inbound = self._inbound_sa(up, lifetime)
        pair = SaPair(up, outbound, inbound, now, self._next_conn_id, self._next_conn_id + 1)
        outbound.on_soft = inbound.on_soft = self._soft_limit
        self._next_conn_id += 2
        for other in self.pairs.values():
            if other.peer == up.peer:
                other.replaced = True
        self.pairs[up.spi_in] = pair
        self.inbound[up.spi_in] = inbound
        self.outbound[up.peer] = outbound
        self.counters["installed"] += 1
        if up.replaces is not None:
            self.counters["rekeyed"] += 1
        return pair

    def install_inbound(self, up: ChildSaUp) -> InboundSa:
        """The responder's inbound SA of a pair whose QM3 has not arrived (`ChildSaLarval`):
        it opens what the initiator already seals on it; nothing seals for the peer on it
        until `install` completes the pair with the same `up`."""
        found = self.larval.get(up.spi_in) or self.inbound.get(up.spi_in)
        if found is not None:
            return found
        inbound = self._inbound_sa(up, Lifetime(seconds=up.lifetime_seconds, kilobytes=up.lifetime_kilobytes))
        self.larval[up.spi_in] = self.inbound[up.spi_in] = inbound
        self.counters["larval"] += 1
        return inbound

    def _inbound_sa(self, up: ChildSaUp, lifetime: Lifetime) -> InboundSa:
        return InboundSa(up.transform, up.spi_in, up.keymat_in, mode=up.mode, lifetime=lifetime,
                         clock=self.clock, replay_window=self.replay_window)

    def _soft_limit(self) -> None:
        self.on_soft_limit()

    def remove(self, spi_in: int) -> SaPair | None:
        """Remove one pair (IKE deleted it, or it expired), or a larval inbound SA whose
        Quick Mode never finished. When it was the peer's outbound SA, the newest
        remaining pair of that peer takes over, if any."""
        pair = self.pairs.pop(spi_in, None)
        if pair is None:
            if self.larval.pop(spi_in, None) is not None:
                self.inbound.pop(spi_in, None)
                self.counters["larval removed"] += 1
            return None
        self.inbound.pop(spi_in, None)
        if self.outbound.get(pair.peer) is pair.outbound:
            newest = self.newest(pair.peer)
            if newest is not None:
                newest.replaced = False
                self.outbound[pair.peer] = newest.outbound
            else:
                del self.outbound[pair.peer]
        self.counters["removed"] += 1
        return pair

    def remove_peer(self, peer: IPv4Address | None = None) -> list[SaPair]:
        """Remove every pair of `peer` (every pair when None): `clear crypto sa`."""
        doomed = [p.spi_in for p in self.pairs.values() if peer is None or p.peer == peer]
        return [pair for spi in doomed if (pair := self.remove(spi)) is not None]

    def newest(self, peer: IPv4Address) -> SaPair | None:
        """The most recently installed pair of `peer` (the one that seals)."""
        found = None
        for pair in self.pairs.values():
            if pair.peer == peer:
                found = pair
        return found

    def pair_of_outbound(self, peer: IPv4Address) -> SaPair | None:
        sa = self.outbound.get(peer)
        if sa is None:
            return None
        return next((p for p in self.pairs.values() if p.outbound is sa), None)

    def peers(self) -> list[IPv4Address]:
        """Peers with an SA to send on."""
        return list(self.outbound)

    def lookup_inbound(self, spi: int) -> InboundSa | None:
        """The SA for an arriving SPI, or None, counted as "invalid sa"."""
        sa = self.inbound.get(spi)
        if sa is None:
            self.counters["invalid sa"] += 1
        return sa

    def expiring(self, now: float) -> Expiring:
        """Pairs to rekey (soft limit of traffic passed: kilobytes or sequence space,
        reported once; only a pair that still seals: a replaced one is already rekeyed)
        and pairs past the hard lifetime, seconds or kilobytes (removed here). The soft
        limit in seconds is not reported: the IKE engine rekeys on time itself, the
        initiator earlier than the responder so both rarely race, and a second clock here
        would make both ends rekey at once. `now` is for the caller's log; the SAs read
        `clock`."""
        rekey, expired = [], []
        for pair in list(self.pairs.values()):
            if pair.outbound.expired or pair.inbound.expired:
                self.remove(pair.spi_in)
                self.counters["expired"] += 1
                expired.append(pair)
            elif (not pair.rekey_asked and not pair.replaced
                  and (_traffic_soft(pair.outbound) or _traffic_soft(pair.inbound))):
                pair.rekey_asked = True
                rekey.append(pair)
        return Expiring(rekey, expired)

    def views(self, interface: str, profile: str, local: IPv4Address,
              peer: IPv4Address | None = None) -> list[ChildSaView]:
        """`show crypto ipsec sa [peer X]`: one view per installed pair, oldest first."""
        out = []
        for pair in self.pairs.values():
            if peer is not None and pair.peer != peer:
                continue
            up, inbound, outbound = pair.up, pair.inbound, pair.outbound
            out.append(ChildSaView(
                interface=interface, profile=profile, local=local, peer=up.peer,
                peer_port=up.peer_port, spi_in=up.spi_in, spi_out=up.spi_out,
                transform=up.transform.ios_words, mode=up.mode.capitalize(), nat_t=up.nat_t,
                conn_id_in=pair.conn_id_in, conn_id_out=pair.conn_id_out, pfs_group=up.pfs_group,
                lifetime_left=inbound.remaining(), lifetime_left_out=outbound.remaining(),
                replay_detection=inbound.replay_detection,
                replay_window=inbound.window.size if inbound.window is not None else 0,
                counters_in=inbound.counters, counters_out=outbound.counters,
                state="ACTIVE" if not pair.replaced else "ACTIVE(REPLACED)",
            ))
        return out


def _traffic_soft(sa: InboundSa | OutboundSa) -> bool:
    """Past the soft share of the SA's kilobytes, or of the sequence space (the ESP SA's
    `needs_rekey` without its seconds)."""
    soft = sa.lifetime.soft_fraction
    if sa.counters.bytes >= sa.lifetime.kilobytes * 1024 * soft:
        return True
    if isinstance(sa, OutboundSa):
        seq = sa.seq
    else:
        seq = sa.window.top if sa.window is not None else 0
    return seq >= MAX_SEQ * soft
