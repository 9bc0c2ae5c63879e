"""The router's kernel: addresses, static routes, NHRP shortcut routes, route lookups.

The agent runs inside the router's network namespace, so netlink (pyroute2) talks to
that namespace's kernel. Static routes carry protocol `static`; NHRP shortcut routes
carry their own protocol number (NHRP_ROUTE_PROTO; EIGRP's EIGRP_ROUTE_PROTO) so `show ip
route` can print them as `H` and the agent can remove exactly its own routes. Lookups answer the question
NHRP asks (who owns this address, and is the way there through the tunnel?) from a
short-lived snapshot of the main table: resolutions are rare next to data packets.
Imports pyroute2 and `nhrp.routes` (the shape of the answer), not the NHRP engine.
"""

from __future__ import annotations

import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dmvpnlab.nhrp.routes import Route

# 191 is "nhrp" in iproute2's protocol names (FRR installs that name), so `ip route`
# prints shortcuts as `proto nhrp`; 192 is "eigrp", the agent's own EIGRP. FRR's nhrpd
# and eigrpd, their other users, do not run here. Both are FRR protocol numbers, which
# zebra 8.4 treats as its own (tests/test_agent_frr_live.py): one that appears while
# zebra runs is ignored (neither taken as a kernel route nor a reason to touch zebra's
# same-prefix route), but one present when zebra starts may be adopted and installed
# again as a metric-20 copy that zebra keeps, and re-installs, after the agent deleted
# its own. zebra runs with `-K` so it sweeps such copies shortly after its start
# (routing/frr.py), and it starts beside the agent's routes as rarely as possible: the
# agent removes leftovers of an earlier agent before it starts FRR, and a reload
# restarts the protocol daemons only, never zebra (agent/frr_node.py).
NHRP_ROUTE_PROTO = 191
EIGRP_ROUTE_PROTO = 192
AGENT_ROUTE_PROTOS = frozenset({NHRP_ROUTE_PROTO, EIGRP_ROUTE_PROTO})
# Shortcuts go in with metric 250 (IOS's NHRP administrative distance): a static route
# for the same prefix (metric 0) keeps winning, as on IOS, and the two coexist in the
# kernel instead of the shortcut replacing the static route.
NHRP_ROUTE_METRIC = 250
# A shortcut for exactly a prefix a routing protocol routes via the hub is IOS's next-hop
# override: it goes in beside the protocol's route (zebra's metric 20, EIGRP's 90/170/5)
# at a lower metric, so it carries the traffic and its removal uncovers the protocol's
# route (agent/shortcuts.py says why not a replace).
NHRP_OVERRIDE_METRIC = 1
STATIC_ROUTE_PROTO = 4  # RTPROT_STATIC
KERNEL_PROTO = 2
BOOT_PROTO = 3
RT_TABLE_MAIN = 254
SNAPSHOT_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KernelRoute:
    prefix: IPv4Network
    gateway: IPv4Address | None
    ifname: str | None
    proto: int
    metric: int
    scope: int
    type: int


