"""`show ip eigrp neighbors|topology|interfaces|traffic`, the EIGRP part of `show ip protocols`.

All of them render `state["routing"]["eigrp"]` (agent/eigrp_state.py), the same dict the
`| json` twin returns, in IOS 15 columns, so TextFSM templates written for real routers
(ntc-templates cisco_ios_show_ip_eigrp_*) read them into the right fields. Without EIGRP
they print what IOS prints then: nothing for the EIGRP tables.

`protocols_section(agent)` (text, or None without EIGRP) is the block `show ip protocols`
prints for the EIGRP process, as the frr-agent helper's cli/show_protocols.py calls it;
`protocols_eigrp_lines(data)` is the same from the state dict.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.agent.eigrp_state import eigrp_state
from dmvpnlab.cli.timefmt import duration

_SHORT = (("GigabitEthernet", "Gi"), ("Tunnel", "Tu"), ("Loopback", "Lo"), ("FastEthernet", "Fa"), ("Ethernet", "Et"))

TOPOLOGY_CODES = ("Codes: P - Passive, A - Active, U - Update, Q - Query, R - Reply,\n"
                  "       r - reply Status, s - sia Status \n")
NEIGHBOR_HEADER = ("H   Address                 Interface              Hold Uptime   SRTT   RTO  Q  Seq\n"
                   "                                                   (sec)         (ms)       Cnt Num\n")
INTERFACE_HEADER = ("                              Xmit Queue   PeerQ        Mean   Pacing Time   Multicast    Pending\n"
                    "Interface              Peers  Un/Reliable  Un/Reliable  SRTT   Un/Reliable   Flow Timer   Routes\n")


def short_ifname(name: str) -> str:
    """IOS's short interface names in EIGRP tables: Tu0, Gi0/1, Lo0."""
    for long, short in _SHORT:
        if name.startswith(long):
            return short + name[len(long):]
    return name


def eigrp_data(agent: Any) -> dict[str, Any]:
    """The `| json` twin: `state["routing"]["eigrp"]`, or {} when the router runs no EIGRP."""
    return eigrp_state(getattr(agent, "eigrp", None), agent.clock()) or {}


def _get(d: dict[str, Any], *names: str, default: Any = 0) -> Any:
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


# --- neighbors -----------------------------------------------------------------------


def render_neighbors(data: dict[str, Any], detail: bool = False) -> str:
    if not data:
        return ""
    out = [f"EIGRP-IPv4 Neighbors for AS({data['asn']})\n", NEIGHBOR_HEADER]
    for n in sorted(data.get("neighbors", []), key=lambda n: -int(_get(n, "handle"))):
        hold = int(_get(n, "hold_remaining", "hold"))
        uptime = duration(float(_get(n, "uptime", "uptime_seconds")))
        out.append(f"{_get(n, 'handle'):<3} {_get(n, 'address', default=''):<23} "
                   f"{short_ifname(str(_get(n, 'interface', default=''))):<23}{hold:>4} {uptime:<8} "
                   f"{_get(n, 'srtt_ms', 'srtt'):>4}{_get(n, 'rto_ms', 'rto'):>6}{_get(n, 'q_count', 'q'):>3}  "
                   f"{_get(n, 'sequence', 'seq')}\n")
        if detail:
            out.append(f"   Version {n.get('version') or '23.0/2.0'}, Retrans: {_get(n, 'retrans')}, "
                       f"Retries: {_get(n, 'retries')}, Prefixes: {_get(n, 'prefixes')}\n")
            out.append("   Topology-ids from peer - 0 \n")
            stub = n.get("stub")
            if stub:
                words = " ".join(w.upper() for w in stub if w != "receive-only")
                out.append(f"   Stub Peer Advertising ({words} ) Routes\n" if words
                           else "   Receive-Only Peer Advertising ( No ) Routes\n")
                out.append("   Suppressing queries\n")
    return "".join(out)


# --- topology ------------------------------------------------------------------------


def _path_line(path: dict[str, Any]) -> str:
    interface = _get(path, "interface", default="")
    origin = _get(path, "kind", "origin", default=None)
    origin = None if origin == "neighbor" else origin
    neighbor = _get(path, "via", "neighbor", default=None)
    metric, reported = _get(path, "metric", "fd"), _get(path, "reported", "rd")
    if origin == "Connected" or (neighbor is None and origin is None and interface != "Null0"):
        return f"        via Connected, {interface}\n"
    if origin == "Summary" or interface == "Null0":
        return f"        via Summary ({metric}/{reported}), Null0\n"
    if neighbor is None:  # redistributed: Rstatic, Rconnected
        return f"        via {origin} ({metric}/{reported})\n"
    return f"        via {neighbor} ({metric}/{reported}), {interface}\n"


