"""The IKE engine, two of them talking in memory: connect() brings up an ISAKMP SA and a
child SA pair whose SPIs and keys agree on both sides, with the show snapshots, states
and events the agent acts on; refusals (wrong key, no proposal, no key) are counted,
announced and end the negotiation the IOS way."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp, IkeRefused, IkeSaUp
from dmvpnlab.ipsec.isakmp import decode
from dmvpnlab.ipsec.isakmp_const import ExchangeType
from dmvpnlab.ipsec.settings import DEFAULT_POLICIES, ChildPolicy, IkePolicy, Proposal
from tests.ike_sim import HUB, SPOKE, Pair, settings, up_pairs_agree


def exchanges(pair: Pair, who: str) -> list[int]:
    return [decode(d.data[4:] if d.local_port == 4500 else d.data).exchange for n, d in pair.wire if n == who]


def test_connect_brings_up_phase1_and_one_child_pair_that_agree():
    pair = Pair()
    assert pair.a.engine.peer_state(HUB) == ""
    pair.a.engine.connect(HUB, 0.0)
    assert pair.a.engine.peer_state(HUB) == "IKE"
    pair.pump()
    [ia], [ib] = pair.a.of(IkeSaUp), pair.b.of(IkeSaUp)
    assert ia.initiator and not ib.initiator and (ia.cookie_i, ia.cookie_r) == (ib.cookie_i, ib.cookie_r)
    assert ia.encryption_key == ib.encryption_key and len(ia.encryption_key) == 32 and not ia.nat_t
    [ca], [cb] = pair.a.ups, pair.b.ups
    assert up_pairs_agree(ca, cb) and ca.initiator and not cb.initiator
    assert ca.peer == HUB and cb.peer == SPOKE and ca.mode == "transport" and not ca.nat_t
    assert ca.lifetime_seconds == 3600 and ca.lifetime_kilobytes == 4_608_000
    assert pair.a.engine.peer_state(HUB) == "IPSEC" and pair.b.engine.peer_state(SPOKE) == "IPSEC"
    assert exchanges(pair, "a") == [ExchangeType.MAIN_MODE] * 3 + [ExchangeType.QUICK_MODE] * 2
    assert exchanges(pair, "b") == [ExchangeType.MAIN_MODE] * 3 + [ExchangeType.QUICK_MODE]
    assert all(d.port == 500 and d.local_port == 500 for _, d in pair.wire)
    assert pair.a.refusals == [] and pair.b.refusals == []


def test_show_crypto_isakmp_sa_snapshot():
    pair = Pair()
    pair.connect()
    [va], [vb] = pair.a.engine.ike_sas(), pair.b.engine.ike_sas()
    for v in (va, vb):
        assert (v.dst, v.src, v.state, v.status, v.conn_id) == (HUB, SPOKE, "QM_IDLE", "ACTIVE", 1001)
        assert (v.encryption, v.hash, v.group, v.auth, v.dpd) == ("aes:256", "sha256", 14, "psk", True)
        assert v.lifetime_left == 86400
    assert va.initiator and not vb.initiator


def test_connect_is_idempotent_while_running_and_once_up():
    pair = Pair()
    pair.a.engine.connect(HUB, 0.0)
    pair.a.engine.connect(HUB, 0.0)
    assert len(pair.a.engine.outbox) == 1
    pair.pump()
    pair.a.engine.connect(HUB, 1.0)
    assert pair.a.engine.outbox == [] and len(pair.a.ups) == 1


def test_a_second_connect_after_phase1_runs_quick_mode_only():
    pair = Pair()
    pair.connect()
    pair.a.engine.clear(None, 1.0)          # children and phase 1 gone ...
    pair.pump()
    pair.a.engine.connect(HUB, 2.0)         # ... so this is Main Mode again
    pair.pump()
    assert len(pair.a.of(IkeSaUp)) == 2 and len(pair.a.ups) == 2
    # Now with phase 1 still up: only Quick Mode.
    up = pair.a.ups[-1]
    pair.b.engine.rekey_child(pair.b.ups[-1].spi_in, 3.0)
    before = len(pair.wire)
    pair.pump()
    assert {decode(d.data).exchange for _, d in pair.wire[before:]} <= {ExchangeType.QUICK_MODE}
    assert pair.a.ups[-1].replaces == up.spi_in


@pytest.mark.parametrize("policy", [
    IkePolicy(1, "aes", 128, "sha", 2), IkePolicy(1, "aes", 192, "sha384", 5), IkePolicy(1, "3des", None, "md5", 2),
    IkePolicy(1, "aes", 256, "sha512", 19), IkePolicy(1, "des", None, "sha", 1), IkePolicy(1, "aes", 256, "sha", 20),
])
def test_every_phase1_policy_kind(policy):
    pair = Pair(settings(SPOKE, policies=(policy,)), settings(HUB, policies=(IkePolicy(5, "aes"), policy)))
    pair.connect()
    assert len(pair.a.ups) == 1 and up_pairs_agree(pair.a.ups[0], pair.b.ups[0])


def test_ios_default_policies_on_both_sides():
    pair = Pair(settings(SPOKE, policies=()), settings(HUB, policies=()))
    pair.connect()
    assert pair.a.engine.ike_sas()[0].encryption == "aes" and pair.a.engine.ike_sas()[0].group == 5
    assert pair.a.engine.settings.effective_policies == DEFAULT_POLICIES


@pytest.mark.parametrize("words,mode,pfs", [
    ("esp-aes esp-sha-hmac", "transport", None), ("esp-aes 256 esp-sha256-hmac", "tunnel", 14),
    ("esp-3des esp-md5-hmac", "transport", 2), ("esp-gcm 256", "transport", 19), ("esp-gcm", "transport", 5),
    ("esp-aes 192 esp-sha512-hmac", "transport", None),
])
def test_child_transforms_and_pfs(words, mode, pfs):
    child = ChildPolicy("DMVPN", (Proposal("TS", parse_transform(words), mode),), pfs_group=pfs)
    pair = Pair(settings(SPOKE, child=child), settings(HUB, child=child))
    pair.connect()
    [ca], [cb] = pair.a.ups, pair.b.ups
    assert up_pairs_agree(ca, cb) and ca.transform == parse_transform(words) and ca.mode == mode
    assert ca.pfs_group == pfs == cb.pfs_group


def test_wrong_psk_is_a_hash_mismatch_and_nothing_comes_up():
    pair = Pair(settings(SPOKE, key=b"wrong"), settings(HUB))
    pair.connect()
    assert pair.b.refusals == ["hash mismatch"] and pair.b.engine.counters["hash mismatch"] == 1
    assert any("hash mismatch" in line for _, line in pair.b.log)
    assert ("isakmp", f"%CRYPTO-4-IKMP_BAD_MESSAGE: IKE message from {SPOKE} failed its sanity check or is malformed") \
        in pair.b.log
    pair.advance(60, step=1.0)
    assert "retransmit limit" in pair.a.refusals
    assert pair.a.ups == [] and pair.b.ups == [] and pair.a.of(IkeSaUp) == []
    assert pair.a.engine.peer_state(HUB) == "" and pair.a.engine.ike_sas() == []


def test_no_proposal_chosen_is_answered_and_ends_the_initiators_attempt():
    pair = Pair(settings(SPOKE, policies=(IkePolicy(1, "3des", None, "md5", 1),)), settings(HUB))
    pair.connect()
    assert pair.b.refusals == ["no proposal chosen"] and pair.a.refusals == ["no proposal chosen"]
    assert pair.a.engine.ike_sas() == [] and pair.b.engine.ike_sas() == []
    assert any("not acceptable" in line for _, line in pair.b.log)


def test_no_pre_shared_key_either_side():
    pair = Pair(settings(SPOKE, key=b""), settings(HUB))
    pair.connect()
    assert pair.a.refusals == ["no pre-shared key"] and pair.wire == []
    pair = Pair(settings(SPOKE), settings(HUB, key=b""))
    pair.connect()
    assert pair.b.refusals == ["no pre-shared key"] and pair.b.engine.ike_sas() == []


def test_quick_mode_no_proposal_chosen():
    mine = ChildPolicy("A", (Proposal("A", parse_transform("esp-3des esp-md5-hmac"), "transport"),))
    theirs = ChildPolicy("B", (Proposal("B", parse_transform("esp-aes esp-sha-hmac"), "transport"),))
    pair = Pair(settings(SPOKE, child=mine), settings(HUB, child=theirs))
    pair.connect()
    assert pair.b.refusals == ["no proposal chosen"] and pair.a.ups == [] and len(pair.a.of(IkeSaUp)) == 1
    assert pair.a.refusals == ["no proposal chosen"]          # told by the hub's protected notify
    pair.advance(60, step=1.0)
    assert pair.a.engine.counters["retransmits"] == 0 and pair.a.engine.peer_state(HUB) == ""


def test_rubbish_and_unknown_cookies_are_counted_drops_never_raised():
    pair = Pair()
    pair.connect()
    engine = pair.b.engine
    for junk in (b"", b"\x00" * 3, bytes(range(28)), b"\xff" * 200):
        engine.receive(junk, SPOKE, 500, 500, 1.0)
    sa = pair.a.engine.ike_sas()[0]
    from dmvpnlab.ipsec.isakmp import IsakmpMessage, encode
    foreign = encode(IsakmpMessage(b"x" * 8, b"y" * 8, ExchangeType.QUICK_MODE, 1, 5))
    engine.receive(foreign, SPOKE, 500, 500, 1.0)
    wrong_r = encode(IsakmpMessage(sa.cookie_i, b"y" * 8, ExchangeType.INFORMATIONAL, 1, 5))
    engine.receive(wrong_r, SPOKE, 500, 500, 1.0)
    engine.receive(b"\x01\x02\x03\x04" + foreign, SPOKE, 4500, 4500, 1.0)     # ESP, not ISAKMP
    engine.receive(b"\xff", SPOKE, 4500, 4500, 1.0)                            # a NAT keepalive
    c = engine.counters
    assert c["malformed"] >= 3 and c["invalid cookie"] == 2 and c["not isakmp"] == 1
    assert c["keepalives received"] == 1 and c["internal error"] == 0
    assert all(isinstance(e, IkeRefused) for e in engine.events)
    assert engine.peer_state(SPOKE) == "IPSEC"


def test_refusal_reasons_are_the_contracts():
    from dmvpnlab.ipsec.events import REFUSAL_REASONS
    pair = Pair(settings(SPOKE, key=b"wrong"), settings(HUB))
    pair.connect()
    pair.advance(60, step=2.0)
    for node in (pair.a, pair.b):
        assert set(node.refusals) <= set(REFUSAL_REASONS)


def test_simultaneous_initiation_both_complete():
    pair = Pair()
    pair.a.engine.connect(HUB, 0.0)
    pair.b.engine.connect(SPOKE, 0.0)
    pair.pump()
    assert len(pair.a.of(IkeSaUp)) == 2 and len(pair.b.of(IkeSaUp)) == 2
    assert len(pair.a.ups) == 2 and len(pair.b.ups) == 2
    by_spi = {u.spi_in: u for u in pair.b.ups}
    for up in pair.a.ups:
        assert up_pairs_agree(up, by_spi[up.spi_out])
    assert pair.a.ups[1].replaces == pair.a.ups[0].spi_in
    pair.advance(10)
    assert pair.a.downs == [] and pair.b.downs == []      # nobody deletes the other's pair


def test_debug_lines_in_ios_style():
    pair = Pair()
    pair.connect()
    lines = [line for cat, line in pair.b.log if cat == "isakmp"]
    assert "ISAKMP: (0):atts are acceptable." in lines
    assert "ISAKMP:(1001):SA authentication status: authenticated" in lines
    assert any(cat == "ipsec" and line.startswith("IPSEC(create_sa)") for cat, line in pair.b.log)


def test_counters_count_what_went_by():
    from dmvpnlab.ipsec.events import REFUSAL_REASONS
    fresh = Pair().a.engine.counters
    assert {*REFUSAL_REASONS, "received", "sent", "dropped", "retransmits"} <= set(fresh)
    assert sum(fresh.values()) == 0
    pair = Pair()
    pair.connect()
    assert pair.a.engine.counters["sent"] == 5 and pair.a.engine.counters["received"] == 4
    assert pair.b.engine.counters["sent"] == 4 and pair.b.engine.counters["received"] == 5
    assert pair.a.engine.counters["dropped"] == 0


def test_aggressive_mode_and_mode_config_are_unsupported():
    from dmvpnlab.ipsec.isakmp import IsakmpMessage, OpaquePayload, encode
    from dmvpnlab.ipsec.isakmp_const import PayloadType
    pair = Pair()
    aggressive = encode(IsakmpMessage(b"a" * 8, bytes(8), ExchangeType.AGGRESSIVE,
                                      payloads=[OpaquePayload(PayloadType.NONCE, b"n" * 20)]))
    pair.b.engine.receive(aggressive, SPOKE, 500, 500, 0.0)
    pair.connect()
    sa = pair.b.engine.ike_sas()[0]
    xauth = encode(IsakmpMessage(sa.cookie_i, sa.cookie_r, ExchangeType.TRANSACTION, 1, 9, encrypted=bytes(16),
                                 next_payload=PayloadType.HASH))
    pair.b.engine.receive(xauth, SPOKE, 500, 500, 1.0)
    assert pair.b.engine.outbox == []
    pair.collect()
    assert pair.b.refusals == ["unsupported", "unsupported"] and pair.b.engine.counters["unsupported"] == 2


def test_a_new_inbound_spi_is_never_one_in_use():
    pair = Pair()
    pair.connect()
    taken = pair.a.ups[0].spi_in
    draws = iter([taken.to_bytes(4, "big"), (7).to_bytes(4, "big"), (1234).to_bytes(4, "big"),
                  (99999).to_bytes(4, "big")])
    pair.a.engine.random = lambda n: next(draws)
    assert pair.a.engine.children.fresh_spi({1234}) == 99999        # in use, reserved (< 256), offered
