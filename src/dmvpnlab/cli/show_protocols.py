"""`show ip protocols`: one IOS section per routing process, OSPF/BGP/RIP from FRR.

Why the config is read too: IOS lists a process's `network` statements as the user wrote
them (`10.0.0.0 0.0.0.255 area 0`), which FRR has rewritten as prefixes; FRR's JSON
gives what runs (router id, areas, neighbours and when they last spoke). The EIGRP
section is the eigrp-agent's: `cli/show_eigrp.py` provides `protocols_section(agent)`
(text or None); until that module exists, EIGRP is simply not listed.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from dmvpnlab.cli.frr_view import frr_daemons, frr_json, ios_age, process_id, router_section
from dmvpnlab.cli.show_rip import status_data
from dmvpnlab.cli.timefmt import duration

FILTERS = ["  Outgoing update filter list for all interfaces is not set",
           "  Incoming update filter list for all interfaces is not set"]
SOURCES_HEADER = "    Gateway         Distance      Last Update"
EIGRP_MODULE = "dmvpnlab.cli.show_eigrp"  # the eigrp-agent helper's renderers


def _section_lines(agent: Any, protocol: str, keyword: str) -> list[str]:
    section = router_section(agent, protocol)
    if section is None:
        return []
    return [" ".join(line.split()[1:]) for line in section.lines if line.split()[:1] == [keyword]]


def _source(gateway: str, distance: int, last: str | None) -> str:
    return f"    {gateway:<15} {distance:>8}      {last or 'never'}"


def ospf_section(agent: Any) -> list[str]:
    info = frr_json(agent, "show ip ospf json") or {}
    if not info.get("routerId"):
        return []
    areas = info.get("areas") or {}
    stub = sum(1 for a in areas.values() if isinstance(a, dict) and a.get("stubType"))
    nssa = sum(1 for a in areas.values() if isinstance(a, dict) and a.get("nssa"))
    out = [f'Routing Protocol is "ospf {process_id(agent, "ospf") or 1}"', *FILTERS,
           f"  Router ID {info['routerId']}",
           f"  Number of areas in this router is {len(areas)}. {len(areas) - stub - nssa} normal {stub} stub {nssa} nssa",
           f"  Maximum path: {min(int(info.get('maximumPaths', 4)), 32)}", "  Routing for Networks:"]
    out += [f"    {n}" for n in _section_lines(agent, "ospf", "network")]
    passive = _section_lines(agent, "ospf", "passive-interface")
    if passive:
        out.append("  Passive Interface(s):")
        out += [f"    {p}" for p in passive]
    neighbors = (frr_json(agent, "show ip ospf neighbor json") or {}).get("neighbors") or {}
    out += ["  Routing Information Sources:", SOURCES_HEADER]
    for router_id, entries in neighbors.items():
        first = entries[0] if isinstance(entries, list) and entries else {}
        up = first.get("upTimeInMsec")
        out.append(_source(router_id, int(info.get("preference", 110)),
                           duration(up / 1000) if isinstance(up, (int, float)) else None))
    out.append("  Distance: (default is 110)")
    return out


def bgp_section(agent: Any) -> list[str]:
    family = (frr_json(agent, "show ip bgp summary json") or {}).get("ipv4Unicast") or {}
    if not family.get("routerId"):
        return []
    peers = family.get("peers") or {}
    out = [f'Routing Protocol is "bgp {family.get("as", process_id(agent, "bgp"))}"', *FILTERS,
           "  IGP synchronization is disabled", "  Automatic route summarization is disabled",
           "  Neighbor(s):", "    Address          FiltIn FiltOut DistIn DistOut Weight RouteMap"]
    out += [f"    {address}" for address in peers]
    out += ["  Maximum path: 1", "  Routing Information Sources:", SOURCES_HEADER]
    for address, p in peers.items():
        if p.get("state") == "Established":
            distance = 20 if p.get("remoteAs") != p.get("localAs", family.get("as")) else 200
            out.append(_source(address, distance, ios_age(p.get("peerUptime"))))
    out.append("  Distance: external 20 internal 200 local 200")
    return out


def rip_section(agent: Any) -> list[str]:
    if "ripd" not in frr_daemons(agent):
        return []
    s = status_data(agent)
    due = f", next due in {s['next_due']} seconds" if s["next_due"] is not None else ""
    out = ['Routing Protocol is "rip"', *FILTERS, f"  Sending updates every {s['update']} seconds{due}",
           f"  Invalid after {s['timeout']} seconds, hold down {s['timeout']}, flushed after {s['timeout'] + s['garbage'] - 60}",
           "  Redistributing: rip",
           f"  Default version control: send version {s['send']}, receive version {s['receive']}",
           "    Interface             Send  Recv  Triggered RIP  Key-chain"]
    for i in s["interfaces"]:
        out.append(f"    {i['interface'] or '':<21} {i['send']:<5} {i['recv']:<5} {'No':>10}        {i['key_chain']}")
    auto = any(line.split()[:1] == ["auto-summary"] for line in (router_section(agent, "rip") or _Empty()).lines)
    out += [f"  Automatic network summarization is {'in effect' if auto else 'not in effect'}",
            "  Maximum path: 4", "  Routing for Networks:"]
    out += [f"    {n}" for n in _section_lines(agent, "rip", "network")]
    out += ["  Routing Information Sources:", SOURCES_HEADER]
    out += [_source(x["gateway"], x["distance"], x["last"]) for x in s["sources"]]
    out.append("  Distance: (default is 120)")
    return out


class _Empty:
    lines: list[str] = []


def eigrp_section(agent: Any) -> list[str]:
    """The eigrp-agent helper's `protocols_section(agent) -> str | None`, when it exists."""
    try:
        module = importlib.import_module(EIGRP_MODULE)
    except ImportError:
        return []
    provider: Callable[[Any], str | None] | None = getattr(module, "protocols_section", None)
    text = provider(agent) if provider is not None else None
    return text.rstrip("\n").splitlines() if text else []


def render_protocols(agent: Any) -> str:
    out = ["*** IP Routing is NSF aware ***", ""]
    for section in (eigrp_section(agent), ospf_section(agent), bgp_section(agent), rip_section(agent)):
        if section:
            out += [*section, ""]
    return "\n".join(out) + "\n"


__all__ = ["render_protocols"]
