"""`show ip ospf neighbor | interface [brief] | database`: ospfd's state in IOS's tables.

Why built from FRR's JSON and not FRR's text: ospfd prints its own layouts (`Full/-`,
`Up Time`, `r1-eth0:10.77.0.1`, durations in seconds) that scripts written for IOS do
not read. The JSON has every field IOS shows; here it gets IOS's words (FULL/  -,
DROTHER, P2MP), IOS interface names, IOS durations and IOS columns, so
ntc-templates' cisco_ios_show_ip_ospf_* parse them. Each `*_data` is the `| json` twin.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.cli.frr_view import frr_json, ios_ifname, process_id
from dmvpnlab.cli.timefmt import duration

STATES = {"full": "FULL", "2-way": "2WAY", "init": "INIT", "exstart": "EXSTART", "exchange": "EXCHANGE",
          "loading": "LOADING", "down": "DOWN", "attempt": "ATTEMPT", "deleted": "DOWN"}
ROLES = {"-": "  -", "dr": "DR", "backup": "BDR", "drother": "DROTHER", "": "  -"}
IF_STATES = {"point-to-point": "P2P", "dr": "DR", "backup": "BDR", "drother": "DROTH", "waiting": "WAIT",
             "down": "DOWN", "loopback": "LOOP"}
NETWORK_TYPES = {"POINTOPOINT": "POINT_TO_POINT", "POINTOMULTIPOINT": "POINT_TO_MULTIPOINT",
                 "BROADCAST": "BROADCAST", "NBMA": "NON_BROADCAST", "LOOPBACK": "LOOPBACK"}
SHORT = (("GigabitEthernet", "Gi"), ("Tunnel", "Tu"), ("Loopback", "Lo"))


def short_ifname(name: str) -> str:
    """IOS's abbreviations in `brief` tables: Gi0/1, Tu0, Lo0."""
    for long, short in SHORT:
        if name.startswith(long):
            return short + name[len(long):]
    return name


def area_text(area: str) -> str:
    """IOS prints an area configured as a number as that number (0.0.0.1 -> 1)."""
    try:
        return str(int(IPv4Address(area)))
    except ValueError:
        return area


def neighbor_state(frr_state: str) -> str:
    """FRR's `Full/DR` -> IOS's `FULL/DR`; `Full/-` (no DR: p2p, p2mp) -> `FULL/  -`."""
    state, _, role = frr_state.partition("/")
    return f"{STATES.get(state.lower(), state.upper())}/{ROLES.get(role.lower(), role.upper())}"


# -- neighbors --------------------------------------------------------------------------------


def _without_dr(agent: Any) -> set[str]:
    """Linux names of the OSPF interfaces that elect no DR (point-to-point, point-to-multipoint):
    IOS shows their neighbours as `FULL/  -`, where ospfd says DROther for p2mp."""
    answer = frr_json(agent, "show ip ospf interface json") or {}
    return {name for name, i in (answer.get("interfaces") or {}).items()
            if isinstance(i, dict) and i.get("networkType") in ("POINTOPOINT", "POINTOMULTIPOINT")}


def neighbor_data(agent: Any) -> dict[str, Any]:
    answer = frr_json(agent, "show ip ospf neighbor json") or {}
    no_dr = _without_dr(agent) if answer.get("neighbors") else set()
    rows = []
    for router_id, entries in (answer.get("neighbors") or {}).items():
        for n in entries if isinstance(entries, list) else [entries]:
            dead = n.get("deadTimeMsecs", n.get("routerDeadIntervalTimerDueMsec"))
            state = str(n.get("nbrState", n.get("state", "")))
            if str(n.get("ifaceName", "")).split(":")[0] in no_dr:
                state = state.partition("/")[0] + "/-"
            rows.append({"neighbor_id": router_id, "priority": n.get("nbrPriority", n.get("priority", 0)),
                         "state": neighbor_state(state),
                         "dead_time": duration(dead / 1000 if isinstance(dead, (int, float)) else None,
                                               never="00:00:00"),
                         "address": n.get("ifaceAddress", n.get("address")),
                         "interface": ios_ifname(agent, n.get("ifaceName")),
                         "up_seconds": (n.get("upTimeInMsec") or 0) / 1000})
    return {"neighbors": rows}


