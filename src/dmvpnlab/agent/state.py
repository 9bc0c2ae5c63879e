"""The agent's state as plain JSON-able data: the control socket's `state` answer.

Scenarios, `dmvpnlab status`, `| json` CLI twins and benchmarks read this instead of
parsing show output. Times are relative (seconds since / until) so the data means the
same thing in any process. Reads the agent's public attributes; imports only the state
modules of agent parts (eigrp_state).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from dmvpnlab.agent.eigrp_state import eigrp_state

if TYPE_CHECKING:
    from dmvpnlab.agent.core import RouterAgent


def _seconds(value: float | None, now: float) -> float | None:
    return None if value is None else round(value - now, 3)


def _ago(value: float | None, now: float) -> float | None:
    return None if value is None else round(now - value, 6)


def _tunnels(agent: "RouterAgent") -> list[Any]:
    tunnels = getattr(agent, "tunnels", None)
    if tunnels is None:  # a stand-in with one `tunnel`
        return [agent.tunnel] if getattr(agent, "tunnel", None) is not None else []
    return list(tunnels)


def nhrp_state(agent: "RouterAgent") -> dict[str, Any]:
    """The first tunnel's NHRP (the shape readers of one tunnel know: the lab waits on
    `nhrp.nhs`), and every tunnel's, first included, in `nhrp.tunnels`."""
    blocks = [tunnel_nhrp_state(agent, t) for t in _tunnels(agent)]
    if not blocks:
        return {}
    return {**blocks[0], "tunnels": blocks}


def tunnel_nhrp_state(agent: "RouterAgent", tunnel: Any) -> dict[str, Any]:
    engine, now = tunnel.engine, agent.clock()
    cfg = engine.config
    return {
        "interface": tunnel.name,
        "tunnel_address": str(tunnel.address),
        "nbma_address": str(tunnel.nbma),
        "mode": "point-to-point" if tunnel.destination is not None else "multipoint",
        "destination": str(tunnel.destination) if tunnel.destination else None,
        "key": tunnel.key,
        "role": "hub" if not cfg.nhs else "spoke",
        "network_id": cfg.network_id,
        "holdtime": cfg.holdtime,
        "redirect": cfg.redirect,
        "shortcut": cfg.shortcut,
        "cache": [
            {
                "prefix": str(e.prefix),
                "next_hop": str(e.next_hop),
                "nbma": str(e.nbma) if e.nbma else None,
                "claimed_nbma": str(e.claimed_nbma) if e.claimed_nbma else None,
                "type": e.type.value,
                "flags": sorted(e.flags - {"refreshing"}),
                "created_ago": round(now - e.created, 3),
                "expires_in": _seconds(e.expires, now),
                "holdtime": e.holdtime,
                "request_id": e.request_id,
            }
            for e in engine.cache
        ],
        "nhs": [
            {
                "address": str(s.proto) if s.proto is not None else None,
                "dynamic": s.config.proto is None,
                "priority": s.config.priority,
                "cluster": s.config.cluster,
                # Left waiting by the NHS policy (not a failure: max-connections chose others).
                "waiting": s.state == "W" and not s.active and not s.recovering,
                "nbma": str(engine.nhs_nbma(s) or ""),
                "state": s.state,
                "requests_sent": s.sent,
                "replies": s.replies,
                "up_for": None if s.up_since is None or s.state != "R" else round(now - s.up_since, 3),
                "request_id": s.request_id,
            }
            for s in engine.nhs
        ],
        "multicast": [str(a) for a in engine.multicast_targets()],
        "traffic": {"sent": dict(engine.sent), "received": dict(engine.received), "dropped": dict(engine.dropped),
                    "retransmitted": dict(getattr(engine, "retransmitted", {}))},
        "peer_up_for": {str(k): round(now - v, 3) for k, v in agent.peer_up_since.items()},
    }


def nhrp_summary(agent: "RouterAgent") -> list[dict[str, Any]]:
    """Per tunnel: how many peers, registrations, multicast targets, and the counters.

    What a load test polls at 10,000 peers: `state` serialises every cache entry (a few MB
    of JSON there), this only counts them.
    """
    out = []
    for tunnel in _tunnels(agent):
        engine = tunnel.engine
        counts = engine.cache.counts()
        out.append({"interface": tunnel.name, "entries": counts["entries"], "registered": counts["registered"],
                    "multicast": len(engine.multicast_dynamic),
                    "traffic": {"sent": dict(engine.sent), "received": dict(engine.received),
                                "dropped": dict(engine.dropped)}})
    return out


def interface_state(agent: "RouterAgent") -> dict[str, Any]:
    """The first tunnel's counters (`state["tunnel"]`); `tunnels_state` has every one."""
    tunnels = _tunnels(agent)
    return tunnel_interface_state(tunnels[0]) if tunnels else {}


def tunnels_state(agent: "RouterAgent") -> list[dict[str, Any]]:
    return [tunnel_interface_state(t) for t in _tunnels(agent)]


def tunnel_interface_state(tunnel: Any) -> dict[str, Any]:
    c = tunnel.counters
    return {
        "name": tunnel.name,
        "gre_in": c.gre_in, "gre_out": c.gre_out, "bytes_in": c.bytes_in, "bytes_out": c.bytes_out,
        "nhrp_in": c.nhrp_in, "nhrp_out": c.nhrp_out, "drops": dict(c.drops),
        "dataplane": tunnel.dataplane.counters.as_dict(),
        "ip_mtu": tunnel.dataplane.mtu,
    }


