"""The SA database: one outbound SA per peer (the newest), inbound SAs by SPI, rekey and
expiry reported from the real SAs' lifetimes, and show views built from the same SAs.

Keys are random, SAs are real `OutboundSa`/`InboundSa`: a packet sealed by one side's
database opens in the other's, which is what the data plane relies on.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dmvpnlab.ipsec.sadb import FIRST_CONN_ID, SaDatabase
from esp_pairs import child_sa_pair

A, B, C = IPv4Address("100.64.1.1"), IPv4Address("203.0.113.1"), IPv4Address("100.64.2.1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def two_ends(clock: Clock | None = None, **kw: object):
    clock = clock or Clock()
    at_a, at_b = child_sa_pair(A, B, **kw)  # type: ignore[arg-type]
    db_a, db_b = SaDatabase(clock), SaDatabase(clock)
    db_a.install(at_a, clock.now)
    db_b.install(at_b, clock.now)
    return clock, db_a, db_b, at_a, at_b


def test_a_packet_sealed_for_a_peer_opens_at_that_peer_by_spi():
    _, db_a, db_b, at_a, _ = two_ends()
    esp = db_a.outbound[B].seal(b"GRE bytes", 47)
    spi = int.from_bytes(esp[:4], "big")
    assert spi == at_a.spi_out
    opened = db_b.lookup_inbound(spi).open(esp)
    assert (opened.payload, opened.next_header, opened.seq) == (b"GRE bytes", 47, 1)


def test_an_unknown_spi_is_counted_as_invalid_sa():
    _, db_a, _, _, _ = two_ends()
    assert db_a.lookup_inbound(0xDEAD) is None
    assert db_a.counters["invalid sa"] == 1


def test_installing_the_same_inbound_spi_twice_is_an_engine_bug():
    _, db_a, _, at_a, _ = two_ends()
    with pytest.raises(ValueError):
        db_a.install(at_a, 0)


def test_rekey_sends_on_the_new_sa_at_once_and_keeps_opening_the_old_one():
    clock, db_a, db_b, at_a, at_b = two_ends()
    old_a = db_a.outbound[B].seal(b"sealed before the rekey", 47)
    new_a, new_b = child_sa_pair(A, B, spi_ab=0x3000, spi_ba=0x4000, replaces=(at_a.spi_in, at_b.spi_in))
    db_a.install(new_a, clock.now)
    db_b.install(new_b, clock.now)
    assert db_a.outbound[B].spi == 0x3000 and len(db_a) == 2
    fresh = db_a.outbound[B].seal(b"after", 47)
    assert db_b.lookup_inbound(0x3000).open(fresh).payload == b"after"
    assert db_b.lookup_inbound(at_a.spi_out).open(old_a).payload == b"sealed before the rekey"
    assert [v.state for v in db_a.views("Tunnel0", "P", A)] == ["ACTIVE(REPLACED)", "ACTIVE"]
    assert db_a.counters["rekeyed"] == 1
    # IKE deletes the old pair: only its SPI goes, the new one still seals
    assert db_b.remove(at_b.spi_in) is not None
    assert db_b.lookup_inbound(at_a.spi_out) is None and db_b.outbound[A].spi == 0x4000


def test_removing_the_sealing_pair_falls_back_to_the_newest_remaining_one():
    clock, db_a, _, at_a, _ = two_ends()
    new_a, _ = child_sa_pair(A, B, spi_ab=0x3000, spi_ba=0x4000)
    db_a.install(new_a, clock.now)
    db_a.remove(new_a.spi_in)
    assert db_a.outbound[B].spi == at_a.spi_out
    assert [v.state for v in db_a.views("Tunnel0", "P", A)] == ["ACTIVE"]
    db_a.remove(at_a.spi_in)
    assert B not in db_a.outbound and len(db_a) == 0
    assert db_a.remove(at_a.spi_in) is None


def test_time_is_the_engines_to_rekey_on_and_the_hard_lifetime_removes():
    clock, db_a, _, at_a, _ = two_ends(seconds=100)
    clock.now += 95  # past 90 % of 100 s: the engine's own timer rekeys, not a second clock here
    assert db_a.expiring(clock.now) == ([], [])
    clock.now += 6
    rekey, expired = db_a.expiring(clock.now)
    assert rekey == [] and [p.spi_in for p in expired] == [at_a.spi_in]
    assert B not in db_a.outbound and db_a.inbound == {} and db_a.counters["expired"] == 1


def test_soft_lifetime_in_kilobytes_asks_for_a_rekey_once():
    clock, db_a, _, _, _ = two_ends(kilobytes=10)
    seal = db_a.outbound[B].seal
    for _ in range(8):  # 8 KiB: below 90 % of 10 KiB
        seal(bytes(1024), 47)
    assert db_a.expiring(clock.now).rekey == []
    seal(bytes(1024), 47)
    assert len(db_a.expiring(clock.now).rekey) == 1
    assert db_a.expiring(clock.now).rekey == [], "reported once"


def test_kilobytes_received_count_too():
    clock, db_a, db_b, at_a, _ = two_ends(kilobytes=10)
    for _ in range(10):
        db_b.lookup_inbound(at_a.spi_out).open(db_a.outbound[B].seal(bytes(1000), 47))
    assert len(db_b.expiring(clock.now).rekey) == 1


def test_a_replaced_pair_is_not_rekeyed_again():
    clock, db_a, _, at_a, _ = two_ends(kilobytes=10)
    old_seal = db_a.outbound[B].seal
    new_a, _ = child_sa_pair(A, B, spi_ab=0x3000, spi_ba=0x4000)
    db_a.install(new_a, clock.now)
    for _ in range(10):
        old_seal(bytes(1024), 47)
    assert db_a.expiring(clock.now).rekey == []


def test_clear_removes_one_peer_or_all():
    clock, db_a, _, _, _ = two_ends()
    to_c, _ = child_sa_pair(A, C, spi_ab=0x5000, spi_ba=0x6000)
    db_a.install(to_c, clock.now)
    assert [p.peer for p in db_a.remove_peer(C)] == [C]
    assert db_a.peers() == [B]
    assert len(db_a.remove_peer(None)) == 1 and db_a.peers() == []


def test_views_say_what_show_crypto_ipsec_sa_prints():
    clock, db_a, db_b, at_a, _ = two_ends(words="esp-gcm 256", seconds=3600, kilobytes=4_608_000,
                                          nat_t=True, port_b=4500)
    for _ in range(3):
        esp = db_a.outbound[B].seal(b"x" * 100, 47)
        db_b.lookup_inbound(at_a.spi_out).open(esp)
    clock.now += 60
    [view] = db_a.views("Tunnel0", "DMVPN-PROFILE", A)
    assert (view.interface, view.profile, view.local, view.peer, view.peer_port) == ("Tunnel0", "DMVPN-PROFILE", A, B, 4500)
    assert (view.spi_in, view.spi_out, view.nat_t, view.mode) == (at_a.spi_in, at_a.spi_out, True, "Transport")
    assert view.transform == "esp-gcm 256"
    assert (view.conn_id_in, view.conn_id_out) == (FIRST_CONN_ID, FIRST_CONN_ID + 1)
    assert view.counters_out.pkts_encaps == 3 and view.counters_out.pkts_encrypt == 3
    assert view.lifetime_left_out == (4_608_000 - 1, 3540)  # 300 bytes sealed: under 1 KB gone
    assert view.replay_detection and view.replay_window == 64
    [at_b_view] = db_b.views("Tunnel0", "DMVPN-PROFILE", B, peer=A)
    assert at_b_view.counters_in.pkts_decaps == 3 and at_b_view.counters_in.pkts_verify == 3
    assert db_b.views("Tunnel0", "P", B, peer=C) == []


def test_crossing_the_kilobyte_soft_limit_is_told_at_once_from_the_data_path_both_ways():
    # At 100+ Mbit/s the last 10 % of a 2560 KB lifetime passes in milliseconds: a
    # periodic check would find the SA already past its hard limit (the rekey scenario
    # lost pings that way), so the sealing and the opening side say so on the packet.
    clock, db_a, db_b, _, _ = two_ends(kilobytes=20)  # soft limit: 18 KiB
    told_a: list[float] = []
    told_b: list[float] = []
    db_a.on_soft_limit = lambda: told_a.append(clock.now)
    db_b.on_soft_limit = lambda: told_b.append(clock.now)
    seal = db_a.outbound[B].seal
    for _ in range(17):
        db_b.lookup_inbound(db_a.outbound[B].spi).open(seal(bytes(1024), 47))
    assert told_a == told_b == []
    for _ in range(2):  # the 18th KiB crosses 90 %, the 19th must not tell again
        db_b.lookup_inbound(db_a.outbound[B].spi).open(seal(bytes(1024), 47))
    assert len(told_a) == 1 and len(told_b) == 1
    assert len(db_a.expiring(clock.now).rekey) == 1
