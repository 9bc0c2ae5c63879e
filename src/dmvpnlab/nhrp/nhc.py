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

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import CIE_SUCCESS, NhrpPacket
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.records import NhsState

if TYPE_CHECKING:
    from collections import Counter

REGISTRATION_RETRY_MAX = 64.0  # cap of the registration retry backoff, seconds


class NhsClient:
    """Registration with every configured NHS (see the module docstring)."""

    config: NhrpEngineConfig
    me: messages.Identity
    nhs: list[NhsState]
    dropped: "Counter[str]"
    _send: Callable[..., None]
    _log: Callable[[str, str], None]
    _unrecognized: Callable[..., bool]
    _nbma_of: Callable[[IPv4Address], IPv4Address | None]
    tick: Callable[[float], None]

    def start(self, now: float) -> None:
        for state in self.nhs:
            state.next_send = now
        self.tick(now)

    def _register(self, state: NhsState, now: float) -> None:
        nbma = self.nhs_nbma(state)
        if nbma is None:
            state.next_send = now + 1.0
            return
        packet = messages.registration_request(self.me, state.config.proto, nbma, state.request_id,
                                               self.config.unique)
        self._send(nbma, packet)
        state.sent += 1
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
        return state.config.nbma or self._nbma_of(state.config.proto)

    def _active_nhs_nbma(self) -> IPv4Address | None:
        for state in self.nhs:
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
            self._log("packet", f"NHRP: Registration with {state.config.proto} refused, code {code}")
            state.state = "E"
            return  # the armed retransmission tries again, backing off
        state.awaiting = False
        if state.state != "R":
            state.up_since = now
        state.state = "R"
        state.replies += 1
        state.last_reply = now
        state.backoff = 1.0
        state.next_send = now + self._registration_interval()
