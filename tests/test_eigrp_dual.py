"""DUAL on textbook topologies, in memory: each router is a `Dual`, a tiny harness carries
the outbox to the neighbours (the transport's job), and the tests read the routes.

Metrics are IOS's: FastEthernet (100 Mbit/s, 100 us) hops, the DMVPN tunnel with IOS
defaults (100 kbit/s, 50000 us, MTU 1400): a spoke LAN seen by the hub 26882560, by
another spoke through the hub 28162560 (the numbers of published DMVPN labs).
"""

from __future__ import annotations

import ipaddress

import pytest

from dmvpnlab.routing.eigrp.codec import Opcode
from dmvpnlab.routing.eigrp.dual import AD_INTERNAL, AD_SUMMARY, Dual, State
from dmvpnlab.routing.eigrp.metric import INFINITY, classic_metric
from dmvpnlab.routing.eigrp.tlvs import STUB_CONNECTED, STUB_SUMMARY, Destination, Ipv4Internal, Metric

FE = dict(bandwidth=100_000, delay=100)
TUNNEL = dict(bandwidth=100, delay=50000, mtu=1400)


class Net:
    """Routers and segments; `run()` delivers every outgoing packet until all is quiet."""

    def __init__(self) -> None:
        self.r: dict[str, Dual] = {}
        self.addr: dict[tuple[str, str], str] = {}     # (router, interface) -> address
        self.owner: dict[str, tuple[str, str]] = {}    # address -> (router, interface)
        self.sent: list[tuple[str, object]] = []       # (router, Outgoing), for assertions

    def router(self, name: str, **kw) -> Dual:
        self.r[name] = Dual(**kw)
        return self.r[name]

    def lan(self, router: str, ifname: str, address: str, **kw) -> None:
        self.r[router].interface_up(ifname, address, **{**FE, **kw})
        self.addr[(router, ifname)] = address.split("/")[0]

    def segment(self, members: list[tuple[str, str, str, dict]], link: dict, hub: bool = False) -> None:
        """Members (router, interface, A.B.C.D/len, interface options); `hub`: only the
        first member peers with the others, as on a DMVPN tunnel."""
        for router, ifname, address, opts in members:
            self.r[router].interface_up(ifname, address, **{**link, **opts})
            ip = address.split("/")[0]
            self.addr[(router, ifname)], self.owner[ip] = ip, (router, ifname)
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:] if not hub or a is members[0]]
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                stub = self.r[y[0]].stub is not None
                self.r[x[0]].neighbor_up(y[2].split("/")[0], x[1], stub=stub)

    def down(self, router: str, ifname: str) -> None:
        """An interface fails: both ends lose the adjacency (hold timer / carrier)."""
        ip = self.addr.get((router, ifname))
        for name, dual in self.r.items():
            if ip in dual.neighbors:
                dual.neighbor_down(ip)
        self.r[router].interface_down(ifname)

    def run(self, limit: int = 10_000) -> None:
        for _ in range(limit):
            moved = False
            for name, dual in self.r.items():
                out, dual.outbox = dual.outbox, []
                for msg in out:
                    moved = True
                    self.sent.append((name, msg))
                    src = self.addr[(name, msg.interface)]
                    targets = [msg.neighbor] if msg.neighbor else [
                        a for a, (i, _) in dual.neighbors.items() if i == msg.interface]
                    for target in targets:
                        if target not in self.owner:
                            continue   # a peer outside the harness: the wire would carry it
                        peer = self.owner[target][0]
                        if src in self.r[peer].neighbors:
                            self.r[peer].received(src, msg.opcode, msg.routes)
            if not moved:
                return
        raise AssertionError("DUAL did not converge")

    def route(self, router: str, prefix: str) -> list:
        net = ipaddress.IPv4Network(prefix)
        return [r for r in self.r[router].routes if r.prefix == net]

    def opcodes(self, router: str, opcode: Opcode) -> list:
        return [m for n, m in self.sent if n == router and m.opcode == opcode]


