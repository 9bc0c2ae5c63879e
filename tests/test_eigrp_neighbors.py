"""EIGRP neighbours and RTP: instances in memory exchanging real bytes on a fake clock.

The `Segment` below is the network: every multicast reaches every other router on it,
a unicast only its addressee; a test can drop chosen packets to prove retransmission.
"""
from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.routing.eigrp.codec import FLAG_CR, Opcode, decode, ones_complement_checksum
from dmvpnlab.routing.eigrp.neighbors import (
    MULTICAST, Delivered, EigrpNeighbors, Md5Auth, NeighborDown, NeighborUp,
)
from dmvpnlab.routing.eigrp.tlvs import Destination, Ipv4Internal, Metric, Sequence

IFACE = "Tunnel0"


def route(prefix: str) -> Ipv4Internal:
    return Ipv4Internal("0.0.0.0", Metric(delay=12800, bandwidth=25600), (Destination.of(prefix),))


class Segment:
    """One multipoint tunnel: routers by address; `drop(pred)` loses matching packets."""

    def __init__(self, *routers: EigrpNeighbors) -> None:
        self.routers = {r.router_id: r for r in routers}
        self.now = 0.0
        self.lost: list[bytes] = []
        self.drop = lambda src, dst, data: False

    def pump(self) -> None:
        """Deliver every queued packet until no router has anything left to send."""
        for _ in range(1000):
            moved = False
            for src, router in self.routers.items():
                out, router.outbox = router.outbox, []
                for o in out:
                    moved = True
                    targets = [r for a, r in self.routers.items() if a != src and
                               (o.destination == MULTICAST or o.destination == a)]
                    for t in targets:
                        if self.drop(src, t.router_id, o.data):
                            self.lost.append(o.data)
                            continue
                        t.receive(o.interface, src, o.data, self.now)
            if not moved:
                return
        raise AssertionError("packets kept flowing")

    def run(self, seconds: float, step: float = 0.1) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = round(self.now + step, 6)
            for r in self.routers.values():
                r.tick(self.now)
            self.pump()


def router(n: int, **kw) -> EigrpNeighbors:
    r = EigrpNeighbors(100, IPv4Address(f"10.0.0.{n}"), **kw)
    r.add_interface(IFACE, IPv4Address(f"10.0.0.{n}"))
    return r


def ups(r: EigrpNeighbors) -> list[NeighborUp]:
    return [e for e in r.events if isinstance(e, NeighborUp)]


def delivered(r: EigrpNeighbors) -> list[Delivered]:
    return [e for e in r.events if isinstance(e, Delivered)]


def downs(r: EigrpNeighbors) -> list[NeighborDown]:
    return [e for e in r.events if isinstance(e, NeighborDown)]


def test_two_routers_form_an_adjacency_through_init_exchange():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    assert ups(a) == [NeighborUp(IPv4Address("10.0.0.2"), IFACE)]
    assert ups(b) == [NeighborUp(IPv4Address("10.0.0.1"), IFACE)]
    assert "Neighbor 10.0.0.2 (Tunnel0) is up: new adjacency" in a.log[0]
    row = a.neighbors()[0]
    assert (row.address, row.interface, row.q_count) == (IPv4Address("10.0.0.2"), IFACE, 0)
    assert 0 < row.hold_remaining <= 15 and row.rto_ms >= 200 and row.sequence > 0


def test_hellos_every_five_seconds_keep_the_adjacency_past_the_hold_time():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    hellos = []
    seg.drop = lambda s, d, data: hellos.append(decode(data).opcode) and False
    seg.run(60, step=0.5)
    assert downs(a) == [] and downs(b) == []
    # ~12 hellos per side per minute plus the acks of the INIT exchange
    assert 20 <= hellos.count(Opcode.HELLO) <= 32