def render_neighbors(data: dict[str, Any]) -> str:
    out = ["", "Neighbor ID     Pri   State           Dead Time   Address         Interface"]
    for n in data["neighbors"]:
        out.append(f"{n['neighbor_id']:<15} {n['priority']:>3}   {n['state']:<15} {n['dead_time']:<11} "
                   f"{n['address'] or '':<15} {n['interface'] or ''}")
    return "\n".join(out) + "\n"


# -- interfaces -------------------------------------------------------------------------------


def interface_data(agent: Any) -> dict[str, Any]:
    answer = frr_json(agent, "show ip ospf interface json") or {}
    pid = process_id(agent, "ospf") or "1"
    rows = []
    for linux, i in (answer.get("interfaces") or {}).items():
        if not isinstance(i, dict) or not i.get("ospfEnabled", True) or "ipAddress" not in i:
            continue
        network_type = NETWORK_TYPES.get(str(i.get("networkType", "")), str(i.get("networkType", "")))
        state = str(i.get("state", ""))
        brief = IF_STATES.get(state.lower(), state.upper()[:5])
        if brief == "P2P" and network_type == "POINT_TO_MULTIPOINT":
            brief = "P2MP"
        rows.append({"interface": ios_ifname(agent, linux), "process": pid, "area": area_text(str(i.get("area", ""))),
                     "address": f"{i['ipAddress']}/{i.get('ipAddressPrefixlen', 32)}", "cost": i.get("cost", 0),
                     "state": brief, "network_type": network_type, "router_id": i.get("routerId", ""),
                     "neighbors": i.get("nbrCount", 0), "adjacent": i.get("nbrAdjacentCount", 0),
                     "up": bool(i.get("ifUp", True)), "transmit_delay": i.get("transmitDelaySecs", 1),
                     "hello": (i.get("timerMsecs") or 10000) // 1000, "dead": i.get("timerDeadSecs", 40),
                     "wait": i.get("timerWaitSecs", 40), "retransmit": i.get("timerRetransmitSecs", 5),
                     "hello_due": (i.get("timerHelloInMsecs") or 0) / 1000, "priority": i.get("priority", 1),
                     "passive": bool(i.get("timerPassiveIface", False)), "dr": i.get("drId"),
                     "dr_address": i.get("drAddress"), "bdr": i.get("bdrId"), "bdr_address": i.get("bdrAddress")})
    rows.sort(key=lambda r: r["interface"] or "")
    return {"interfaces": rows}


def render_interface_brief(data: dict[str, Any]) -> str:
    out = ["Interface    PID   Area            IP Address/Mask    Cost  State Nbrs F/C"]
    for i in data["interfaces"]:
        out.append(f"{short_ifname(i['interface'] or ''):<12} {i['process']:<5} {i['area']:<15} {i['address']:<18} "
                   f"{i['cost']:<5} {i['state']:<5} {i['adjacent']}/{i['neighbors']}")
    return "\n".join(out) + "\n"


