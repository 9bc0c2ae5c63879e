"""The routing table IOS would show: kernel, FRR and EIGRP routes merged, best per prefix.

Why a merge: no single source holds IOS's RIB here. The kernel has the connected,
static and NHRP routes the agent installs (and zebra's copies of FRR's best routes);
FRR's `show ip route json` has each OSPF/BGP/RIP route with its real distance, metric
and age, also the ones zebra did not install; the agent's EIGRP process publishes its
routes in `state["routing"]["eigrp"]`. IOS keeps one best source per prefix, by
administrative distance, and so does `route_rows`: connected (0) < static (1, or its
configured distance) < EIGRP/BGP/OSPF/RIP by their own < NHRP (250).

An NHRP shortcut for exactly the prefix a routing protocol owns is IOS's next-hop
override: the protocol route stays and is printed with `%`, traffic takes the shortcut
(here: zebra sees the agent's shortcut as a kernel route and withdraws its own for that
prefix, see routing/kernel.py). A shortcut for any other prefix is an H route.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dmvpnlab.agent.state import routing_state
from dmvpnlab.cli.frr_view import frr_json, ios_age, ios_ifname
from dmvpnlab.cli.timefmt import duration
from dmvpnlab.cli.view import ios_name, live_tunnel, live_tunnels
from dmvpnlab.routing.kernel import AGENT_ROUTE_PROTOS, EIGRP_ROUTE_PROTO, NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO

KERNEL_PROTO = 2
BOOT_PROTO = 3
# zebra's route protocol numbers (rtnetlink) -> IOS code and default distance, for a
# router whose FRR does not answer (the kernel is then all we know).
FRR_PROTOS = {186: ("B", 20), 187: ("i", 115), 188: ("O", 110), 189: ("R", 120), EIGRP_ROUTE_PROTO: ("D", 90)}
FRR_CODES = {"ospf": "O", "bgp": "B", "rip": "R"}
RTN_UNICAST, RTN_BLACKHOLE = 1, 6
OSPF_TYPES = {"N IA": "IA", "N E1": "E1", "N E2": "E2", "N N1": "N1", "N N2": "N2"}


def _hop(address: str | None, interface: str | None) -> dict[str, Any]:
    return {"address": address, "interface": interface}


def row(prefix: IPv4Network, code: str, distance: int | None, metric: int | None, hops: list[dict[str, Any]],
        age: str | None = None, **extra: Any) -> dict[str, Any]:
    """One route as `show ip route | json` gives it; next_hop/interface are the first hop's."""
    first = hops[0] if hops else _hop(None, None)
    return {"prefix": str(prefix), "next_hop": first["address"], "interface": first["interface"],
            "distance": distance, "metric": metric, "age": age, "code": code, "override": False,
            "next_hops": hops, **extra}


def _static_distance(agent: Any, prefix: IPv4Network, metric: int = 0) -> tuple[int, str | None]:
    """The AD of the static route the kernel uses (its metric carries the AD, 0 for AD 1:
    agent/static_routes.py) and the interface that route names."""
    distance = metric or 1
    for route in agent.config.static_routes:
        if route.prefix == prefix and (route.distance or 1) == distance:
            return distance, route.interface
    return distance, None


def _kernel_rows(agent: Any, frr_answered: bool, eigrp_known: bool) -> tuple[list[dict[str, Any]], dict]:
    """Connected, local, static and FRR/EIGRP-fallback rows; NHRP shortcuts apart."""
    now = agent.clock()
    tunnels = live_tunnels(agent)
    best: dict[IPv4Network, Any] = {}
    shortcuts: dict[IPv4Network, dict[str, Any]] = {}
    for r in agent.kernel.routes():
        if r.type not in (RTN_UNICAST, RTN_BLACKHOLE):
            continue
        if r.proto == NHRP_ROUTE_PROTO:
            tunnel = live_tunnel(agent, ios_name(agent, r.ifname)) or (tunnels[0] if tunnels else None)
            entry = tunnel.engine.cache.get(r.prefix) if tunnel is not None else None
            age = duration(now - entry.created if entry is not None else None, never="00:00:00")
            shortcuts[r.prefix] = row(r.prefix, "H", 250, 1, [_hop(str(r.gateway) if r.gateway else None,
                                                                    ios_name(agent, r.ifname))], age)
            continue
        if r.prefix not in best or r.metric < best[r.prefix].metric:
            best[r.prefix] = r
    rows: list[dict[str, Any]] = []
    for prefix, r in best.items():
        ifname = ios_name(agent, r.ifname) if r.type == RTN_UNICAST else "Null0"
        gateway = str(r.gateway) if r.gateway else None
        hops = [_hop(gateway, ifname)]
        if r.proto in (STATIC_ROUTE_PROTO, BOOT_PROTO) or (r.proto == KERNEL_PROTO and gateway):
            distance, configured_if = _static_distance(agent, prefix, r.metric if r.proto == STATIC_ROUTE_PROTO else 0)
            if gateway and not configured_if:
                hops = [_hop(gateway, None)]
            rows.append(row(prefix, "S", distance, 0, hops))
        elif r.proto == KERNEL_PROTO:
            if r.ifname == "lo":  # every Loopback lives on lo: name the one holding the prefix
                hops = [_hop(None, _loopback_of(agent, prefix) or ifname)]
            rows.append(row(prefix, "C", None, None, hops))
            if r.type == RTN_UNICAST:
                for itf in agent.config.interfaces:
                    for address in ([itf.address] if itf.address is not None else []) + itf.secondary_addresses:
                        if not itf.shutdown and address.network == prefix and address.network.prefixlen < 32:
                            rows.append(row(IPv4Network(f"{address.ip}/32"), "L", None, None, hops))
        elif r.proto in FRR_PROTOS and not (frr_answered and r.proto != EIGRP_ROUTE_PROTO) \
                and not (eigrp_known and r.proto == EIGRP_ROUTE_PROTO):
            code, distance = FRR_PROTOS[r.proto]
            rows.append(row(prefix, code, distance, r.metric, hops))
    # Linux keeps a loopback's subnet in its local table only (the whole subnet is local,
    # a difference from IOS the show cannot hide); IOS shows it connected, with its L route.
    for itf in agent.config.interfaces:
        if not itf.name.startswith("Loopback") or itf.shutdown:
            continue
        for address in ([itf.address] if itf.address is not None else []) + itf.secondary_addresses:
            if address.network not in best:
                rows.append(row(address.network, "C", None, None, [_hop(None, itf.name)]))
                if address.network.prefixlen < 32:
                    rows.append(row(IPv4Network(f"{address.ip}/32"), "L", None, None, [_hop(None, itf.name)]))
    return rows, shortcuts


