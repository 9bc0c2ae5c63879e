"""The IKEv1 engine: every ISAKMP SA and child SA of one protected tunnel, sans-I/O.

Like `nhrp.engine.NhrpEngine`, it owns no socket and no clock: the agent calls it with
datagrams and the time, then drains ``outbox`` (datagrams to send) and ``events``
(``events.IkeEvent``: SAs up and down, refusals, dead peers). Main Mode is
``ikev1_phase1`` (driven by ``ikev1_mainrun``), Quick Mode ``ikev1_quickmode`` (driven by
``ikev1_quickrun``), Informational exchanges ``ikev1_info``, DPD and NAT keepalives
``ikev1_liveness``, the child SA pairs' lives ``ikev1_children``; this module is the
cookie table, the dispatch of datagrams, the transport (UDP 500, NAT-T on 4500), the
ISAKMP SAs' lifetimes and deletes, and the API.

API (the agent and the CLI code against exactly this)::

    class IkeEngine:
        def __init__(self, settings: IpsecSettings, now: float, *, random: Callable[[int], bytes] = os.urandom,
                     debug: Callable[[str, str], None] | None = None)   # debug(category, line): category "isakmp" or "ipsec"
        outbox: list[Datagram]; events: list[IkeEvent]      # the agent drains both after every call
        counters: collections.Counter[str]                   # every REFUSAL_REASONS entry + "retransmits", "received", "sent", "dropped"...
        def connect(self, peer: IPv4Address, now: float) -> None        # want a child SA with peer: Main Mode if no ISAKMP SA, else Quick Mode; idempotent while one runs
        def receive(self, data: bytes, peer: IPv4Address, peer_port: int, local_port: int, now: float) -> None
                                                                          # UDP payload as received (on 4500 it starts with the non-ESP marker); NEVER raises
        def tick(self, now: float) -> None                                # retransmit with backoff, lifetimes, rekey, DPD, NAT keepalive
        def rekey_child(self, spi_in: int, now: float) -> None            # SA database: kilobyte soft limit reached
        def peer_alive(self, peer: IPv4Address, now: float) -> None       # ESP arrived from peer (on-demand DPD)
        def clear(self, peer: IPv4Address | None, now: float) -> int      # clear crypto session: send deletes, emit Down events;
                                                                          # returns how many peers had something cleared
        def reconfigure(self, settings: IpsecSettings, now: float) -> None
        def ike_sas(self) -> list[IkeSaView]
        def clear_sa(self, peer: IPv4Address | None, now: float) -> int     # (added) clear crypto sa: child pairs only
        def peer_state(self, peer: IPv4Address) -> str                    # "" | "IKE" (MM/QM running) | "IPSEC" (child SA up)

Counters beyond those: "duplicates", "internal error" (a bug of ours, swallowed so the
router lives; tests and fuzz targets hold it at 0), "not isakmp" (non-ESP marker missing
on 4500), "for a deleted sa", "keepalives received", "nat keepalives sent", "dpd ..."
and "delete for unknown spi".

Behaviour, IOS as the model:
- Bad peer input is a counted drop ("dropped" and the reason) and, for a negotiation
  step, an ``IkeRefused``; ``receive`` never raises (an unexpected error of ours is
  counted as "internal error", logged, and the datagram dropped).
- A refusal that can only repeat (no proposal chosen, no pre-shared key, hash mismatch,
  unsupported) ends the negotiation; a malformed or unknown datagram is dropped and the
  negotiation waits for the peer's retransmission.
- The peer's previous message again (byte for byte) makes us resend our answer.
- Phase 1 lives its negotiated lifetime, then is deleted (child SAs stay, as on IOS);
  a child SA is rekeyed at 90 % of its lifetime in seconds by its initiator (95 % by its
  responder, so both rarely race), or on ``rekey_child``; the new pair replaces the old
  (``ChildSaUp.replaces``) and the side that rekeyed deletes the old pair 5 s later.
- DPD (``settings.dpd``, only with a peer that sent the DPD vendor id): periodic sends
  R-U-THERE every interval; on-demand when nothing (ESP via ``peer_alive`` or IKE) came
  from the peer for the interval while a child SA is up (the engine does not see our
  outbound ESP, so "traffic sent" is approximated by "a child SA exists"). Unanswered,
  R-U-THERE is repeated every ``retry`` s; after 5 retries the peer is dead.
- Simultaneous initiation: both ISAKMP SAs complete and each side's Quick Mode runs on
  its own; both child SAs are announced (the later with ``replaces`` set), none deleted.
"""