class _NetlinkThread:
    """pyroute2's sync API drives an asyncio loop of its own, which cannot run inside the
    agent's loop; so every netlink call runs on one worker thread and the caller waits
    for it (a round trip of well under a millisecond)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        self._ipr: IPRoute = self._pool.submit(IPRoute).result()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._ipr, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._pool.submit(lambda: _materialise(method(*args, **kwargs))).result()

        return call

    def close(self) -> None:
        self._pool.submit(self._ipr.close).result()
        self._pool.shutdown()


def _materialise(result: Any) -> Any:
    """Generators from pyroute2 must be consumed on the netlink thread."""
    if hasattr(result, "__next__"):
        return list(result)
    return result


class Kernel:
    """Netlink access for one namespace (the agent's own)."""

    def __init__(self) -> None:
        self.ipr = _NetlinkThread()
        self._snapshot: list[KernelRoute] = []
        self._snapshot_at = 0.0
        # Our own addresses -> the network of the interface that holds them: NHRP answers
        # for a target we own with that connected network (a LAN on a Loopback is 10.0.2.0/24).
        self._local: dict[IPv4Address, IPv4Network] = {}
        self._ifnames: dict[int, str] = {}

    def close(self) -> None:
        self.ipr.close()

    # --- interfaces ------------------------------------------------------------------

    def ifindex(self, ifname: str) -> int | None:
        # if_nametoindex asks the kernel of this process's own namespace (the agent's) by
        # ioctl. Not pyroute2's link_lookup: in pyroute2 0.9 every single-link request
        # (link_lookup, get_links(index), link("get")) leaves one message behind in its
        # queue, a leak of about 1 KiB per call that the soak measured as agents growing
        # 20-50 % in 30 minutes. Dumps (get_links(), get_routes(), get_addr()) do not leak.
        try:
            return socket.if_nametoindex(ifname)
        except OSError:
            return None

    def _link(self, index: int) -> Any:
        """One link's message, from a dump (see `ifindex` for why not get_links(index))."""
        return next((link for link in self.ipr.get_links() if link["index"] == index), None)

    def addresses(self, ifname: str) -> list[IPv4Interface]:
        index = self.ifindex(ifname)
        if index is None:
            return []
        return [
            IPv4Interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
            for a in self.ipr.get_addr(family=2, index=index)
        ]

    def ensure_address(self, ifname: str, address: IPv4Interface) -> None:
        index = self.ifindex(ifname)
        if index is None:
            raise LookupError(f"interface {ifname} does not exist")
        if address not in self.addresses(ifname):
            self.ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)

    def remove_address(self, ifname: str, address: IPv4Interface) -> bool:
        """Delete `address` from `ifname`; False if it was not there (or the link is gone)."""
        index = self.ifindex(ifname)
        if index is None or address not in self.addresses(ifname):
            return False
        self.ipr.addr("del", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
        self._snapshot_at = 0.0
        return True

    def link_mtu(self, ifname: str) -> int | None:
        index = self.ifindex(ifname)
        if index is None:
            return None
        link = self._link(index)
        return int(link.get_attr("IFLA_MTU")) if link is not None else None

    def set_mtu(self, ifname: str, mtu: int) -> None:
        index = self.ifindex(ifname)
        if index is not None:
            self.ipr.link("set", index=index, mtu=mtu)

    def set_link(self, ifname: str, up: bool) -> None:
        index = self.ifindex(ifname)
        if index is not None:
            self.ipr.link("set", index=index, state="up" if up else "down")

    def link_stats(self, ifname: str) -> dict[str, int]:
        index = self.ifindex(ifname)
        if index is None:
            return {}
        link = self._link(index)
        if link is None:
            return {}
        stats = link.get_attr("IFLA_STATS64") or {}
        state = link.get_attr("IFLA_OPERSTATE")
        return {"up": int(state in ("UP", "UNKNOWN")), **{k: int(v) for k, v in dict(stats).items()}}

    def links_up(self, ifnames: list[str]) -> dict[str, bool]:
        """Line protocol of several links from one dump (`link_stats`'s "up" rule: operstate
        UP or UNKNOWN; a missing link is down). EIGRP asks every second for each of its
        interfaces: one dump per interface was most of an idle 500-spoke lab's CPU."""
        indexes = {name: self.ifindex(name) for name in ifnames}
        states = {link["index"]: link.get_attr("IFLA_OPERSTATE") for link in self.ipr.get_links()}
        return {name: index is not None and states.get(index) in ("UP", "UNKNOWN") for name, index in indexes.items()}

    # --- routes ----------------------------------------------------------------------

    def replace_route(self, prefix: IPv4Network, gateway: IPv4Address | None, ifname: str | None,
                      proto: int, metric: int = 0, blackhole: bool = False) -> None:
        """Install (or replace) a route; `blackhole` is IOS's `Null0` (discard)."""
        kwargs: dict[str, object] = {"dst": str(prefix), "proto": proto, "table": RT_TABLE_MAIN}
        if blackhole:
            kwargs["type"] = "blackhole"
        if metric:
            kwargs["priority"] = metric
        if gateway is not None:
            kwargs["gateway"] = str(gateway)
        if ifname is not None:
            index = self.ifindex(ifname)
            if index is None:
                raise LookupError(f"interface {ifname} does not exist")
            kwargs["oif"] = index
        self.ipr.route("replace", **kwargs)
        self._snapshot_at = 0.0

    def replace_multipath_route(self, prefix: IPv4Network, hops: list[tuple[IPv4Address | None, str | None]],
                                proto: int, metric: int = 0) -> None:
        """Install (or replace) a route over one or several (gateway, ifname) next hops (ECMP);
        a hop without ifname is a gateway the kernel finds the interface of."""
        if len(hops) == 1:
            self.replace_route(prefix, hops[0][0], hops[0][1], proto, metric)
            return
        paths = []
        for gateway, ifname in hops:
            path: dict[str, object] = {"gateway": str(gateway)} if gateway is not None else {}
            if ifname is not None:
                index = self.ifindex(ifname)
                if index is None:
                    raise LookupError(f"interface {ifname} does not exist")
                path["oif"] = index
            paths.append(path)
        kwargs: dict[str, object] = {"dst": str(prefix), "proto": proto, "table": RT_TABLE_MAIN, "multipath": paths}
        if metric:
            kwargs["priority"] = metric
        self.ipr.route("replace", **kwargs)
        self._snapshot_at = 0.0

    def delete_route(self, prefix: IPv4Network, gateway: IPv4Address | None, proto: int, metric: int = 0) -> bool:
        kwargs: dict[str, object] = {"dst": str(prefix), "proto": proto, "table": RT_TABLE_MAIN}
        if metric:
            kwargs["priority"] = metric
        if gateway is not None:
            kwargs["gateway"] = str(gateway)
        try:
            self.ipr.route("del", **kwargs)
        except NetlinkError:
            return False
        finally:
            self._snapshot_at = 0.0
        return True

    def routes(self) -> list[KernelRoute]:
        """The main table, fresh if older than SNAPSHOT_SECONDS."""
        now = time.monotonic()
        if now - self._snapshot_at > SNAPSHOT_SECONDS:
            self._refresh()
            self._snapshot_at = now
        return self._snapshot

    def _refresh(self) -> None:
        self._ifnames = {link["index"]: link.get_attr("IFLA_IFNAME") for link in self.ipr.get_links()}
        routes: list[KernelRoute] = []
        for msg in self.ipr.get_routes(family=2, table=RT_TABLE_MAIN):
            dst = msg.get_attr("RTA_DST") or "0.0.0.0"
            gateway = msg.get_attr("RTA_GATEWAY")
            oif = msg.get_attr("RTA_OIF")
            routes.append(KernelRoute(
                prefix=IPv4Network(f"{dst}/{msg['dst_len']}", strict=False),
                gateway=IPv4Address(gateway) if gateway else None,
                ifname=self._ifnames.get(oif) if oif is not None else None,
                proto=msg["proto"], metric=msg.get_attr("RTA_PRIORITY") or 0,
                scope=msg["scope"], type=msg["type"]))
        self._snapshot = routes
        self._local = {IPv4Address(a.get_attr("IFA_ADDRESS")):
                       IPv4Network(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}", strict=False)
                       for a in self.ipr.get_addr(family=2)}

    def lookup(self, address: IPv4Address, tunnel_ifname: str) -> Route | None:
        """Longest match in the main table, in the shape the NHRP engine asks for."""
        routes = self.routes()
        network = self._local.get(address)
        if network is not None:
            return Route(network, None, False, local=True)
        best: KernelRoute | None = None
        for route in routes:
            if address in route.prefix and (
                best is None or route.prefix.prefixlen > best.prefix.prefixlen
                or (route.prefix.prefixlen == best.prefix.prefixlen and route.metric < best.metric)
            ):
                best = route
        if best is None:
            return None
        return Route(best.prefix, best.gateway, best.ifname == tunnel_ifname)

    def covering(self, prefix: IPv4Network, tunnel_ifname: str, exclude_proto: int) -> Route | None:
        """The best unicast route containing `prefix`, routes of `exclude_proto` (NHRP's own
        shortcuts) left out: is a shortcut still routed into the tunnel by anything else?"""
        best: KernelRoute | None = None
        for route in self.routes():
            if route.proto == exclude_proto or route.type != 1 or not prefix.subnet_of(route.prefix):
                continue
            if (best is None or route.prefix.prefixlen > best.prefix.prefixlen
                    or (route.prefix.prefixlen == best.prefix.prefixlen and route.metric < best.metric)):
                best = route
        if best is None:
            return None
        return Route(best.prefix, best.gateway, best.ifname == tunnel_ifname)


def try_set_sysctl(key: str, value: str) -> bool:
    """Write /proc/sys/`key` (e.g. "net/ipv4/ip_forward") of this namespace, best effort.

    For router-wide settings the agent can run without: a refusal is logged and False
    returned, never raised. (The TAP's own sysctls must hold, so `tunnel.tap.set_sysctl`
    raises instead.)
    """
    try:
        with open("/proc/sys/" + key, "w") as handle:
            handle.write(value)
    except OSError as error:
        log.warning("sysctl %s=%s failed: %s", key, value, error)
        return False
    return True
