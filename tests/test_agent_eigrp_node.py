"""agent.eigrp_node with a stand-in process, a fake kernel and fake sockets: what goes where.

The live behaviour (real sockets, real kernel routes, eigrpd as the peer) is in
tests/test_eigrp_frr_live.py; here the node's own rules: one socket per interface that
can have neighbours, outbox to the right socket, packets in with their source, routes
replaced only on change (ECMP, Null0 blackhole at AD 5), exactly ours removed on stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from types import SimpleNamespace

from dmvpnlab.agent.eigrp_node import EigrpNode, apply_eigrp
from dmvpnlab.agent.eigrp_state import eigrp_state
from dmvpnlab.config.parser import load_config
from dmvpnlab.routing.eigrp.neighbors import Outbound
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings
from dmvpnlab.routing.kernel import EIGRP_ROUTE_PROTO, KernelRoute

N = IPv4Network
A = IPv4Address


@dataclass
class Route:
    prefix: IPv4Network
    next_hops: tuple
    ad: int = 90
    metric: int = 27008000
    external: bool = False
    since: float = 0.0


@dataclass
class FakeProcess:
    settings: EigrpSettings
    outbox: list = field(default_factory=list)
    routes_version: int = 0
    received: list = field(default_factory=list)
    table: list = field(default_factory=list)
    stopped: bool = False

    def receive(self, interface, source, data, now):
        self.received.append((interface, source, data))

    def tick(self, now):
        pass

    def set_interface_state(self, name, up, now):
        self.link_changes = getattr(self, "link_changes", []) + [(name, up)]

    def reconfigure(self, settings, now):
        self.settings = settings

    def stop(self, now):
        self.stopped = True
        self.outbox.append(Outbound(A("224.0.0.10"), "Tunnel0", b"goodbye"))

    def routes(self):
        return list(self.table)

    def set_routes(self, routes):
        self.table = routes
        self.routes_version += 1


class FakeKernel:
    def __init__(self, stale=()):
        self.calls = []
        self.stale = list(stale)
        self.index = 7

    def ifindex(self, name):
        return self.index

    def routes(self):
        return self.stale

    def replace_route(self, prefix, gw, ifname, proto, metric=0, blackhole=False):
        self.calls.append(("replace", str(prefix), gw, ifname, proto, metric, blackhole))

    def replace_multipath_route(self, prefix, hops, proto, metric=0):
        self.calls.append(("multipath", str(prefix), tuple(hops), proto, metric))

    def delete_route(self, prefix, gw, proto, metric=0):
        self.calls.append(("delete", str(prefix), proto, metric))
        return True


class FakeSocket:
    def __init__(self, name):
        self.name, self.sent, self.closed = name, [], False

    def sendto(self, data, address):
        self.sent.append((data, address))

    def fileno(self):
        return -1

    def close(self):
        self.closed = True


def _settings(*names_passive):
    return EigrpSettings(100, A("1.1.1.1"), tuple(
        EigrpInterfaceSettings(name, IPv4Interface(addr), passive=passive) for name, addr, passive in names_passive))


def _node(settings, kernel=None):
    opened = {}

    def open_socket(linux, address, index):
        opened[linux] = FakeSocket(linux)
        return opened[linux]

    node = EigrpNode(settings, FakeProcess(settings), kernel or FakeKernel(), lambda ios: ios.replace("/", "-"),
                     lambda: 100.0, open_socket=open_socket)
    return node, opened


def test_sockets_outbox_and_receive():
    kernel = FakeKernel(stale=[KernelRoute(N("192.168.9.0/24"), A("10.0.0.9"), "Tunnel0", EIGRP_ROUTE_PROTO, 90, 0, 1)])
    node, opened = _node(_settings(("Tunnel0", "10.0.0.1/24", False), ("GigabitEthernet0/1", "192.168.1.1/24", True),
                                   ("Loopback0", "1.1.1.1/32", False)), kernel)
    node.start()
    assert kernel.calls == [("delete", "192.168.9.0/24", EIGRP_ROUTE_PROTO, 90)]  # an earlier agent's route
    assert list(opened) == ["Tunnel0"]  # passive and loopback: no neighbours, no socket
    node.process.outbox += [Outbound(A("224.0.0.10"), "Tunnel0", b"hello"),
                            Outbound(A("10.0.0.2"), "Tunnel0", b"update"),
                            Outbound(A("224.0.0.10"), "GigabitEthernet0/1", b"x")]
    node.pump()
    assert opened["Tunnel0"].sent == [(b"hello", ("224.0.0.10", 0)), (b"update", ("10.0.0.2", 0))]
    assert node.counters["tx_no_socket"] == 1
    ip = bytes([0x45, 0xC0, 0, 40, 0, 0, 0, 0, 2, 88, 0, 0, 10, 0, 0, 2, 224, 0, 0, 10])
    node.receive("Tunnel0", ip + b"eigrp")
    node.receive("Tunnel0", b"\x45\x00")  # truncated: counted, not passed on
    assert node.process.received == [("Tunnel0", A("10.0.0.2"), b"eigrp")]
    assert node.counters["rx_malformed"] == 1
    kernel.index = 8  # Tunnel0 re-created (a new TAP): the same settings reopen its socket
    first = opened["Tunnel0"]
    node.reconfigure(node.settings)
    assert first.closed and opened["Tunnel0"] is not first and list(node.sockets) == ["Tunnel0"]
    node.reconfigure(_settings(("GigabitEthernet0/1", "192.168.1.1/24", False)))
    assert opened["Tunnel0"].closed and list(node.sockets) == ["GigabitEthernet0/1"]


def test_routes_replaced_on_change_and_removed_on_stop():
    kernel = FakeKernel()
    node, _ = _node(_settings(("Tunnel0", "10.0.0.1/24", False)), kernel)
    node.start()
    p = node.process
    p.set_routes([Route(N("192.168.2.0/24"), ((A("10.0.0.2"), "Tunnel0"),)),
                  Route(N("192.168.0.0/16"), ((None, "Null0"),), ad=5),
                  Route(N("172.16.0.0/16"), ((A("10.0.0.2"), "Tunnel0"), (A("10.0.0.3"), "Tunnel0")), ad=170,
                        external=True)])
    node.pump()
    assert sorted(kernel.calls) == sorted([
        ("multipath", "192.168.2.0/24", ((A("10.0.0.2"), "Tunnel0"),), EIGRP_ROUTE_PROTO, 90),
        ("replace", "192.168.0.0/16", None, None, EIGRP_ROUTE_PROTO, 5, True),
        ("multipath", "172.16.0.0/16", ((A("10.0.0.2"), "Tunnel0"), (A("10.0.0.3"), "Tunnel0")),
         EIGRP_ROUTE_PROTO, 170)])
    kernel.calls.clear()
    p.set_routes([Route(N("192.168.2.0/24"), ((A("10.0.0.2"), "Tunnel0"),)),
                  Route(N("172.16.0.0/16"), ((A("10.0.0.3"), "Tunnel0"),), ad=90)])
    node.pump()
    assert kernel.calls == [("delete", "192.168.0.0/16", EIGRP_ROUTE_PROTO, 5),
                            ("delete", "172.16.0.0/16", EIGRP_ROUTE_PROTO, 170),
                            ("multipath", "172.16.0.0/16", ((A("10.0.0.3"), "Tunnel0"),), EIGRP_ROUTE_PROTO, 90)]
    state = eigrp_state(node, 112.5)
    assert state["asn"] == 100 and state["router_id"] == "1.1.1.1"
    assert state["routes"][0] == {"prefix": "192.168.2.0/24", "code": "D", "ad": 90, "metric": 27008000,
                                  "next_hops": [{"address": "10.0.0.2", "interface": "Tunnel0"}],
                                  "age_seconds": 112.5}
    kernel.calls.clear()
    node.stop()
    assert p.stopped and node.sockets == {}
    assert sorted(kernel.calls) == [("delete", "172.16.0.0/16", EIGRP_ROUTE_PROTO, 90),
                                    ("delete", "192.168.2.0/24", EIGRP_ROUTE_PROTO, 90)]


def test_apply_eigrp_starts_reconfigures_and_stops():
    made = []

    def factory(settings, now, debug=None):
        made.append(FakeProcess(settings))
        return made[-1]

    config = load_config("interface GigabitEthernet0/1\n ip address 192.168.1.1 255.255.255.0\n"
                         "router eigrp 7\n network 192.168.1.0\n passive-interface default\n")
    agent = SimpleNamespace(config=config, eigrp=None, kernel=FakeKernel(), node="r1", clock=lambda: 1.0,
                            debug_sinks=[])
    agent.eigrp = apply_eigrp(agent, factory)
    assert agent.eigrp is not None and agent.eigrp.settings.asn == 7 and len(made) == 1
    agent.config.interfaces[0].shutdown = True
    agent.eigrp = apply_eigrp(agent, factory)
    assert len(made) == 1 and made[0].settings.interfaces == ()  # shutdown: out of the process
    agent.config.router_sections.clear()
    agent.eigrp = apply_eigrp(agent, factory)
    assert agent.eigrp is None and made[0].stopped


def test_debug_lines_go_only_to_sessions_that_asked_for_eigrp_packets():
    from dmvpnlab.agent.eigrp_node import DEBUG_CATEGORY, DebugWriter

    class Sink:
        def __init__(self, categories, fail=False):
            self.categories, self.lines, self.fail = categories, [], fail

        def write(self, line):
            if self.fail:
                raise ConnectionError
            self.lines.append(line)

    eigrp, dmvpn_all, gone = Sink({DEBUG_CATEGORY}), Sink({"all"}), Sink({DEBUG_CATEGORY}, fail=True)
    agent = SimpleNamespace(debug_sinks=[eigrp, dmvpn_all, gone])
    DebugWriter(agent)("EIGRP: Sending HELLO on Tunnel0")
    assert eigrp.lines == ["EIGRP: Sending HELLO on Tunnel0"] and dmvpn_all.lines == []
    assert agent.debug_sinks == [eigrp, dmvpn_all]  # a session that went is dropped


def test_carrier_loss_sets_the_interface_down_in_the_process():
    kernel = FakeKernel()
    kernel.link = {"GigabitEthernet0-1": 1}
    kernel.link_stats = lambda name: {"up": kernel.link.get(name, 0)}
    clock = [100.0]
    node, _ = _node(_settings(("GigabitEthernet0/1", "192.168.1.1/24", False), ("Loopback0", "1.1.1.1/32", False)),
                    kernel)
    node.clock = lambda: clock[0]
    node.start()
    node.tick()
    assert getattr(node.process, "link_changes", []) == []
    kernel.link["GigabitEthernet0-1"] = 0
    clock[0] += 0.5
    node.tick()  # not checked again within a second
    clock[0] += 0.6
    node.tick()
    kernel.link["GigabitEthernet0-1"] = 1
    clock[0] += 1.0
    node.tick()
    assert node.process.link_changes == [("GigabitEthernet0/1", False), ("GigabitEthernet0/1", True)]


def test_carrier_of_every_interface_comes_from_one_kernel_query_per_check():
    """An idle 500-spoke lab spent most of its CPU on these checks: one netlink dump per
    EIGRP interface per second. A kernel with `links_up` answers for all in one."""
    kernel = FakeKernel()
    asked: list[list[str]] = []
    links = {"GigabitEthernet0-1": True, "GigabitEthernet0-2": True}
    kernel.links_up = lambda names: (asked.append(list(names)), {n: links.get(n, False) for n in names})[1]
    clock = [100.0]
    node, _ = _node(_settings(("GigabitEthernet0/1", "192.168.1.1/24", False), ("GigabitEthernet0/2", "192.168.2.1/24", True),
                              ("Loopback0", "1.1.1.1/32", False)), kernel)
    node.clock = lambda: clock[0]
    node.start()
    node.tick()
    assert asked == [["GigabitEthernet0-1", "GigabitEthernet0-2"]]   # loopbacks have no carrier
    links["GigabitEthernet0-2"] = False
    clock[0] += 1.0
    node.tick()
    assert len(asked) == 2
    assert getattr(node.process, "link_changes", []) == [("GigabitEthernet0/2", False)]
