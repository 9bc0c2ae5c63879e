"""`show dmvpn [detail]`: the NHRP peers of the tunnel, grouped by NBMA address, as IOS 15.

`dmvpn_data(agent)` builds the data once; the text and `| json` are two views of it, so
a script reading JSON and an engineer reading the table always see the same peers.
Layout (columns, legend, attribute letters) follows IOS 15's own `show dmvpn` output:
one group per NBMA peer, `# Ent` on its first row only; Phase 3 shows the peer's /32 as
DT2 and each shortcut prefix through it as DT1 (route installed; DT2 when it is a
next-hop override of a protocol's route) on a second row without count and NBMA.
With `tunnel protection`, an NHS that is not up yet shows where its crypto stands
(IKE -> IPSEC -> NHRP, from the tunnel's IPsec node's `dmvpn_state`), as IOS does.
One block per tunnel interface, in configuration order (dual-cloud DMVPN: Tunnel0 then
Tunnel1); `show dmvpn interface TunnelN` prints that one.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.cli.timefmt import duration
from dmvpnlab.cli.view import is_hub, link_state, live_tunnels, tunnel_ipsec
from dmvpnlab.nhrp.cache import CacheEntry, EntryType

LEGEND = """\
Legend: Attrb --> S - Static, D - Dynamic, I - Incomplete
        N - NATed, L - Local, X - No Socket
        T1 - Route Installed, T2 - Nexthop-override
        C - CTS Capable
        # Ent --> Number of NHRP entries with same NBMA peer
        NHS Status: E --> Expecting Replies, R --> Responding, W --> Waiting
        UpDn Time --> Up or Down Time for a Tunnel