def test_multicast_updates_are_delivered_in_order_and_acked():
    a, b, c = router(1), router(2), router(3)
    seg = Segment(a, b, c)
    seg.run(1)
    for i in range(5):
        a.send_reliable((route(f"192.168.{i}.0/24"),), Opcode.UPDATE, now=seg.now)
        seg.pump()
    for r in (b, c):
        got = [d.packet.tlvs[0].destinations[0].network for d in delivered(r)]
        assert [str(g) for g in got] == [f"192.168.{i}.0/24" for i in range(5)]
        assert all(d.address == IPv4Address("10.0.0.1") for d in delivered(r))
    assert all(row.q_count == 0 for row in a.neighbors())


def test_a_lost_update_is_retransmitted_unicast_and_delivered_once():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    first = []

    def lose_first_update(src, dst, data):
        p = decode(data)
        if p.opcode == Opcode.UPDATE and not first:
            first.append(p.sequence)
            return True
        return False

    seg.drop = lose_first_update
    a.send_reliable((route("172.16.0.0/16"),), Opcode.UPDATE, now=seg.now)
    seg.pump()
    assert delivered(b) == [] and a.neighbors()[0].q_count == 1
    seg.run(1)
    assert len(delivered(b)) == 1 and delivered(b)[0].packet.sequence == first[0]
    assert a.neighbors()[0].q_count == 0


def test_a_lost_ack_makes_a_duplicate_that_is_acked_not_delivered_again():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    lost = []

    def lose_first_ack(src, dst, data):
        p = decode(data)
        if src == b.router_id and p.opcode == Opcode.HELLO and p.ack and not lost:
            lost.append(p)
            return True
        return False

    seg.drop = lose_first_ack
    a.send_reliable((route("172.16.0.0/16"),), Opcode.UPDATE, now=seg.now)
    seg.run(1)
    assert len(delivered(b)) == 1 and b.drops.get("duplicate") == 1
    assert a.neighbors()[0].q_count == 0


def test_sixteen_retransmissions_unanswered_reset_the_neighbor():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    seg.drop = lambda s, d, data: s == a.router_id and decode(data).opcode == Opcode.UPDATE
    a.send_reliable((route("172.16.0.0/16"),), Opcode.UPDATE, now=seg.now)
    seg.run(14)   # hellos still flow both ways, so only the retry limit can take it down
    # it re-forms from b's next hello, and (its INIT update lost too) is reset again
    assert downs(a) and set(downs(a)) == {NeighborDown(IPv4Address("10.0.0.2"), "retry limit exceeded")}
    retrans = [p for p in map(decode, seg.lost) if p.opcode == Opcode.UPDATE]
    assert len(retrans) >= 17


def test_hold_time_expiry_takes_the_neighbor_down():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    seg.drop = lambda s, d, data: s == b.router_id
    seg.run(16, step=0.5)
    assert downs(a) == [NeighborDown(IPv4Address("10.0.0.2"), "holding time expired")]
    assert a.neighbors() == []


def test_k_value_mismatch_forms_no_adjacency_and_logs_it():
    a, b = router(1), router(2, k_values=(1, 1, 1, 0, 0))
    seg = Segment(a, b)
    seg.run(6)
    assert ups(a) == [] and ups(b) == [] and a.neighbors() == []
    assert any("K-value mismatch" in line for line in a.log)
    assert a.drops["k-mismatch"] >= 2


def test_md5_with_the_same_key_forms_an_adjacency():
    key = Md5Auth(1, b"cisco123")
    a, b = router(1, auth=key), router(2, auth=key)
    seg = Segment(a, b)
    seg.run(1)
    assert len(ups(a)) == 1 and len(ups(b)) == 1
    a.send_reliable((route("10.9.0.0/24"),), Opcode.UPDATE, now=seg.now)
    seg.pump()
    assert len(delivered(b)) == 1 and a.drops == {} and b.drops == {}


