"""A kernel double for the agent's interface, route and NAT parts (no namespace needed).

It keeps links (index, up, MTU), addresses per link and a main table of routes with the
fields the agent reads (routing.kernel.KernelRoute), and records every call, so a test can
say exactly what the agent did to the kernel and what it left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.routing.kernel import KernelRoute


@dataclass
class FakeKernel:
    links: dict[str, dict] = field(default_factory=dict)
    addrs: dict[str, list[IPv4Interface]] = field(default_factory=dict)
    table: list[KernelRoute] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)
    refuse_gateways: set[IPv4Address] = field(default_factory=set)

    def add_link(self, name: str, mtu: int = 1500, up: bool = True) -> None:
        self.links[name] = {"index": len(self.links) + 1, "up": up, "mtu": mtu}
        self.addrs.setdefault(name, [])

    def ifindex(self, ifname: str) -> int | None:
        link = self.links.get(ifname)
        return link["index"] if link else None

    def addresses(self, ifname: str) -> list[IPv4Interface]:
        return list(self.addrs.get(ifname, []))

    def ensure_address(self, ifname: str, address: IPv4Interface) -> None:
        if ifname not in self.links:
            raise LookupError(ifname)
        self.calls.append(("add", ifname, address))
        if address not in self.addrs[ifname]:
            self.addrs[ifname].append(address)

    def remove_address(self, ifname: str, address: IPv4Interface) -> bool:
        self.calls.append(("del", ifname, address))
        if address in self.addrs.get(ifname, []):
            self.addrs[ifname].remove(address)
            return True
        return False

    def set_link(self, ifname: str, up: bool) -> None:
        self.calls.append(("link", ifname, up))
        self.links[ifname]["up"] = up

    def link_mtu(self, ifname: str) -> int | None:
        return self.links[ifname]["mtu"] if ifname in self.links else None

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self.calls.append(("mtu", ifname, mtu))
        self.links[ifname]["mtu"] = mtu

    def routes(self) -> list[KernelRoute]:
        return list(self.table)

    def replace_route(self, prefix: IPv4Network, gateway: IPv4Address | None, ifname: str | None, proto: int,
                      metric: int = 0, blackhole: bool = False) -> None:
        if gateway in self.refuse_gateways:
            raise OSError("Nexthop has invalid gateway")
        self.table = [r for r in self.table if not (r.prefix == prefix and r.metric == metric)]
        self.table.append(KernelRoute(prefix, gateway, ifname, proto, metric, 0, 6 if blackhole else 1))
        self.calls.append(("route", prefix, gateway, ifname, metric, blackhole))

    def replace_multipath_route(self, prefix: IPv4Network, hops: list, proto: int, metric: int = 0) -> None:
        self.table = [r for r in self.table if not (r.prefix == prefix and r.metric == metric)]
        self.table.append(KernelRoute(prefix, None, None, proto, metric, 0, 1))
        self.calls.append(("multipath", prefix, tuple(hops), metric))

    def delete_route(self, prefix: IPv4Network, gateway: IPv4Address | None, proto: int, metric: int = 0) -> bool:
        self.calls.append(("delroute", prefix, metric))
        before = len(self.table)
        self.table = [r for r in self.table if not (r.prefix == prefix and r.metric == metric and r.proto == proto)]
        return len(self.table) != before
