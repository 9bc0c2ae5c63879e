"""Shortcut routes as IOS installs them: H routes, or next-hop overrides of a protocol's route.

Why: a Phase 3 shortcut for exactly a prefix OSPF or EIGRP already routes via the hub
must carry the traffic without touching the protocol's route (a second kernel route at
NHRP_OVERRIDE_METRIC), and give the protocol its next hop back when it goes; with only
a covering summary it is an H route at 250. `show ip route` prints the override as `%`
on the protocol's route, which ntc-templates must read as FLAG "%". Fake kernel, no netns
(the zebra side is checked live in tests/test_nhrp_zebra_live.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from ntc_templates.parse import parse_output
from test_cli_fakes import lab

from dmvpnlab.agent.shortcuts import ShortcutRoutes, protocol_route
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.routing.kernel import (NHRP_OVERRIDE_METRIC, NHRP_ROUTE_METRIC, NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO,
                                     Kernel, KernelRoute)

A = IPv4Address
N = IPv4Network
OSPF, EIGRP = 188, 192
LAN2 = N("192.168.2.0/24")
HUB, SPOKE2 = A("10.0.0.1"), A("10.0.0.3")


def _route(prefix: str, gateway: str | None, proto: int, metric: int, ifname: str = "Tunnel0",
           type: int = 1) -> KernelRoute:
    return KernelRoute(N(prefix), A(gateway) if gateway else None, ifname, proto, metric, 0, type)


@dataclass
class FakeKernel:
    """The kernel's main table as a list; replace/delete key on (prefix, proto?, metric) as netlink does."""

    table: list[KernelRoute] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)

    def routes(self) -> list[KernelRoute]:
        return list(self.table)

    def replace_route(self, prefix, gateway, ifname, proto, metric=0, blackhole=False) -> None:
        self.calls.append(("replace", prefix, gateway, metric))
        self.table = [r for r in self.table if not (r.prefix == prefix and r.metric == metric)]
        self.table.append(KernelRoute(prefix, gateway, ifname, proto, metric, 0, 1))

    def delete_route(self, prefix, gateway, proto, metric=0) -> bool:
        self.calls.append(("delete", prefix, gateway, metric))
        before = len(self.table)
        self.table = [r for r in self.table if not (r.prefix == prefix and r.proto == proto and r.metric == metric
                                                    and (gateway is None or r.gateway == gateway))]
        return len(self.table) < before


def _nhrp(kernel: FakeKernel) -> list[KernelRoute]:
    return [r for r in kernel.table if r.proto == NHRP_ROUTE_PROTO]


def test_a_shortcut_under_a_summary_is_an_h_route_at_250():
    kernel = FakeKernel([_route("192.168.0.0/16", "10.0.0.1", OSPF, 20)])
    routes = ShortcutRoutes(kernel)
    shortcut = routes.install(LAN2, SPOKE2, "Tunnel0", 5.0)
    assert not shortcut.override and shortcut.metric == NHRP_ROUTE_METRIC == 250
    assert [(r.prefix, r.gateway, r.metric) for r in _nhrp(kernel)] == [(LAN2, SPOKE2, 250)]
    assert routes.state(7.0) == [{"prefix": "192.168.2.0/24", "next_hop": "10.0.0.3", "kind": "route", "metric": 250,
                                  "overridden_proto": None, "overridden_next_hop": None, "interface": "Tunnel0",
                                  "age_seconds": 2.0}]


