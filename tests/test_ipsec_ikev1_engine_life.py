"""The IKE engine over time and over a bad network: NAT-T floating to 4500 with
keepalives, lost datagrams and IOS's retransmission schedule, duplicates answered from
cache, rekey at 90 % with the old pair deleted 5 s later, deletes, clear, DPD, phase 1
expiry and re-establishment, INITIAL-CONTACT after a reboot."""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.ipsec.events import ChildSaUp, IkeSaDown, IkeSaUp, PeerDead
from dmvpnlab.ipsec.ikev1_engine import IkeEngine
from dmvpnlab.ipsec.isakmp import decode
from dmvpnlab.ipsec.isakmp_const import NON_ESP_MARKER, ExchangeType
from dmvpnlab.ipsec.settings import ChildPolicy, Dpd, IkePolicy
from tests.ike_sim import HUB, INSIDE, NAT_PUBLIC, SPOKE, Pair, settings, up_pairs_agree


def kinds(pair: Pair, start: int = 0) -> list[tuple[str, int, int]]:
    out = []
    for who, d in pair.wire[start:]:
        data = d.data[4:] if d.local_port == 4500 and d.data[:4] == NON_ESP_MARKER else d.data
        out.append((who, decode(data).exchange if len(data) > 1 else -1, d.local_port))
    return out


# --- NAT-T ---------------------------------------------------------------------------

def test_nat_is_detected_and_everything_after_mm4_floats_to_4500():
    pair = Pair(settings(INSIDE, nat_keepalive=20), settings(HUB), nat=True)
    pair.connect()
    [ia], [ib] = pair.a.of(IkeSaUp), pair.b.of(IkeSaUp)
    assert ia.nat_t and ib.nat_t
    ports = [(who, d.local_port, d.port) for who, d in pair.wire]
    assert ports[:4] == [("a", 500, 500), ("b", 500, 1500), ("a", 500, 500), ("b", 500, 1500)]
    assert all(lp == 4500 for _, lp, _ in ports[4:])
    assert all(d.data[:4] == NON_ESP_MARKER for _, d in pair.wire[4:])
    [ca], [cb] = pair.a.ups, pair.b.ups
    assert up_pairs_agree(ca, cb)
    assert ca.nat_t and cb.nat_t and ca.peer_port == 4500 and cb.peer_port == 14500
    assert cb.peer == NAT_PUBLIC
    va, vb = pair.a.engine.ike_sas()[0], pair.b.engine.ike_sas()[0]
    assert va.nat_t and vb.nat_t


def test_nat_keepalives_from_the_side_behind_nat_only():
    pair = Pair(settings(INSIDE, nat_keepalive=20), settings(HUB, nat_keepalive=20), nat=True)
    pair.connect()
    start = len(pair.wire)
    pair.advance(61, step=1.0)
    keepalives = [(who, d) for who, d in pair.wire[start:] if d.data == b"\xff"]
    assert len(keepalives) == 3 and all(who == "a" and d.local_port == 4500 and d.port == 4500
                                        for who, d in keepalives)
    assert pair.b.engine.counters["keepalives received"] == 3


def test_no_nat_no_float_no_keepalive():
    pair = Pair(settings(SPOKE, nat_keepalive=20), settings(HUB))
    pair.connect()
    pair.advance(45, step=1.0)
    assert all(d.local_port == 500 and d.data != b"\xff" for _, d in pair.wire)


# --- loss, retransmission, duplicates --------------------------------------------------

def test_retransmission_schedule_then_the_limit():
    pair = Pair()
    pair.drop = lambda who, d: True                      # the hub is unreachable
    pair.a.engine.connect(HUB, 0.0)
    pair.a.engine.outbox.clear()                         # MM1, sent at 0
    times = []
    for step in range(0, 100):
        pair.now = step * 0.5
        pair.a.engine.tick(pair.now)
        for d in pair.a.engine.outbox:
            times.append(pair.now)
        pair.a.engine.outbox.clear()
    assert times == [1.0, 3.0, 7.0, 15.0, 31.0]            # after the first send at 0: waits of 1, 2, 4, 8, 16
    assert pair.a.engine.counters["retransmits"] == 5
    refused = [e for e in pair.a.engine.events if getattr(e, "reason", "") == "retransmit limit"]
    assert len(refused) == 1 and pair.a.engine.peer_state(HUB) == "" and pair.a.engine.ike_sas() == []