=========================================================================="""

HEADER = " # Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb"
RULE = " ----- --------------- --------------- ----- -------- -----"
DETAIL_HEADER = "# Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb    Target Network"
DETAIL_RULE = "----- --------------- --------------- ----- -------- ----- -----------------"


def nhs_letters(state: str, dynamic: bool = False) -> str:
    """IOS shows a registered NHS as `RE` (responding, and still expecting replies); an
    NHS configured as `ip nhrp nhs dynamic` adds `D` (the legend's D=Dynamic)."""
    return {"R": "RE", "E": "E", "W": "W"}.get(state, state) + ("D" if dynamic else "")


def nhs_fields(engine: Any, nhs: Any) -> dict[str, Any]:
    """What every NHS line shows: address (a dynamic NHS's learnt one, 0.0.0.0 before its
    first reply), NBMA, status letters, priority and cluster as configured."""
    return {
        "address": str(nhs.proto or "0.0.0.0"),
        "nbma": str(engine.nhs_nbma(nhs) or ""),
        "state": nhs_letters(nhs.state, nhs.config.proto is None),
        "priority": nhs.config.priority,
        "cluster": nhs.config.cluster,
    }


def _attributes(entry: CacheEntry, has_shortcuts: bool) -> str:
    if entry.type is EntryType.STATIC:
        attrb = "S"
    elif entry.type in (EntryType.INCOMPLETE, EntryType.NEGATIVE):
        attrb = "I"
    elif "shortcut" in entry.flags:
        attrb = "DT2" if "nho" in entry.flags else "DT1"  # T2: installed as a next-hop override
    elif has_shortcuts:
        attrb = "DT2"
    else:
        attrb = "D"
    if entry.claimed_nbma is not None:
        attrb += "N"
    return attrb


def _state_and_time(agent: Any, tunnel: Any, entry: CacheEntry, now: float,
                    intf_down: bool) -> tuple[str, float | None]:
    if intf_down:
        return "INTF", None
    engine = tunnel.engine
    nhs = next((s for s in engine.nhs if s.proto == entry.next_hop), None)
    if entry.type in (EntryType.INCOMPLETE, EntryType.NEGATIVE):
        return "NHRP", None
    if nhs is not None and entry.is_host:
        if nhs.state == "R" and nhs.up_since is not None:
            return "UP", now - nhs.up_since
        ipsec = tunnel_ipsec(agent, tunnel.name)
        if ipsec is not None and entry.nbma is not None:
            return ipsec.dmvpn_state(entry.nbma), None
        return "NHRP", None
    if "shortcut" in entry.flags or entry.type is EntryType.STATIC:
        return "UP", now - entry.created
    since = agent.peer_up_since.get(entry.next_hop, entry.created)
    return "UP", now - since


def dmvpn_data(agent: Any, interface: str | None = None) -> dict[str, Any]:
    """Everything `show dmvpn [detail] [interface TunnelN]` prints, JSON-able."""
    blocks = []
    for tunnel in live_tunnels(agent):
        itf = agent.config.interface(tunnel.name)
        if itf is not None and (interface is None or tunnel.name == interface):
            blocks.append(_interface_data(agent, tunnel, itf))
    return {"interfaces": blocks}


def _interface_data(agent: Any, tunnel: Any, itf: Any) -> dict[str, Any]:
    engine, now = tunnel.engine, agent.clock()
    status, protocol = link_state(agent, itf)
    intf_down = protocol != "up"
    # Grouped by the NBMA peer object, not its text: spokes behind one NAT share the
    # public address but are different peers (ipsec.endpoint), each its own row as on IOS.
    groups: dict[Any, list[CacheEntry]] = {}
    for entry in engine.cache:
        key = entry.nbma if entry.nbma is not None else f"UNKNOWN/{entry.next_hop}"
        groups.setdefault(key, []).append(entry)
    peers = []
    for peer_key, entries in groups.items():
        key = str(peer_key)
        entries.sort(key=lambda e: (not e.is_host, int(e.prefix.network_address), e.prefix.prefixlen))
        shortcut_hops = {e.next_hop for e in entries if "shortcut" in e.flags}
        rows = []
        for entry in entries:
            state, seconds = _state_and_time(agent, tunnel, entry, now, intf_down)
            rows.append({
                "tunnel_address": str(entry.next_hop),
                "target": str(entry.prefix),
                "state": state,
                "updn_seconds": None if seconds is None else round(seconds, 3),
                "updn": duration(seconds),
                "attributes": _attributes(entry, entry.is_host and entry.next_hop in shortcut_hops),
                "type": entry.type.value,
            })
        nbma = key if not key.startswith("UNKNOWN/") else "UNKNOWN"
        peers.append({"nbma": nbma, "entries": len(rows), "rows": rows})
    peers.sort(key=lambda p: tuple(int(x) for x in p["rows"][0]["tunnel_address"].split(".")))
    protect = itf.tunnel_protection.profile if itf.tunnel_protection else ""
    point_to_point = tunnel.destination is not None
    return {
        "interface": tunnel.name,
        "status": status,
        "protocol": protocol,
        "address": str(tunnel.address.ip),
        "nbma": str(tunnel.nbma),
        "destination": str(tunnel.destination) if point_to_point else "MGRE",
        "transport": "GRE/IP" if point_to_point else "multi-GRE/IP",
        "protect": protect,
        "type": "Spoke" if not is_hub(agent, tunnel) else "Hub",
        "nhs": [nhs_fields(engine, s) for s in engine.nhs],
        "peer_count": len(peers),
        "peers": peers,
    }


def _row(count: str, nbma: str, row: dict[str, Any], detail: bool) -> str:
    if detail:
        return (f"{count:>5} {nbma:<15} {row['tunnel_address']:>15} {row['state']:>5} {row['updn']:>8} "
                f"{row['attributes']:>5} {row['target']:>18}")
    return f"{count:>6} {nbma:<15} {row['tunnel_address']:>15} {row['state']:>5} {row['updn']:>8} {row['attributes']:>5}"


def _rows(peers: list[dict[str, Any]], detail: bool) -> list[str]:
    out = []
    for peer in peers:
        for n, row in enumerate(peer["rows"]):
            out.append(_row(str(peer["entries"]), peer["nbma"], row, detail) if n == 0 else _row("", "", row, detail))
    return out


def render_dmvpn(data: dict[str, Any]) -> str:
    out = [LEGEND, ""]
    for itf in data["interfaces"]:
        out.append(f"Interface: {itf['interface']}, IPv4 NHRP Details ")
        out.append(f"Type:{itf['type']}, NHRP Peers:{itf['peer_count']}, ")
        if itf["peers"]:
            out += ["", HEADER, RULE, *_rows(itf["peers"], False)]
        out.append("")
    return "\n".join(out) + "\n"


def render_dmvpn_detail(data: dict[str, Any]) -> str:
    out = [LEGEND, ""]
    for itf in data["interfaces"]:
        out += [
            f"Interface {itf['interface']} is {itf['status']}/{itf['protocol']}, Addr. is {itf['address']}, VRF \"\" ",
            f"   Tunnel Src./Dest. addr: {itf['nbma']}/{itf['destination']}, Tunnel VRF \"\"",
            f"   Protocol/Transport: \"{itf['transport']}\", Protect \"{itf['protect']}\" ",
            "   Interface State Control: Disabled",
            "   nhrp event-publisher : Disabled",
            "",
        ]
        if itf["nhs"]:
            out.append("IPv4 NHS:")
            out += [f"{n['address']}  {n['state']} priority = {n['priority']} cluster = {n['cluster']}" for n in itf["nhs"]]
        out.append(f"Type:{itf['type']}, Total NBMA Peers (v4/v6): {itf['peer_count']}")
        if itf["peers"]:
            out += ["", DETAIL_HEADER, DETAIL_RULE, *_rows(itf["peers"], True)]
        out += ["", "", "Crypto Session Details: ", "-" * 80, "", "Pending DMVPN Sessions:", ""]
    return "\n".join(out) + "\n"
