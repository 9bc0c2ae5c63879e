"""`show ip rip database` and RIP's part of `show ip protocols`, from ripd's text.

Why parse text here: ripd 8.4 has no JSON for its table or status. Its table
(`show ip rip`) has fixed columns: code `C(i)`/`R(n)`, network, next hop, metric, from,
tag, and for learned routes the seconds left before the route times out. IOS counts RIP
metrics from 0 for a connected network where ripd counts from 1, so a route ripd holds
at metric 2 is IOS's [1]. Lines ripd may add that this does not know are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from dmvpnlab.cli.frr_view import frr_command, ios_ifname
from dmvpnlab.cli.timefmt import duration

_ROW = re.compile(r"^(?P<code>[A-Z])\((?P<sub>[a-z])\)\s+(?P<network>\d+\.\d+\.\d+\.\d+/\d+)\s+"
                  r"(?P<next_hop>\d+\.\d+\.\d+\.\d+)\s+(?P<metric>\d+)\s+(?P<source>\S+)\s+(?P<tag>\d+)"
                  r"(?:\s+(?P<time>\d+:\d+))?\s*$")
_SOURCE = re.compile(r"^\s+(?P<gateway>\d+\.\d+\.\d+\.\d+)\s+(?P<bad_packets>\d+)\s+(?P<bad_routes>\d+)\s+"
                     r"(?P<distance>\d+)\s+(?P<last>\S+)\s*$")
_INTERFACE = re.compile(r"^    (?P<ifname>\S+)\s+(?P<send>[12])\s+(?P<recv>[12](?: [12])?)\s*(?P<key>\S*)\s*$")
TIMEOUT = 180


def _ifname_of(agent: Any, next_hop: str) -> str | None:
    for route in agent.kernel.routes():
        if route.gateway is not None and str(route.gateway) == next_hop:
            return ios_ifname(agent, route.ifname)
    return None


def database_data(agent: Any) -> dict[str, Any]:
    text = frr_command(agent, "show ip rip") or ""
    connected = {str(i.address.network): i.name for i in agent.config.interfaces if i.address is not None}
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        network, code = m["network"], m["code"]
        row: dict[str, Any] = {"network": network, "code": code, "metric": max(0, int(m["metric"]) - 1)}
        if code == "C":
            row.update(connected=True, interface=connected.get(network))
        else:
            left = m["time"]
            age = None
            if left:
                minutes, seconds = left.split(":")
                age = max(0, TIMEOUT - int(minutes) * 60 - int(seconds))
            row.update(connected=False, next_hop=m["next_hop"], age=duration(age, never="00:00:00"),
                       interface=_ifname_of(agent, m["next_hop"]))
        rows.append(row)
    return {"routes": rows}


def render_database(data: dict[str, Any]) -> str:
    out = []
    for r in data["routes"]:
        if r["connected"]:
            out.append(f"{r['network']}    directly connected, {r['interface'] or 'unknown'}")
        else:
            out.append(r["network"])
            via = f"    [{r['metric']}] via {r['next_hop']}, {r['age']}"
            out.append(via + (f", {r['interface']}" if r["interface"] else ""))
    return "\n".join(out) + ("\n" if out else "")


def status_data(agent: Any) -> dict[str, Any]:
    """Timers, interfaces and sources from `show ip rip status`, for `show ip protocols`."""
    text = frr_command(agent, "show ip rip status") or ""
    data: dict[str, Any] = {"update": 30, "next_due": None, "timeout": 180, "garbage": 120, "send": "2",
                            "receive": "2", "interfaces": [], "sources": []}
    section = None
    for line in text.splitlines():
        if m := re.search(r"Sending updates every (\d+) seconds.*next due in (\d+) seconds", line):
            data["update"], data["next_due"] = int(m[1]), int(m[2])
        elif m := re.search(r"Timeout after (\d+) seconds, garbage collect after (\d+) seconds", line):
            data["timeout"], data["garbage"] = int(m[1]), int(m[2])
        elif m := re.search(r"send version (\S+), receive version (\S+)", line):
            data["send"], data["receive"] = m[1], m[2]
        elif "Interface" in line and "Send" in line:
            section = "interfaces"
        elif "Routing for Networks" in line:
            section = "networks"
        elif "Gateway" in line and "BadPackets" in line:
            section = "sources"
        elif section == "interfaces" and (m := _INTERFACE.match(line)):
            data["interfaces"].append({"interface": ios_ifname(agent, m["ifname"]), "send": m["send"].strip(),
                                       "recv": m["recv"].strip(), "key_chain": m["key"] or "none"})
        elif section == "sources" and (m := _SOURCE.match(line)):
            data["sources"].append({"gateway": m["gateway"], "distance": int(m["distance"]), "last": m["last"]})
    return data