def test_each_lost_message_is_recovered_by_retransmission():
    for lose in range(9):              # MM1..MM6, QM1..QM3: lose that one once
        pair = Pair()
        seen = {"n": 0}

        def drop(who, d, lose=lose, seen=seen):
            index = seen["n"]
            seen["n"] += 1
            return index == lose
        pair.drop = drop
        pair.a.engine.connect(HUB, 0.0)
        pair.pump()
        pair.advance(40, step=0.5)
        assert len(pair.a.ups) == 1 and len(pair.b.ups) == 1, f"lost message {lose + 1}"
        assert up_pairs_agree(pair.a.ups[0], pair.b.ups[0])
        assert pair.a.engine.counters["retransmits"] + pair.b.engine.counters["retransmits"] >= 1


def test_a_duplicate_makes_the_responder_resend_its_answer_only():
    pair = Pair()
    pair.a.engine.connect(HUB, 0.0)
    batch = pair.collect()                               # MM1
    pair.deliver(*batch[0])
    pair.deliver(*batch[0])                              # MM1 again
    answers = pair.collect()
    assert len(answers) == 2 and answers[0][1] == answers[1][1]
    assert pair.b.engine.counters["duplicates"] == 1 and len(pair.b.engine.ike_sas()) == 1
    pair.deliver(*answers[0])
    pair.deliver(*answers[1])                            # MM2 twice: the initiator ignores the second
    pair.pump()
    assert len(pair.a.ups) == 1 and len(pair.b.ups) == 1


def test_retransmitted_qm1_gets_the_same_qm2():
    pair = Pair()
    pair.a.engine.connect(HUB, 0.0)
    qm1 = None
    for _ in range(10):
        batch = pair.collect()
        if not batch:
            break
        for node, d in batch:
            if node is pair.a and decode(d.data).exchange == ExchangeType.QUICK_MODE and qm1 is None:
                qm1 = (node, d)
            pair.deliver(node, d)
    assert qm1 is not None and len(pair.b.ups) == 1
    pair.deliver(*qm1)
    again = pair.collect()
    assert len(again) == 1 and again[0][0] is pair.b and pair.b.engine.counters["duplicates"] == 1
    assert len(pair.b.ups) == 1


# --- rekey, delete, clear -------------------------------------------------------------

def short_child(seconds: int) -> ChildPolicy:
    return ChildPolicy("DMVPN", lifetime_seconds=seconds)


def test_rekey_at_90_percent_replaces_and_deletes_the_old_pair_5s_later():
    pair = Pair(settings(SPOKE, child=short_child(100)), settings(HUB, child=short_child(100)))
    pair.connect()
    [old_a], [old_b] = pair.a.ups, pair.b.ups
    pair.advance(89, step=1.0)
    assert len(pair.a.ups) == 1
    pair.advance(1, step=1.0)
    assert len(pair.a.ups) == 2 and len(pair.b.ups) == 2
    new_a, new_b = pair.a.ups[1], pair.b.ups[1]
    assert up_pairs_agree(new_a, new_b) and new_a.replaces == old_a.spi_in and new_b.replaces == old_b.spi_in
    assert new_a.spi_in != old_a.spi_in
    pair.advance(4, step=1.0)
    assert pair.a.downs == []
    pair.advance(1.5, step=0.5)
    assert [(d.spi_in, d.reason) for d in pair.a.downs] == [(old_a.spi_in, "rekeyed")]
    assert [(d.spi_in, d.reason) for d in pair.b.downs] == [(old_b.spi_in, "deleted by peer")]
    assert pair.a.engine.peer_state(HUB) == "IPSEC"


def test_rekey_child_on_the_kilobyte_limit():
    pair = Pair()
    pair.connect()
    old = pair.a.ups[0]
    pair.a.engine.rekey_child(old.spi_in, 10.0)
    pair.a.engine.rekey_child(old.spi_in, 10.0)          # idempotent while it runs
    pair.pump()
    assert len(pair.a.ups) == 2 and pair.a.ups[1].replaces == old.spi_in
    pair.advance(6)
    assert [d.spi_in for d in pair.a.downs] == [old.spi_in] and len(pair.b.downs) == 1


