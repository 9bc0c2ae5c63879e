"""The engine's side of Main Mode: starting ours, answering a peer's MM1, and moving a
known ISAKMP SA through MM2..MM6 by role and state, with the transport around it.

Why apart: ``ikev1_phase1.MainMode`` is the message logic (payloads, keys, NAT-D) as a
pure object; choosing which of its steps a datagram is for, what port the answer goes to
(the initiator floats to 4500 when NAT-D found a NAT; the responder answers MM5 the way
it came), caching the answer for duplicates, starting the retransmission flight, and
IOS's unprotected NO-PROPOSAL-CHOSEN to an MM1 it cannot accept are the engine's work,
kept here beside ``ikev1_quickrun`` (the same for Quick Mode) so the engine module
holds the cookie table, the lifetimes and the API.

Imports events, ikev1_phase1, ikev1_state, isakmp, isakmp_const, settings.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.events import Datagram
from dmvpnlab.ipsec.ikev1_phase1 import FATAL_REASONS, MainMode, Refusal, Wire
from dmvpnlab.ipsec.ikev1_state import Flight, IsakmpSa
from dmvpnlab.ipsec.isakmp import IsakmpMessage, NotifyPayload
from dmvpnlab.ipsec.isakmp_const import NON_ESP_MARKER, ExchangeType, NotifyType, ProtocolId
from dmvpnlab.ipsec.settings import NAT_T_PORT

if TYPE_CHECKING:
    from dmvpnlab.ipsec.ikev1_engine import IkeEngine

__all__ = ["MainModes"]


class MainModes:
    """Every Main Mode of the engine, as the engine's datagrams and timers meet them."""

    def __init__(self, engine: "IkeEngine") -> None:
        self.engine = engine

    def start(self, peer: IPv4Address, now: float) -> None:
        """Our MM1 to ``peer`` (refused at once without a key or a pre-share policy)."""
        engine = self.engine
        psk = engine.settings.key_for(peer)
        if psk is None:
            engine.refuse(peer, "no pre-shared key", f"No pre-shared key with {peer}!")
            engine.drop_wants(peer)
            return
        cookie = engine.new_cookie()
        mm = MainMode(initiator=True, local=engine.settings.local_address, peer=peer, cookie_i=cookie,
                      policies=engine.settings.effective_policies, psk=psk, random=engine.random, log=engine.log)
        try:
            first = mm.mm1()
        except Refusal as refusal:
            engine.refuse(peer, refusal.reason, refusal.detail)
            engine.drop_wants(peer)
            return
        sa = IsakmpSa(mm, engine.new_conn_id(), peer, True, now, last_heard=now)
        engine.add_sa(sa)
        dgram = engine.transmit(sa, isakmp.encode(first))
        engine.log(f"ISAKMP:(0): sending packet to {peer} my_port {sa.local_port} peer_port {sa.peer_port} (I) "
                   "MM_NO_STATE")
        sa.flight = Flight.start(dgram, now)

    def respond(self, msg: IsakmpMessage, data: bytes, peer: IPv4Address, peer_port: int, local_port: int,
                now: float) -> None:
        """A new MM1: a responder SA and our MM2, or a refusal (IOS's notify for no proposal)."""
        engine = self.engine
        engine.log(f"ISAKMP (0): received packet from {peer} dport {local_port} sport {peer_port} Global (N) NEW SA")
        mm = MainMode(initiator=False, local=engine.settings.local_address, peer=peer, cookie_i=bytes(msg.icookie),
                      policies=engine.settings.effective_policies, psk=engine.settings.key_for(peer),
                      random=engine.random, log=engine.log)
        try:
            reply = mm.on_mm1(msg, engine.new_cookie())
        except Refusal as refusal:
            engine.refuse(peer, refusal.reason, refusal.detail)
            if refusal.reason == "no proposal chosen":
                self._plain_notify(peer, peer_port, local_port, msg, NotifyType.NO_PROPOSAL_CHOSEN)
            return
        sa = IsakmpSa(mm, engine.new_conn_id(), peer, False, now, peer_port=peer_port, local_port=local_port,
                      last_heard=now)
        engine.add_sa(sa)
        sa.last_in = data
        sa.last_reply = engine.transmit(sa, isakmp.encode(reply))
        sa.flight = Flight.start(sa.last_reply, now)
        engine.log(f"ISAKMP:(0): sending packet to {peer} my_port {local_port} peer_port {peer_port} (R) MM_SA_SETUP")

    def _plain_notify(self, peer: IPv4Address, peer_port: int, local_port: int, msg: IsakmpMessage,
                      kind: int) -> None:
        """IOS answers an unacceptable MM1 with an unprotected notify."""
        engine = self.engine
        out = IsakmpMessage(msg.icookie, bytes(8), ExchangeType.INFORMATIONAL,
                            payloads=[NotifyPayload(kind, protocol=ProtocolId.ISAKMP)])
        data = isakmp.encode(out)
        engine.send(Datagram(peer, peer_port, local_port, NON_ESP_MARKER + data if local_port == NAT_T_PORT else data))

    def before_phase1_done(self, sa: IsakmpSa, msg: IsakmpMessage) -> None:
        """A NO_PROPOSAL_CHOSEN notify while our MM1 is out ends our negotiation; anything
        else before Phase 1 completes is out of place."""
        engine = self.engine
        if msg.exchange == ExchangeType.INFORMATIONAL and not msg.is_encrypted and sa.initiator \
                and sa.mm.state == "MM_NO_STATE":
            kinds = [p.notify_type for p in msg.payloads if isinstance(p, NotifyPayload)]
            if NotifyType.NO_PROPOSAL_CHOSEN in kinds:
                engine.fail(sa, Refusal("no proposal chosen", f"{sa.peer} accepted none of our policies"))
                return
        engine.refuse(sa.peer, "malformed", f"exchange {msg.exchange} before Phase 1 completed")

    def receive(self, sa: IsakmpSa, msg: IsakmpMessage, data: bytes, peer_port: int, local_port: int,
                now: float) -> None:
        """MM2..MM6 for a known SA, by role and state; fatal refusals end the SA."""
        engine = self.engine
        mm = sa.mm
        wire = Wire(peer_port, local_port)
        engine.log(f"ISAKMP ({sa.conn_id if mm.crypto else 0}): received packet from {sa.peer} dport {local_port} "
                   f"sport {peer_port} Global ({'I' if sa.initiator else 'R'}) {mm.state}")
        try:
            if sa.initiator and mm.state == "MM_NO_STATE" and not msg.is_encrypted:
                reply = mm.on_mm2(msg, wire)
                self._step(sa, data, isakmp.encode(reply), now)
            elif sa.initiator and mm.state == "MM_SA_SETUP" and not msg.is_encrypted:
                if not mm.psk:
                    raise Refusal("no pre-shared key", f"No pre-shared key with {sa.peer}!")
                mm.send_initial_contact = engine.first_contact(sa.peer)
                sealed = mm.on_mm4(msg, wire)
                if mm.nat_detected:
                    sa.local_port = sa.peer_port = NAT_T_PORT
                self._step(sa, data, sealed, now)
            elif sa.initiator and mm.state == "MM_KEY_EXCH" and msg.is_encrypted:
                mm.on_mm6(msg)
                sa.flight = None
                sa.last_in, sa.last_reply = data, None
                engine.heard(sa, peer_port, local_port, now)
                engine.phase1_done(sa, now)
            elif not sa.initiator and mm.state == "MM_SA_SETUP" and not msg.is_encrypted:
                self._step(sa, data, isakmp.encode(mm.on_mm3(msg, wire)), now)
            elif not sa.initiator and mm.state == "MM_KEY_EXCH" and msg.is_encrypted:
                sealed = mm.on_mm5(msg)
                # MM6 goes back the way MM5 came: UDP 4500 after the initiator floated (a
                # NAT was found, or a peer that floats anyway), from whatever port the NAT chose
                sa.local_port, sa.peer_port = local_port, peer_port
                self._step(sa, data, sealed, now, expect_reply=False)
                engine.phase1_done(sa, now)
            else:
                engine.refuse(sa.peer, "malformed", f"Main Mode message out of place in {mm.state}")
        except Refusal as refusal:
            if refusal.reason in FATAL_REASONS:
                engine.fail(sa, refusal)
            else:
                engine.refuse(sa.peer, refusal.reason, refusal.detail)

    def _step(self, sa: IsakmpSa, data: bytes, reply: bytes, now: float, expect_reply: bool = True) -> None:
        engine = self.engine
        sa.last_in = data
        sa.last_heard = now
        sa.last_reply = engine.transmit(sa, reply)
        sa.flight = Flight.start(sa.last_reply, now) if expect_reply else None
        role = "I" if sa.initiator else "R"
        engine.log(f"ISAKMP:({sa.conn_id if sa.mm.crypto else 0}): sending packet to {sa.peer} my_port "
                   f"{sa.local_port} peer_port {sa.peer_port} ({role}) {sa.mm.state}")
