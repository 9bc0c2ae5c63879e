"""Reading an EIGRP lab's convergence out of agent state, for bench/bench_eigrp_scale.py.

Why its own module: the times are computed from what the routers themselves say (a
neighbour's uptime, a route's age in `state["routing"]["eigrp"]`), not from when a poll
happened to look, so a 500-spoke lab can be polled slowly (one state answer per router
costs the router CPU) and still be timed to the agent's clock. These functions take the
state dicts and the wall time each answer was built at, and return wall-clock instants;
they touch no lab, so tests/test_bench_eigrp_probe.py checks them with plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any, Iterable, Optional

TUNNEL = "Tunnel0"


@dataclass
class HubProgress:
    """How far the hub is: neighbours up, spoke LANs routed, and when each last happened."""

    neighbors_up: int = 0
    neighbors_all_up_at: Optional[float] = None   # wall time the last of them came up
    missing_lans: list[IPv4Network] = field(default_factory=list)
    lans_all_routed_at: Optional[float] = None    # wall time the last LAN route appeared

    def done(self, spokes: int) -> bool:
        return self.neighbors_up >= spokes and not self.missing_lans


def eigrp(state: dict[str, Any]) -> dict[str, Any]:
    """The EIGRP part of an agent's state ({} when it runs none)."""
    return state.get("routing", {}).get("eigrp") or {}


def tunnel_routes(state: dict[str, Any]) -> list[tuple[IPv4Network, Optional[float]]]:
    """(prefix, age in seconds) of every EIGRP route out of Tunnel0."""
    out = []
    for route in eigrp(state).get("routes", []):
        if any(h.get("interface") == TUNNEL for h in route.get("next_hops", [])):
            out.append((IPv4Network(route["prefix"]), route.get("age_seconds")))
    return out


def hub_progress(state: dict[str, Any], answered: float, lans: Iterable[IPv4Network]) -> HubProgress:
    """The hub's progress from one state answer built at wall time `answered`: neighbours
    with `up` (INIT done) and the spoke LANs it routes through Tunnel0 by their exact
    prefix (the hub must know every component, not only its own summary)."""
    progress = HubProgress()
    ups = [n for n in eigrp(state).get("neighbors", []) if n.get("up", True)]
    progress.neighbors_up = len(ups)
    if ups:
        progress.neighbors_all_up_at = answered - min(float(n["uptime"]) for n in ups)
    routed = dict(tunnel_routes(state))
    latest: Optional[float] = None
    for lan in lans:
        if lan not in routed:
            progress.missing_lans.append(lan)
        elif routed[lan] is not None:
            at = answered - float(routed[lan])
            latest = at if latest is None else max(latest, at)
    progress.lans_all_routed_at = latest
    return progress


def spoke_covered_at(state: dict[str, Any], answered: float, others: Iterable[IPv4Network]) -> Optional[float]:
    """When this spoke had a Tunnel0 route covering every other spoke's LAN (the hub's
    summary counts: in Phase 3 that is the design), as wall time; None if it has not yet.
    Each LAN counts from the oldest covering route (the one that covered it first)."""
    routes = tunnel_routes(state)
    latest: Optional[float] = None
    for lan in others:
        ages = [age for prefix, age in routes if prefix.prefixlen > 0 and lan.subnet_of(prefix)]
        if not ages:
            return None
        known = [a for a in ages if a is not None]
        if known:
            at = answered - max(known)
            latest = at if latest is None else max(latest, at)
    return latest if latest is not None else answered


def hub_has_lost(state: dict[str, Any], neighbor: str, lan: IPv4Network) -> tuple[bool, bool]:
    """(neighbour gone from the table, its LAN's exact route gone) at the hub."""
    gone = all(n.get("address") != neighbor for n in eigrp(state).get("neighbors", []))
    routed = {p for p, _ in tunnel_routes(state)}
    return gone, lan not in routed


def neighbor_up_at(state: dict[str, Any], answered: float, neighbor: str) -> Optional[float]:
    """Wall time `neighbor`'s adjacency came up (None: not up)."""
    for n in eigrp(state).get("neighbors", []):
        if n.get("address") == neighbor and n.get("up", True):
            return answered - float(n["uptime"])
    return None


def route_at(state: dict[str, Any], answered: float, prefix: IPv4Network) -> Optional[float]:
    """Wall time the route to exactly `prefix` out of Tunnel0 was installed as it is now."""
    for p, age in tunnel_routes(state):
        if p == prefix:
            return answered - float(age) if age is not None else answered
    return None


def counter_rates(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, dict[str, float]]:
    """Packets per second by kind, sent and received, between two `counters` readings."""
    out: dict[str, dict[str, float]] = {}
    for way in ("sent", "received"):
        b, a = before.get(way, {}), after.get(way, {})
        out[way] = {k: round((a.get(k, 0) - b.get(k, 0)) / seconds, 1) for k in a if seconds > 0}
    return out


def pss_kb(pid: int) -> Optional[int]:
    """Proportional set size (kB) of a process, from /proc/PID/smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