def test_rekey_after_phase1_expired_runs_main_mode_again():
    policy = (IkePolicy(10, "aes", 256, "sha256", 14, lifetime=60),)
    pair = Pair(settings(SPOKE, policies=policy, child=short_child(100)),
                settings(HUB, policies=policy, child=short_child(100)))
    pair.connect()
    pair.advance(61, step=1.0)
    assert [e.reason for e in pair.a.of(IkeSaDown)] == ["lifetime expired"]
    assert [e.reason for e in pair.b.of(IkeSaDown)] in (["deleted by peer"], ["lifetime expired"])
    assert pair.a.engine.ike_sas() == [] and pair.a.engine.peer_state(HUB) == "IPSEC"   # children live on
    pair.advance(30, step=1.0)
    assert len(pair.a.of(IkeSaUp)) == 2 and len(pair.a.ups) == 2 and pair.a.ups[1].replaces == pair.a.ups[0].spi_in


def test_clear_sends_deletes_and_both_sides_go_down():
    pair = Pair()
    pair.connect()
    assert pair.a.engine.clear(HUB, 5.0) == 1
    pair.pump()
    for node in (pair.a, pair.b):
        assert len(node.downs) == 1 and len(node.of(IkeSaDown)) == 1
        assert node.engine.ike_sas() == []
    assert pair.a.downs[0].reason == "cleared" and pair.b.downs[0].reason == "deleted by peer"
    assert pair.b.of(IkeSaDown)[0].reason == "deleted by peer"
    assert pair.a.engine.peer_state(HUB) == "" and pair.b.engine.peer_state(SPOKE) == ""
    assert pair.a.engine.clear(None, 6.0) == 0


# --- DPD ------------------------------------------------------------------------------

def test_periodic_dpd_is_acked_while_the_peer_lives():
    pair = Pair(settings(SPOKE, dpd=Dpd(10, 2, periodic=True)), settings(HUB))
    pair.connect()
    pair.advance(35, step=1.0)
    assert pair.a.engine.counters["dpd r-u-there sent"] == 3
    assert pair.a.engine.counters["dpd acks received"] == 3 and pair.b.engine.counters["dpd r-u-there received"] == 3
    assert pair.a.of(PeerDead) == []


def test_dpd_declares_a_silent_peer_dead_after_5_retries():
    pair = Pair(settings(SPOKE, dpd=Dpd(10, 2, periodic=True)), settings(HUB))
    pair.connect()
    pair.drop = lambda who, d: True
    pair.advance(10 + 5 * 2 + 0.5, step=0.5)          # R-U-THERE at 10, retries at 12 .. 20
    assert pair.a.engine.counters["dpd r-u-there sent"] == 6 and pair.a.of(PeerDead) == []
    pair.advance(2, step=0.5)                            # the 5th retry unanswered for its 2 s
    assert len(pair.a.of(PeerDead)) == 1
    assert [d.reason for d in pair.a.downs] == ["peer dead"] and pair.a.of(IkeSaDown)[0].reason == "peer dead"
    assert pair.a.engine.peer_state(HUB) == ""


def test_on_demand_dpd_only_when_the_peer_has_been_quiet():
    pair = Pair(settings(SPOKE, dpd=Dpd(10, 2)), settings(HUB))
    pair.connect()
    for second in range(1, 30):
        pair.a.engine.peer_alive(HUB, float(second))      # ESP keeps arriving
        pair.now = float(second)
        pair.a.engine.tick(pair.now)
        pair.pump()
    assert pair.a.engine.counters["dpd r-u-there sent"] == 0
    pair.advance(12, step=1.0)                          # ESP stops
    assert pair.a.engine.counters["dpd r-u-there sent"] == 1 and pair.a.engine.counters["dpd acks received"] == 1


# --- INITIAL-CONTACT ------------------------------------------------------------------

