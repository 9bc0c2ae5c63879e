"""The engine's side of Quick Mode: exchanges in flight per ISAKMP SA, their
retransmission and duplicates, and the hand-over of a finished one to the child book.

Why apart: ``ikev1_quickmode`` is the message logic of one exchange (QM1 -> QM2 -> QM3,
proposals, KEYMAT) as pure objects; running several of them on an ISAKMP SA at once
(a rekey while another peer's connect runs, a simultaneous initiation), resending the
last message on the same schedule as Main Mode, answering a retransmitted QM1 or QM2
with the cached reply, and giving up, is engine work, kept here so the engine module
stays within its size.

A finished exchange is kept ``KEEP_FINISHED`` s so that a retransmission of the peer's
last message (our QM2 lost: QM1 again; our QM3 lost: QM2 again) is answered, then its
IV chain is forgotten (``IkeCrypto.forget``).

Imports ikev1_phase1 (its FATAL_REASONS), ikev1_quickmode, ikev1_state, isakmp, isakmp_const.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from dmvpnlab.ipsec.events import ChildSaDown, ChildSaLarval, ChildSaUp
from dmvpnlab.ipsec import ikev1_quickmode as qm
from dmvpnlab.ipsec.ikev1_phase1 import FATAL_REASONS
from dmvpnlab.ipsec.ikev1_state import Flight, IsakmpSa, QuickModeRun, Want
from dmvpnlab.ipsec.isakmp import IsakmpMessage, NotifyPayload
from dmvpnlab.ipsec.isakmp_const import NotifyType, ProtocolId

if TYPE_CHECKING:
    from dmvpnlab.ipsec.ikev1_engine import IkeEngine

__all__ = ["QuickModes", "KEEP_FINISHED"]

KEEP_FINISHED = 30.0


def _reason(exc: Exception) -> tuple[str, str]:
    reason = getattr(exc, "reason", "malformed")
    return (reason if isinstance(reason, str) else "malformed"), str(getattr(exc, "detail", "") or exc)


class QuickModes:
    """Every Quick Mode exchange of the engine's ISAKMP SAs."""

    def __init__(self, engine: "IkeEngine") -> None:
        self.engine = engine
        self._runs: dict[bytes, dict[int, QuickModeRun]] = {}   # by the SA's initiator cookie, then M-ID

    def _of(self, sa: IsakmpSa) -> dict[int, QuickModeRun]:
        return self._runs.setdefault(sa.mm.cookie_i, {})

    def running(self, peer: IPv4Address) -> bool:
        return any(run.finished_at is None for sa in self.engine.sas_of(peer) for run in self._of(sa).values())

    def rekeying(self, spi_in: int) -> bool:
        return any(run.finished_at is None and run.want is not None and run.want.rekey_of == spi_in
                   for runs in self._runs.values() for run in runs.values())

    def _offered_spis(self) -> set[int]:
        """Inbound SPIs our unfinished exchanges put on the wire (not yet in the book)."""
        return {run.spi_in for runs in self._runs.values() for run in runs.values() if run.finished_at is None}

    def drop_sa(self, sa: IsakmpSa, now: float) -> None:
        """The ISAKMP SA is gone: its exchanges die with it (rekeys may be retried)."""
        for run in self._runs.pop(sa.mm.cookie_i, {}).values():
            self._drop_larval(run)
            if run.finished_at is None and run.want is not None and run.want.rekey_of is not None:
                self.engine.children.rekey_failed(run.want.rekey_of, now)

    # -- the machines ---------------------------------------------------------------

    def initiate(self, sa: IsakmpSa, want: Want, now: float) -> None:
        engine = self.engine
        mid = engine.message_id()
        while mid in self._of(sa):                      # another exchange of this SA has it
            mid = engine.message_id()
        assert sa.mm.crypto is not None
        machine = qm.QuickModeInitiator(sa.mm.crypto)
        spi = engine.children.fresh_spi(self._offered_spis())
        try:
            data = machine.start(engine.settings.child, engine.settings.local_address, sa.peer, sa.nat_t, now,
                                 engine.random, peer_port=sa.peer_port, message_id=mid, replaces=want.rekey_of,
                                 spi=spi)
        except (ValueError, qm.QuickModeError) as exc:   # our own profile cannot be proposed
            engine.refuse(sa.peer, "no proposal chosen", f"profile {engine.settings.child.profile}: {exc}")
            if want.rekey_of is not None:
                engine.children.rekey_failed(want.rekey_of, now)
            return
        run = QuickModeRun(mid, True, machine, want, spi_in=spi)
        self._of(sa)[mid] = run
        dgram = engine.transmit(sa, data)
        run.flight = Flight.start(dgram, now)
        engine.log(f"ISAKMP:({sa.conn_id}):beginning Quick Mode exchange, M-ID of {mid}")

    def receive(self, sa: IsakmpSa, msg: IsakmpMessage, data: bytes, now: float) -> None:
        engine = self.engine
        runs = self._of(sa)
        run = runs.get(msg.message_id)
        if run is not None and data in run.answers:
            engine.counters["duplicates"] += 1
            reply = run.answers[data]
            if reply is not None:
                engine.log(f"ISAKMP:({sa.conn_id}):Quick Mode packet is a duplicate, resending")
                engine.send(reply)
            return
        try:
            if run is None:
                if msg.message_id == 0:
                    engine.refuse(sa.peer, "malformed", "Quick Mode with message id 0")
                    return
                self._respond(sa, msg, data, now)
            elif run.finished_at is not None:
                engine.refuse(sa.peer, "malformed", f"Quick Mode {msg.message_id} already finished")
            elif run.initiator:
                qm3, up = run.machine.on_reply(msg)
                run.flight, run.finished_at = None, now
                run.answers[data] = engine.transmit(sa, qm3)
                engine.child_up(sa, up, run.want, now)
            else:
                up = run.machine.on_final(msg)
                run.flight, run.finished_at = None, now
                run.answers[data] = None
                engine.child_up(sa, up, None, now)
        except qm.QuickModeError as exc:      # the quick mode module's typed refusals
            reason, detail = _reason(exc)
            engine.refuse(sa.peer, reason, detail)
            if run is None and exc.notify == NotifyType.NO_PROPOSAL_CHOSEN:
                # IOS tells the initiator, protected, so it stops retransmitting QM1
                engine.send_info(sa, NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN, protocol=ProtocolId.IPSEC_ESP))
            if run is not None and reason in FATAL_REASONS:
                self._give_up(sa, run, now)

    def peer_refused(self, sa: IsakmpSa, reason: str, now: float) -> None:
        """The peer's protected NO_PROPOSAL_CHOSEN: our Quick Modes on this SA in flight
        end (it names no message id, so every unanswered one of ours)."""
        for run in list(self._of(sa).values()):
            if run.initiator and run.finished_at is None:
                self.engine.refuse(sa.peer, reason, f"{sa.peer} refused Quick Mode {run.message_id}")
                self._give_up(sa, run, now)

    def _respond(self, sa: IsakmpSa, msg: IsakmpMessage, data: bytes, now: float) -> None:
        engine = self.engine
        assert sa.mm.crypto is not None
        machine = qm.QuickModeResponder(sa.mm.crypto, engine.settings.child, engine.settings.local_address, sa.peer,
                                        sa.nat_t, peer_port=sa.peer_port)
        spi = engine.children.fresh_spi(self._offered_spis())
        qm2, pending = machine.on_request(msg, now, engine.random, spi=spi)
        run = QuickModeRun(msg.message_id, False, machine, None, spi_in=spi)
        self._of(sa)[msg.message_id] = run
        run.answers[data] = reply = engine.transmit(sa, qm2)
        run.flight = Flight.start(reply, now)
        engine.events.append(ChildSaLarval(pending.child_sa))  # inbound SA now, as IOS

    @staticmethod
    def _unfinished_response(run: QuickModeRun) -> ChildSaUp | None:
        """The larval pair a responder run announced and never completed, if any."""
        if run.initiator or run.finished_at is not None:
            return None
        pending = getattr(run.machine, "pending", None)
        return pending.child_sa if pending is not None else None

    def _drop_larval(self, run: QuickModeRun) -> None:
        child = self._unfinished_response(run)
        if child is not None:
            self.engine.events.append(ChildSaDown(child.peer, child.spi_in, child.spi_out, "quick mode unfinished"))

    def _give_up(self, sa: IsakmpSa, run: QuickModeRun, now: float) -> None:
        self._drop_larval(run)
        self._of(sa).pop(run.message_id, None)
        if sa.mm.crypto is not None:
            sa.mm.crypto.forget(run.message_id)
        if run.want is not None and run.want.rekey_of is not None:
            self.engine.children.rekey_failed(run.want.rekey_of, now)

    def tick(self, now: float) -> None:
        engine = self.engine
        for sa in list(engine.sas_of(None)):
            for run in list(self._of(sa).values()):
                if run.finished_at is not None:
                    if now - run.finished_at >= KEEP_FINISHED:
                        self._of(sa).pop(run.message_id, None)
                        if sa.mm.crypto is not None:
                            sa.mm.crypto.forget(run.message_id)
                    continue
                if run.flight is None or not run.flight.due(now):
                    continue
                if run.flight.exhausted():
                    engine.refuse(sa.peer, "retransmit limit", f"Quick Mode {run.message_id} unanswered")
                    self._give_up(sa, run, now)
                    continue
                engine.counters["retransmits"] += 1
                engine.send(run.flight.datagram)
                run.flight.advance(now)
