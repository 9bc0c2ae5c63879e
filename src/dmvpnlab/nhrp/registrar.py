"""The NHS side of registration and purges: who may hold which tunnel address at which NBMA.

Why apart: the hub's registration table is where the security rules live, and where the
multicast list of `map multicast dynamic` is kept, so those rules are read and tested in
one place (the rules themselves, as pure functions: `holders`).

- A unique registration (REG_UNIQUE) of an address is refused with CIE code 14 (already
  registered) to anyone but its holder while it lasts. The holder is known by its
  claimed NBMA when it registered from behind NAT, by its NBMA otherwise
  (`holders.same_holder`): a NATed holder whose public address or port changes keeps
  its address; another spoke does not get it, whichever address it comes from. A
  registration without the unique flag may move the address to a new NBMA.
- A purge removes a registration only when it comes from the router that registered
  it (`holders.from_registrant`), or from that router after its NBMA changed taking
  back its stale binding (`holders.moved_holder`). Entries that are not registrations
  (resolution results, shortcuts: what a spoke holds) are purged as before, so the
  owner's withdrawal purges and the hub's purges of spokes' caches are unchanged.
- A refused request changes nothing: the registration stays, and so does its NBMA in
  the multicast list.

`Registrar` is a mixin of `NhrpEngine` (like `sending.Sender`): it reads the engine's
config, identity and cache and answers through it. Imports only `nhrp`.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.cache import CacheEntry, EntryType, NhrpCache, host
from dmvpnlab.nhrp.codec import CIE_ALREADY_REGISTERED, CIE_SUCCESS, PURGE_N, REG_UNIQUE, Cie, NhrpPacket
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.events import Event, PeerChanged
from dmvpnlab.nhrp.holders import from_registrant, moved_holder, same_holder

PURGE_REFUSED = "purge from non-registrant"  # the `dropped` reason of a refused purge


class Registrar:
    """Registrations and purges received (see the module docstring)."""

    config: NhrpEngineConfig
    me: messages.Identity
    cache: NhrpCache
    events: list[Event]
    multicast_dynamic: set[IPv4Address]
    dropped: "Counter[str]"
    _log: Callable[[str, str], None]
    _unrecognized: Callable[..., bool]
    _answer: Callable[..., None]
    _build: Callable[..., object]
    _emit: Callable[..., None]
    _forget: Callable[[CacheEntry], None]

    def _init_registrar(self) -> None:
        # NBMA -> until when it counts as a registrant here (its last registration's
        # expiry): a spoke that purged its own registration is still known for that long.
        # NBMA -> tunnel address -> until when it held (holds) that registration
        self._registrants: dict[IPv4Address, dict[IPv4Address, float]] = {}
        self._registrants_pruned = 64

    # --- registrations --------------------------------------------------------------------

    def _on_registration_request(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if self._unrecognized(packet, data, outer_src):
            return
        cie = packet.cies[0] if packet.cies else Cie(holdtime=self.config.holdtime)
        proto = packet.src_proto
        unique = bool(packet.flags & REG_UNIQUE)
        existing = self.cache.peer(proto)
        if (existing is not None and existing.type is EntryType.DYNAMIC and "unique" in existing.flags
                and (existing.expires or 0) > now and not same_holder(existing, packet, outer_src)):
            behind_nat = "" if existing.claimed_nbma is None else f" (claimed {existing.claimed_nbma})"
            self._log("cache", f"NHRP: Unique address {proto} already registered by {existing.nbma}{behind_nat}")
            self._answer(outer_src, packet, data, outer_src,
                         messages.registration_reply(self.me, packet, CIE_ALREADY_REGISTERED, outer_src))
            return
        reply = self._build(packet, data, outer_src, messages.registration_reply(self.me, packet, CIE_SUCCESS, outer_src))
        if reply is None:
            return
        flags = {"registered", "used"} | ({"unique"} if unique else set())
        claimed = packet.src_nbma if packet.src_nbma != outer_src else None
        if claimed is not None:
            flags.add("nat")
        self.cache.put(CacheEntry(
            prefix=host(proto), next_hop=proto, nbma=outer_src, type=EntryType.DYNAMIC, created=now,
            expires=now + cie.holdtime, holdtime=cie.holdtime, flags=flags, claimed_nbma=claimed,
            request_id=packet.request_id, mtu=cie.mtu, preference=cie.preference))
        if existing is not None and existing.nbma is not None and existing.nbma != outer_src:
            self._release_multicast(existing.nbma)
        if self.config.multicast_dynamic:
            self.multicast_dynamic.add(outer_src)
        self._note_registrant(outer_src, proto, now + cie.holdtime, now)
        self.events.append(PeerChanged(proto))
        self._log("cache", f"NHRP: Adding registration for {proto} -> {outer_src}, holdtime {cie.holdtime}")
        self._emit(outer_src, *reply)

    def _release_multicast(self, nbma: IPv4Address) -> None:
        """Take `nbma` off the multicast list unless a registration still lives there
        (several spokes behind one NAT share a public address)."""
        if nbma in self.multicast_dynamic and not any("registered" in e.flags for e in self.cache.with_nbma(nbma)):
            self.multicast_dynamic.discard(nbma)

    def _note_registrant(self, nbma: IPv4Address, proto: IPv4Address, until: float, now: float) -> None:
        held = self._registrants.setdefault(nbma, {})
        held[proto] = max(until, held.get(proto, until))
        if len(self._registrants) > 2 * self._registrants_pruned:  # amortised: no walk per registration
            self._registrants = {k: live for k, v in self._registrants.items()
                                 if (live := {p: u for p, u in v.items() if u > now})}
            self._registrants_pruned = max(64, len(self._registrants))

    def _known_registrant(self, nbma: IPv4Address, now: float, other_than: IPv4Address | None = None) -> bool:
        """`nbma` holds a registration here, or held one within its holding time, for an
        address other than `other_than` (a spoke moving back to an NBMA it left holds only
        its own address there: it is no other registrant)."""
        if any(until > now and proto != other_than for proto, until in self._registrants.get(nbma, {}).items()):
            return True
        return any("registered" in e.flags and e.next_hop != other_than for e in self.cache.with_nbma(nbma))

    # --- purges ---------------------------------------------------------------------------

    def _on_purge_request(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        """Remove what the purge names, except registrations its sender does not hold.

        A purge refused (in part) is not answered, as the N flag would have it: RFC 2332
        5.2.6 has a Purge Reply assure the sender that the binding was flushed, which for
        a refused registration would be untrue. The legitimate sender whose purge went
        unanswered retries it (withdrawal.PURGE_RETRIES) and is refused the same way, so
        nothing loops; the refusal is counted in `dropped` and logged (`debug nhrp cache`).
        """
        if self._unrecognized(packet, data, outer_src):
            return
        reply = None
        if not packet.flags & PURGE_N:
            reply = self._build(packet, data, outer_src, messages.purge_reply(self.me, packet))
            if reply is None:
                return
        refused = False
        for cie in packet.cies:
            target = cie.proto or packet.src_proto
            prefix = IPv4Network(f"{target}/{cie.prefix_len or 32}", strict=False)
            for entry in self.cache.covered_by(target, prefix):
                if entry.type is EntryType.STATIC:
                    continue
                if "registered" in entry.flags and not self._may_purge(entry, packet, cie, outer_src, now):
                    refused = True
                    self._log("cache", f"NHRP: Refusing purge of {entry.prefix} registered by {entry.nbma}: "
                                       f"it came from {packet.src_proto} at {outer_src}")
                    continue
                self.cache.remove(entry.prefix)
                self._forget(entry)
        if refused:
            self.dropped[PURGE_REFUSED] += 1
            return
        if reply is not None:
            self._emit(outer_src, *reply)

    def _may_purge(self, entry: CacheEntry, packet: NhrpPacket, cie: Cie, outer_src: IPv4Address, now: float) -> bool:
        return from_registrant(entry, packet, outer_src) or moved_holder(
            entry, packet, cie, outer_src, self._known_registrant(outer_src, now, other_than=entry.next_hop))