def render_topology(data: dict[str, Any], all_links: bool = False) -> str:
    if not data:
        return ""
    out = [f"EIGRP-IPv4 Topology Table for AS({data['asn']})/ID({data['router_id']})\n", TOPOLOGY_CODES, "\n"]
    for entry in data.get("topology", []):
        paths = list(entry.get("paths", []))
        if not all_links:  # IOS: successors and feasible successors only
            fd = int(_get(entry, "fd", default=0))
            paths = [p for p in paths if p.get("successor") or p.get("feasible")
                     or ("successor" not in p and int(_get(p, "reported", "rd")) < fd)
                     or ("successor" not in p and int(_get(p, "metric")) == fd)]
        successors = entry.get("successors", 0)
        count = len(successors) if isinstance(successors, list) else int(successors)
        fd_text = "Inaccessible" if entry.get("fd") in (None, 0xFFFFFFFF) else entry["fd"]
        state = entry.get("state", "P")
        state = {"PASSIVE": "P", "ACTIVE": "A"}.get(state, state)
        line = f"{state} {entry['prefix']}, {count} successors, FD is {fd_text}"
        if entry.get("tag"):
            line += f", tag is {entry['tag']}"
        if all_links and entry.get("serno") is not None:
            line += f", serno {entry['serno']}"
        out.append(line + "\n")
        out += [_path_line(p) for p in paths]
    return "".join(out)


# --- interfaces ----------------------------------------------------------------------


def render_interfaces(data: dict[str, Any], detail: bool = False) -> str:
    if not data:
        return ""
    out = [f"EIGRP-IPv4 Interfaces for AS({data['asn']})\n", INTERFACE_HEADER]
    for i in data.get("interfaces", []):
        if i.get("passive"):
            continue  # IOS lists passive interfaces only in `show ip protocols`
        name = short_ifname(str(_get(i, "name", "interface", default="")))
        xmit = f"{_get(i, 'xmit_queue_unreliable')}/{_get(i, 'xmit_queue_reliable')}"
        peerq = f"{_get(i, 'peer_queue_unreliable')}/{_get(i, 'peer_queue_reliable')}"
        pacing = f"{_get(i, 'pacing_unreliable_ms')}/{_get(i, 'pacing_reliable_ms')}"
        out.append(f"{name:<23}{_get(i, 'peers'):>5}{xmit:>11}{peerq:>12}{_get(i, 'mean_srtt_ms'):>12}"
                   f"{pacing:>13}{_get(i, 'multicast_flow_timer_ms'):>12}{_get(i, 'pending_routes'):>12}\n")
        if detail:
            out += _interface_detail(i, data)
    return "".join(out)


def _interface_detail(i: dict[str, Any], data: dict[str, Any]) -> list[str]:
    name = str(_get(i, "name", "interface", default=""))
    keys = i.get("authentication") == "md5" or bool(data.get("settings", {}).get("authentication", {}).get(name))
    chain = data.get("settings", {}).get("key_chains", {}).get(name)
    auth = "not set" if not keys else f'md5,  key-chain is "{chain}"' if chain else "md5"
    hello, hold = _get(i, "hello_seconds", "hello_interval", default=5), _get(i, "hold_seconds", "hold_time", default=15)
    return [
        f"  Hello-interval is {int(float(hello))}, Hold-time is {int(hold)}\n",
        f"  Split-horizon is {'enabled' if i.get('split_horizon', True) else 'disabled'}\n",
        f"  Next xmit serial {i.get('next_xmit_serial') or '<none>'}\n",
        f"  Packetized sent/expedited: {_get(i, 'packetized_sent')}/{_get(i, 'packetized_expedited')}\n",
        f"  Hello's sent/expedited: {_get(i, 'hellos_sent')}/{_get(i, 'hellos_expedited')}\n",
        f"  Un/reliable mcasts: {_get(i, 'mcasts_unreliable')}/{_get(i, 'mcasts_reliable')}  "
        f"Un/reliable ucasts: {_get(i, 'ucasts_unreliable')}/{_get(i, 'ucasts_reliable')}\n",
        f"  Mcast exceptions: {_get(i, 'mcast_exceptions')}  CR packets: {_get(i, 'cr_packets')}  "
        f"ACKs suppressed: {_get(i, 'acks_suppressed')}\n",
        f"  Retransmissions sent: {_get(i, 'retransmissions')}  Out-of-sequence rcvd: {_get(i, 'out_of_sequence')}\n",
        "  Topology-ids on interface - 0 \n",
        f"  Authentication mode is {auth}\n",
    ]