def _loopback_of(agent: Any, prefix: IPv4Network) -> str | None:
    for itf in agent.config.interfaces:
        addresses = ([itf.address] if itf.address is not None else []) + itf.secondary_addresses
        if itf.name.startswith("Loopback") and any(a.network == prefix for a in addresses):
            return itf.name
    return None


def _ospf_types(agent: Any) -> dict[str, str]:
    """prefix -> IA/E1/E2/N1/N2 from ospfd's own table (zebra's JSON does not say)."""
    answer = frr_json(agent, "show ip ospf route json")
    if not isinstance(answer, dict):
        return {}
    return {prefix: OSPF_TYPES.get(str(v.get("routeType", "")).strip(), "")
            for prefix, v in answer.items() if isinstance(v, dict)}


def _frr_rows(agent: Any, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The best OSPF/BGP/RIP route per prefix from zebra's JSON, selected by zebra or not
    (zebra prefers the agent's kernel routes; the IOS distances decide here)."""
    types: dict[str, str] | None = None
    rows = []
    for prefix, routes in answer.items():
        candidates = [r for r in routes if isinstance(r, dict) and r.get("protocol") in FRR_CODES]
        if not candidates:
            continue
        best = min(candidates, key=lambda r: (r.get("distance", 255), not r.get("selected", False)))
        hops = [_hop(h.get("ip"), ios_ifname(agent, h.get("interfaceName")))
                for h in best.get("nexthops", []) if h.get("active", True) and not h.get("directlyConnected")]
        if not hops:
            continue  # OSPF's own copy of a connected network: IOS shows the C route
        code = FRR_CODES[best["protocol"]]
        subtype = ""
        if code == "O":
            types = _ospf_types(agent) if types is None else types
            subtype = types.get(prefix, "")
        metric = best.get("metric")
        if code == "R" and isinstance(metric, int):
            metric = max(0, metric - 1)  # ripd counts a connected network as 1, IOS as 0
        rows.append(row(IPv4Network(prefix), code, best.get("distance"), metric, hops,
                        ios_age(best.get("uptime")), subtype=subtype))
    return rows


def _eigrp_rows(eigrp: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in eigrp.get("routes", []):
        hops = [_hop(h.get("address"), h.get("interface")) for h in r.get("next_hops", [])]
        code = str(r.get("code", "D"))
        subtype = "EX" if code.endswith("EX") else ""
        rows.append(row(IPv4Network(r["prefix"]), "D", r.get("ad"), r.get("metric"), hops,
                        duration(r.get("age_seconds")) if r.get("age_seconds") is not None else None,
                        subtype=subtype, asn=eigrp.get("asn")))
    return rows


def _distance(r: dict[str, Any]) -> int:
    return 0 if r["code"] in ("C", "L") else r["distance"] if r["distance"] is not None else 255


def route_rows(agent: Any) -> list[dict[str, Any]]:
    """Every route IOS would show, one per prefix (best distance), sorted by prefix."""
    answer = frr_json(agent, "show ip route json")
    eigrp = routing_state(agent).get("eigrp")
    rows, shortcuts = _kernel_rows(agent, isinstance(answer, dict), eigrp is not None)
    if isinstance(answer, dict):
        rows += _frr_rows(agent, answer)
    if eigrp:
        rows += _eigrp_rows(eigrp)
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["prefix"]
        if key not in best or _distance(r) < _distance(best[key]) or (r["code"] == "L" and best[key]["code"] != "L"):
            best[key] = r
    for prefix, shortcut in shortcuts.items():
        owner = best.get(str(prefix))
        if owner is None:
            best[str(prefix)] = shortcut
        elif owner["code"] in ("O", "B", "R", "D"):
            # next-hop override: the route stays, traffic goes direct
            owner["override"] = {"next_hop": shortcut["next_hop"], "interface": shortcut["interface"]}
    out = list(best.values())
    for r in out:
        r.setdefault("subtype", "")
    out.sort(key=lambda x: (int(IPv4Network(x["prefix"]).network_address), IPv4Network(x["prefix"]).prefixlen))
    return out


def longest_match(rows: list[dict[str, Any]], address: IPv4Address) -> dict[str, Any] | None:
    """The route `show ip route A.B.C.D` describes: the longest prefix holding the address
    (the default route only for 0.0.0.0 itself, as IOS says `% Network not in table`)."""
    found = [r for r in rows if address in IPv4Network(r["prefix"])
             and (IPv4Network(r["prefix"]).prefixlen > 0 or address == IPv4Address(0))]
    return max(found, key=lambda r: IPv4Network(r["prefix"]).prefixlen) if found else None


__all__ = ["route_rows", "longest_match", "AGENT_ROUTE_PROTOS"]
