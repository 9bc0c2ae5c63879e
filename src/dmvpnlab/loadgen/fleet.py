"""The emulated spokes, sans-I/O: which NHRP packet each one sends when, and what a reply means.

Every packet is built by the builders the agent's NHC uses (`nhrp.messages`:
registration_request, resolution_request, resolution_reply, purge_request), encoded by
`nhrp.codec` and framed by `tunnel.gre`, so the hub sees exactly what a spoke agent
would send (flags 0x8002, CIE preference 255, Cisco's extension order, authentication).
What the fleet keeps per spoke is only what a load test needs: its identity, whether
it is registered, when it refreshes next. Refreshes come every holdtime/3 as IOS's
registration timer does, the first one spread at random over that interval (a real
fleet booted over hours, not all in the same second).

A `Datagram` is (source NBMA, destination NBMA, GRE bytes); the caller moves them.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Iterator

from dmvpnlab.loadgen.plan import AddressPlan
from dmvpnlab.loadgen.stats import LoadStats
from dmvpnlab.nhrp import codec, messages
from dmvpnlab.nhrp.codec import Cie, NhrpDecodeError, PacketType
from dmvpnlab.tunnel.gre import GRE_PROTO_NHRP, GreDecodeError, decode_gre, encode_gre


@dataclass(frozen=True)
class Datagram:
    src: IPv4Address
    dst: IPv4Address
    gre: bytes


@dataclass
class Outstanding:
    """A request waiting for its reply (matched by request id, unique across the fleet)."""

    phase: str
    kind: str  # "registration", "resolution", "purge"
    spoke: int
    sent_at: float
    first_sent_at: float
    attempts: int = 1


@dataclass(frozen=True)
class HubAddress:
    proto: IPv4Address
    nbma: IPv4Address


class Fleet:
    """`plan.count` emulated spokes registering with one hub."""

    def __init__(self, plan: AddressPlan, hub: HubAddress, *, holdtime: int, auth: bytes | None,
                 gre_key: int | None, stats: LoadStats, seed: int = 1) -> None:
        self.plan = plan
        self.hub = hub
        self.holdtime = holdtime
        self.gre_key = gre_key
        self.stats = stats
        self.random = random.Random(seed)
        self.identities = [messages.Identity(nbma=plan.nbma(i), proto=plan.tunnel(i), holdtime=holdtime, auth=auth)
                           for i in range(plan.count)]
        self.registered = [False] * plan.count
        self.outstanding: dict[int, Outstanding] = {}
        self._ids = itertools.count(1)
        self._refresh_due: list[tuple[float, int]] = []  # heap of (when, spoke)

    @property
    def refresh_interval(self) -> float:
        return self.holdtime / 3

    @property
    def registered_count(self) -> int:
        return sum(self.registered)

    # --- what to send ------------------------------------------------------------------

    def _datagram(self, spoke: int, dst: IPv4Address, packet: codec.NhrpPacket) -> Datagram:
        return Datagram(self.plan.nbma(spoke), dst, encode_gre(GRE_PROTO_NHRP, codec.encode(packet), self.gre_key))

    def _track(self, request_id: int, phase: str, kind: str, spoke: int, now: float,
               retry_of: Outstanding | None = None) -> None:
        """Wait for `request_id`'s reply; a retry keeps its first send's clock and is no new request."""
        if retry_of is None:
            self.outstanding[request_id] = Outstanding(phase, kind, spoke, now, now)
            self.stats.sent(phase, now)
        else:
            self.outstanding[request_id] = Outstanding(phase, kind, spoke, now, retry_of.first_sent_at,
                                                       retry_of.attempts + 1)

    def registration(self, spoke: int, now: float, phase: str, retry_of: Outstanding | None = None) -> Datagram:
        request_id = next(self._ids)
        packet = messages.registration_request(self.identities[spoke], self.hub.proto, self.hub.nbma,
                                               request_id, unique=True)
        self._track(request_id, phase, "registration", spoke, now, retry_of)
        return self._datagram(spoke, self.hub.nbma, packet)

    def resolution(self, requester: int, target: int, now: float, phase: str = "resolve") -> Datagram:
        request_id = next(self._ids)
        packet = messages.resolution_request(self.identities[requester], self.plan.tunnel(target), request_id)
        self._track(request_id, phase, "resolution", requester, now)
        return self._datagram(requester, self.hub.nbma, packet)

    def random_pair(self) -> tuple[int, int]:
        a = self.random.randrange(self.plan.count)
        b = self.random.randrange(self.plan.count - 1)
        return a, b if b < a else b + 1

    def purge(self, spoke: int, now: float, phase: str = "purge") -> Datagram:
        """A spoke going away purges its own registration at the hub (and wants the reply)."""
        request_id = next(self._ids)
        me = self.identities[spoke]
        own = Cie(code=0, prefix_len=32, mtu=me.mtu, holdtime=0, preference=0, nbma=me.nbma, proto=me.proto)
        packet = messages.purge_request(me, self.hub.proto, [own], request_id, want_reply=True)
        self._track(request_id, phase, "purge", spoke, now)
        self.registered[spoke] = False
        return self._datagram(spoke, self.hub.nbma, packet)

    def due_refreshes(self, now: float) -> Iterator[int]:
        """Spokes whose registration timer fired (each popped once; rescheduled on its reply)."""
        while self._refresh_due and self._refresh_due[0][0] <= now:
            _, spoke = heapq.heappop(self._refresh_due)
            if self.registered[spoke]:
                yield spoke

    def retransmissions(self, now: float, timeout: float, max_attempts: int = 4) -> Iterator[tuple[int, Datagram]]:
        """Requests unanswered for `timeout`: counted as late, resent (up to `max_attempts`)."""
        for request_id, pending in list(self.outstanding.items()):
            if now - pending.sent_at < timeout:
                continue
            del self.outstanding[request_id]
            self.stats.dropped[f"{pending.kind}: no reply in {timeout:g} s"] += 1
            # Only registrations are resent (as an NHC does); a lost resolution is replaced by the
            # next random pair, a lost purge by the holdtime.
            if pending.kind == "registration" and pending.attempts < max_attempts:
                yield request_id, self.registration(pending.spoke, now, pending.phase, retry_of=pending)

    # --- what arrived -------------------------------------------------------------------

    def receive(self, src: IPv4Address, dst: IPv4Address, gre: bytes, now: float) -> list[Datagram]:
        """A GRE datagram for emulated NBMA `dst`; returns what the fleet sends in answer."""
        spoke = self.plan.index_of_nbma(dst)
        if spoke is None:
            self.stats.dropped["not for an emulated spoke"] += 1
            return []
        try:
            frame = decode_gre(gre)
            if frame.proto != GRE_PROTO_NHRP:
                self.stats.dropped[f"GRE protocol 0x{frame.proto:04x}"] += 1
                return []
            packet = codec.decode(frame.payload)
        except (GreDecodeError, NhrpDecodeError) as error:
            self.stats.dropped[f"malformed: {type(error).__name__}"] += 1
            return []
        kind = PacketType(packet.type).name.lower() if packet.type in PacketType._value2member_map_ else str(packet.type)
        self.stats.received[kind] += 1
        if packet.type == PacketType.RESOLUTION_REQUEST:
            return self._answer_resolution(spoke, packet)
        if packet.type in (PacketType.REGISTRATION_REPLY, PacketType.RESOLUTION_REPLY, PacketType.PURGE_REPLY):
            self._on_reply(packet, now)
        return []

    def _answer_resolution(self, spoke: int, request: codec.NhrpPacket) -> list[Datagram]:
        """The hub forwarded a resolution for this spoke's address: answer the requester directly."""
        if request.dst_proto != self.plan.tunnel(spoke) or request.src_nbma is None:
            self.stats.dropped["resolution request for another address"] += 1
            return []
        reply = messages.resolution_reply(self.identities[spoke], request, 32)
        return [self._datagram(spoke, request.src_nbma, reply)]

    def _on_reply(self, packet: codec.NhrpPacket, now: float) -> None:
        pending = self.outstanding.pop(packet.request_id, None)
        if pending is None:
            self.stats.dropped["reply to no outstanding request"] += 1
            return
        code = packet.cies[0].code if packet.cies else 0
        self.stats.answered(pending.phase, pending.first_sent_at, now)
        if code != 0:
            self.stats.dropped[f"{pending.kind} answered with code {code}"] += 1
            return
        if pending.kind == "registration":
            first = not self.registered[pending.spoke]
            self.registered[pending.spoke] = True
            interval = self.refresh_interval
            due = now + (self.random.uniform(0, interval) if first else interval)
            heapq.heappush(self._refresh_due, (due, pending.spoke))
