"""What one packet or one tick costs an EIGRP hub with many spokes, counted, not timed.

A Phase 3 hub (no split horizon, a summary on Tunnel0) with hundreds of stub spokes must
not do O(neighbours) or O(table) work per packet or per tick (issue 14: 500 neighbours).
These tests count what the core looks at (summary rescans, prefixes refreshed, neighbours
visited by tick) and check that the answers are still those of the plain full scans the
incremental code replaced (routes rebuilt from Dual.routes, the best summary component by
a scan in table order, hold expiry at the same tick).
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network

from eigrp_wire import dmvpn
from test_eigrp_neighbors import Segment, downs, router, ups

from dmvpnlab.routing.eigrp.dual_types import AD_EXTERNAL, AD_SUMMARY
from dmvpnlab.routing.eigrp.neighbors import NeighborDown
from dmvpnlab.routing.eigrp.summaries import SummaryIndex
from dmvpnlab.routing.eigrp.tlvs import Metric

SUMMARY = IPv4Network("192.168.0.0/16")
PHASE3_HUB = {"split_horizon": False, "summaries": (SUMMARY,)}
STUB = {"stub": frozenset({"connected"})}


def full_rebuild(proc) -> list[tuple]:
    """routes() as it was computed before: Dual.routes grouped by prefix, first seen first."""
    grouped: dict = {}
    for r in proc._dual.routes:
        grouped.setdefault(r.prefix, []).append(r)
    out = []
    for prefix, group in grouped.items():
        group.sort(key=lambda r: (r.metric, IPv4Address(r.next_hop)))
        first = group[0]
        if first.ad == AD_SUMMARY:
            hops: tuple = ((None, "Null0"),)
            ad = AD_SUMMARY
        else:
            hops = tuple((IPv4Address(r.next_hop), r.interface) for r in group)
            ad = 170 if first.ad == AD_EXTERNAL else 90
        out.append((prefix, hops, ad, first.metric, first.ad == AD_EXTERNAL))
    return out


def as_tuples(proc) -> list[tuple]:
    return [(r.prefix, r.next_hops, r.ad, r.metric, r.external) for r in proc.routes()]


def test_a_summarising_hub_has_the_routes_a_full_rebuild_gives_through_changes():
    wire = dmvpn(30, hub_tunnel=PHASE3_HUB, spoke_kw=STUB)
    wire.run(3)
    hub = wire.routers["hub"]
    assert len(hub.routes()) == 30 + 1          # every spoke LAN + the summary's Null0
    assert as_tuples(hub) == full_rebuild(hub)
    assert [str(r.prefix) for r in wire.routers["spoke7"].routes()] == ["192.168.0.0/16"]
    wire.routers["spoke3"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(2)
    assert as_tuples(hub) == full_rebuild(hub)
    assert IPv4Network("192.168.3.0/24") not in {r.prefix for r in hub.routes()}
    hub._dual.retune("Tunnel0", split_horizon=False, next_hop_self=True, summaries=())   # summary removed
    wire.run(2)
    assert as_tuples(hub) == full_rebuild(hub)
    assert SUMMARY not in {r.prefix for r in hub.routes()}


def test_a_route_keeps_its_age_while_other_prefixes_change():
    wire = dmvpn(5, hub_tunnel=PHASE3_HUB, spoke_kw=STUB)
    wire.run(3)
    hub = wire.routers["hub"]
    since = {r.prefix: r.since for r in hub.routes()}
    wire.routers["spoke2"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(2)
    assert {r.prefix: r.since for r in hub.routes()} == {p: s for p, s in since.items()
                                                         if p != IPv4Network("192.168.2.0/24")}


def test_one_spoke_lan_change_refreshes_a_few_prefixes_not_the_table():
    wire = dmvpn(60, hub_tunnel=PHASE3_HUB, spoke_kw=STUB)
    wire.run(3)
    hub = wire.routers["hub"]
    hub.routes()
    looked: list[int] = []
    real = hub._dual.routes_of
    hub._dual.routes_of = lambda prefixes: (looked.append(len(prefixes)), real(prefixes))[1]
    wire.routers["spoke9"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.run(1)
    hub.routes()
    assert looked and max(looked) <= 2       # the lost LAN and the summary, of 61 prefixes


def test_a_hub_learning_many_spoke_lans_never_rescans_its_summary():
    wire = dmvpn(60, hub_tunnel=PHASE3_HUB, spoke_kw=STUB)
    wire.run(3)
    index = wire.routers["hub"]._dual._summary_index
    # every LAN is worse than the hub's own 192.168.0.0/24: the best never changes
    assert index.rescans == 0
    assert index.metric(SUMMARY) is not None


def metric(delay: int) -> Metric:
    return Metric(delay=delay, bandwidth=256)


def scan(components: dict, order: list) -> object:
    """The best component as the old table scan found it: lowest distance, first in order."""
    best = None
    for prefix in order:
        if prefix in components and (best is None or components[prefix][0] < components[best][0]):
            best = prefix
    return None if best is None else components[best][2]


def test_the_summary_index_agrees_with_a_table_scan_and_rescans_only_when_the_best_goes():
    index = SummaryIndex()
    index.reset([SUMMARY])
    rng = random.Random(14)
    prefixes = [IPv4Network(f"192.168.{i}.0/24") for i in range(1, 120)]
    serial = {p: i for i, p in enumerate(prefixes)}
    components: dict = {}
    for step in range(3000):
        prefix = rng.choice(prefixes)
        if rng.random() < 0.3:
            components.pop(prefix, None)
            index.update(prefix, None)
        else:
            delay = rng.randrange(1, 40)
            components[prefix] = (delay, serial[prefix], metric(delay))
            index.update(prefix, components[prefix])
        assert index.metric(SUMMARY) == scan(components, prefixes), step
    assert index.rescans < 3000 / 4


def test_equal_components_go_to_the_first_in_table_order():
    index = SummaryIndex()
    index.reset([SUMMARY])
    index.update(IPv4Network("192.168.9.0/24"), (10, 5, metric(1)))
    index.update(IPv4Network("192.168.1.0/24"), (10, 7, metric(2)))
    assert index.metric(SUMMARY) == metric(1)
    index.update(IPv4Network("192.168.3.0/24"), (10, 2, metric(3)))
    assert index.metric(SUMMARY) == metric(3)
    index.update(IPv4Network("10.1.0.0/24"), (1, 1, metric(4)))          # not inside: ignored
    index.update(SUMMARY, (1, 0, metric(5)))                              # the summary itself: ignored
    assert index.metric(SUMMARY) == metric(3) and index.rescans == 0


def test_idle_neighbours_cost_the_tick_nothing_until_their_hold_time_comes():
    wire = dmvpn(50, hub_tunnel=PHASE3_HUB, spoke_kw=STUB)
    wire.run(3)
    nbrs = wire.routers["hub"]._nbrs
    nbrs.tick_visits = 0
    wire.run(5)                         # 50 ticks, hellos flowing, nothing due
    assert nbrs.tick_visits == 0
    wire.run(30)                        # 300 ticks: a full scan would visit 15000 neighbours
    assert 0 < nbrs.tick_visits <= 4 * 50
    assert len(wire.routers["hub"].neighbor_views(wire.now)) == 50


def test_a_neighbour_that_shortens_its_hold_time_expires_on_the_shorter_one():
    a, b = router(1), router(2, hold_time=15)
    seg = Segment(a, b)
    seg.run(1)
    b.hold_time = 3
    for iface in b._interfaces.values():
        iface.hold_time = 3
    seg.run(6)                          # b's next hellos announce 3 s
    seg.drop = lambda s, d, data: s == b.router_id
    [entry] = a._neighbors.values()
    heard = entry.last_heard
    while not downs(a):
        seg.run(0.1)
    assert downs(a) == [NeighborDown(IPv4Address("10.0.0.2"), "holding time expired")]
    assert 3 <= seg.now - heard < 3.1 + 1e-9     # the first tick past 3 s, not 15


def test_a_late_retransmission_of_a_peers_init_is_acked_again_not_taken_for_a_restart():
    """A hub too busy to ack an INIT in 200 ms gets it again once the adjacency is up;
    taking that copy for a restart reset both sides, which then re-INIT each other."""
    from dmvpnlab.routing.eigrp.codec import FLAG_INIT, decode

    a, b = router(1), router(2)
    seg = Segment(a, b)
    lost = []

    def first_ack_of_bs_init(src, dst, data):
        packet = decode(data)
        if src == a.router_id and packet.is_ack and not lost:
            lost.append(packet)
            return True
        return False

    seg.drop = first_ack_of_bs_init
    seg.run(3)
    assert lost                                   # b had to send its INIT again
    assert downs(a) == [] and downs(b) == []
    assert len(ups(a)) == 1 and len(ups(b)) == 1
    assert a.drops.get("duplicate", 0) >= 1
    inits = [e for e in a.events if getattr(e, "packet", None) is not None and e.packet.flags & FLAG_INIT]
    assert inits == []                            # nothing delivered to DUAL from the copy