def triangle() -> Net:
    net = Net()
    for name in "ABC":
        net.router(name)
    net.lan("C", "lan", "192.168.3.1/24")
    net.segment([("A", "ab", "10.0.12.1/24", {}), ("B", "ab", "10.0.12.2/24", {})], FE)
    net.segment([("B", "bc", "10.0.23.2/24", {}), ("C", "bc", "10.0.23.3/24", {})], FE)
    net.segment([("A", "ac", "10.0.13.1/24", {}), ("C", "ac", "10.0.13.3/24", {})], FE)
    net.run()
    return net


def test_triangle_routes_directly_with_ios_metric_and_no_feasible_successor():
    net = triangle()
    [route] = net.route("A", "192.168.3.0/24")
    assert (route.next_hop, route.interface, route.ad) == ("10.0.13.3", "ac", AD_INTERNAL)
    assert route.metric == classic_metric(100_000, 200) == 30720
    # B's reported distance (30720) is not below A's FD (30720): not feasible
    assert net.r["A"].feasible_successors("192.168.3.0/24") == []
    assert [r.next_hop for r in net.route("A", "10.0.23.0/24")] == sorted(["10.0.12.2", "10.0.13.3"])


def test_losing_the_successor_without_feasible_successor_goes_active_queries_and_recovers():
    net = triangle()
    net.sent.clear()
    net.down("A", "ac")
    entry = net.r["A"].table[ipaddress.IPv4Network("192.168.3.0/24")]
    assert entry.state is State.ACTIVE and entry.waiting == {"10.0.12.2"}
    net.run()
    lan_queries = [q for q in net.opcodes("A", Opcode.QUERY) if str(q.routes[0].destinations[0].network)
                   == "192.168.3.0/24"]
    assert [q.neighbor for q in lan_queries] == ["10.0.12.2"]
    assert any(m.neighbor == "10.0.12.1" for m in net.opcodes("B", Opcode.REPLY))
    [route] = net.route("A", "192.168.3.0/24")
    assert route.next_hop == "10.0.12.2" and route.metric == classic_metric(100_000, 300)
    assert entry.state is State.PASSIVE and entry.fd == route.metric


def test_a_prefix_that_disappears_everywhere_is_withdrawn_after_queries():
    net = triangle()
    net.r["C"].interface_down("lan")
    net.run()
    for name in "ABC":
        assert net.route(name, "192.168.3.0/24") == []
        assert all(e.state is State.PASSIVE for e in net.r[name].table.values())


def square(variance: int = 1) -> Net:
    """A-B-D and A-C-D, the A-C link slower: via B is the successor, C a feasible successor."""
    net = Net()
    net.router("A", variance=variance)
    for name in "BCD":
        net.router(name)
    net.lan("D", "lan", "192.168.4.1/24")
    net.segment([("A", "ab", "10.0.12.1/24", {}), ("B", "ab", "10.0.12.2/24", {})], FE)
    net.segment([("A", "ac", "10.0.13.1/24", {}), ("C", "ac", "10.0.13.3/24", {})], dict(FE, delay=1000))
    net.segment([("B", "bd", "10.0.24.2/24", {}), ("D", "bd", "10.0.24.4/24", {})], FE)
    net.segment([("C", "cd", "10.0.34.3/24", {}), ("D", "cd", "10.0.34.4/24", {})], FE)
    net.run()
    return net


def test_square_has_a_feasible_successor_and_switches_without_a_query():
    net = square()
    [route] = net.route("A", "192.168.4.0/24")
    assert route.next_hop == "10.0.12.2" and route.metric == classic_metric(100_000, 300)
    assert net.r["A"].feasible_successors("192.168.4.0/24") == ["10.0.13.3"]
    net.sent.clear()
    net.down("A", "ab")
    assert net.r["A"].table[ipaddress.IPv4Network("192.168.4.0/24")].state is State.PASSIVE
    net.run()
    assert not [q for q in net.opcodes("A", Opcode.QUERY) if "192.168.4.0" in str(q.routes)]
    [route] = net.route("A", "192.168.4.0/24")
    assert route.next_hop == "10.0.13.3" and route.metric == classic_metric(100_000, 1200)


def test_variance_installs_the_feasible_successor_too():
    assert len(square(variance=1).route("A", "192.168.4.0/24")) == 1
    routes = square(variance=5).route("A", "192.168.4.0/24")
    assert sorted(r.next_hop for r in routes) == ["10.0.12.2", "10.0.13.3"]
    assert sorted(r.metric for r in routes) == [classic_metric(100_000, 300), classic_metric(100_000, 1200)]


