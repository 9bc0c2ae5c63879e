"""A hub with thousands of registrations: nothing per packet or per tick walks them all.

Not timed: each test counts full walks of the cache (every walk goes through
`dict.values()` of its entries) while the hub engine handles registrations, refreshes,
resolutions, purges and ticks at 3,000 spokes, and checks the indexes stay exact.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.loadgen.fleet import Fleet, HubAddress
from dmvpnlab.loadgen.inprocess import EngineWire, hub_engine
from dmvpnlab.loadgen.plan import AddressPlan
from dmvpnlab.loadgen.stats import LoadStats
from dmvpnlab.nhrp.cache import CacheEntry, EntryType, NhrpCache, host

TUNNEL = IPv4Interface("10.0.0.1/16")
HUB = IPv4Address("203.0.113.1")


class CountingDict(dict):
    walks = 0

    def values(self):  # type: ignore[override]
        CountingDict.walks += 1
        return super().values()


def registered_hub(count: int):
    now = [1000.0]
    engine = hub_engine(TUNNEL, HUB, auth=b"DMVPN", holdtime=300, now=now[0])
    engine.cache._entries = CountingDict(engine.cache._entries)
    fleet = Fleet(AddressPlan(TUNNEL.network, count), HubAddress(TUNNEL.ip, HUB), holdtime=300, auth=b"DMVPN",
                  gre_key=1, stats=LoadStats())
    wire = EngineWire(engine, 1, lambda: now[0])

    def exchange(datagram):
        wire.send(datagram)
        for src, dst, gre in wire.receive(0):
            for answer in fleet.receive(src, dst, gre, now[0]):
                exchange(answer)

    for i in range(count):
        exchange(fleet.registration(i, now[0], "burst"))
    return engine, fleet, exchange, now


def test_registrations_refreshes_resolutions_purges_and_ticks_never_walk_the_whole_cache():
    engine, fleet, exchange, now = registered_hub(3000)
    assert len(engine.cache) == 3000
    CountingDict.walks = 0
    for i in range(0, 3000, 7):
        exchange(fleet.registration(i, now[0], "refresh"))
    for _ in range(200):
        a, b = fleet.random_pair()
        exchange(fleet.resolution(a, b, now[0]))
    for tick in range(50):
        engine.tick(now[0] + tick)
    for i in range(1000):
        exchange(fleet.purge(i, now[0]))
    assert CountingDict.walks == 0
    assert len(engine.cache) == 2000 and fleet.stats.phases["purge"].answered == 1000
    assert len(engine.multicast_dynamic) == 2000  # a purged spoke is no multicast target any more


def test_registrations_expire_when_due_and_only_then():
    engine, _, _, now = registered_hub(500)
    engine.tick(now[0] + 299)
    assert len(engine.cache) == 500
    engine.tick(now[0] + 301)
    assert len(engine.cache) == 0 and not engine.multicast_dynamic


def entry(prefix: str, next_hop: str, nbma: str | None, expires: float | None = None,
          kind: EntryType = EntryType.DYNAMIC, flags: set[str] | None = None) -> CacheEntry:
    return CacheEntry(prefix=IPv4Network(prefix), next_hop=IPv4Address(next_hop),
                      nbma=IPv4Address(nbma) if nbma else None, type=kind, created=0.0, expires=expires,
                      flags=set(flags or ()))


def test_the_indexes_follow_replacement_and_removal():
    cache = NhrpCache()
    cache.put(entry("10.0.0.2/32", "10.0.0.2", "100.64.1.1", 10, flags={"registered"}))
    cache.put(entry("192.168.2.0/24", "10.0.0.2", "100.64.1.1", 5))
    assert [e.prefix for e in cache.via(IPv4Address("10.0.0.2"))] == [IPv4Network("192.168.2.0/24")]
    assert len(cache.with_nbma(IPv4Address("100.64.1.1"))) == 2
    assert [e.prefix for e in cache.resolved()] == [IPv4Network("192.168.2.0/24")]
    cache.put(entry("10.0.0.2/32", "10.0.0.2", "100.64.9.9", 20, flags={"registered"}))  # moved NBMA
    assert len(cache.with_nbma(IPv4Address("100.64.1.1"))) == 1 and len(cache.with_nbma(IPv4Address("100.64.9.9"))) == 1
    assert [e.prefix for e in cache.expired(10)] == [IPv4Network("192.168.2.0/24")]  # the stale heap item did nothing
    assert cache.peer(IPv4Address("10.0.0.2")).nbma == IPv4Address("100.64.9.9")
    cache.remove(host(IPv4Address("10.0.0.2")))
    assert not cache.with_nbma(IPv4Address("100.64.9.9")) and not cache.via(IPv4Address("10.0.0.2"))


def test_longest_match_prefers_the_longer_prefix_and_ignores_others():
    cache = NhrpCache()
    cache.put(entry("192.168.0.0/16", "10.0.0.1", "203.0.113.1"))
    cache.put(entry("192.168.2.0/24", "10.0.0.3", "100.64.2.1"))
    cache.put(entry("10.0.0.3/32", "10.0.0.3", "100.64.2.1"))
    assert cache.longest_match(IPv4Address("192.168.2.7")).prefix == IPv4Network("192.168.2.0/24")
    assert cache.longest_match(IPv4Address("192.168.9.7")).prefix == IPv4Network("192.168.0.0/16")
    assert cache.longest_match(IPv4Address("172.16.0.1")) is None
    cache.remove(IPv4Network("192.168.2.0/24"))
    assert cache.longest_match(IPv4Address("192.168.2.7")).prefix == IPv4Network("192.168.0.0/16")


def test_a_refresh_of_the_same_binding_keeps_the_data_paths_cache_a_move_does_not():
    cache = NhrpCache()
    cache.put(entry("10.0.0.2/32", "10.0.0.2", "100.64.1.1", 10, flags={"registered"}))
    before = cache.generation
    cache.put(entry("10.0.0.2/32", "10.0.0.2", "100.64.1.1", 110, flags={"registered"}))  # a refresh
    assert cache.generation == before and cache.peer(IPv4Address("10.0.0.2")).expires == 110
    cache.put(entry("10.0.0.2/32", "10.0.0.2", "100.64.7.7", 110, flags={"registered"}))  # moved NBMA
    assert cache.generation > before


def test_multicast_peers_are_sorted_once_per_change_not_once_per_packet(monkeypatch):
    import builtins

    from dmvpnlab.nhrp import engine as engine_module

    engine, fleet, exchange, now = registered_hub(300)
    calls = []
    real_sorted = builtins.sorted
    monkeypatch.setattr(engine_module, "sorted", lambda *a, **k: calls.append(1) or real_sorted(*a, **k), raising=False)
    first = engine.multicast_targets()
    for _ in range(100):
        assert engine.multicast_targets() == first
    assert len(calls) == 1 and first == real_sorted(fleet.plan.nbma(i) for i in range(300))
    exchange(fleet.purge(5, now[0]))
    assert fleet.plan.nbma(5) not in engine.multicast_targets() and len(calls) == 2