def test_a_shortcut_for_a_prefix_ospf_routes_via_the_hub_overrides_it_beside_the_ospf_route():
    kernel = FakeKernel([_route("192.168.2.0/24", "10.0.0.1", OSPF, 20)])
    routes = ShortcutRoutes(kernel)
    shortcut = routes.install(LAN2, SPOKE2, "Tunnel0", 0.0)
    assert shortcut.override and shortcut.metric == NHRP_OVERRIDE_METRIC == 1
    assert (shortcut.overridden_proto, shortcut.overridden_gateway) == (OSPF, HUB)
    assert sorted((r.proto, r.gateway, r.metric) for r in kernel.table if r.prefix == LAN2) == [
        (OSPF, HUB, 20), (NHRP_ROUTE_PROTO, SPOKE2, 1)]  # the protocol's route is untouched
    assert routes.state(0.0)[0]["kind"] == "override" and routes.state(0.0)[0]["overridden_next_hop"] == "10.0.0.1"
    routes.remove(LAN2, SPOKE2)
    assert kernel.table == [_route("192.168.2.0/24", "10.0.0.1", OSPF, 20)]  # the protocol's next hop is back


def test_eigrp_internal_external_and_summary_routes_are_overridden_too():
    for metric in (90, 170, 5):
        kernel = FakeKernel([_route("192.168.2.0/24", "10.0.0.1", EIGRP, metric)])
        assert ShortcutRoutes(kernel).install(LAN2, SPOKE2, "Tunnel0", 0.0).override


def test_static_routes_and_routes_off_the_tunnel_are_never_overridden():
    assert protocol_route([_route("192.168.2.0/24", "10.0.0.1", STATIC_ROUTE_PROTO, 0)], LAN2, "Tunnel0") is None
    assert protocol_route([_route("192.168.2.0/24", "192.168.1.1", OSPF, 20, ifname="spoke1-eth1")], LAN2,
                          "Tunnel0") is None
    both = [_route("192.168.2.0/24", "10.0.0.1", OSPF, 20), _route("192.168.2.0/24", "10.0.0.1", STATIC_ROUTE_PROTO, 1)]
    assert protocol_route(both, LAN2, "Tunnel0") is None  # the static one must keep winning
    assert protocol_route([_route("192.168.2.0/24", None, OSPF, 20, type=6)], LAN2, "Tunnel0") is None


def test_recheck_moves_a_shortcut_when_the_protocol_learns_then_withdraws_the_prefix():
    kernel = FakeKernel([_route("192.168.0.0/16", "10.0.0.1", OSPF, 20)])
    routes = ShortcutRoutes(kernel)
    routes.install(LAN2, SPOKE2, "Tunnel0", 0.0)
    kernel.table.append(_route("192.168.2.0/24", "10.0.0.1", OSPF, 20))
    kernel.calls.clear()
    moved = routes.recheck("Tunnel0", 1.0)
    assert [(m.prefix, m.override) for m in moved] == [(LAN2, True)]
    assert kernel.calls == [("replace", LAN2, SPOKE2, 1), ("delete", LAN2, SPOKE2, 250)]  # never without a route
    assert routes.recheck("Tunnel0", 1.5) == []  # at most once a second
    kernel.table = [r for r in kernel.table if r.proto != OSPF or r.prefix != LAN2]
    moved = routes.recheck("Tunnel0", 2.5)
    assert [(m.prefix, m.override) for m in moved] == [(LAN2, False)]
    assert [(r.gateway, r.metric) for r in _nhrp(kernel)] == [(SPOKE2, 250)]


def test_a_new_next_hop_for_the_same_prefix_replaces_the_old_shortcut():
    kernel = FakeKernel([_route("192.168.2.0/24", "10.0.0.1", OSPF, 20)])
    routes = ShortcutRoutes(kernel)
    routes.install(LAN2, SPOKE2, "Tunnel0", 0.0)
    routes.install(LAN2, A("10.0.0.4"), "Tunnel0", 1.0)
    assert [(r.gateway, r.metric) for r in _nhrp(kernel)] == [(A("10.0.0.4"), 1)]
    routes.remove(LAN2, SPOKE2)  # a stale removal for the old next hop changes nothing
    assert len(_nhrp(kernel)) == 1