def dmvpn(hub_opts: dict | None = None, stub: bool = False, hub_kw: dict | None = None) -> Net:
    """A hub and three spokes on one mGRE tunnel; each spoke has a FastEthernet LAN."""
    net = Net()
    net.router("hub", **(hub_kw or {}))
    net.lan("hub", "lan", "192.168.0.1/24")
    members = [("hub", "Tunnel0", "10.0.0.1/24", hub_opts or {})]
    for n in (1, 2, 3):
        net.router(f"s{n}", stub=STUB_CONNECTED | STUB_SUMMARY if stub else None)
        net.lan(f"s{n}", "lan", f"192.168.{n}.1/24")
        members.append((f"s{n}", "Tunnel0", f"10.0.0.1{n}/24", {}))
    net.segment(members, TUNNEL, hub=True)
    net.run()
    return net


def test_hub_learns_spoke_lans_with_the_published_metric():
    net = dmvpn()
    [route] = net.route("hub", "192.168.1.0/24")
    assert (route.next_hop, route.interface, route.metric) == ("10.0.0.11", "Tunnel0", 26882560)


def test_split_horizon_on_the_hub_hides_spoke_lans_from_other_spokes():
    net = dmvpn()
    assert net.route("s1", "192.168.2.0/24") == []
    assert [r.next_hop for r in net.route("s1", "192.168.0.0/24")] == ["10.0.0.1"]


def test_split_horizon_off_passes_spoke_lans_with_the_hub_as_next_hop():
    net = dmvpn({"split_horizon": False})
    [route] = net.route("s1", "192.168.2.0/24")
    assert (route.next_hop, route.metric) == ("10.0.0.1", 28162560)


def test_next_hop_self_off_keeps_the_other_spoke_as_next_hop_for_phase_2():
    net = dmvpn({"split_horizon": False, "next_hop_self": False})
    [route] = net.route("s1", "192.168.2.0/24")
    assert (route.next_hop, route.interface) == ("10.0.0.12", "Tunnel0")
    assert [r.next_hop for r in net.route("s1", "192.168.0.0/24")] == ["10.0.0.1"]


def test_stub_spokes_are_never_queried():
    for stub, queried in ((False, {"10.0.0.12", "10.0.0.13"}), (True, set())):
        net = dmvpn({"split_horizon": False}, stub=stub)
        net.sent.clear()
        net.r["s1"].interface_down("lan")
        net.run()
        queries = {q.neighbor for q in net.opcodes("hub", Opcode.QUERY)}
        assert queries == queried
        assert net.route("hub", "192.168.1.0/24") == [] and net.route("s2", "192.168.1.0/24") == []


def test_a_stub_advertises_only_its_connected_routes():
    net = dmvpn({"split_horizon": False}, stub=True)
    advertised = {str(d.network) for _, m in net.sent if _ == "s2" and m.opcode == Opcode.UPDATE
                  for tlv in m.routes for d in tlv.destinations}
    assert advertised == {"192.168.2.0/24", "10.0.0.0/24"}


def test_summary_suppresses_components_and_installs_null0():
    net = dmvpn({"split_horizon": False, "summaries": ("192.168.0.0/16",)})
    assert net.route("s1", "192.168.2.0/24") == [] and net.route("s1", "192.168.0.0/24") == []
    [summary] = net.route("s1", "192.168.0.0/16")
    assert summary.next_hop == "10.0.0.1"
    [discard] = net.route("hub", "192.168.0.0/16")
    assert (discard.interface, discard.ad) == ("Null0", AD_SUMMARY)
    assert discard.metric == classic_metric(100_000, 100)   # best component: the hub's own LAN


def test_stuck_in_active_is_reported_after_the_active_time():
    net = triangle()
    net.r["A"].tick(1000.0)
    net.down("A", "ac")          # B's reply is never delivered: no net.run()
    net.r["A"].tick(1100.0)
    assert net.r["A"].events == []
    net.r["A"].tick(1181.0)
    # the LAN and the lost link's own subnet both went active, both wait for B
    assert {(str(e.prefix), e.neighbors) for e in net.r["A"].events} == {
        ("192.168.3.0/24", ("10.0.12.2",)), ("10.0.13.0/24", ("10.0.12.2",))}


