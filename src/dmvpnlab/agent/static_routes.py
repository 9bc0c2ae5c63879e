"""`ip route` (full syntax), `ip routing` / `no ip routing` and `ip default-gateway` -> kernel.

IOS picks, among the routes to one prefix, the one with the lowest administrative
distance; routes of equal distance share the load. The kernel picks the lowest metric
among routes that differ only in it, so the AD becomes the kernel metric (AD 1, the
default, is metric 0 as before) and equal-AD routes go in as one multipath route. A
floating static (higher AD) is then in the kernel beside the better one and carries the
traffic only once the better one is gone: deleted from the config, or its interface shut
(the kernel removes routes of a link that goes admin down) or without carrier
(`ignore_routes_with_linkdown`, set by interfaces_node).

A route that cannot go in now (its next hop is not on a connected subnet yet, its
interface is down or missing) is listed as not applied and tried again by `tick`, so it
appears once the address or link is there, as on IOS. `name`, `tag` and `permanent`
are kept in the model only. With `no ip routing` the router is a host: forwarding off,
static routes unused, and `ip default-gateway` is its default route; with routing on,
IOS ignores `ip default-gateway`, and so do we (listed as not applied, with the reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dmvpnlab.config.model import RouterConfig
from dmvpnlab.ifnames import InterfaceNameError, linux_ifname
from dmvpnlab.agent.netns_guard import set_router_sysctl
from dmvpnlab.routing.kernel import STATIC_ROUTE_PROTO

log = logging.getLogger("dmvpnlab.agent")

RETRY_SECONDS = 2.0
DEFAULT_ROUTE = IPv4Network("0.0.0.0/0")
Hop = tuple[IPv4Address | None, str | None]  # (gateway, Linux ifname)
BLACKHOLE: Hop = (None, "Null0")


def kernel_metric(distance: int | None) -> int:
    """The kernel metric that carries IOS administrative distance `distance`."""
    return 0 if distance in (None, 1) else int(distance)


def distance_of_metric(metric: int) -> int:
    """The AD `show ip route` prints for a static route of kernel metric `metric`."""
    return metric or 1


@dataclass
class StaticRoutesNode:
    """The static routes the agent installed, and the ones still waiting to go in."""

    node: str
    kernel: Any  # routing.kernel.Kernel or a test double
    not_applied: list[str] = field(default_factory=list)
    pending: bool = False
    _config: RouterConfig | None = None
    _last_try: float = 0.0
    _logged: set[str] = field(default_factory=set)

    def wanted(self, config: RouterConfig) -> dict[tuple[IPv4Network, int], list[Hop]]:
        """(prefix, metric) -> next hops, from the config; fills `not_applied` for the rest."""
        groups: dict[tuple[IPv4Network, int], list[Hop]] = {}
        if not config.ip_routing:
            if config.static_routes:
                self.not_applied.append("ip route ...: not applied (no ip routing: the router is a host)")
            if config.default_gateway is not None:
                groups[(DEFAULT_ROUTE, 0)] = [(config.default_gateway, None)]
            return groups
        if config.default_gateway is not None:
            self.not_applied.append(f"ip default-gateway {config.default_gateway}: not applied "
                                    "(IOS uses it only with 'no ip routing')")
        for route in config.static_routes:
            key = (route.prefix, kernel_metric(route.distance))
            if route.interface == "Null0":
                hop: Hop = BLACKHOLE
            else:
                try:
                    ifname = linux_ifname(self.node, route.interface) if route.interface else None
                except InterfaceNameError as error:
                    self.not_applied.append(f"ip route {route.prefix} {route.interface}: not applied ({error})")
                    continue
                hop = (route.next_hop, ifname)
            hops = groups.setdefault(key, [])
            if hop not in hops:
                hops.append(hop)
        return groups

    def apply(self, config: RouterConfig, now: float = 0.0) -> None:
        self._config = config
        self._last_try = now
        self.not_applied = []
        set_router_sysctl("net/ipv4/ip_forward", "1" if config.ip_routing else "0")
        groups = self.wanted(config)
        for line in self.not_applied:
            if line not in self._logged:  # once per line, not per configure-terminal line
                self._logged.add(line)
                log.warning("%s", line)
        self.pending = False
        for (prefix, metric), hops in groups.items():
            try:
                self._install(prefix, metric, hops)
            except Exception as error:  # unreachable next hop, interface down or missing...
                self.pending = True
                via = " ".join(str(g or i) for g, i in hops)
                self.not_applied.append(f"ip route {prefix} {via}: not installed yet ({error})")
                log.warning("ip route %s via %s: not installed: %s", prefix, via, error)
        self._remove_others(set(groups))

    def tick(self, now: float) -> None:
        """Try the routes that could not go in again, every RETRY_SECONDS."""
        if self.pending and self._config is not None and now - self._last_try >= RETRY_SECONDS:
            self.apply(self._config, now)

    def _install(self, prefix: IPv4Network, metric: int, hops: list[Hop]) -> None:
        if BLACKHOLE in hops:  # Null0 wins over the others of its distance: discard
            self.kernel.replace_route(prefix, None, None, STATIC_ROUTE_PROTO, metric=metric, blackhole=True)
        elif len(hops) == 1:
            self.kernel.replace_route(prefix, hops[0][0], hops[0][1], STATIC_ROUTE_PROTO, metric=metric)
        else:
            self.kernel.replace_multipath_route(prefix, hops, STATIC_ROUTE_PROTO, metric=metric)

    def _remove_others(self, keep: set[tuple[IPv4Network, int]]) -> None:
        for route in list(self.kernel.routes()):
            if route.proto == STATIC_ROUTE_PROTO and (route.prefix, route.metric) not in keep:
                self.kernel.delete_route(route.prefix, route.gateway, STATIC_ROUTE_PROTO, metric=route.metric)

    def remove_all(self) -> None:
        self._remove_others(set())