def render_interfaces(data: dict[str, Any]) -> str:
    out = []
    for i in data["interfaces"]:
        up = "up" if i["up"] else "down"
        state = i["network_type"] if i["state"] in ("P2P", "P2MP") else {"DR": "DR", "BDR": "BDR",
                                                                          "DROTH": "DROTHER", "WAIT": "WAITING"}.get(i["state"], i["state"])
        out += [f"{i['interface']} is {up}, line protocol is {up} ",
                f"  Internet Address {i['address']}, Area {i['area']}, Attached via Network Statement",
                f"  Process ID {i['process']}, Router ID {i['router_id']}, Network Type {i['network_type']}, "
                f"Cost: {i['cost']}",
                "  Topology-MTID    Cost    Disabled    Shutdown      Topology Name",
                f"        0           {i['cost']:<6}    no          no            Base",
                f"  Transmit Delay is {i['transmit_delay']} sec, State {state}"
                + (f", Priority {i['priority']}" if i["network_type"] in ("BROADCAST", "NON_BROADCAST") else "")]
        if i.get("dr"):
            out.append(f"  Designated Router (ID) {i['dr']}, Interface address {i['dr_address']}")
        if i.get("bdr"):
            out.append(f"  Backup Designated router (ID) {i['bdr']}, Interface address {i['bdr_address']}")
        out += [f"  Timer intervals configured, Hello {i['hello']}, Dead {i['dead']}, Wait {i['wait']}, "
                f"Retransmit {i['retransmit']}"]
        if i["passive"]:
            out.append("    No Hellos (Passive interface) ")
        else:
            out.append(f"    Hello due in {duration(i['hello_due'])}")
        out += [f"  Neighbor Count is {i['neighbors']}, Adjacent neighbor count is {i['adjacent']} ",
                "  Suppress hello for 0 neighbor(s)"]
    return "\n".join(out) + ("\n" if out else "")


# -- database ---------------------------------------------------------------------------------

# FRR's JSON key -> IOS's section title and whether the last column is a link count / tag.
LSA_SECTIONS = (("routerLinkStates", "Router Link States", "Link count"),
                ("networkLinkStates", "Net Link States", None),
                ("summaryLinkStates", "Summary Net Link States", None),
                ("asbrSummaryLinkStates", "Summary ASB Link States", None),
                ("nssaExternalLinkStates", "Type-7 AS External Link States", "Tag"))
EXTERNAL = ("asExternalLinkStates", "Type-5 AS External Link States", "Tag")


def _lsa(lsa: dict[str, Any], last: str | None) -> dict[str, Any]:
    extra = lsa.get("numOfRouterLinks") if last == "Link count" else lsa.get("tag", 0) if last == "Tag" else None
    return {"link_id": lsa.get("lsId"), "adv_router": lsa.get("advertisedRouter"), "age": lsa.get("lsaAge", 0),
            "seq": f"0x{str(lsa.get('sequenceNumber', '0')).lower():0>8}",
            "checksum": f"0x{str(lsa.get('checksum', '0')).upper():0>6}", "extra": extra}


def database_data(agent: Any) -> dict[str, Any]:
    answer = frr_json(agent, "show ip ospf database json") or {}
    sections = []
    for area, lsas in (answer.get("areas") or {}).items():
        for key, title, last in LSA_SECTIONS:
            if lsas.get(key):
                sections.append({"title": title, "area": area_text(area), "last": last,
                                 "lsas": [_lsa(x, last) for x in lsas[key]]})
    key, title, last = EXTERNAL
    if answer.get(key):
        sections.append({"title": title, "area": None, "last": last, "lsas": [_lsa(x, last) for x in answer[key]]})
    return {"router_id": answer.get("routerId"), "process": process_id(agent, "ospf") or "1", "sections": sections}


def render_database(data: dict[str, Any]) -> str:
    if not data.get("router_id"):
        return ""
    out = ["", f"            OSPF Router with ID ({data['router_id']}) (Process ID {data['process']})"]
    for section in data["sections"]:
        where = f" (Area {section['area']})" if section["area"] is not None else ""
        header = "Link ID         ADV Router      Age         Seq#       Checksum"
        if section["last"]:
            header += f" {section['last']}"
        out += ["", f"\t\t{section['title']}{where}", "", header]
        for lsa in section["lsas"]:
            line = f"{lsa['link_id']:<15} {lsa['adv_router']:<15} {lsa['age']:<11} {lsa['seq']} {lsa['checksum']}"
            if lsa["extra"] is not None:
                line += f" {lsa['extra']}"
            out.append(line)
    return "\n".join(out) + "\n"
