"""`show ip route [protocol|A.B.C.D]`: the merged routing table in IOS 15 clothes.

The rows come from cli/route_table.py (kernel + FRR + EIGRP, best per prefix). Here they
get IOS's code column (letter, `*` for a candidate default or `%` for a next-hop
override, the sub-type IA/E2/EX), their classful group headings (`10.0.0.0/8 is variably
subnetted, ...`), ECMP continuation lines, the legend and the gateway of last resort,
as IOS prints them and as parsers of real routers (ntc-templates) read them. `show ip
route A.B.C.D` is IOS's "Routing entry for" block. `route_data` is the `| json` twin.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dmvpnlab.cli.frr_view import process_id
from dmvpnlab.cli.route_table import longest_match, route_rows

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

FILTERS = {"nhrp": {"H"}, "static": {"S"}, "connected": {"C", "L"}, "ospf": {"O"}, "eigrp": {"D"},
           "bgp": {"B"}, "rip": {"R"}}


def classful_length(address: IPv4Address) -> int:
    first = int(address) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def route_data(agent: Any, protocol: str | None = None) -> dict[str, Any]:
    """The routes IOS would show, best first per prefix, JSON-able."""
    routes = route_rows(agent)
    for r in routes:
        r["code"] = code_column(r, flag=False).rstrip()
    default = next((x for x in routes if x["prefix"] == "0.0.0.0/0" and x["next_hop"]), None)
    if protocol is not None:
        routes = [x for x in routes if x["code"][0] in FILTERS.get(protocol, set())
                  and (x["code"] != "L" or protocol == "connected")]
    return {"gateway_of_last_resort": default["next_hop"] if default else None, "routes": routes}


def code_column(r: dict[str, Any], flag: bool = True) -> str:
    """`O`, `S*`, `O IA`, `O*E2`, `D EX`, and with a next-hop override `O%`, `D%EX`.

    IOS's column: the protocol letter, one flag character (`*` candidate default, `%`
    next-hop override), the two-letter type. The flag sits where ntc-templates'
    cisco_ios_show_ip_route reads it (FLAG right after PROTOCOL), so such lines parse
    too. `flag=False` is the code without `%` (the `| json` rows keep the override apart)."""
    letter = r["code"][0]
    if r["prefix"] == "0.0.0.0/0" and letter not in ("C", "L"):
        mark = "*"
    else:
        mark = "%" if flag and r.get("override") else " "
    return f"{letter}{mark}{r.get('subtype', ''):<2}"


def _tail(hop: dict[str, Any], row: dict[str, Any]) -> str:
    text = f"[{row['distance']}/{row['metric']}] via {hop['address']}"
    if row["age"] is not None:
        text += f", {row['age']}"
    if hop["interface"]:
        text += f", {hop['interface']}"
    return text


def _lines(row: dict[str, Any], indent: int, with_mask: bool = True) -> list[str]:
    prefix = row["prefix"] if with_mask else row["prefix"].split("/")[0]
    head = f"{code_column(row):<{indent}}{prefix}"
    hops = row.get("next_hops") or [{"address": row["next_hop"], "interface": row["interface"]}]
    if row["code"].startswith("D") and hops[0]["address"] is None and hops[0]["interface"] == "Null0":
        return [f"{head} is a summary, {row['age'] or '00:00:00'}, Null0"]  # EIGRP's summary discard
    if row["code"] in ("C", "L") or (hops[0]["address"] is None and hops[0]["interface"]):
        return [f"{head} is directly connected, {hops[0]['interface']}"]
    out = [f"{head} {_tail(hops[0], row)}"]
    pad = " " * (len(head) + 1)
    out += [pad + _tail(hop, row) for hop in hops[1:]]
    return out


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
            out += _lines(row, 6)
            continue
        rows = groups[major]
        masks = {IPv4Network(r["prefix"]).prefixlen for r in rows}
        if len(rows) == 1 and masks == {major.prefixlen}:
            out += _lines(rows[0], 6)
        elif len(masks) == 1:
            n = len(rows)
            out.append(f"      {major.network_address}/{masks.pop()} is subnetted, {n} subnet{'s' if n != 1 else ''}")
            for r in rows:
                out += _lines(r, 9, with_mask=False)
        else:
            out.append(f"      {major} is variably subnetted, {len(rows)} subnets, {len(masks)} masks")
            for r in rows:
                out += _lines(r, 9)
    return "\n".join(out) + "\n"


# -- show ip route A.B.C.D ------------------------------------------------------------------

KNOWN_VIA = {"C": "connected", "L": "connected", "S": "static", "H": "nhrp"}
OSPF_TYPE_WORDS = {"": "intra area", "IA": "inter area", "E1": "extern 1", "E2": "extern 2",
                   "N1": "NSSA extern 1", "N2": "NSSA extern 2"}


def entry_data(agent: Any, address: IPv4Address) -> dict[str, Any] | None:
    """The route `show ip route A.B.C.D` shows, with the process IOS names it by."""
    found = longest_match(route_rows(agent), address)
    if found is None:
        return None
    letter = found["code"][0]
    process = {"O": "ospf", "B": "bgp", "R": "rip", "D": "eigrp"}.get(letter)
    if process == "eigrp":
        found["known_via"] = f"eigrp {found.get('asn') or process_id(agent, 'eigrp')}".strip()
    elif process is not None:
        tag = process_id(agent, process) if process != "rip" else ""
        found["known_via"] = f"{process} {tag}".strip()
    else:
        found["known_via"] = KNOWN_VIA.get(letter, "kernel")
    found["code"] = code_column(found, flag=False).rstrip()
    return found


def render_entry(data: dict[str, Any] | None) -> str:
    if data is None:
        return "% Network not in table\n"
    net = IPv4Network(data["prefix"])
    letter = data["code"][0]
    supernet = ", supernet" if net.prefixlen < classful_length(net.network_address) else ""
    out = [f"Routing entry for {net}{supernet}"]
    metric = data["metric"] if data["metric"] is not None else 0
    distance = data["distance"] if data["distance"] is not None else 0
    known = f'  Known via "{data["known_via"]}", distance {distance}, metric {metric}'
    if letter in ("C", "L"):
        known += " (connected, via interface)"
    elif letter == "O":
        known += f", type {OSPF_TYPE_WORDS.get(data.get('subtype', ''), 'intra area')}"
    elif letter == "D":
        known += ", type external" if data.get("subtype") == "EX" else ", type internal"
    elif letter == "B":
        known += ", type external" if distance == 20 else ", type internal"
    if net.prefixlen == 0 and letter not in ("C", "L"):
        known += ", candidate default path"
    out.append(known)
    hops = data.get("next_hops") or []
    if letter in ("O", "B", "R", "D") and hops and hops[0]["address"]:
        last = f"  Last update from {hops[0]['address']}"
        if hops[0]["interface"]:
            last += f" on {hops[0]['interface']}"
        out.append(last + (f", {data['age']} ago" if data["age"] else ""))
    if data.get("override"):
        out.append(f"  Next hop override: traffic goes via {data['override']['next_hop']} (NHRP shortcut)")
    out.append("  Routing Descriptor Blocks:")
    for n, hop in enumerate(hops or [{"address": None, "interface": data["interface"]}]):
        star = "*" if n == 0 else " "
        if hop["address"] is None:
            out.append(f"  {star} directly connected, via {hop['interface'] or 'Null0'}")
        else:
            line = f"  {star} {hop['address']}"
            if letter in ("O", "B", "R", "D"):
                line += f", from {hop['address']}"
                if data["age"]:
                    line += f", {data['age']} ago"
            if hop["interface"]:
                line += f", via {hop['interface']}"
            out.append(line)
        out.append(f"      Route metric is {metric}, traffic share count is 1")
    return "\n".join(out) + "\n"
