"""NHRP shortcut routes in the kernel: an H route, or a next-hop override of a protocol's route.

Why two kinds: IOS installs a Phase 3 shortcut as an NHRP route (`H`, distance 250) when
the routing table has only a covering route (a summary or default via the hub), and as
a next-hop override (`%`) when a routing protocol already has exactly that prefix via
the hub (OSPF point-to-multipoint, EIGRP without a summary): the protocol's route stays
the protocol's, traffic takes the shortcut, and when the shortcut goes the protocol's
own next hop is back. In the kernel both are routes of NHRP_ROUTE_PROTO:

- H route: metric NHRP_ROUTE_METRIC (250), so a same-prefix static route keeps winning;
- override: metric NHRP_OVERRIDE_METRIC (1), below every routing protocol's route (FRR's
  zebra installs its routes at metric 20, our EIGRP at its distance, 90 / 170 / 5), and
  next to it, not over it: deleting the override uncovers the protocol's route again.

Checked against zebra 8.4 in a namespace (see the report in nhrp-routing's history):
zebra ignores routes of protocol 191 that appear after it started (they are in its own
protocol list, so it neither takes them as kernel routes nor uninstalls or re-installs
its own route because of them), while `ip route replace` over zebra's route would
delete that route from the kernel behind zebra's back. So the override is a second
route at a lower metric, never a replace.

The kind is decided when the shortcut is installed and re-checked every
RECHECK_SECONDS (a protocol may learn or withdraw the prefix later); a change moves the
route between the two metrics (the new one first, so traffic never lacks a route).
Imports routing.kernel only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Iterable

from dmvpnlab.routing.kernel import (BOOT_PROTO, KERNEL_PROTO, NHRP_OVERRIDE_METRIC, NHRP_ROUTE_METRIC,
                                     NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO, KernelRoute)

RECHECK_SECONDS = 1.0
RTN_UNICAST = 1
#: Kernel route protocols that are not a routing protocol's (NHRP's own, connected, static).
NOT_PROTOCOL = frozenset({KERNEL_PROTO, BOOT_PROTO, STATIC_ROUTE_PROTO, NHRP_ROUTE_PROTO})

log = logging.getLogger("dmvpnlab.agent")


@dataclass
class InstalledShortcut:
    """One shortcut route in the kernel, and what it overrides (if anything)."""

    prefix: IPv4Network
    next_hop: IPv4Address
    override: bool
    since: float
    overridden_proto: int | None = None  # the protocol route whose next hop it overrides
    overridden_gateway: IPv4Address | None = None
    tunnel: str = ""  # the tunnel interface it goes out of (a router may have several)

    @property
    def metric(self) -> int:
        return NHRP_OVERRIDE_METRIC if self.override else NHRP_ROUTE_METRIC

    def as_dict(self, now: float) -> dict[str, Any]:
        return {"prefix": str(self.prefix), "next_hop": str(self.next_hop),
                "kind": "override" if self.override else "route", "metric": self.metric,
                "overridden_proto": self.overridden_proto,
                "overridden_next_hop": str(self.overridden_gateway) if self.overridden_gateway else None,
                "interface": self.tunnel,
                "age_seconds": round(now - self.since, 3)}


def protocol_route(routes: Iterable[KernelRoute], prefix: IPv4Network, tunnel: str) -> KernelRoute | None:
    """A routing protocol's route for exactly `prefix` via `tunnel`, when the shortcut may
    override it: none when a static (or other non-protocol) route for the prefix sits at
    or below the override metric, since that one must keep winning."""
    found: KernelRoute | None = None
    for route in routes:
        if route.prefix != prefix or route.type != RTN_UNICAST:
            continue
        if route.proto in NOT_PROTOCOL:
            if route.proto != NHRP_ROUTE_PROTO and route.metric <= NHRP_OVERRIDE_METRIC:
                return None
            continue
        if route.ifname == tunnel and route.metric > NHRP_OVERRIDE_METRIC and (found is None or route.metric < found.metric):
            found = route
    return found


class ShortcutRoutes:
    """The shortcut routes this agent put in the kernel (see the module docstring)."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.installed: dict[IPv4Network, InstalledShortcut] = {}
        self._checked = float("-inf")

    def install(self, prefix: IPv4Network, next_hop: IPv4Address, tunnel: str, now: float) -> InstalledShortcut:
        """Put the shortcut in the kernel as an override or an H route; raises when netlink refuses."""
        old = self.installed.get(prefix)
        found = protocol_route(self.kernel.routes(), prefix, tunnel)
        shortcut = InstalledShortcut(prefix, next_hop, found is not None, now,
                                     found.proto if found else None, found.gateway if found else None, tunnel)
        self.kernel.replace_route(prefix, next_hop, tunnel, NHRP_ROUTE_PROTO, metric=shortcut.metric)
        if old is not None and (old.metric != shortcut.metric or old.next_hop != next_hop):
            self.kernel.delete_route(prefix, old.next_hop, NHRP_ROUTE_PROTO, old.metric)
        self.installed[prefix] = shortcut
        return shortcut

    def remove(self, prefix: IPv4Network, next_hop: IPv4Address) -> None:
        shortcut = self.installed.get(prefix)
        if shortcut is not None and shortcut.next_hop == next_hop:
            del self.installed[prefix]
            self.kernel.delete_route(prefix, next_hop, NHRP_ROUTE_PROTO, shortcut.metric)
        elif shortcut is None:  # not ours to know: remove whichever kind is there
            for metric in (NHRP_ROUTE_METRIC, NHRP_OVERRIDE_METRIC):
                self.kernel.delete_route(prefix, next_hop, NHRP_ROUTE_PROTO, metric)

    def recheck(self, tunnel: str | None, now: float) -> list[InstalledShortcut]:
        """Move shortcuts whose kind changed (a protocol learned or withdrew the prefix);
        at most once per RECHECK_SECONDS. Returns the ones moved. Each shortcut is checked
        against routes via its own tunnel (`tunnel` is for shortcuts installed without one;
        None: every tunnel's)."""
        if now - self._checked < RECHECK_SECONDS or not self.installed:
            return []
        self._checked = now
        routes = self.kernel.routes()
        moved: list[InstalledShortcut] = []
        for prefix, shortcut in list(self.installed.items()):
            via = shortcut.tunnel or tunnel
            if via is None or (tunnel is not None and via != tunnel):
                continue
            found = protocol_route(routes, prefix, via)
            if (found is not None) == shortcut.override:
                if found is not None:
                    shortcut.overridden_proto, shortcut.overridden_gateway = found.proto, found.gateway
                continue
            try:
                moved.append(self.install(prefix, shortcut.next_hop, via, now))
            except Exception as error:  # netlink refused: keep what is there
                log.warning("shortcut %s via %s not moved: %s", prefix, shortcut.next_hop, error)
        return moved

    def remove_all(self) -> None:
        for shortcut in list(self.installed.values()):
            self.kernel.delete_route(shortcut.prefix, shortcut.next_hop, NHRP_ROUTE_PROTO, shortcut.metric)
        self.installed.clear()

    def state(self, now: float) -> list[dict[str, Any]]:
        return [s.as_dict(now) for s in sorted(self.installed.values(), key=lambda s: int(s.prefix.network_address))]
