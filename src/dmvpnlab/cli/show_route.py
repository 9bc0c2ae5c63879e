"""`show ip route [nhrp|static|connected]`: the kernel's main table in IOS 15 clothes.

The kernel knows routes by protocol number; IOS by a code letter and an administrative
distance. Connected routes are C, each interface address adds an L /32, `ip route` lines
are S (S* for the default), NHRP shortcuts (NHRP_ROUTE_PROTO) are H [250/1] with their
age, and routes FRR installs keep their IOS letters. A shortcut installed as a next-hop
override (NHRP_OVERRIDE_METRIC) is not a line of its own: the protocol route it
overrides is printed with `%` after its code (`O%`, `D%EX`), its own next hop as IOS
shows it, and the JSON row gets `override: {next_hop, interface}`. Routes are grouped under classful
headings (`10.0.0.0/8 is variably subnetted, ...`) as IOS prints them, which is what
parsers of real routers expect. `route_data` is the `| json` twin.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dmvpnlab.cli.timefmt import duration
from dmvpnlab.cli.view import ios_name
from dmvpnlab.routing.kernel import NHRP_OVERRIDE_METRIC, NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO

CODES = """\
Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       H - NHRP, G - NHRP registered, g - NHRP registration summary
       o - ODR, P - periodic downloaded static route, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR"""

KERNEL_PROTO = 2
BOOT_PROTO = 3
# FRR's route protocol numbers (rtnetlink) -> IOS code and administrative distance.
FRR_PROTOS = {186: ("B", 20), 187: ("i", 115), 188: ("O", 110), 189: ("R", 120), 192: ("D", 90)}
FILTERS = {"nhrp": {"H"}, "static": {"S", "S*"}, "connected": {"C", "L"}, "ospf": {"O"}, "eigrp": {"D"},
           "bgp": {"B"}, "rip": {"R"}}
RTN_UNICAST, RTN_BLACKHOLE = 1, 6


def classful_length(address: IPv4Address) -> int:
    first = int(address) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def _static_distance(agent: Any, prefix: IPv4Network) -> tuple[int, str | None]:
    for route in agent.config.static_routes:
        if route.prefix == prefix:
            return route.distance or 1, route.interface
    return 1, None


def route_data(agent: Any, protocol: str | None = None) -> dict[str, Any]:
    """The routes IOS would show, best first per prefix, JSON-able."""
    now = agent.clock()
    cache = agent.tunnel.engine.cache if agent.tunnel is not None else None
    best: dict[IPv4Network, Any] = {}
    overrides: dict[IPv4Network, Any] = {}  # NHRP next-hop overrides: shown as `%` on the protocol's route
    for r in agent.kernel.routes():
        if r.type not in (RTN_UNICAST, RTN_BLACKHOLE):
            continue
        if r.proto == NHRP_ROUTE_PROTO and r.metric == NHRP_OVERRIDE_METRIC:
            overrides[r.prefix] = r
            continue
        if r.prefix not in best or r.metric < best[r.prefix].metric:
            best[r.prefix] = r
    for prefix, r in overrides.items():
        best.setdefault(prefix, r)  # the protocol's route is gone (for now): the shortcut is all there is
    routes: list[dict[str, Any]] = []
    for prefix, r in best.items():
        ifname = ios_name(agent, r.ifname) if r.type == RTN_UNICAST else "Null0"
        gateway = str(r.gateway) if r.gateway else None
        row: dict[str, Any] = {"prefix": str(prefix), "next_hop": gateway, "interface": ifname,
                               "distance": None, "metric": None, "age": None}
        if r.proto == NHRP_ROUTE_PROTO:
            entry = cache.get(prefix) if cache is not None else None
            age = now - entry.created if entry is not None else None
            row.update(code="H", distance=250, metric=1, age=duration(age, never="00:00:00"))
        elif r.proto in (STATIC_ROUTE_PROTO, BOOT_PROTO) or (r.proto == KERNEL_PROTO and gateway):
            distance, configured_if = _static_distance(agent, prefix)
            row.update(code="S*" if prefix.prefixlen == 0 else "S", distance=distance, metric=0)
            if gateway and not configured_if:
                row["interface"] = None
        elif r.proto == KERNEL_PROTO:
            row.update(code="C")
        elif r.proto in FRR_PROTOS:
            code, distance = FRR_PROTOS[r.proto]
            row.update(code=code + ("*" if prefix.prefixlen == 0 else ""), distance=distance, metric=r.metric)
        else:
            continue
        override = overrides.get(prefix)
        if override is not None and override is not r:
            row["override"] = {"next_hop": str(override.gateway) if override.gateway else None,
                               "interface": ios_name(agent, override.ifname)}
        routes.append(row)
        if row["code"] == "C" and r.type == RTN_UNICAST:
            for itf in agent.config.interfaces:
                if itf.address is not None and itf.address.ip in prefix and not itf.shutdown and itf.address.network == prefix:
                    routes.append({"prefix": f"{itf.address.ip}/32", "next_hop": None, "interface": ifname,
                                   "distance": None, "metric": None, "age": None, "code": "L"})
    routes.sort(key=lambda x: (int(IPv4Network(x["prefix"]).network_address), IPv4Network(x["prefix"]).prefixlen))
    default = next((x for x in routes if x["prefix"] == "0.0.0.0/0" and x["next_hop"]), None)
    if protocol is not None:
        routes = [x for x in routes if x["code"] in FILTERS.get(protocol, set())]
    return {"gateway_of_last_resort": default["next_hop"] if default else None, "routes": routes}


def display_code(row: dict[str, Any]) -> str:
    """The code column: IOS puts a route's flag (`*` candidate default, `%` next-hop
    override) right after the protocol letter, before a type such as EX or IA."""
    code = row["code"]
    if not row.get("override"):
        return code
    if len(code) == 1:
        return code + "%"
    return code[0] + "%" + code[2:] if code[1] == " " else code  # "D EX" -> "D%EX"; "O*" keeps its star


def _line(row: dict[str, Any], indent: int, with_mask: bool = True) -> str:
    prefix = row["prefix"] if with_mask else row["prefix"].split("/")[0]
    head = f"{display_code(row):<{indent}}{prefix}"
    if row["code"] in ("C", "L") or (row["next_hop"] is None and row["interface"]):
        return f"{head} is directly connected, {row['interface']}"
    text = f"{head} [{row['distance']}/{row['metric']}] via {row['next_hop']}"
    if row["age"] is not None:
        text += f", {row['age']}"
    if row["interface"]:
        text += f", {row['interface']}"
    return text


def render_routes(data: dict[str, Any]) -> str:
    out = [CODES, ""]
    gw = data["gateway_of_last_resort"]
    out.append(f"Gateway of last resort is {gw} to network 0.0.0.0" if gw else "Gateway of last resort is not set")
    out.append("")
    groups: dict[IPv4Network, list[dict[str, Any]]] = {}
    order: list[tuple[IPv4Network, Any]] = []
    for row in data["routes"]:
        net = IPv4Network(row["prefix"])
        length = classful_length(net.network_address)
        if net.prefixlen < length:
            order.append((net, row))
            continue
        major = IPv4Network(f"{net.network_address}/{length}", strict=False)
        if major not in groups:
            groups[major] = []
            order.append((major, None))
        groups[major].append(row)
    for major, row in order:
        if row is not None:
            out.append(_line(row, 6))
            continue
        rows = groups[major]
        masks = {IPv4Network(r["prefix"]).prefixlen for r in rows}
        if len(rows) == 1 and masks == {major.prefixlen}:
            out.append(_line(rows[0], 6))
        elif len(masks) == 1:
            n = len(rows)
            out.append(f"      {major.network_address}/{masks.pop()} is subnetted, {n} subnets")
            out += [_line(r, 9, with_mask=False) for r in rows]
        else:
            out.append(f"      {major} is variably subnetted, {len(rows)} subnets, {len(masks)} masks")
            out += [_line(r, 9) for r in rows]
    return "\n".join(out) + "\n"
