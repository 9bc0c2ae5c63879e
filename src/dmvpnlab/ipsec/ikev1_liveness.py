"""Is the peer still there? DPD (RFC 3706) and NAT keepalives (RFC 3948 2.3) for the
IKE engine's ISAKMP SAs.

Why apart: both are timers on an established ISAKMP SA with rules of their own, and
the engine module is about messages and SA lifetimes.

DPD, as `crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]` sets it, and only
with a peer that sent the DPD vendor id, on the newest ISAKMP SA with that peer:
- periodic: R-U-THERE every SECONDS, whatever the traffic;
- on-demand (IOS's default): R-U-THERE when nothing came from the peer (ESP reported by
  ``IkeEngine.peer_alive``, or any valid IKE message) for SECONDS while a child SA is up.
  IOS also requires that we *sent* traffic; the engine does not see outbound ESP, so a
  child SA being up stands for it;
- unanswered, R-U-THERE goes again every RETRY s with the next sequence number; after 5
  retries unanswered for RETRY s the peer is dead: ``PeerDead``, then every SA with it
  down (no deletes sent: nobody would hear them). ESP arriving meanwhile (``peer_alive``)
  counts as the answer: the peer is plainly there, only its ACKs are lost.
The sequence number starts random (below 2^31, as IOS) and counts up; an ACK must carry
the outstanding one. R-U-THERE from the peer is always answered.

NAT keepalives: from the side behind the NAT only (its own NAT-D did not match), a single
0xFF byte on UDP 4500 every `crypto isakmp nat keepalive` seconds.

Imports events, ikev1_info, ikev1_state, settings.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from dmvpnlab.ipsec import ikev1_info as info
from dmvpnlab.ipsec.events import Datagram, PeerDead
from dmvpnlab.ipsec.ikev1_state import IsakmpSa
from dmvpnlab.ipsec.settings import NAT_T_PORT

if TYPE_CHECKING:
    from dmvpnlab.ipsec.ikev1_engine import IkeEngine

__all__ = ["Liveness", "DPD_MAX_RETRIES", "NAT_KEEPALIVE"]

DPD_MAX_RETRIES = 5
NAT_KEEPALIVE = b"\xff"


class Liveness:
    """DPD and NAT keepalive timers of the engine's ISAKMP SAs."""

    def __init__(self, engine: "IkeEngine") -> None:
        self.engine = engine

    def established(self, sa: IsakmpSa, now: float) -> None:
        """A new ISAKMP SA: its first R-U-THERE and keepalive times."""
        self.schedule(sa, now)
        sa.keepalive_next = now + (self.engine.settings.nat_keepalive or 0)

    def schedule(self, sa: IsakmpSa, now: float) -> None:
        dpd = self.engine.settings.dpd
        sa.dpd_next = now + dpd.interval if dpd is not None else float("inf")

    def tick(self, sa: IsakmpSa, now: float) -> None:
        self._tick_dpd(sa, now)
        engine = self.engine
        keepalive = engine.settings.nat_keepalive
        if keepalive and sa.nat_t and sa.mm.local_behind_nat and now >= sa.keepalive_next:
            engine.send(Datagram(sa.peer, sa.peer_port, NAT_T_PORT, NAT_KEEPALIVE))
            engine.counters["nat keepalives sent"] += 1
            sa.keepalive_next = now + keepalive

    def _tick_dpd(self, sa: IsakmpSa, now: float) -> None:
        engine = self.engine
        dpd = engine.settings.dpd
        if dpd is None or not sa.mm.peer_dpd or engine.established(sa.peer) is not sa:
            return
        if sa.dpd_outstanding is not None:
            if now < sa.dpd_next:
                return
            if sa.dpd_tries >= DPD_MAX_RETRIES:
                self._dead(sa.peer, now)
                return
            sa.dpd_tries += 1
            self._send(sa, now, dpd.retry)
            return
        if dpd.periodic:
            due = now >= sa.dpd_next
        else:
            quiet = now - sa.last_heard >= dpd.interval
            due = bool(engine.children.of(sa.peer)) and quiet and now >= sa.dpd_next
        if due:
            self._send(sa, now, dpd.retry)

    def _send(self, sa: IsakmpSa, now: float, retry: int) -> None:
        engine = self.engine
        if sa.dpd_seq == 0:
            sa.dpd_seq = int.from_bytes(engine.random(4), "big") & 0x7FFFFFFF or 1
        else:
            sa.dpd_seq = (sa.dpd_seq + 1) & 0xFFFFFFFF
        sa.dpd_outstanding = sa.dpd_seq
        sa.dpd_next = now + retry
        engine.counters["dpd r-u-there sent"] += 1
        engine.log(f"ISAKMP:({sa.conn_id}):DPD/R_U_THERE sequence {sa.dpd_seq} to {sa.peer}")
        engine.send_info(sa, info.dpd(False, sa.dpd_seq, sa.mm.cookie_i, sa.mm.cookie_r))

    def on_info(self, sa: IsakmpSa, got: info.Info, now: float) -> None:
        """R-U-THERE answered, R-U-THERE-ACK matched against ours."""
        engine = self.engine
        for seq in got.r_u_there:
            engine.log(f"ISAKMP:({sa.conn_id}):received R_U_THERE seq {seq} from {sa.peer}, sending ACK")
            engine.counters["dpd r-u-there received"] += 1
            engine.send_info(sa, info.dpd(True, seq, sa.mm.cookie_i, sa.mm.cookie_r))
        for seq in got.r_u_there_ack:
            if sa.dpd_outstanding is not None and seq == sa.dpd_outstanding:
                engine.counters["dpd acks received"] += 1
                self.answered(sa, now)
            else:
                engine.counters["dpd stale acks"] += 1

    def answered(self, sa: IsakmpSa, now: float) -> None:
        """The peer is alive (its ACK, or ESP from it): no R-U-THERE outstanding."""
        sa.dpd_outstanding = None
        sa.dpd_tries = 0
        self.schedule(sa, now)

    def _dead(self, peer: IPv4Address, now: float) -> None:
        engine = self.engine
        engine.log(f"ISAKMP: DPD: peer {peer} is dead, deleting its SAs")
        engine.counters["dpd peers dead"] += 1
        engine.events.append(PeerDead(peer))
        engine.children.remove_all(peer, "peer dead", now, notify=False)
        for sa in engine.sas_of(peer):
            engine.delete_sa(sa, "peer dead", notify=False)
        engine.drop_wants(peer)
