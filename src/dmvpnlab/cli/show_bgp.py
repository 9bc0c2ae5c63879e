"""`show ip bgp [summary]`: bgpd's table and peers in IOS's columns.

Why from FRR's JSON: bgpd's text differs from IOS where scripts look (the summary's
`PfxSnt Desc` columns and `(VRF default)` lines, the table's RPKI legend), and
ntc-templates' cisco_ios_show_ip_bgp reads the table by column position. The JSON has
every field; the layout here is IOS 15's: status `*>` and `i` in their columns, the
network in 16 characters (or alone on its line when longer, the rest below it), next
hop 15, metric 10, LocPrf 6, Weight 6, then the AS path and origin code.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.cli.frr_view import frr_json, ios_age

ORIGINS = {"IGP": "i", "EGP": "e", "incomplete": "?"}
LEGEND = """\
Status codes: s suppressed, d damped, h history, * valid, > best, i - internal, 
              r RIB-failure, S Stale, m multipath, b backup-path, f RT-Filter, 
              x best-external, a additional-path, c RIB-compressed, 
              t secondary path, L long-lived-stale,
Origin codes: i - IGP, e - EGP, ? - incomplete
RPKI validation codes: V valid, I invalid, N Not found"""
STATES = {"Established": None, "Idle": "Idle", "Connect": "Connect", "Active": "Active", "OpenSent": "OpenSent",
          "OpenConfirm": "OpenConfirm", "Clearing": "Idle", "Deleted": "Idle"}


def table_data(agent: Any) -> dict[str, Any]:
    answer = frr_json(agent, "show ip bgp json") or {}
    rows = []
    for network, paths in (answer.get("routes") or {}).items():
        for path in paths:
            hop = (path.get("nexthops") or [{}])[0].get("ip", "0.0.0.0")
            rows.append({"network": network, "next_hop": hop, "valid": bool(path.get("valid")),
                         "best": bool(path.get("bestpath")), "multipath": bool(path.get("multipath")),
                         "internal": path.get("pathFrom") == "internal", "metric": path.get("metric"),
                         "local_pref": path.get("locPrf"), "weight": path.get("weight", 0),
                         "path": path.get("path", ""), "origin": ORIGINS.get(path.get("origin", ""), "?")})
    return {"table_version": answer.get("tableVersion", 0), "router_id": answer.get("routerId"),
            "local_as": answer.get("localAS"), "routes": rows}


def _columns(r: dict[str, Any]) -> str:
    metric = "" if r["metric"] is None else str(r["metric"])
    local_pref = "" if r["local_pref"] is None else str(r["local_pref"])
    path = f"{r['path']} " if r["path"] else ""
    return f"{r['next_hop']:<15} {metric:>10} {local_pref:>6} {r['weight']:>6} {path}{r['origin']}"


def render_table(data: dict[str, Any]) -> str:
    if data.get("router_id") is None:
        return ""
    out = [f"BGP table version is {data['table_version']}, local router ID is {data['router_id']}", LEGEND, "",
           "     Network          Next Hop            Metric LocPrf Weight Path"]
    previous = None
    for r in data["routes"]:
        status = ("*" if r["valid"] else " ") + (">" if r["best"] else "m" if r["multipath"] else " ")
        status += "i" if r["internal"] else " "
        network = r["network"] if r["network"] != previous else ""
        previous = r["network"]
        if len(network) > 16:
            out.append(f" {status} {network}")
            out.append(f"{'':20}{_columns(r)}")
        else:
            out.append(f" {status} {network:<16} {_columns(r)}")
    return "\n".join(out) + "\n"


def summary_data(agent: Any) -> dict[str, Any]:
    answer = frr_json(agent, "show ip bgp summary json") or {}
    family = answer.get("ipv4Unicast") or {}
    peers = []
    for address, p in (family.get("peers") or {}).items():
        state = str(p.get("state", "Idle"))
        shown = STATES.get(state, state)
        if p.get("peerState") == "Admin" or "Admin" in state:
            shown = "Idle (Admin)"
        peers.append({"neighbor": address, "version": p.get("version", 4), "remote_as": p.get("remoteAs"),
                      "msg_rcvd": p.get("msgRcvd", 0), "msg_sent": p.get("msgSent", 0),
                      "table_version": family.get("tableVersion", 0) if shown is None else 0,
                      "inq": p.get("inq", 0), "outq": p.get("outq", 0),
                      "up_down": ios_age(p.get("peerUptime")) or "never", "state": state,
                      "state_or_prefixes": str(p.get("pfxRcd", 0)) if shown is None else shown})
    return {"router_id": family.get("routerId"), "local_as": family.get("as"),
            "table_version": family.get("tableVersion", 0), "rib_count": family.get("ribCount", 0),
            "rib_memory": family.get("ribMemory", 0), "peers": peers}


def render_summary(data: dict[str, Any]) -> str:
    if data.get("router_id") is None:
        return ""
    n = data["rib_count"]
    out = [f"BGP router identifier {data['router_id']}, local AS number {data['local_as']}",
           f"BGP table version is {data['table_version']}, main routing table version {data['table_version']}",
           f"{n} network entries using {data['rib_memory']} bytes of memory", "",
           "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd"]
    for p in data["peers"]:
        out.append(f"{p['neighbor']:<15} {p['version']:<1} {p['remote_as']:>12} {p['msg_rcvd']:>7} {p['msg_sent']:>7} "
                   f"{p['table_version']:>8} {p['inq']:>4} {p['outq']:>4} {p['up_down']:>8} {p['state_or_prefixes']:>12}")
    return "\n".join(out) + "\n"
