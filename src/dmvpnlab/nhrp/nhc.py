"""The NHC side of registration: a spoke's Registration Requests to its NHSs and their replies.

Why apart: which NHSs a spoke registers with, when, and what `show ip nhrp nhs` says of
each (E expecting replies / R responding / W waiting) is a policy of its own (priorities,
clusters, fallback), grown separately from the resolution logic of the engine.

`NhsClient` is a mixin of `NhrpEngine` (like `sending.Sender`): it reads the engine's
config, identity, cache and NHS list and sends through it. Imports only `nhrp`.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Callable

from dmvpnlab.nhrp import messages, nhs_policy
from dmvpnlab.nhrp.cache import EntryType, NhrpCache, host
from dmvpnlab.nhrp.codec import CIE_SUCCESS, ExtensionType, NhrpPacket
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.records import NhsState

if TYPE_CHECKING:
    from collections import Counter

REGISTRATION_RETRY_MAX = 64.0  # cap of the registration retry backoff, seconds


class NhsClient:
    """Registration with every configured NHS (see the module docstring)."""

    config: NhrpEngineConfig
    me: messages.Identity
    cache: NhrpCache
    nhs: list[NhsState]
    dropped: "Counter[str]"
    _send: Callable[..., None]
    _log: Callable[[str, str], None]
    _unrecognized: Callable[..., bool]
    _nbma_of: Callable[[IPv4Address], IPv4Address | None]
    _install_static: Callable[[float], None]
    tick: Callable[[float], None]

    def start(self, now: float) -> None:
        for state in self.nhs:
            state.next_send = now
        self.tick(now)

    def _registration_tick(self, now: float) -> None:
        """Apply the NHS policy, then send what is due to the chosen and the probed NHSs.

        One pass is enough: an NHS turns down when its retry timer runs out, which is the
        moment the policy runs, so the NHS replacing it is sent its request in this pass."""
        self._apply_nhs_policy(now)
        for state in self.nhs:
            if (state.active or state.recovering) and now >= state.next_send:
                self._register(state, now)

    def _apply_nhs_policy(self, now: float) -> None:
        """Register with the chosen NHSs; probe the down ones; the others wait (W)."""
        chosen = nhs_policy.choose(self.nhs, self.config.nhs_max_connections, self.config.nhs_fallback, now)
        for state in self.nhs:
            if any(state is c for c in chosen):
                if not state.active and state.state == "W":
                    state.next_send, state.backoff = now, 1.0
                state.active, state.recovering = True, False
                continue
            if state.active and nhs_policy.is_down(state, now):
                self._log("packet", f"NHRP: NHS {state.proto or state.config.nbma} is down")
                state.recovering = True
            state.active = False
            if not state.recovering and state.state != "W":
                self._log("packet", f"NHRP: NHS {state.proto or state.config.nbma} no longer needed, waiting")
                state.state, state.awaiting, state.unanswered, state.backoff = "W", False, 0, 1.0

    def _register(self, state: NhsState, now: float) -> None:
        nbma = self.nhs_nbma(state)
        if nbma is None:
            state.next_send = now + 1.0
            return
        # A dynamic NHS's address is not known before its first reply: the request then
        # names our own address as destination (RFC 2332: the address being registered).
        packet = messages.registration_request(self.me, state.proto or self.me.proto, nbma, state.request_id,
                                               self.config.unique)
        self._send(nbma, packet)
        state.sent += 1
        state.unanswered += 1
        # Every request arms a retransmission (1, 2, 4 .. s, capped); a reply disarms it and
        # schedules the next periodic registration. An NHS whose last request went
        # unanswered is no longer "responding".
        if state.awaiting or state.state == "W":
            state.state = "E"
        state.awaiting = True
        state.next_send = now + state.backoff
        state.backoff = min(state.backoff * 2, self._retry_cap())

    def _registration_interval(self) -> float:
        if self.config.registration_timeout:
            return float(self.config.registration_timeout)
        return max(1.0, self.config.holdtime / 3)

    def _retry_cap(self) -> float:
        return min(REGISTRATION_RETRY_MAX, self._registration_interval())

    def nhs_nbma(self, state: NhsState) -> IPv4Address | None:
        """Where an NHS is reached: its `nbma` option, else the mapping of its address."""
        if state.config.nbma is not None:
            return state.config.nbma
        return self._nbma_of(state.proto) if state.proto is not None else None

    def _active_nhs_nbma(self) -> IPv4Address | None:
        """Where what goes "to the NHS" is sent: the best responding NHS, else the first configured."""
        for state in nhs_policy.up_first(self.nhs):
            nbma = self.nhs_nbma(state)
            if nbma is not None:
                return nbma
        return None

    def _on_registration_reply(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, now: float) -> None:
        if self._unrecognized(packet, data, outer_src):
            return
        state = next((s for s in self.nhs if s.request_id == packet.request_id), None)
        if state is None:
            self.dropped["unexpected reply"] += 1
            return
        code = packet.cies[0].code if packet.cies else CIE_SUCCESS
        if code != CIE_SUCCESS:
            self._log("packet", f"NHRP: Registration with {state.proto or state.config.nbma} refused, code {code}")
            state.state = "E"
            return  # the armed retransmission tries again, backing off
        if state.config.proto is None:
            self._learn_nhs_address(state, packet, now)
        self.seen_as = messages.requester_seen_at(packet)
        state.awaiting = False
        state.unanswered = 0
        if state.state != "R":
            state.up_since = now
        state.state = "R"
        state.replies += 1
        state.last_reply = now
        state.backoff = 1.0
        state.next_send = now + self._registration_interval()
        self._apply_nhs_policy(now)  # a preferred NHS back: fall back to it (at once by default)

    def _learn_nhs_address(self, state: NhsState, packet: NhrpPacket, now: float) -> None:
        """`ip nhrp nhs dynamic`: the NHS names itself in the reply's Responder Address
        extension (the reply's source fields are ours, copied from the request)."""
        responder = packet.extension(ExtensionType.RESPONDER_ADDRESS)
        cies = responder.cies() if responder is not None else []
        learnt = cies[0].proto if cies and cies[0].proto is not None else None
        if learnt is None and packet.src_proto != self.me.proto:
            learnt = packet.src_proto
        if learnt is not None and learnt != state.learnt_proto:
            self._log("packet", f"NHRP: Learnt NHS {learnt} at {state.config.nbma}")
            old = self.cache.peer(state.learnt_proto) if state.learnt_proto is not None else None
            if old is not None and old.type is EntryType.STATIC and old.nbma == state.config.nbma:
                self.cache.remove(old.prefix)  # the NHS was re-addressed: its old mapping goes
            state.learnt_proto = learnt
            self._install_static(now)
