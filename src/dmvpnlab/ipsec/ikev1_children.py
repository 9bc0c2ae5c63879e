"""The child SAs (ESP SA pairs) the IKE engine announced: their lifetimes, rekeys,
deletes, and the ChildSaUp / ChildSaDown events about them.

Why apart from the engine: the rules of a pair's life are independent of how Quick Mode
made it -- soft lifetime (rekey at 90 % of the seconds by the pair's initiator, 95 % by
its responder, so the two sides rarely race; or when the SA database says the kilobytes
are nearly used), the hard lifetime, which new pair replaces which, the delete of the old
pair 5 s after its successor is up (only by the side that rekeyed: after a simultaneous
initiation nobody deletes, both pairs live until they expire), and what the peer's
Delete removes. The book calls back into the engine (``want_rekey``, ``established``,
``send_info``) and never touches the wire itself.

Imports events, ikev1_info, ikev1_state.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from dmvpnlab.ipsec import ikev1_info as info
from dmvpnlab.ipsec.events import ChildSaDown, ChildSaUp
from dmvpnlab.ipsec.ikev1_state import DELETE_OLD_AFTER, Child

if TYPE_CHECKING:
    from dmvpnlab.ipsec.ikev1_engine import IkeEngine

__all__ = ["ChildBook", "SOFT_INITIATOR", "SOFT_RESPONDER"]

SOFT_INITIATOR = 0.90
SOFT_RESPONDER = 0.95
REKEY_RETRY = 10.0             # after a failed rekey, the next attempt


class ChildBook:
    """Every announced child SA pair, by its inbound SPI."""

    def __init__(self, engine: "IkeEngine") -> None:
        self.engine = engine
        self._children: dict[int, Child] = {}
        self._by_peer: dict[IPv4Address, dict[int, Child]] = {}     # the same, per peer (a hub has many)

    # -- queries ----------------------------------------------------------------------

    def of(self, peer: IPv4Address) -> list[Child]:
        return list(self._by_peer.get(peer, {}).values())

    def live(self, peer: IPv4Address) -> list[Child]:
        """Pairs with ``peer`` that are not superseded (what connect() is satisfied by)."""
        return [c for c in self.of(peer) if c.replaced_by is None]

    def peers(self, peer: IPv4Address | None) -> set[IPv4Address]:
        if peer is None:
            return set(self._by_peer)
        return {peer} if peer in self._by_peer else set()

    def get(self, spi_in: int) -> Child | None:
        return self._children.get(spi_in)

    def fresh_spi(self, taken: set[int]) -> int:
        """An inbound SPI for a new pair: random, >= 256 (RFC 4303 reserves below), and
        neither ours already nor one a Quick Mode in flight (``taken``) offered."""
        while True:
            spi = int.from_bytes(self.engine.random(4), "big")
            if spi >= 256 and spi not in self._children and spi not in taken:
                return spi

    # -- life -------------------------------------------------------------------------

    def add(self, up: ChildSaUp, rekey_of: int | None, now: float) -> None:
        """Announce a new pair; ``rekey_of`` is the pair our rekey replaces (None: it came
        from the peer or from connect(), and replaces the newest live pair, undeleted)."""
        old = self._children.get(rekey_of) if rekey_of is not None else None
        if old is None:
            live = sorted(self.live(up.peer), key=lambda c: c.created)
            old = live[-1] if live else None
        if old is not None:
            up = replace(up, replaces=old.up.spi_in)
            old.replaced_by = up.spi_in
            old.rekeying = False
            if rekey_of is not None and old.up.spi_in == rekey_of:
                old.delete_at = now + DELETE_OLD_AFTER
        share = SOFT_INITIATOR if up.initiator else SOFT_RESPONDER
        life = max(1, up.lifetime_seconds)
        child = Child(up, now, now + life * share, now + life)
        self._children[up.spi_in] = child
        self._by_peer.setdefault(up.peer, {})[up.spi_in] = child
        self.engine.log(f"IPSEC(create_sa): sa created, (sa) sa_dest= {up.peer}, sa_proto= 50, "
                        f"sa_spi= 0x{up.spi_out:X}({up.spi_out}), sa_trans= {up.transform.ios_words}, "
                        f"sa_spi_in= 0x{up.spi_in:X}", "ipsec")
        self.engine.events.append(up)

    def remove(self, child: Child, reason: str, notify: bool) -> None:
        """ChildSaDown for one pair (a Delete to the peer first when ``notify``)."""
        if self._children.get(child.up.spi_in) is not child:
            return
        if notify:
            sa = self.engine.established(child.peer)
            if sa is not None:
                self.engine.send_info(sa, info.delete_esp([child.up.spi_in]))
        del self._children[child.up.spi_in]
        mine = self._by_peer[child.peer]
        del mine[child.up.spi_in]
        if not mine:
            del self._by_peer[child.peer]
        self.engine.log(f"IPSEC(delete_sa): deleting SA, (sa) sa_dest= {child.peer}, sa_proto= 50, "
                        f"sa_spi= 0x{child.up.spi_out:X}, reason {reason}", "ipsec")
        self.engine.events.append(ChildSaDown(child.peer, child.up.spi_in, child.up.spi_out, reason))

    def remove_all(self, peer: IPv4Address, reason: str, now: float, notify: bool) -> None:
        for child in self.of(peer):
            self.remove(child, reason, notify)

    def remove_older(self, peer: IPv4Address, before: float, reason: str, now: float) -> None:
        """INITIAL-CONTACT: the pairs made before the peer's new ISAKMP SA began."""
        for child in self.of(peer):
            if child.created < before:
                self.remove(child, reason, notify=False)

    def peer_deleted(self, peer: IPv4Address, spi: int, now: float) -> None:
        """The peer's Delete names its inbound SPI: our outbound one."""
        for child in self.of(peer):
            if child.up.spi_out == spi or child.up.spi_in == spi:
                self.remove(child, "deleted by peer", notify=False)
                return
        self.engine.counters["delete for unknown spi"] += 1

    def rekey(self, spi_in: int, now: float) -> None:
        """The SA database's kilobyte soft limit (or our soft lifetime) for one pair."""
        child = self._children.get(spi_in)
        if child is None or child.replaced_by is not None or child.rekeying:
            return
        child.rekeying = True
        self.engine.log(f"IPSEC: soft lifetime of SA 0x{child.up.spi_in:X} with {child.peer}: rekeying", "ipsec")
        self.engine.want_rekey(child.peer, spi_in, now)

    def rekey_failed(self, spi_in: int, now: float) -> None:
        """A rekey that did not complete: try again later (not on every tick)."""
        child = self._children.get(spi_in)
        if child is not None:
            child.rekeying = False
            child.soft_at = min(child.hard_at, now + REKEY_RETRY)

    def tick(self, now: float) -> None:
        for child in list(self._children.values()):
            if now >= child.hard_at:
                self.remove(child, "lifetime expired", notify=child.replaced_by is None)
            elif child.delete_at is not None and now >= child.delete_at:
                self.remove(child, "rekeyed", notify=True)
            elif child.replaced_by is None and not child.rekeying and now >= child.soft_at:
                self.rekey(child.up.spi_in, now)