def test_remove_all_takes_out_both_kinds():
    kernel = FakeKernel([_route("192.168.2.0/24", "10.0.0.1", OSPF, 20), _route("192.168.0.0/16", "10.0.0.1", OSPF, 20)])
    routes = ShortcutRoutes(kernel)
    routes.install(LAN2, SPOKE2, "Tunnel0", 0.0)
    routes.install(N("192.168.3.0/24"), A("10.0.0.4"), "Tunnel0", 0.0)
    routes.remove_all()
    assert _nhrp(kernel) == [] and routes.installed == {}


def test_kernel_covering_leaves_nhrp_routes_out_and_prefers_the_longest_container():
    kernel = Kernel.__new__(Kernel)  # no netlink: a snapshot that never goes stale
    kernel._snapshot_at = float("inf")
    kernel._snapshot = [_route("0.0.0.0/0", "100.64.1.2", STATIC_ROUTE_PROTO, 0, ifname="spoke1-eth0"),
                        _route("192.168.0.0/16", "10.0.0.1", OSPF, 20),
                        _route("192.168.2.0/24", "10.0.0.3", NHRP_ROUTE_PROTO, 250)]
    found = kernel.covering(LAN2, "Tunnel0", exclude_proto=NHRP_ROUTE_PROTO)
    assert (found.prefix, found.next_hop, found.via_tunnel) == (N("192.168.0.0/16"), HUB, True)
    kernel._snapshot = kernel._snapshot[:1] + kernel._snapshot[2:]
    found = kernel.covering(LAN2, "Tunnel0", exclude_proto=NHRP_ROUTE_PROTO)
    assert found.prefix == N("0.0.0.0/0") and not found.via_tunnel


# show ip route with an override


def _spoke_with_override():
    agent = lab(1)["spoke1"]
    agent.kernel.route_list += [_route("192.168.7.0/24", "10.0.0.1", OSPF, 20),
                                _route("192.168.7.0/24", "10.0.0.3", NHRP_ROUTE_PROTO, NHRP_OVERRIDE_METRIC)]
    return agent


def test_show_ip_route_prints_the_protocol_route_with_percent_not_the_override_as_h():
    agent = _spoke_with_override()
    text = ExecSession(agent).handle("show ip route").output
    assert "O%    192.168.7.0/24 [110/20] via 10.0.0.1, Tunnel0\n" in text
    assert "H " not in text.split("Gateway")[1]
    rows = parse_output(platform="cisco_ios", command="show ip route", data=text)
    row = next(r for r in rows if r["network"] == "192.168.7.0")
    assert (row["protocol"], row["flag"], row["nexthop_ip"], row["distance"]) == ("O", "%", "10.0.0.1", "110")


def test_show_ip_route_json_names_the_override_next_hop():
    import json
    agent = _spoke_with_override()
    data = json.loads(ExecSession(agent).handle("show ip route | json").output)
    row = next(r for r in data["routes"] if r["prefix"] == "192.168.7.0/24")
    assert row["code"] == "O" and row["next_hop"] == "10.0.0.1"
    assert row["override"] == {"next_hop": "10.0.0.3", "interface": "Tunnel0"}


def test_an_override_whose_protocol_route_is_gone_shows_as_the_h_route_it_is():
    agent = lab(1)["spoke1"]
    agent.kernel.route_list.append(_route("192.168.7.0/24", "10.0.0.3", NHRP_ROUTE_PROTO, NHRP_OVERRIDE_METRIC))
    text = ExecSession(agent).handle("show ip route").output
    assert "H     192.168.7.0/24 [250/1] via 10.0.0.3, 00:00:00, Tunnel0" in text


def test_show_dmvpn_marks_an_override_shortcut_t2_and_an_h_route_t1():
    agent = lab(3)["spoke1"]
    rows = lambda: [l for l in ExecSession(agent).handle("show dmvpn").output.splitlines() if "10.0.0.3" in l]
    assert rows()[-1].rstrip().endswith("DT1")
    agent.tunnel.engine.mark_override(LAN2, True)
    assert rows()[-1].rstrip().endswith("DT2")
