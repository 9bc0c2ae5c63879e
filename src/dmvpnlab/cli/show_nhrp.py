"""`show ip nhrp [detail]`, `show ip nhrp nhs [detail]`, `show ip nhrp traffic`, `summary`.

The cache entries are printed the way IOS 15 does (four lines per entry, flags in IOS's
order, `never expire` for static entries, a Claimed NBMA line behind NAT), so TextFSM and
Genie parsers written for real routers read them. `nhrp_data` is the `| json` twin.
Every tunnel interface is shown (each entry names its interface, `nhs` and `traffic`
print a block per interface, as IOS does with several tunnels); the JSON keeps the first
tunnel's `interface` at the top for readers of one tunnel.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.cli.show_dmvpn import nhs_fields
from dmvpnlab.cli.timefmt import duration
from dmvpnlab.cli.view import live_tunnels
from dmvpnlab.nhrp.cache import CacheEntry, EntryType
from dmvpnlab.nhrp.codec import PACKET_NAMES

# The order IOS prints cache flags in; internal markers (shortcut, refreshing) are not flags.
FLAG_ORDER = ("router", "implicit", "local", "unique", "nat", "registered", "used", "nhop", "rib", "nho", "negative")
ENTRY_BYTES = 368  # what IOS reports per cache entry in `show ip nhrp summary`

# `show ip nhrp traffic` lists these, three per line, in this order.
TRAFFIC_ORDER = ("Resolution Request", "Resolution Reply", "Registration Request", "Registration Reply",
                 "Purge Request", "Purge Reply", "Error Indication", "Traffic Indication", "Redirect Suppress")


def entry_flags(entry: CacheEntry) -> list[str]:
    flags = set(entry.flags)
    if entry.is_host and entry.type is EntryType.DYNAMIC and "shortcut" not in flags:
        flags.add("nhop")
    if entry.type is EntryType.INCOMPLETE:
        flags.add("negative")
    return [f for f in FLAG_ORDER if f in flags]


def nhrp_data(agent: Any, address: str | None = None, interface: str | None = None) -> dict[str, Any]:
    tunnels = [t for t in live_tunnels(agent) if interface is None or t.name == interface]
    if not tunnels:
        return {"entries": []}
    now = agent.clock()
    entries = []
    for tunnel, e in ((t, e) for t in tunnels for e in t.engine.cache):
        if address is not None and str(e.next_hop) != address and address not in (str(e.prefix.network_address),):
            continue
        remaining = e.remaining(now)
        entries.append({
            "prefix": str(e.prefix),
            "next_hop": str(e.next_hop),
            "interface": tunnel.name,
            "created_seconds": round(now - e.created, 3),
            "created": duration(now - e.created),
            "expire_seconds": None if remaining is None else round(remaining, 3),
            "expire": None if remaining is None else duration(remaining),
            "type": e.type.value,
            "flags": entry_flags(e),
            "nbma": str(e.nbma) if e.nbma else None,
            "claimed_nbma": str(e.claimed_nbma) if e.claimed_nbma else None,
            "preference": e.preference,
            "requester": str(e.requester) if e.requester else None,
            "request_id": e.request_id,
            "holdtime": e.holdtime,
        })
    return {"interface": tunnels[0].name, "entries": entries}


def render_nhrp(data: dict[str, Any], detail: bool = False) -> str:
    out: list[str] = []
    for e in data["entries"]:
        expire = "never expire" if e["expire"] is None else f"expire {e['expire']}"
        if e["type"] in ("incomplete", "negative"):
            out.append(f"{e['prefix']}, {e['interface']} created {e['created']}, {expire}")
        else:
            out.append(f"{e['prefix']} via {e['next_hop']}")
            out.append(f"   {e['interface']} created {e['created']}, {expire}")
        flags = " ".join(e["flags"])
        out.append(f"   Type: {e['type']}, Flags: {flags}".rstrip())
        if e["nbma"]:
            out.append(f"   NBMA address: {e['nbma']} ")
            if e["claimed_nbma"]:
                out.append(f"    (Claimed NBMA address: {e['claimed_nbma']}) ")
        else:
            out.append("   Cache hits: 0")
        if detail:
            out.append(f"   Preference: {e['preference']}")
            if e["requester"] and e["request_id"] is not None:
                out.append(f"   Requester: {e['requester']} Request ID: {e['request_id']}")
    return "\n".join(out) + ("\n" if out else "")


def nhs_data(agent: Any) -> dict[str, Any]:
    tunnels = live_tunnels(agent)
    if not tunnels:
        return {"nhs": []}
    now = agent.clock()
    return {"interface": tunnels[0].name, "nhs": [{
        "interface": tunnel.name,
        **nhs_fields(engine, s),
        "requests_sent": s.sent,
        "requests_failed": max(0, s.sent - s.replies),
        "replies": s.replies,
        "last_reply_ago": None if s.last_reply is None else round(now - s.last_reply, 3),
        "request_id": s.request_id,
        "retry_in": round(max(0.0, s.next_send - now), 3),
    } for tunnel in tunnels for engine in (tunnel.engine,) for s in engine.nhs]}


def render_nhs(data: dict[str, Any], detail: bool = False) -> str:
    out = ["Legend: E=Expecting replies, R=Responding, W=Waiting, D=Dynamic"]
    shown = None
    for n in data["nhs"]:
        interface = n.get("interface", data.get("interface"))
        if interface != shown:
            out.append(f"{interface}:")
            shown = interface
        line = f"{n['address']}  {n['state']} NBMA Address: {n['nbma']} priority = {n['priority']} cluster = {n['cluster']}"
        if detail:
            ago = "never" if n["last_reply_ago"] is None else f"{duration(n['last_reply_ago'])} ago"
            line += f"  req-sent {n['requests_sent']}  req-failed {n['requests_failed']}  repl-recv {n['replies']} ({ago})"
        out.append(line)
    if detail:
        out.append("")
        out.append("Pending Registration Requests:")
        pending = [n for n in data["nhs"] if n["state"].startswith("E")]
        if not pending:
            out.append("None")
        for n in pending:
            out.append(f"Registration Request: Reqid {n['request_id']}, Ret {int(n['retry_in'])}  NHS {n['address']}")
    return "\n".join(out) + "\n"


def traffic_data(agent: Any) -> dict[str, Any]:
    """The first tunnel's counters at the top (one-tunnel readers), every tunnel's in `interfaces`."""
    blocks = [_traffic(t) for t in live_tunnels(agent)]
    if not blocks:
        return {}
    return {**blocks[0], "interfaces": blocks}


def _traffic(tunnel: Any) -> dict[str, Any]:
    engine = tunnel.engine
    known = set(PACKET_NAMES.values())
    return {
        "interface": tunnel.name,
        "sent": {name: int(engine.sent.get(name, 0)) for name in TRAFFIC_ORDER},
        "received": {name: int(engine.received.get(name, 0)) for name in TRAFFIC_ORDER},
        "sent_total": sum(v for k, v in engine.sent.items() if k in known),
        "received_total": sum(v for k, v in engine.received.items() if k in known),
        "dropped": dict(engine.dropped),
    }


def render_traffic(data: dict[str, Any]) -> str:
    if not data:
        return ""
    out = []
    for block in data.get("interfaces", [data]):
        out.append(f"{block['interface']}: Max-send limit:10000Pkts/10Sec, Usage:0%")
        for title, key in (("Sent", "sent"), ("Rcvd", "received")):
            out.append(f"   {title}: Total {block[key + '_total']}")
            counts = block[key]
            for k in range(0, len(TRAFFIC_ORDER), 3):
                names = TRAFFIC_ORDER[k:k + 3]
                cells = [f"{counts[names[0]]:>10} {names[0]}"] + [f"{counts[n]} {n}" for n in names[1:]]
                out.append("  ".join(cells) + "  ")
    return "\n".join(out) + "\n"


def render_summary(agent: Any) -> str:
    entries = [e for tunnel in live_tunnels(agent) for e in tunnel.engine.cache]
    static = sum(e.type is EntryType.STATIC for e in entries)
    dynamic = sum(e.type is EntryType.DYNAMIC for e in entries)
    incomplete = len(entries) - static - dynamic
    return (f"IP NHRP cache {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {len(entries) * ENTRY_BYTES} bytes\n"
            f"    {static} static  {dynamic} dynamic  {incomplete} incomplete\n")