def test_bad_peer_input_is_a_counted_drop():
    dual = Dual()
    dual.interface_up("e0", "10.0.0.1/24", **FE)
    tlv = Ipv4Internal("0.0.0.0", Metric(256, 25600), (Destination.of("10.9.0.0/24"),))
    dual.received("10.0.0.9", Opcode.UPDATE, (tlv,))           # not a neighbour
    dual.neighbor_up("10.0.0.2", "e9")                         # no such interface
    dual.neighbor_up("10.0.0.2", "e0")
    dual.received("10.0.0.2", Opcode.HELLO, (tlv,))            # not a DUAL opcode
    assert dual.drops == 3 and dual.distance("10.9.0.0/24") == INFINITY


def test_external_routes_keep_their_data_and_install_with_ad_170():
    from dmvpnlab.routing.eigrp.dual import AD_EXTERNAL
    from dmvpnlab.routing.eigrp.tlvs import ExternalData, Ipv4External
    net = Net()
    for name in "AB":
        net.router(name)
    net.segment([("A", "ab", "10.0.12.1/24", {}), ("B", "ab", "10.0.12.2/24", {})], FE)
    net.lan("B", "x", "10.0.99.2/24")
    net.r["B"].neighbor_up("10.0.99.9", "x")     # a peer outside the harness
    data = ExternalData("9.9.9.9", originating_as=65000, protocol=3)
    static = Ipv4External("0.0.0.0", data, Metric(256 * 10, 256 * 100), (Destination.of("172.16.0.0/16"),))
    net.r["B"].received("10.0.99.9", Opcode.UPDATE, (static,))
    net.run()
    [route] = net.route("A", "172.16.0.0/16")
    assert (route.next_hop, route.ad) == ("10.0.12.2", AD_EXTERNAL)
    [tlv] = [t for n, m in net.sent if n == "B" for t in m.routes if isinstance(t, Ipv4External)]
    assert tlv.external == data and tlv.next_hop == "0.0.0.0"


def test_a_route_beyond_the_maximum_hop_count_is_unreachable():
    dual = Dual()
    dual.interface_up("e0", "10.0.0.1/24", **FE)
    dual.neighbor_up("10.0.0.2", "e0")
    far = Ipv4Internal("0.0.0.0", Metric(256, 25600, hop_count=100), (Destination.of("10.9.0.0/24"),))
    dual.received("10.0.0.2", Opcode.UPDATE, (far,))
    assert dual.distance("10.9.0.0/24") == INFINITY and dual.routes == []


def walk(net: Net, src: str, prefix: str) -> list[str]:
    """Follow the installed next hops hop by hop (first successor) until the prefix is connected."""
    seen, at = [src], src
    while True:
        routes = net.route(at, prefix)
        if not routes:
            return seen
        at = net.owner[routes[0].next_hop][0]
        assert at not in seen, f"forwarding loop {seen + [at]}"
        seen.append(at)