def ipsec_state(agent: "RouterAgent") -> dict[str, Any]:
    """`tunnel protection`: the SA pairs, IKE SAs, and the counters of each layer."""
    node = getattr(agent, "ipsec", None)
    if node is None:
        return {}
    nodes = getattr(agent, "ipsec_nodes", None)
    first = tunnel_ipsec_state(agent, node)
    if isinstance(nodes, list) and len(nodes) > 1:  # several protected tunnels: each its IKE
        first["tunnels"] = [{"interface": name, **tunnel_ipsec_state(agent, n)} for name, n in nodes]
    return first


def tunnel_ipsec_state(agent: "RouterAgent", node: Any) -> dict[str, Any]:
    transport = node.transport
    now = agent.clock()
    installed = {pair.spi_in: pair.installed for pair in transport.sadb}
    return {
        "profile": node.settings.child.profile,
        "local": str(node.settings.local_address),
        "ike_sas": [
            {"src": str(v.src), "dst": str(v.dst), "state": v.state, "status": v.status, "conn_id": v.conn_id,
             "initiator": v.initiator, "nat_t": v.nat_t}
            for v in node.ike_sas()
        ],
        "child_sas": [
            {"peer": str(v.peer), "peer_port": v.peer_port, "spi_in": v.spi_in, "spi_out": v.spi_out,
             "transform": v.transform, "mode": v.mode, "nat_t": v.nat_t, "state": v.state,
             "lifetime_left_in": list(v.lifetime_left), "lifetime_left_out": list(v.lifetime_left_out),
             "in": v.counters_in.as_dict(), "out": v.counters_out.as_dict(),
             "installed_ago": _ago(installed.get(v.spi_in), now)}
            for v in node.child_sas()
        ],
        "marks_ago": {str(peer): {k: round(now - t, 6) for k, t in marks.items()}
                      for peer, marks in getattr(node, "marks", {}).items()},
        "queued": {str(peer): n for peer, n in transport.waiting().items()},
        "counters": dict(node.counters),
        "engine": dict(node.engine.counters),
        "transport": dict(transport.esp),
        "sadb": dict(transport.sadb.counters),
    }


def routes_state(agent: "RouterAgent") -> list[dict[str, Any]]:
    return [
        {"prefix": str(r.prefix), "gateway": str(r.gateway) if r.gateway else None, "ifname": r.ifname,
         "proto": r.proto, "metric": r.metric, "scope": r.scope, "type": r.type}
        for r in agent.kernel.routes()
    ]


def routing_state(agent: "RouterAgent") -> dict[str, Any]:
    """`state["routing"]`: one key per routing process that runs (frr; eigrp from its node)."""
    out: dict[str, Any] = {}
    frr = getattr(agent, "frr", None)
    if frr is not None and (frr.wanted.daemons or frr.supervisor is not None):
        out["frr"] = frr.state()
    eigrp = eigrp_state(getattr(agent, "eigrp", None), agent.clock())
    if eigrp is not None:
        out["eigrp"] = eigrp
    return out


def not_applied_lines(agent: "RouterAgent") -> list[str]:
    """What the interfaces, static-route and NAT/ACL parts could not apply, with the reason."""
    lines: list[str] = []
    for part in ("interfaces", "static_routes", "nat"):
        lines += list(getattr(getattr(agent, part, None), "not_applied", []) or [])
    return lines


def ignored_lines(agent: "RouterAgent") -> list[str]:
    """The parser's ignored lines plus the routing lines FRR and our EIGRP have no use for,
    plus the lines the agent's parts could not apply (not_applied_lines)."""
    frr = getattr(agent, "frr", None)
    eigrp = getattr(agent, "eigrp", None)
    return (list(agent.ignored_lines) + (frr.ignored if frr is not None else [])
            + (list(eigrp.ignored) if eigrp is not None else []) + not_applied_lines(agent))


def agent_state(agent: "RouterAgent") -> dict[str, Any]:
    return {
        "node": agent.node,
        "hostname": agent.hostname,
        "uptime": round(agent.clock() - agent.started, 3),
        "wall_time": time.time(),  # when this answer was built: turns every *_ago into a wall-clock time
        "pid": os.getpid(),
        "nhrp": nhrp_state(agent),
        "tunnel": interface_state(agent),
        "tunnels": tunnels_state(agent),
        "tunnel_problems": dict(getattr(getattr(agent, "tunnels_node", None), "problems", {}) or {}),
        "gre_unmatched": getattr(getattr(agent, "tunnels_node", None), "demux", None).unmatched
        if getattr(agent, "tunnels_node", None) is not None else 0,
        "ipsec": ipsec_state(agent),
        "routes": routes_state(agent),
        "routing": routing_state(agent),
        "shortcuts": dict(agent.installed_shortcuts),
        # [{"prefix", "next_hop", "kind": "override" | "route", "metric", "overridden_proto", ...}]
        "shortcut_routes": agent.shortcut_routes.state(agent.clock()) if hasattr(agent, "shortcut_routes") else [],
        "ignored_config_lines": ignored_lines(agent),
        "not_applied_config_lines": not_applied_lines(agent),
        "routing": routing_state(agent),
        "redirect_to_shortcut_seconds": [round(x, 6) for x in agent.shortcut_latencies],
        "dhcp": agent.dhcp.state() if getattr(agent, "dhcp", None) is not None else None,
        "dot1q": agent.dot1q.state() if getattr(agent, "dot1q", None) is not None else None,
        "impairment": impairment_state(getattr(agent, "impairment", None)),
    }


def impairment_state(line: Any) -> dict[str, Any] | None:
    """A lab delay fault in the agent's tunnel (tunnel.delay_line): its settings and counters."""
    if line is None:
        return None
    return {"delay_ms": line.delay_ms, "jitter_ms": line.jitter_ms, **dict(line.counters)}
