"""The records the IKEv1 engine keeps: ISAKMP SAs, Quick Modes in flight, child SAs, and
the retransmission flight of our last message.

Why apart from the engine: the engine is the behaviour (what to do on a message or a
tick); these are the nouns it works on and the small rules that belong to one of them
(the retransmission schedule, what `show crypto isakmp sa` prints for one SA), so the
engine module stays readable and under the size rule.

Retransmission (IOS's schedule, per the brief): the last message of an exchange that
expects an answer is resent 1, 2, 4, 8 and 16 s after the previous send (5 tries);
when the 16 s after the fifth pass with no answer, the negotiation is dropped
("retransmit limit").

Imports events, ikev1_phase1, views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.ipsec.events import ChildSaUp, Datagram
from dmvpnlab.ipsec.ikev1_phase1 import MainMode
from dmvpnlab.ipsec.views import IkeSaView

__all__ = ["RETRANSMIT_FIRST", "RETRANSMIT_TRIES", "Flight", "QuickModeRun", "IsakmpSa", "Child", "Want"]

RETRANSMIT_FIRST = 1.0
RETRANSMIT_TRIES = 5
DELETE_OLD_AFTER = 5.0          # the old SA pair of a rekey is deleted this long after the new one is up


@dataclass
class Flight:
    """Our last message of an exchange, until the peer's answer (or the give-up)."""

    datagram: Datagram
    next_at: float
    interval: float = RETRANSMIT_FIRST
    tries: int = 0

    @classmethod
    def start(cls, datagram: Datagram, now: float) -> "Flight":
        return cls(datagram, now + RETRANSMIT_FIRST)

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def exhausted(self) -> bool:
        return self.tries >= RETRANSMIT_TRIES

    def advance(self, now: float) -> None:
        """After a resend: the next wait doubles."""
        self.tries += 1
        self.interval *= 2
        self.next_at = now + (self.interval if self.tries < RETRANSMIT_TRIES else self.interval / 2)


@dataclass
class Want:
    """connect() or a rekey asked for a child SA with a peer; served by the next Quick Mode."""

    peer: IPv4Address
    rekey_of: int | None = None     # spi_in of the pair being rekeyed


@dataclass
class QuickModeRun:
    """One Quick Mode exchange on an ISAKMP SA (message id != 0)."""

    message_id: int
    initiator: bool
    machine: Any                          # ikev1_quickmode's initiator or responder object
    want: Want | None = None
    spi_in: int = 0                       # the inbound SPI we offered (kept unique across exchanges)
    flight: Flight | None = None
    answers: dict[bytes, Datagram | None] = field(default_factory=dict)   # peer's messages -> our reply
    finished_at: float | None = None      # kept a while to answer retransmissions


@dataclass
class IsakmpSa:
    """One ISAKMP SA, from MM1 until it is deleted."""

    mm: MainMode
    conn_id: int
    peer: IPv4Address
    initiator: bool
    created: float
    peer_port: int = 500
    local_port: int = 500
    expires: float = 0.0
    established_at: float | None = None
    flight: Flight | None = None
    last_in: bytes = b""                  # the peer's last Main Mode message (duplicates)
    last_reply: Datagram | None = None    # our answer to it
    quick: dict[int, QuickModeRun] = field(default_factory=dict)
    last_heard: float = 0.0               # DPD: any valid message or peer_alive()
    dpd_seq: int = 0
    dpd_outstanding: int | None = None
    dpd_next: float = 0.0
    dpd_tries: int = 0
    keepalive_next: float = 0.0

    @property
    def established(self) -> bool:
        return self.established_at is not None

    @property
    def nat_t(self) -> bool:
        return self.mm.nat_detected

    def view(self, local: IPv4Address, now: float) -> IkeSaView:
        """A line of `show crypto isakmp sa`: dst is the responder, src the initiator."""
        src, dst = (local, self.peer) if self.initiator else (self.peer, local)
        suite = self.mm.suite
        return IkeSaView(
            dst=dst, src=src, state=self.mm.state, conn_id=self.conn_id,
            status="ACTIVE" if self.established else "", initiator=self.initiator,
            encryption=suite.encryption_name if suite else "", hash=suite.hash_name if suite else "",
            group=suite.group if suite else 0,
            lifetime_left=max(0, int(self.expires - now)) if self.established else 0,
            nat_t=self.nat_t, dpd=self.mm.peer_dpd, cookie_i=self.mm.cookie_i, cookie_r=self.mm.cookie_r)


@dataclass
class Child:
    """A child SA pair we announced, until ChildSaDown."""

    up: ChildSaUp
    created: float
    soft_at: float
    hard_at: float
    rekeying: bool = False
    replaced_by: int | None = None
    delete_at: float | None = None        # we rekeyed it: send its delete at this time

    @property
    def peer(self) -> IPv4Address:
        return self.up.peer