def test_random_meshes_converge_loop_free_optimal_until_a_failure_and_never_below_optimal():
    """One bandwidth everywhere makes the metric additive in delay, so Dijkstra says the
    optimum. Before any failure every distance is optimal. After failures DUAL may keep a
    feasible successor that is worse than an unfeasible path (the feasibility condition is
    sufficient, not necessary: IOS does the same), so distances are >= the optimum, a route
    exists exactly when the graph connects, forwarding never loops, nothing stays active."""
    import heapq
    import random
    rng = random.Random(7)
    for _ in range(10):
        n = 6
        net = Net()
        for i in range(n):
            net.router(f"R{i}")
            net.lan(f"R{i}", "lan", f"192.168.{i}.1/24")
        links = {}
        for a in range(n):
            for b in range(a + 1, n):
                if rng.random() < 0.45:
                    delay = rng.choice((100, 200, 500, 1000))
                    links[(a, b)] = delay
                    net.segment([(f"R{a}", f"l{b}", f"10.{a}.{b}.1/24", {}),
                                 (f"R{b}", f"l{a}", f"10.{a}.{b}.2/24", {})], dict(FE, delay=delay))
        net.run()
        for cut in [None] + rng.sample(sorted(links), min(2, len(links))):
            if cut:
                a, b = cut
                net.down(f"R{a}", f"l{b}")
                net.r[f"R{b}"].interface_down(f"l{a}")
                del links[cut]
                net.run()
            for src in range(n):
                dist = {src: 0}
                heap = [(0, src)]
                while heap:
                    d, x = heapq.heappop(heap)
                    for (a, b), delay in links.items():
                        if x in (a, b):
                            y = b if x == a else a
                            if d + delay < dist.get(y, 1 << 60):
                                dist[y] = d + delay
                                heapq.heappush(heap, (dist[y], y))
                for dst in range(n):
                    got = net.r[f"R{src}"].distance(f"192.168.{dst}.0/24")
                    if dst not in dist:
                        assert got == INFINITY, (cut, src, dst, links)
                        continue
                    best = classic_metric(100_000, dist[dst] + 100)
                    assert got == best if cut is None else got >= best, (cut, src, dst, links)
                    assert walk(net, f"R{src}", f"192.168.{dst}.0/24")[-1] == f"R{dst}"
                assert all(e.state is State.PASSIVE for e in net.r[f"R{src}"].table.values())


def mesh(links: dict[tuple[int, int], int], n: int = 6) -> Net:
    net = Net()
    for i in range(n):
        net.router(f"R{i}")
        net.lan(f"R{i}", "lan", f"192.168.{i}.1/24")
    for (a, b), delay in links.items():
        net.segment([(f"R{a}", f"l{b}", f"10.{a}.{b}.1/24", {}),
                     (f"R{b}", f"l{a}", f"10.{a}.{b}.2/24", {})], dict(FE, delay=delay))
    net.run()
    return net


def test_losing_a_link_subnet_does_not_count_to_infinity():
    """Both ends of a link lose its subnet at once, so two diffusing computations run
    for one prefix. A router that is active and then queried by its own successor must
    hold that reply until its computation ends (RFC 7868 query origin 2); answering at
    once let routers finish on replies that led back through themselves (about 3,300
    route TLVs counting the hop count up to 100 before this was fixed)."""
    net = mesh({(0, 1): 500, (0, 2): 500, (0, 3): 500, (1, 2): 500, (1, 3): 200, (1, 4): 1000,
                (1, 5): 500, (2, 4): 100, (2, 5): 100, (3, 4): 100, (3, 5): 500, (4, 5): 200})
    net.sent.clear()
    net.down("R0", "l2")
    net.r["R2"].interface_down("l0")
    net.run()
    hops = [t.metric.hop_count for _, m in net.sent for t in m.routes
            if str(t.destinations[0].network) == "10.0.2.0/24" and not t.metric.unreachable]
    assert max(hops, default=0) < 10
    assert all(net.route(f"R{i}", "10.0.2.0/24") == [] for i in range(6))
    assert all(e.state is State.PASSIVE for d in net.r.values() for e in d.table.values())


def test_a_route_whose_distance_overflows_the_metric_is_unreachable():
    """Delay just below the 'unreachable' 0xFFFFFFFF plus our interface's is past the
    32-bit metric: it is no path at all (a fuzzed packet made DUAL pick from nothing)."""
    dual = Dual()
    dual.interface_up("e0", "10.0.0.1/24", **FE)
    dual.neighbor_up("10.0.0.2", "e0")
    ok = Ipv4Internal("0.0.0.0", Metric(256, 25600), (Destination.of("10.9.0.0/24"),))
    dual.received("10.0.0.2", Opcode.UPDATE, (ok,))
    assert dual.distance("10.9.0.0/24") < INFINITY
    huge = Ipv4Internal("0.0.0.0", Metric(0xFFFFFFF0, 25600), (Destination.of("10.9.0.0/24"),))
    dual.received("10.0.0.2", Opcode.QUERY, (huge,))
    assert dual.distance("10.9.0.0/24") == INFINITY and dual.routes == []
    assert [m.opcode for m in dual.outbox if m.neighbor == "10.0.0.2"].count(Opcode.REPLY) == 1
