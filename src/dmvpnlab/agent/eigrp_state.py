"""`state["routing"]["eigrp"]`: the EIGRP process as plain JSON-able data, for the CLI and scenarios.

Why its own module: agent/state.py is shared by every helper; it calls `eigrp_state`
only. The shape (the shared contract; cli/show_eigrp.py reads it):
  {"asn", "router_id", "routes": [{"prefix", "code" ("D" | "D EX"), "ad", "metric",
   "next_hops": [{"address" (None for Null0), "interface"}], "age_seconds"}],
   "neighbors", "topology", "interfaces": the core's views, addresses as text,
   "counters": the core's counters (show ip eigrp traffic), "node": socket counters,
   "settings": what `show ip protocols` prints, "ignored": config lines without effect}
Views are dataclasses of the core; they are turned into dicts field by field, so a field
the core adds appears here without a change. Imports nothing of dmvpnlab at run time.
"""

from __future__ import annotations

import dataclasses
import enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dmvpnlab.agent.eigrp_node import EigrpNode
    from dmvpnlab.routing.eigrp.settings import EigrpSettings


def plain(value: Any) -> Any:
    """A view (dataclass, tuple, address, enum, frozenset...) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (IPv4Address, IPv4Interface, IPv4Network)):
        return str(value)
    if isinstance(value, enum.Enum):
        return plain(value.value) if not isinstance(value.value, int) else value.name
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return round(value, 3)
    return value


def _settings(s: "EigrpSettings", key_chains: dict[str, str]) -> dict[str, Any]:
    return {
        "k_values": list(s.k_values),
        "variance": s.variance,
        "maximum_paths": s.maximum_paths,
        "distance_internal": s.distance_internal,
        "distance_external": s.distance_external,
        "stub": sorted(s.stub) if s.stub is not None else None,
        "networks": [str(n) for n in s.networks],
        "passive_interfaces": [i.name for i in s.interfaces if i.passive],
        "interfaces": [i.name for i in s.interfaces],
        "authentication": {i.name: [k.key_id for k in i.md5_keys] for i in s.interfaces if i.md5_keys},
        "key_chains": dict(key_chains),
    }


# The STUB TLV flag bits (routing/eigrp/tlvs.py STUB_*) as the words IOS prints, in its order.
_STUB_WORDS = ((0x0001, "connected"), (0x0002, "static"), (0x0004, "summary"), (0x0010, "redistributed"),
               (0x0008, "receive-only"))


def stub_words(flags: int | None) -> list[str] | None:
    """A neighbour's stub flags as words (None: not a stub)."""
    if flags is None:
        return None
    return [word for bit, word in _STUB_WORDS if flags & bit]


def _neighbors(process: Any, now: float) -> list[dict[str, Any]]:
    rows = _call(process, "neighbor_views", now)
    for row in rows:
        if isinstance(row.get("stub"), int):
            row["stub"] = stub_words(row["stub"])
    return rows


def _call(process: Any, name: str, *args: Any) -> Any:
    method = getattr(process, name, None)
    return plain(method(*args)) if callable(method) else []


def eigrp_state(node: "EigrpNode | None", now: float) -> dict[str, Any] | None:
    """The contract's dict, or None when the router runs no EIGRP (the key is then absent)."""
    if node is None:
        return None
    process = node.process
    routes = []
    for r in process.routes():
        external = bool(getattr(r, "external", False))
        since = getattr(r, "since", None)
        routes.append({
            "prefix": str(r.prefix),
            "code": "D EX" if external else "D",
            "ad": int(r.ad),
            "metric": int(r.metric),
            "next_hops": [{"address": str(a) if a is not None else None, "interface": i} for a, i in r.next_hops],
            "age_seconds": round(now - since, 3) if since is not None else None,
        })
    return {
        "asn": node.settings.asn,
        "router_id": str(node.settings.router_id),
        "routes": routes,
        "neighbors": _neighbors(process, now),
        "topology": _call(process, "topology_views"),
        "interfaces": _call(process, "interface_views", now),
        "counters": _call(process, "counters") or {},
        "node": dict(node.counters),
        "settings": _settings(node.settings, getattr(node, "key_chains", {})),
        "ignored": list(node.ignored),
    }