def test_bad_md5_is_a_counted_drop_and_forms_no_adjacency():
    a, b = router(1, auth=Md5Auth(1, b"cisco123")), router(2, auth=Md5Auth(1, b"wrong"))
    c = router(3)   # no authentication at all
    seg = Segment(a, b, c)
    seg.run(6)
    assert ups(a) == ups(b) == ups(c) == []
    assert a.drops["auth"] >= 2 and b.drops["auth"] >= 2 and c.drops["auth"] >= 2


def test_goodbye_takes_the_neighbor_down_at_once():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    b.stop(seg.now)
    seg.pump()
    assert downs(a) == [NeighborDown(IPv4Address("10.0.0.2"), "Interface Goodbye received")]
    assert downs(b) == [NeighborDown(IPv4Address("10.0.0.1"), "process stopped")]
    seg.run(20)                      # a stopped process sends nothing and takes nothing
    assert b.outbox == [] and len(ups(a)) == 1 and a.neighbors() == []


def test_multicast_with_a_lagging_neighbor_uses_cr_and_the_sequence_tlv():
    a, b, c = router(1), router(2), router(3)
    seg = Segment(a, b, c)
    seg.run(1)
    seg.drop = lambda s, d, data: d == c.router_id and decode(data).opcode == Opcode.UPDATE
    a.send_reliable((route("10.1.0.0/24"),), Opcode.UPDATE, now=seg.now)
    seg.pump()                       # c has not got (so not acked) the first update
    seen = []
    seg.drop = lambda s, d, data: seen.append(decode(data)) and False
    a.send_reliable((route("10.2.0.0/24"),), Opcode.UPDATE, now=seg.now)
    seg.pump()
    seq_hello = next(p for p in seen if p.opcode == Opcode.HELLO and p.find(Sequence))
    assert seq_hello.find(Sequence).ipv4_addresses == ("10.0.0.3",)
    cr = [p for p in seen if p.opcode == Opcode.UPDATE and p.flags & FLAG_CR]
    assert cr and c.drops.get("conditional receive not for us") == 1
    seg.run(2)                       # c gets both, in order, by unicast retransmission
    for r in (b, c):
        assert [str(d.packet.tlvs[0].destinations[0].network) for d in delivered(r)] == [
            "10.1.0.0/24", "10.2.0.0/24"]


def test_garbage_from_a_peer_is_a_counted_drop():
    a = router(1)
    for junk in (b"", b"\x02", bytes(40), b"\x02\x05" + bytes(18)):
        a.receive(IFACE, IPv4Address("10.0.0.9"), junk, 1.0)
    assert sum(a.drops.values()) == 4 and a.neighbors() == []


def test_a_peer_that_restarts_within_the_hold_time_is_reset_and_comes_back_up():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    b2 = router(2)                  # same address, fresh process (sequence numbers from 1)
    seg.routers[b2.router_id] = b2
    seg.run(6)                      # b2 hears a's next hello within one hello interval
    assert downs(a) == [NeighborDown(IPv4Address("10.0.0.2"), "peer restarted")]
    assert len(ups(a)) == 2 and len(ups(b2)) == 1
    a.send_reliable((route("10.5.0.0/24"),), Opcode.UPDATE, now=seg.now)
    seg.pump()
    assert len(delivered(b2)) == 1


def test_the_retry_limit_takes_sixteen_retransmissions_at_the_200ms_minimum_rto():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)
    seg.drop = lambda s, d, data: s == a.router_id and decode(data).opcode == Opcode.UPDATE
    sent_at = seg.now
    a.send_reliable((route("172.16.0.0/16"),), Opcode.UPDATE, now=sent_at)
    while not downs(a):
        seg.run(0.1)
    assert 16 * 0.2 <= seg.now - sent_at <= 17 * 0.2 + 0.2
    assert len(seg.lost) == 17      # the first send and 16 retransmissions