from __future__ import annotations

import collections
import os
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Callable

from dmvpnlab.ipsec import ikev1_info as info
from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.endpoint import as_peer, same_host
from dmvpnlab.ipsec.events import (
    REFUSAL_REASONS, ChildSaUp, Datagram, IkeEvent, IkeRefused, IkeSaDown, IkeSaUp,
)
from dmvpnlab.ipsec.ikev1_children import ChildBook
from dmvpnlab.ipsec.ikev1_liveness import Liveness
from dmvpnlab.ipsec.ikev1_mainrun import MainModes
from dmvpnlab.ipsec.ikev1_phase1 import FATAL_REASONS, Refusal
from dmvpnlab.ipsec.ikev1_quickrun import QuickModes
from dmvpnlab.ipsec.ikev1_state import IsakmpSa, Want
from dmvpnlab.ipsec.isakmp import IsakmpMessage, NotifyPayload
from dmvpnlab.ipsec.isakmp_const import NON_ESP_MARKER, ExchangeType, NotifyType
from dmvpnlab.ipsec.settings import NAT_T_PORT, IpsecSettings
from dmvpnlab.ipsec.views import IkeSaView

__all__ = ["IkeEngine", "FATAL_REASONS", "COUNTED"]

#: Counters that exist from the start (with REFUSAL_REASONS), so `show` lists them at 0.
COUNTED = ("received", "sent", "dropped", "retransmits", "duplicates")
FIRST_CONN_ID = 1001
#: The console messages IOS prints with these refusals (debug or not).
_SYSLOG = {
    "hash mismatch": "%CRYPTO-4-IKMP_BAD_MESSAGE: IKE message from {peer} failed its sanity check or is malformed",
}
GONE_FOR = 120.0            # datagrams for an SA deleted this recently are dropped quietly