# --- traffic -------------------------------------------------------------------------

_TRAFFIC = (("Hellos", "hello"), ("Updates", "update"), ("Queries", "query"), ("Replies", "reply"),
            ("Acks", "ack"), ("SIA-Queries", "sia_query"), ("SIA-Replies", "sia_reply"))


def _count(counters: dict[str, Any], direction: str, kind: str) -> int:
    table = counters.get(direction)
    if isinstance(table, dict):
        return int(table.get(kind, table.get(kind.upper(), 0)))
    return int(counters.get(f"{kind}_{direction}", 0))


def render_traffic(data: dict[str, Any]) -> str:
    if not data:
        return ""
    counters = data.get("counters", {})
    out = [f"EIGRP-IPv4 Traffic Statistics for AS({data['asn']})\n"]
    for label, kind in _TRAFFIC:
        out.append(f"  {label} sent/received: {_count(counters, 'sent', kind)}/{_count(counters, 'received', kind)}\n")
    drops = sum(int(v) for v in (counters.get("drops") or {}).values()) if isinstance(counters.get("drops"), dict) else 0
    out += ["  Hello Process ID: 245\n", "  PDM Process ID: 243\n",
            f"  Socket Queue: 0/10000/2/{drops} (current/max/highest/drops)\n",
            "  Input Queue: 0/2000/2/0 (current/max/highest/drops)\n"]
    return "".join(out)


# --- show ip protocols ---------------------------------------------------------------


def protocols_eigrp_lines(data: dict[str, Any]) -> list[str]:
    """The `Routing Protocol is "eigrp N"` block of `show ip protocols` (lines, no newline);
    empty when the router runs no EIGRP."""
    if not data:
        return []
    s = data.get("settings", {})
    k = s.get("k_values", [1, 0, 1, 0, 0])
    lines = [
        f'Routing Protocol is "eigrp {data["asn"]}"',
        "  Outgoing update filter list for all interfaces is not set",
        "  Incoming update filter list for all interfaces is not set",
        "  Default networks flagged in outgoing updates",
        "  Default networks accepted from incoming updates",
        f"  EIGRP-IPv4 Protocol for AS({data['asn']})",
        f"    Metric weight K1={k[0]}, K2={k[1]}, K3={k[2]}, K4={k[3]}, K5={k[4]}",
        "    Soft SIA disabled",
        "    NSF-aware route hold timer is 240",
    ]
    if s.get("stub") is not None:
        lines.append("    EIGRP stub, " + ", ".join(w for w in ("connected", "static", "summary", "redistributed",
                                                               "receive-only") if w in s["stub"]))
    lines += [
        f"    Router-ID: {data['router_id']}",
        "    Topology : 0 (base) ",
        "      Active Timer: 3 min",
        f"      Distance: internal {s.get('distance_internal', 90)} external {s.get('distance_external', 170)}",
        f"      Maximum path: {s.get('maximum_paths', 4)}",
        "      Maximum hopcount 100",
        f"      Maximum metric variance {s.get('variance', 1)}",
        "",
        "  Automatic Summarization: disabled",
        f"  Maximum path: {s.get('maximum_paths', 4)}",
        "  Routing for Networks:",
        *(f"    {n}" for n in s.get("networks", [])),
    ]
    if s.get("passive_interfaces"):
        lines += ["  Passive Interface(s):", *(f"    {p}" for p in s["passive_interfaces"])]
    lines += ["  Routing Information Sources:", "    Gateway         Distance      Last Update"]
    for n in data.get("neighbors", []):
        lines.append(f"    {str(n.get('address')):<16}{s.get('distance_internal', 90):>8}      "
                     f"{duration(float(_get(n, 'last_update', 'uptime')))}")
    lines.append(f"  Distance: internal {s.get('distance_internal', 90)} external {s.get('distance_external', 170)}")
    return lines


def protocols_section(agent: Any) -> str | None:
    """The EIGRP section of `show ip protocols` for `agent` (None: no EIGRP): what the
    frr-agent helper's cli/show_protocols.py asks this module for."""
    lines = protocols_eigrp_lines(eigrp_data(agent))
    return "\n".join(lines) + "\n" if lines else None


def clear_neighbors(agent: Any, address: Any = None) -> str:
    """`clear ip eigrp neighbors [A.B.C.D]`: reset the adjacencies (they form again)."""
    node = getattr(agent, "eigrp", None)
    if node is not None:
        node.clear_neighbors(address)
    return ""