def test_mutated_real_packets_from_a_peer_never_raise_and_never_break_the_adjacency():
    import random
    rng = random.Random(10)
    a, b = router(1), router(2)
    seg = Segment(a, b)
    captured: list[bytes] = []
    seg.drop = lambda s, d, data: captured.append(data) and False
    seg.run(1)
    b.send_reliable((route("10.7.0.0/24"),), Opcode.UPDATE, now=seg.now)
    seg.pump()
    seg.drop = lambda s, d, data: False
    for _ in range(3000):
        data = bytearray(rng.choice(captured))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[:rng.randrange(len(data) + 1)]
        if rng.random() < 0.7 and len(data) >= 20:   # a right checksum, to reach the state machine
            data[2:4] = b"\0\0"
            data[2:4] = ones_complement_checksum(bytes(data)).to_bytes(2, "big")
        a.receive(IFACE, IPv4Address("10.0.0.2"), bytes(data), seg.now)
        a.outbox.clear()
    seg.run(1)
    assert a.is_up(IPv4Address("10.0.0.2")) or any("restarted" in d.reason for d in downs(a))
    assert sum(a.drops.values()) > 1000 and len(a.drops) >= 4   # refused for several reasons


def test_srtt_comes_from_the_ack_delay_and_rto_is_six_times_srtt():
    a, b = router(1), router(2)
    seg = Segment(a, b)
    seg.run(1)                        # INIT exchanged with no delay: SRTT 0, RTO at its 200 ms floor
    assert (a.neighbors()[0].srtt_ms, a.neighbors()[0].rto_ms) == (0, 200)
    t0 = seg.now
    a.send_reliable((route("10.3.0.0/24"),), Opcode.UPDATE, now=t0)
    update = [o for o in a.outbox if decode(o.data).opcode == Opcode.UPDATE]
    a.outbox.clear()
    b.receive(IFACE, a.router_id, update[0].data, t0 + 0.1)
    for o in b.outbox:
        a.receive(IFACE, b.router_id, o.data, t0 + 0.1)
    b.outbox.clear()
    row = a.neighbors(t0 + 0.1)[0]
    assert row.q_count == 0 and row.srtt_ms == 100 and row.rto_ms == 600


def test_an_init_that_carries_the_ack_of_ours_completes_the_exchange_without_a_reset():
    """FRR's eigrpd answers our INIT with a fresh INIT carrying the ack of ours. That ack
    brings the adjacency up; the INIT in the same packet is not a restart (resetting on
    it made us and eigrpd re-INIT each other thousands of times a second)."""
    from dmvpnlab.routing.eigrp.codec import FLAG_INIT, Packet, encode
    from dmvpnlab.routing.eigrp.tlvs import Parameters, SoftwareVersion
    a = router(1)
    peer = IPv4Address("10.0.0.2")
    hello = encode(Packet(Opcode.HELLO, 100, (Parameters(), SoftwareVersion())))
    a.receive(IFACE, peer, hello, 0.0)
    [our_init] = [decode(o.data) for o in a.outbox if decode(o.data).opcode == Opcode.UPDATE]
    assert our_init.flags & FLAG_INIT
    a.receive(IFACE, peer, encode(Packet(Opcode.UPDATE, 100, (), FLAG_INIT, 30910)), 0.1)   # its first INIT
    a.receive(IFACE, peer, encode(Packet(Opcode.UPDATE, 100, (), FLAG_INIT, 30911, our_init.sequence)), 0.2)
    assert ups(a) == [NeighborUp(peer, IFACE)] and downs(a) == []
    a.receive(IFACE, peer, encode(Packet(Opcode.UPDATE, 100, (route("10.9.0.0/24"),), 0x8, 30912)), 0.3)
    assert len(delivered(a)) == 1
    # a later INIT from the up neighbour is a restart
    a.receive(IFACE, peer, encode(Packet(Opcode.UPDATE, 100, (), FLAG_INIT, 1)), 5.0)
    assert downs(a) == [NeighborDown(peer, "peer restarted")]
