"""The responder's inbound SA exists from Quick Mode's second message on, as on IOS.

The initiator seals on a new SA as soon as it has sent QM3, and its first ESP packet can
be read before QM3 (another socket; or QM3 lost and retransmitted). Found in a lab: a
spoke's Resolution Reply, sealed on a spoke-to-spoke SA the other spoke had not
installed yet, was dropped as "invalid sa", and that spoke never got its shortcut.
"""

from __future__ import annotations

from ike_sim import Pair
from dmvpnlab.ipsec.esp import OutboundSa
from dmvpnlab.ipsec.events import ChildSaLarval
from dmvpnlab.ipsec.sadb import SaDatabase


def _qm3_lost_forever(pair: Pair) -> None:
    """Drop everything the initiator sends once its child SA is up (QM3 and its resends)."""
    pair.drop = lambda who, d: who == "a" and bool(pair.a.ups)


def test_the_responder_announces_the_inbound_sa_at_qm2_and_the_same_pair_at_qm3() -> None:
    pair = Pair()
    pair.connect()
    [larval] = pair.b.of(ChildSaLarval)
    [up] = pair.b.ups
    assert larval.child == up
    assert pair.b.events.index(larval) < pair.b.events.index(up)
    assert not pair.a.of(ChildSaLarval), "the initiator has both keys at once: no larval step"


def test_a_larval_sa_whose_qm3_never_comes_is_removed_when_qm2_gives_up() -> None:
    pair = Pair()
    _qm3_lost_forever(pair)
    pair.connect()
    [larval] = pair.b.of(ChildSaLarval)
    assert pair.b.ups == [] and pair.b.downs == []
    pair.advance(60)  # QM2 resent at 1, 2, 4, 8, 16 s, then the responder gives up
    assert pair.b.refusals == ["retransmit limit"]
    [down] = pair.b.downs
    assert (down.spi_in, down.spi_out, down.reason) == (larval.child.spi_in, larval.child.spi_out,
                                                        "quick mode unfinished")


def test_esp_sealed_before_qm3_is_read_opens_on_the_larval_sa_and_the_pair_keeps_counting() -> None:
    pair = Pair()
    _qm3_lost_forever(pair)
    pair.connect()
    [sent_up] = pair.a.ups           # the initiator's pair: it seals at once
    [larval] = pair.b.of(ChildSaLarval)
    sadb = SaDatabase(clock=lambda: pair.now)
    sadb.install_inbound(larval.child)
    assert sadb.outbound == {}, "nothing seals for the peer before QM3"
    sealer = OutboundSa(sent_up.transform, sent_up.spi_out, sent_up.keymat_out, mode=sent_up.mode)
    esp = sealer.seal(b"\x00\x00\x08\x00" + b"resolution reply")
    opened = sadb.lookup_inbound(larval.child.spi_in).open(esp)
    assert opened.payload.endswith(b"resolution reply") and sadb.counters["invalid sa"] == 0
    installed = sadb.install(larval.child, pair.now)          # QM3 after all
    assert installed.inbound.counters.pkts_decaps == 1, "the larval SA became the pair's inbound SA"
    assert sadb.outbound[larval.child.peer] is installed.outbound


def test_removing_a_larval_sa_forgets_its_spi() -> None:
    pair = Pair()
    _qm3_lost_forever(pair)
    pair.connect()
    [larval] = pair.b.of(ChildSaLarval)
    sadb = SaDatabase()
    sadb.install_inbound(larval.child)
    assert sadb.remove(larval.child.spi_in) is None
    assert sadb.lookup_inbound(larval.child.spi_in) is None and len(sadb) == 0
    assert sadb.counters["larval removed"] == 1