def test_initial_contact_after_the_peer_rebooted_clears_its_old_sas():
    pair = Pair()
    pair.connect()
    old = pair.b.ups[0]
    pair.advance(5)
    # spoke "reboots": a new engine with no memory of the hub
    pair.a.engine = IkeEngine(settings(SPOKE), pair.now, debug=lambda c, l: pair.a.log.append((c, l)))
    pair.a.events.clear()
    pair.a.engine.connect(HUB, pair.now)
    pair.pump()
    assert [(d.spi_in, d.reason) for d in pair.b.downs] == [(old.spi_in, "initial contact")]
    assert len(pair.b.engine.ike_sas()) == 1 and len(pair.a.ups) == 1
    assert up_pairs_agree(pair.a.ups[0], pair.b.ups[-1])


def test_no_initial_contact_while_child_sas_exist():
    """Phase 1 expired, children live: the new Main Mode must not tell the hub to drop them."""
    policy = (IkePolicy(10, "aes", 256, "sha256", 14, lifetime=60),)
    pair = Pair(settings(SPOKE, policies=policy), settings(HUB, policies=policy))
    pair.connect()
    pair.advance(61, step=1.0)
    assert pair.a.engine.ike_sas() == [] and pair.b.engine.ike_sas() == []
    old = pair.b.ups[0]
    assert any("INITIAL-CONTACT" in line for _, line in pair.b.log)       # the first time: yes
    seen = len(pair.b.log)
    pair.a.engine.rekey_child(pair.a.ups[0].spi_in, pair.now)
    pair.pump()
    assert len(pair.b.ups) == 2 and pair.b.downs == []
    assert not any("INITIAL-CONTACT" in line for _, line in pair.b.log[seen:])
    pair.advance(6)
    assert [(d.spi_in, d.reason) for d in pair.b.downs] == [(old.spi_in, "deleted by peer")]


def test_a_connect_waiting_on_the_peers_negotiation_starts_its_own_when_that_one_dies():
    pair = Pair()
    pair.b.engine.connect(SPOKE, 0.0)
    [(node, mm1)] = pair.collect()
    pair.deliver(node, mm1)                       # the spoke is now responder of the hub's MM
    pair.a.engine.connect(HUB, 0.0)               # ... and waits for it rather than racing
    assert pair.a.engine.peer_state(HUB) == "IKE"
    assert [d for d in pair.a.engine.outbox if decode(d.data).rcookie == bytes(8)] == []
    pair.collect()
    pair.drop = lambda who, d: who == "b"         # the hub falls silent
    pair.advance(50, step=1.0)
    assert "retransmit limit" in pair.a.refusals
    own = [d for who, d in pair.wire if who == "a" and decode(d.data).rcookie == bytes(8)]
    assert own and decode(own[0].data).icookie != decode(mm1.data).icookie
    pair.drop = lambda who, d: False
    pair.advance(20, step=1.0)
    assert len(pair.a.ups) == 1 and pair.a.ups[0].initiator


def test_both_sides_rekeying_at_once_leave_a_working_newest_pair_each_way():
    pair = Pair()
    pair.connect()
    old_a, old_b = pair.a.ups[0], pair.b.ups[0]
    pair.a.engine.rekey_child(old_a.spi_in, 1.0)
    pair.b.engine.rekey_child(old_b.spi_in, 1.0)
    pair.pump()
    pair.advance(10)
    live_a = {u.spi_in: u for u in pair.a.ups}.keys() - {d.spi_in for d in pair.a.downs}
    live_b = {u.spi_in: u for u in pair.b.ups}.keys() - {d.spi_in for d in pair.b.downs}
    assert old_a.spi_in not in live_a and old_b.spi_in not in live_b
    # what each side sends on (its newest) is something the other still receives on
    newest_a, newest_b = pair.a.ups[-1], pair.b.ups[-1]
    assert newest_a.spi_out in live_b and newest_b.spi_out in live_a
    assert pair.a.engine.peer_state(HUB) == "IPSEC" == pair.b.engine.peer_state(SPOKE)