class IkeEngine:
    """IKEv1 for one tunnel's `tunnel protection` (see the module docstring)."""

    def __init__(self, settings: IpsecSettings, now: float, *, random: Callable[[int], bytes] = os.urandom,
                 debug: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.random = random
        self._debug = debug
        self.outbox: list[Datagram] = []
        self.events: list[IkeEvent] = []
        self.counters: collections.Counter[str] = collections.Counter()
        self._sas: dict[bytes, IsakmpSa] = {}          # by initiator cookie
        self._by_peer: dict[IPv4Address, dict[bytes, IsakmpSa]] = {}   # the same, per peer (a hub has many)
        self._gone: dict[bytes, float] = {}            # cookies of SAs just deleted -> when (late datagrams)
        self._wants: dict[IPv4Address, list[Want]] = {}
        self._next_conn_id = FIRST_CONN_ID
        self._now = now
        self.children = ChildBook(self)
        self.quick = QuickModes(self)
        self.main = MainModes(self)
        self.liveness = Liveness(self)
        self.counters.update(dict.fromkeys(REFUSAL_REASONS + COUNTED, 0))

    # -- plumbing -------------------------------------------------------------------

    def log(self, line: str, category: str = "isakmp") -> None:
        if self._debug is not None:
            self._debug(category, line)

    def refuse(self, peer: IPv4Address, reason: str, detail: str = "") -> None:
        """Count, log and announce a refusal (one of REFUSAL_REASONS)."""
        self.counters[reason] += 1
        self.counters["dropped"] += 1
        self.log(f"ISAKMP: refused {peer}: {reason}" + (f" ({detail})" if detail else ""))
        syslog = _SYSLOG.get(reason)
        if syslog is not None:
            self.log(syslog.format(peer=peer))
        self.events.append(IkeRefused(peer, reason, detail))

    def transmit(self, sa: IsakmpSa, data: bytes) -> Datagram:
        """One ISAKMP message to the SA's peer on its current ports (marker on 4500)."""
        payload = NON_ESP_MARKER + data if sa.local_port == NAT_T_PORT else data
        dgram = Datagram(sa.peer, sa.peer_port, sa.local_port, payload)
        self.send(dgram)
        return dgram

    def send(self, dgram: Datagram) -> None:
        self.outbox.append(dgram)
        self.counters["sent"] += 1

    def established(self, peer: IPv4Address) -> IsakmpSa | None:
        """The newest ISAKMP SA in QM_IDLE with ``peer``: Quick Mode and deletes use it."""
        best: IsakmpSa | None = None
        for sa in self._by_peer.get(peer, {}).values():
            if sa.established and (best is None or sa.established_at > best.established_at):
                best = sa
        return best

    def sas_of(self, peer: IPv4Address | None) -> list[IsakmpSa]:
        if peer is None:
            return list(self._sas.values())
        return list(self._by_peer.get(peer, {}).values())

    def add_sa(self, sa: IsakmpSa) -> None:
        self._sas[sa.mm.cookie_i] = sa
        self._by_peer.setdefault(sa.peer, {})[sa.mm.cookie_i] = sa

    def _remove_sa(self, sa: IsakmpSa) -> None:
        if self._sas.get(sa.mm.cookie_i) is sa:
            del self._sas[sa.mm.cookie_i]
        mine = self._by_peer.get(sa.peer, {})
        if mine.get(sa.mm.cookie_i) is sa:
            del mine[sa.mm.cookie_i]
            if not mine:
                del self._by_peer[sa.peer]

    def message_id(self) -> int:
        while True:
            mid = int.from_bytes(self.random(4), "big")
            if mid:
                return mid

    # -- API ------------------------------------------------------------------------

    def connect(self, peer: IPv4Address, now: float) -> None:
        """Want a child SA with ``peer``; idempotent while one is up or being made."""
        self._now = now
        peer = as_peer(peer)
        if self.children.live(peer) or self._wants.get(peer) or self.quick.running(peer):
            return
        self._want(Want(peer), now)

    def _want(self, want: Want, now: float) -> None:
        self._wants.setdefault(want.peer, []).append(want)
        sa = self.established(want.peer)
        if sa is not None:
            self._serve_wants(sa, now)
        elif not any(not s.established for s in self.sas_of(want.peer)):
            self.main.start(want.peer, now)

    def _serve_wants(self, sa: IsakmpSa, now: float) -> None:
        for want in self._wants.pop(sa.peer, []):
            self.quick.initiate(sa, want, now)

    def receive(self, data: bytes, peer: IPv4Address, peer_port: int, local_port: int, now: float) -> None:
        """One UDP payload from ``peer``:``peer_port`` to our ``local_port``; never raises."""
        self._now = now
        try:
            self._receive(bytes(data), as_peer(peer), peer_port, local_port, now)
        except Exception as exc:        # a bug of ours must not take the router down
            self.counters["internal error"] += 1
            self.counters["dropped"] += 1
            self.log(f"ISAKMP: internal error on a datagram from {peer}: {type(exc).__name__}: {exc}")

    def tick(self, now: float) -> None:
        self._now = now
        for sa in list(self._sas.values()):
            if self._sas.get(sa.mm.cookie_i) is sa:      # not deleted by an earlier one's timers
                self._tick_sa(sa, now)
        self.quick.tick(now)
        self.children.tick(now)
        for cookie, when in list(self._gone.items()):
            if now - when > GONE_FOR:
                del self._gone[cookie]

    def rekey_child(self, spi_in: int, now: float) -> None:
        self._now = now
        self.children.rekey(spi_in, now)

    def peer_alive(self, peer: IPv4Address, now: float) -> None:
        """ESP from ``peer`` proves it alive: an unanswered R-U-THERE stops counting."""
        self._now = now
        for sa in self.sas_of(as_peer(peer)):
            sa.last_heard = now
            if sa.dpd_outstanding is not None:
                self.liveness.answered(sa, now)

    def clear(self, peer: IPv4Address | None, now: float) -> int:
        """`clear crypto session [remote PEER]`: deletes to the peer, every SA down."""
        self._now = now
        peer = as_peer(peer) if peer is not None else None
        peers = {sa.peer for sa in self.sas_of(peer)} | self.children.peers(peer)
        for p in peers:
            self.children.remove_all(p, "cleared", now, notify=True)
            for sa in self.sas_of(p):
                self.delete_sa(sa, "cleared", notify=True)
            self.drop_wants(p)
        return len(peers)

    def clear_sa(self, peer: IPv4Address | None, now: float) -> int:
        """`clear crypto sa [peer X]`: the child SA pairs go, with a Delete to the peer; the
        ISAKMP SAs stay, so the next connect() runs Quick Mode only. Returns the pairs."""
        self._now = now
        peer = as_peer(peer) if peer is not None else None
        count = 0
        for p in self.children.peers(peer):
            count += len(self.children.of(p))
            self.children.remove_all(p, "cleared", now, notify=True)
        return count

    def reconfigure(self, settings: IpsecSettings, now: float) -> None:
        """New settings apply to new negotiations (IOS keeps established SAs); a new local
        address invalidates everything."""
        self._now = now
        old = self.settings
        self.settings = settings
        if settings.local_address != old.local_address:
            self.clear(None, now)
        elif settings.dpd != old.dpd:
            for sa in self.sas_of(None):
                if sa.established:
                    sa.dpd_outstanding, sa.dpd_tries = None, 0
                    self.liveness.schedule(sa, now)

    def ike_sas(self) -> list[IkeSaView]:
        return [sa.view(self.settings.local_address, self._now)
                for sa in sorted(self._sas.values(), key=lambda s: s.conn_id)]

    def peer_state(self, peer: IPv4Address) -> str:
        peer = as_peer(peer)
        if self.children.live(peer):
            return "IPSEC"
        if self.sas_of(peer) or self._wants.get(peer):
            busy = any(not sa.established for sa in self.sas_of(peer)) or self.quick.running(peer)
            return "IKE" if busy or self._wants.get(peer) else ""
        return ""

    # -- Main Mode ------------------------------------------------------------------

    def new_conn_id(self) -> int:
        cid = self._next_conn_id
        self._next_conn_id += 1
        return cid

    def first_contact(self, peer: IPv4Address) -> bool:
        return not self.children.of(peer) and not any(sa.established for sa in self.sas_of(peer))

    def new_cookie(self) -> bytes:
        while True:
            cookie = self.random(8)
            if cookie != bytes(8) and cookie not in self._sas:
                return cookie

    def _receive(self, data: bytes, peer: IPv4Address, peer_port: int, local_port: int, now: float) -> None:
        if local_port == NAT_T_PORT:
            if data == b"\xff":
                self.counters["keepalives received"] += 1
                return
            if data[:4] != NON_ESP_MARKER:
                self.counters["dropped"] += 1
                self.counters["not isakmp"] += 1
                return
            data = data[4:]
        try:
            msg = isakmp.decode(data)
        except isakmp.IsakmpDecodeError as exc:
            self.refuse(peer, "malformed", str(exc))
            return
        self.counters["received"] += 1
        sa = self._sas.get(bytes(msg.icookie))
        if sa is None and bytes(msg.icookie) in self._gone:
            # A late retransmission or the peer's own delete racing ours: expected, quiet.
            self.counters["dropped"] += 1
            self.counters["for a deleted sa"] += 1
            return
        if sa is None:
            if msg.exchange == ExchangeType.MAIN_MODE and msg.rcookie == bytes(8) and not msg.is_encrypted:
                self.main.respond(msg, data, peer, peer_port, local_port, now)
            elif msg.exchange == ExchangeType.AGGRESSIVE:
                self.refuse(peer, "unsupported", "aggressive mode")
            else:
                self.refuse(peer, "invalid cookie", f"no ISAKMP SA for cookie {msg.icookie.hex()}")
            return
        if sa.peer != peer and self._floated(sa, msg, peer, local_port):
            self._remove_sa(sa)
            sa.peer = peer
            self.add_sa(sa)
        if sa.peer == peer and msg.exchange == ExchangeType.MAIN_MODE and data == sa.last_in:
            self.counters["duplicates"] += 1
            if sa.last_reply is not None:
                self.log(f"ISAKMP:({sa.conn_id}):phase 1 packet is a duplicate of a previous packet.")
                self.send(sa.last_reply)
            return
        if sa.peer == peer and msg.exchange == ExchangeType.MAIN_MODE and not sa.initiator \
                and msg.rcookie == bytes(8):
            self.counters["duplicates"] += 1          # an MM1 retransmitted before our MM2 reached it
            return
        if sa.peer != peer or not self._cookies_match(sa, msg):
            self.refuse(peer, "invalid cookie", f"cookies {msg.icookie.hex()}/{msg.rcookie.hex()} not ours")
            return
        if msg.exchange == ExchangeType.MAIN_MODE:
            self.main.receive(sa, msg, data, peer_port, local_port, now)
        elif not sa.established:
            self.main.before_phase1_done(sa, msg)
        elif msg.exchange == ExchangeType.QUICK_MODE:
            self.heard(sa, peer_port, local_port, now)
            self.quick.receive(sa, msg, data, now)
        elif msg.exchange == ExchangeType.INFORMATIONAL:
            self._informational(sa, msg, peer_port, local_port, now)
        else:
            self.refuse(peer, "unsupported", f"exchange type {msg.exchange}")

    def _cookies_match(self, sa: IsakmpSa, msg: IsakmpMessage) -> bool:
        if msg.rcookie == sa.mm.cookie_r:
            return True
        # MM2 is the message that tells the initiator the responder's cookie.
        return sa.initiator and sa.mm.state == "MM_NO_STATE" and sa.mm.cookie_r == bytes(8)

    def _floated(self, sa: IsakmpSa, msg: IsakmpMessage, peer: IPv4Address, local_port: int) -> bool:
        """Main Mode moving to 4500 behind a NAT that gave the float another port: the
        same peer at a new endpoint (ipsec.endpoint). Only before Phase 1 completes, while
        nothing (wants, children) is keyed by the old one; the cookies must be ours."""
        return (local_port == NAT_T_PORT and not sa.established and same_host(sa.peer, peer)
                and self._cookies_match(sa, msg))

    def heard(self, sa: IsakmpSa, peer_port: int, local_port: int, now: float) -> None:
        """A valid message: the peer is alive, and behind a NAT its port may have moved."""
        sa.last_heard = now
        if local_port == NAT_T_PORT and sa.local_port == NAT_T_PORT:
            sa.peer_port = peer_port

    def fail(self, sa: IsakmpSa, refusal: Refusal) -> None:
        """A negotiation that cannot succeed: refused, forgotten, its wants dropped."""
        self.refuse(sa.peer, refusal.reason, refusal.detail)
        self._remove_sa(sa)
        self._gone[sa.mm.cookie_i] = self._now
        self.quick.drop_sa(sa, self._now)
        if sa.initiator:
            self.drop_wants(sa.peer)
        elif self._wants.get(sa.peer) and not self.sas_of(sa.peer):
            # we were waiting for the peer's negotiation to serve our connect(): our turn
            self.main.start(sa.peer, self._now)

    def drop_wants(self, peer: IPv4Address) -> None:
        for want in self._wants.pop(peer, []):
            if want.rekey_of is not None:
                self.children.rekey_failed(want.rekey_of, self._now)

    def phase1_done(self, sa: IsakmpSa, now: float) -> None:
        mm = sa.mm
        assert mm.suite is not None and mm.phase1 is not None
        sa.established_at = now
        sa.expires = now + mm.suite.lifetime
        sa.last_heard = now
        self.liveness.established(sa, now)
        self.log(f"ISAKMP:({sa.conn_id}):SA authentication status: authenticated")
        self.log(f"ISAKMP:({sa.conn_id}):SA has been authenticated with {sa.peer}")
        self.events.append(IkeSaUp(sa.peer, mm.cookie_i, mm.cookie_r, mm.phase1.enc_key, sa.conn_id, sa.initiator,
                                   mm.nat_detected))
        if not sa.initiator and mm.initial_contact_received:
            self._initial_contact(sa, now)
        self._serve_wants(sa, now)

    def _initial_contact(self, sa: IsakmpSa, now: float) -> None:
        """The peer rebooted: what we had with it before this SA began is stale."""
        self.log(f"ISAKMP:({sa.conn_id}):received INITIAL-CONTACT from {sa.peer}: clearing its old SAs")
        for old in self.sas_of(sa.peer):
            if old is not sa and old.established and old.established_at < sa.created:
                self.delete_sa(old, "initial contact", notify=False)
        self.children.remove_older(sa.peer, sa.created, "initial contact", now)

    def delete_sa(self, sa: IsakmpSa, reason: str, notify: bool) -> None:
        """Forget an ISAKMP SA (a delete to the peer first when ``notify``)."""
        if self._sas.get(sa.mm.cookie_i) is not sa:
            return
        if notify and sa.established and sa.mm.crypto is not None:
            self.send_info(sa, info.delete_isakmp(sa.mm.cookie_i, sa.mm.cookie_r))
        self._remove_sa(sa)
        self._gone[sa.mm.cookie_i] = self._now
        self.quick.drop_sa(sa, self._now)
        if sa.established:
            self.log(f"ISAKMP:({sa.conn_id}):deleting SA reason \"{reason}\" state (I) QM_IDLE (peer {sa.peer})")
            self.events.append(IkeSaDown(sa.peer, sa.conn_id, reason))

    # -- Informational ----------------------------------------------------------------

    def send_info(self, sa: IsakmpSa, payload: NotifyPayload | info.DeletePayload) -> None:
        mm = sa.mm
        assert mm.crypto is not None and mm.phase1 is not None and mm.suite is not None
        self.transmit(sa, info.build(mm.crypto, mm.suite.hash, mm.phase1.skeyid_a, payload, self.message_id()))

    def _informational(self, sa: IsakmpSa, msg: IsakmpMessage, peer_port: int, local_port: int, now: float) -> None:
        mm = sa.mm
        assert mm.crypto is not None and mm.phase1 is not None and mm.suite is not None
        try:
            got = info.parse(mm.crypto, mm.suite.hash, mm.phase1.skeyid_a, msg)
        except info.InfoError as exc:
            self.refuse(sa.peer, exc.reason, exc.detail)
            return
        self.heard(sa, peer_port, local_port, now)
        self.liveness.on_info(sa, got, now)
        if NotifyType.NO_PROPOSAL_CHOSEN in got.notifies:
            self.quick.peer_refused(sa, "no proposal chosen", now)
        for spi in got.deleted_esp:
            self.children.peer_deleted(sa.peer, spi, now)
        for cookies in got.deleted_isakmp:
            target = self._sas.get(cookies[:8])
            if target is not None and target.peer == sa.peer and target.mm.cookie_r == cookies[8:]:
                self.delete_sa(target, "deleted by peer", notify=False)
        if got.initial_contact:
            self._initial_contact(sa, now)

    # -- timers ---------------------------------------------------------------------

    def _tick_sa(self, sa: IsakmpSa, now: float) -> None:
        if sa.flight is not None and sa.flight.due(now):
            if sa.flight.exhausted():
                self.fail(sa, Refusal("retransmit limit", f"no answer from {sa.peer} in {sa.mm.state}"))
                return
            self.counters["retransmits"] += 1
            self.log(f"ISAKMP:({sa.conn_id}): retransmitting phase 1 {sa.mm.state}... (try {sa.flight.tries + 1})")
            self.send(sa.flight.datagram)
            sa.flight.advance(now)
        if not sa.established:
            return
        if now >= sa.expires:
            self.delete_sa(sa, "lifetime expired", notify=True)
            return
        self.liveness.tick(sa, now)

    # -- for the child book and the Quick Mode runner ----------------------------------

    def want_rekey(self, peer: IPv4Address, spi_in: int, now: float) -> None:
        if any(w.rekey_of == spi_in for w in self._wants.get(peer, [])) or self.quick.rekeying(spi_in):
            return
        self._want(Want(peer, rekey_of=spi_in), now)

    def child_up(self, sa: IsakmpSa, up: ChildSaUp, want: Want | None, now: float) -> None:
        """Quick Mode finished: announce, and settle what it replaces."""
        if sa.nat_t:
            up = replace(up, nat_t=True, peer_port=sa.peer_port)
        self.children.add(up, want.rekey_of if want is not None else None, now)

