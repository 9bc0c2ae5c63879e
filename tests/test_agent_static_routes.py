"""The agent's static routes: IOS's full `ip route` syntax, distances, `ip default-gateway`.

IOS semantics the tests pin: the administrative distance decides between routes to one
prefix (the kernel metric carries it, so a floating static sits below the better route
and carries traffic only once that is gone), equal distances share the load (one
multipath route), `Null0` discards, routes that cannot go in yet are retried, removed
lines leave the kernel, and `ip default-gateway` counts only with `no ip routing`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from agentif_fakes import FakeKernel

from dmvpnlab.agent.static_routes import StaticRoutesNode, distance_of_metric, kernel_metric
from dmvpnlab.config.model import RouterConfig, StaticRoute
from dmvpnlab.ifnames import install_interface_map
from dmvpnlab.routing.kernel import STATIC_ROUTE_PROTO, KernelRoute

N, IP = IPv4Network, IPv4Address


@pytest.fixture(autouse=True)
def interface_map():
    install_interface_map({"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1"})
    yield
    install_interface_map(None)


@pytest.fixture(autouse=True)
def no_sysctl(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    written: list[tuple[str, str]] = []
    monkeypatch.setattr("dmvpnlab.agent.static_routes.set_router_sysctl", lambda k, v: written.append((k, v)) or True)
    return written


def node() -> tuple[StaticRoutesNode, FakeKernel]:
    k = FakeKernel()
    k.add_link("Gi0-0")
    k.add_link("Gi0-1")
    return StaticRoutesNode("R1", k), k


def statics(k: FakeKernel) -> set[tuple[str, str | None, int, int]]:
    return {(str(r.prefix), str(r.gateway) if r.gateway else r.ifname, r.metric, r.type)
            for r in k.table if r.proto == STATIC_ROUTE_PROTO}


def test_distance_is_the_kernel_metric_and_default_distance_is_metric_0() -> None:
    assert kernel_metric(None) == kernel_metric(1) == 0 and kernel_metric(200) == 200
    assert distance_of_metric(0) == 1 and distance_of_metric(200) == 200


def test_every_form_of_ip_route_goes_in() -> None:
    n, k = node()
    n.apply(RouterConfig(static_routes=[
        StaticRoute(N("10.1.0.0/16"), next_hop=IP("198.51.100.1")),
        StaticRoute(N("10.2.0.0/16"), interface="GigabitEthernet0/1"),
        StaticRoute(N("10.3.0.0/16"), next_hop=IP("192.0.2.1"), interface="GigabitEthernet0/0", name="LAB"),
        StaticRoute(N("10.4.0.0/16"), interface="Null0", tag=7),
        StaticRoute(N("0.0.0.0/0"), next_hop=IP("198.51.100.1"), distance=250, permanent=True),
    ]))
    assert statics(k) == {("10.1.0.0/16", "198.51.100.1", 0, 1), ("10.2.0.0/16", "Gi0-1", 0, 1),
                          ("10.3.0.0/16", "192.0.2.1", 0, 1), ("10.4.0.0/16", None, 0, 6),
                          ("0.0.0.0/0", "198.51.100.1", 250, 1)}
    assert ("route", N("10.3.0.0/16"), IP("192.0.2.1"), "Gi0-0", 0, False) in k.calls
    assert n.not_applied == []


def test_a_floating_static_sits_beside_the_better_route_and_equal_distances_share() -> None:
    n, k = node()
    n.apply(RouterConfig(static_routes=[
        StaticRoute(N("0.0.0.0/0"), next_hop=IP("198.51.100.1")),
        StaticRoute(N("0.0.0.0/0"), next_hop=IP("192.0.2.1"), distance=200),
        StaticRoute(N("10.9.0.0/16"), next_hop=IP("198.51.100.1")),
        StaticRoute(N("10.9.0.0/16"), next_hop=IP("192.0.2.1")),
    ]))
    assert {(p, m) for p, _, m, _ in statics(k)} == {("0.0.0.0/0", 0), ("0.0.0.0/0", 200), ("10.9.0.0/16", 0)}
    assert ("multipath", N("10.9.0.0/16"), ((IP("198.51.100.1"), None), (IP("192.0.2.1"), None)), 0) in k.calls
    # the primary default is removed from the config: the floating one is what is left
    n.apply(RouterConfig(static_routes=[StaticRoute(N("0.0.0.0/0"), next_hop=IP("192.0.2.1"), distance=200)]))
    assert statics(k) == {("0.0.0.0/0", "192.0.2.1", 200, 1)}


def test_a_route_that_cannot_go_in_is_listed_and_retried() -> None:
    n, k = node()
    k.refuse_gateways.add(IP("203.0.113.1"))
    n.apply(RouterConfig(static_routes=[StaticRoute(N("10.5.0.0/16"), next_hop=IP("203.0.113.1"))]), now=0.0)
    assert n.pending and n.not_applied == [
        "ip route 10.5.0.0/16 203.0.113.1: not installed yet (Nexthop has invalid gateway)"]
    k.refuse_gateways.clear()  # the interface came up / got its address
    n.tick(1.0)
    assert not statics(k)
    n.tick(2.5)
    assert statics(k) == {("10.5.0.0/16", "203.0.113.1", 0, 1)} and not n.pending and n.not_applied == []


def test_routes_that_were_not_configured_leave_and_others_are_left_alone() -> None:
    n, k = node()
    k.table.append(KernelRoute(N("10.7.0.0/16"), IP("198.51.100.7"), "Gi0-0", STATIC_ROUTE_PROTO, 0, 0, 1))
    k.table.append(KernelRoute(N("10.8.0.0/16"), IP("198.51.100.8"), "Gi0-0", 186, 20, 0, 1))  # BGP's
    n.apply(RouterConfig())
    assert not statics(k) and len(k.table) == 1


def test_default_gateway_only_with_no_ip_routing(no_sysctl: list[tuple[str, str]]) -> None:
    n, k = node()
    routed = RouterConfig(default_gateway=IP("198.51.100.1"),
                          static_routes=[StaticRoute(N("10.1.0.0/16"), next_hop=IP("198.51.100.1"))])
    n.apply(routed)
    assert statics(k) == {("10.1.0.0/16", "198.51.100.1", 0, 1)}
    assert n.not_applied == ["ip default-gateway 198.51.100.1: not applied (IOS uses it only with 'no ip routing')"]
    assert no_sysctl[-1] == ("net/ipv4/ip_forward", "1")
    routed.ip_routing = False
    n.apply(routed)
    assert statics(k) == {("0.0.0.0/0", "198.51.100.1", 0, 1)}
    assert no_sysctl[-1] == ("net/ipv4/ip_forward", "0")
    assert n.not_applied == ["ip route ...: not applied (no ip routing: the router is a host)"]