def test_clear_sa_drops_the_pairs_keeps_phase1_and_reconnects_with_quick_mode_only():
    pair = Pair()
    pair.connect()
    assert pair.a.engine.clear_sa(HUB, 1.0) == 1
    pair.pump()
    assert [d.reason for d in pair.a.downs] == ["cleared"] and [d.reason for d in pair.b.downs] == ["deleted by peer"]
    assert pair.a.engine.ike_sas()[0].state == "QM_IDLE" and pair.a.engine.peer_state(HUB) == ""
    start = len(pair.wire)
    pair.a.engine.connect(HUB, 2.0)
    pair.pump()
    assert {decode(d.data).exchange for _, d in pair.wire[start:]} == {ExchangeType.QUICK_MODE}
    assert len(pair.a.ups) == 2 and pair.a.ups[1].replaces is None


def test_rekey_and_dpd_through_the_nat():
    child = short_child(100)
    pair = Pair(settings(INSIDE, child=child, dpd=Dpd(10, 2, periodic=True), nat_keepalive=20),
                settings(HUB, child=child), nat=True)
    pair.connect()
    pair.advance(96, step=1.0)
    assert len(pair.a.ups) == 2 and len(pair.b.ups) == 2 and up_pairs_agree(pair.a.ups[1], pair.b.ups[1])
    assert all(u.nat_t for u in pair.a.ups + pair.b.ups)
    assert {u.peer_port for u in pair.b.ups} == {14500} and {u.peer_port for u in pair.a.ups} == {4500}
    assert pair.a.engine.counters["dpd acks received"] >= 9 and pair.a.of(PeerDead) == []
    assert [d.reason for d in pair.a.downs] == ["rekeyed"] and [d.reason for d in pair.b.downs] == ["deleted by peer"]


def test_a_hub_clears_every_spoke_at_once():
    hub = IkeEngine(settings(HUB), 0.0)
    spokes = {IPv4Address(f"198.51.100.{10 + i}"): None for i in range(3)}
    for address in spokes:
        spokes[address] = IkeEngine(settings(address), 0.0)
        spokes[address].connect(HUB, 0.0)

    def pump():
        for _ in range(20):
            moved = False
            for address, spoke in spokes.items():
                out, spoke.outbox[:] = list(spoke.outbox), []
                for d in out:
                    hub.receive(d.data, address, d.local_port, d.port, 1.0)
                    moved = True
            out, hub.outbox[:] = list(hub.outbox), []
            for d in out:
                spokes[d.peer].receive(d.data, HUB, d.local_port, d.port, 1.0)
                moved = True
            if not moved:
                return
    pump()
    assert all(hub.peer_state(a) == "IPSEC" for a in spokes) and len(hub.ike_sas()) == 3
    assert [v.conn_id for v in hub.ike_sas()] == [1001, 1002, 1003]
    assert hub.clear(None, 2.0) == 3
    pump()
    assert hub.ike_sas() == [] and all(s.ike_sas() == [] and s.peer_state(HUB) == "" for s in spokes.values())
    downs = [e for e in hub.events if type(e).__name__ == "ChildSaDown"]
    assert len(downs) == 3 and {d.peer for d in downs} == set(spokes)


def test_reconfigure_keeps_sas_starts_dpd_and_a_new_address_clears_all():
    pair = Pair()
    pair.connect()
    pair.a.engine.reconfigure(settings(SPOKE, dpd=Dpd(10, 2, periodic=True)), 1.0)
    assert pair.a.engine.peer_state(HUB) == "IPSEC"
    pair.advance(12, step=1.0)
    assert pair.a.engine.counters["dpd acks received"] == 1
    pair.a.engine.reconfigure(settings(IPv4Address("198.51.100.77")), pair.now)
    pair.pump()
    assert [d.reason for d in pair.a.downs] == ["cleared"] and pair.a.engine.ike_sas() == []


def test_esp_from_the_peer_answers_an_outstanding_r_u_there():
    pair = Pair(settings(SPOKE, dpd=Dpd(10, 2, periodic=True)), settings(HUB))
    pair.connect()
    pair.drop = lambda who, d: who == "b"            # the hub's IKE answers are lost ...
    for second in range(1, 40):
        pair.now = float(second)
        if second % 3 == 0:
            pair.a.engine.peer_alive(HUB, pair.now)  # ... but its ESP keeps coming
        pair.a.engine.tick(pair.now)
        pair.pump()
    assert pair.a.engine.counters["dpd r-u-there sent"] >= 3 and pair.a.of(PeerDead) == []
    assert pair.a.engine.peer_state(HUB) == "IPSEC"
