"""The NHS side of registration and purges: who may hold which tunnel address at which NBMA.

Why apart: the hub's registration table is where the security rules live (a unique
address held by one NBMA is refused to another with CIE code 14; a purge only removes
what its sender may remove), and where the multicast list of `map multicast dynamic`
is kept, so those rules are read and tested in one place.

`Registrar` is a mixin of `NhrpEngine` (like `sending.Sender`): it reads the engine's
config, identity and cache and answers through it. Imports only `nhrp`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.cache import CacheEntry, EntryType, NhrpCache, host
from dmvpnlab.nhrp.codec import CIE_ALREADY_REGISTERED, CIE_SUCCESS, PURGE_N, REG_UNIQUE, Cie, NhrpPacket
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.events import Event, PeerChanged


class Registrar:
    """Registrations and purges received (see the module docstring)."""

    config: NhrpEngineConfig
    me: messages.Identity
    cache: NhrpCache
    events: list[Event]
    multicast_dynamic: set[IPv4Address]
    _log: Callable[[str, str], None]
    _unrecognized: Callable[..., bool]
    _answer: Callable[..., None]
    _build: Callable[..., object]
    _emit: Callable[..., None]
    _forget: Callable[[CacheEntry], None]

    def _on_registration_request(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if self._unrecognized(packet, data, outer_src):
            return
        cie = packet.cies[0] if packet.cies else Cie(holdtime=self.config.holdtime)
        proto = packet.src_proto
        unique = bool(packet.flags & REG_UNIQUE)
        existing = self.cache.peer(proto)
        if (existing is not None and existing.type is EntryType.DYNAMIC and existing.nbma != outer_src
                and "unique" in existing.flags and (existing.expires or 0) > now):
            self._log("cache", f"NHRP: Unique address {proto} already registered by {existing.nbma}")
            self._answer(outer_src, packet, data, outer_src,
                         messages.registration_reply(self.me, packet, CIE_ALREADY_REGISTERED, outer_src))
            return
        reply = self._build(packet, data, outer_src, messages.registration_reply(self.me, packet, CIE_SUCCESS, outer_src))
        if reply is None:
            return
        if existing is not None and existing.nbma != outer_src and existing.nbma is not None:
            self.multicast_dynamic.discard(existing.nbma)
        flags = {"registered", "used"} | ({"unique"} if unique else set())
        claimed = packet.src_nbma if packet.src_nbma != outer_src else None
        if claimed is not None:
            flags.add("nat")
        self.cache.put(CacheEntry(
            prefix=host(proto), next_hop=proto, nbma=outer_src, type=EntryType.DYNAMIC, created=now,
            expires=now + cie.holdtime, holdtime=cie.holdtime, flags=flags, claimed_nbma=claimed,
            request_id=packet.request_id, mtu=cie.mtu, preference=cie.preference))
        if self.config.multicast_dynamic:
            self.multicast_dynamic.add(outer_src)
        self.events.append(PeerChanged(proto))
        self._log("cache", f"NHRP: Adding registration for {proto} -> {outer_src}, holdtime {cie.holdtime}")
        self._emit(outer_src, *reply)

    def _on_purge_request(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if self._unrecognized(packet, data, outer_src):
            return
        reply = None
        if not packet.flags & PURGE_N:
            reply = self._build(packet, data, outer_src, messages.purge_reply(self.me, packet))
            if reply is None:
                return
        for cie in packet.cies:
            target = cie.proto or packet.src_proto
            prefix = IPv4Network(f"{target}/{cie.prefix_len or 32}", strict=False)
            for entry in self.cache.snapshot():
                if entry.type is not EntryType.STATIC and (entry.prefix.subnet_of(prefix) or entry.next_hop == target):
                    self.cache.remove(entry.prefix)
                    self._forget(entry)
        if reply is not None:
            self._emit(outer_src, *reply)
