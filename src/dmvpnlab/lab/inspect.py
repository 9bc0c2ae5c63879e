"""A router's state as data: its NHRP cache and its routing table, read from its agent.

Tests that parse `show ip nhrp` text break when a column moves; these read the agent's
control socket (`{"op": "state"}`, `{"op": "routes"}`) and return small typed records,
the same facts the show commands print. `Lab.nhrp`, `Lab.routes` and `Lab.state` are
thin wrappers over these, so the pytest plugin's users get them as lab methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from pathlib import Path
from typing import Any

from dmvpnlab import jsonline
from dmvpnlab.rundir import CONTROL_SOCKET


class InspectError(RuntimeError):
    """The router has no agent, or its agent did not answer."""


@dataclass(frozen=True)
class NhrpEntry:
    """One NHRP cache entry, as one `show ip nhrp` block shows it."""

    interface: str
    prefix: IPv4Network
    next_hop: IPv4Address
    nbma: IPv4Address | None
    type: str  # static, dynamic, incomplete ...
    flags: tuple[str, ...]
    expires_in: float | None
    request_id: int | None = None

    @classmethod
    def from_state(cls, interface: str, entry: dict[str, Any]) -> "NhrpEntry":
        return cls(interface=interface, prefix=ip_network(entry["prefix"]), next_hop=ip_address(entry["next_hop"]),
                   nbma=ip_address(entry["nbma"]) if entry.get("nbma") else None, type=str(entry["type"]),
                   flags=tuple(entry.get("flags") or ()), expires_in=entry.get("expires_in"),
                   request_id=entry.get("request_id"))


@dataclass(frozen=True)
class Route:
    """One routing table row, as `show ip route` shows it (code S, C, L, O, D, B, R, H ...).

    `override` is set for Phase 3's `%`: the route stays, NHRP sends the traffic to
    `override_next_hop` instead."""

    prefix: IPv4Network
    code: str
    next_hop: IPv4Address | None
    interface: str | None
    distance: int | None
    metric: int | None
    override_next_hop: IPv4Address | None = None
    override_interface: str | None = None
    next_hops: tuple[tuple[str | None, str | None], ...] = field(default=())

    @property
    def overridden(self) -> bool:
        return self.override_next_hop is not None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Route":
        override = row.get("override") or {}
        return cls(prefix=ip_network(row["prefix"]), code=str(row["code"]),
                   next_hop=ip_address(row["next_hop"]) if row.get("next_hop") else None,
                   interface=row.get("interface"), distance=row.get("distance"), metric=row.get("metric"),
                   override_next_hop=ip_address(override["next_hop"]) if override.get("next_hop") else None,
                   override_interface=override.get("interface") if override else None,
                   next_hops=tuple((h.get("address"), h.get("interface")) for h in row.get("next_hops") or ()))

    def line(self) -> str:
        via = f"via {self.next_hop}" if self.next_hop else "is directly connected"
        text = f"{self.code:<2} {self.prefix} {via}" + (f", {self.interface}" if self.interface else "")
        if self.overridden:
            text += f" (% via {self.override_next_hop})"
        return text


def _ask(state_dir: Path, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    sock = state_dir / CONTROL_SOCKET
    try:
        answer = jsonline.request(sock, payload, timeout)
    except OSError as error:
        raise InspectError(f"{state_dir.name}: no answer from its agent ({sock}): {error}") from None
    if not answer.get("ok"):
        raise InspectError(f"{state_dir.name}: {answer.get('error', 'the agent refused the request')}")
    return answer


def agent_state(state_dir: Path, timeout: float = 10.0) -> dict[str, Any]:
    """The agent's whole JSON state (agent/state.py)."""
    return dict(_ask(state_dir, {"op": "state"}, timeout)["state"])


def nhrp_entries(state_dir: Path, timeout: float = 10.0) -> list[NhrpEntry]:
    """Every tunnel's NHRP cache, tunnel by tunnel."""
    nhrp = agent_state(state_dir, timeout).get("nhrp") or {}
    blocks = nhrp.get("tunnels") or ([nhrp] if nhrp else [])
    return [NhrpEntry.from_state(str(block.get("interface", "Tunnel0")), entry)
            for block in blocks for entry in block.get("cache", [])]


def route_table(state_dir: Path, timeout: float = 10.0) -> list[Route]:
    """The routing table, sorted by prefix as `show ip route` prints it."""
    return [Route.from_row(row) for row in _ask(state_dir, {"op": "routes"}, timeout)["routes"]]


def best_route(routes: list[Route], address: str | IPv4Address) -> Route | None:
    """The route that carries `address`: the longest prefix holding it."""
    target = ip_address(address)
    found = [r for r in routes if target in r.prefix]
    return max(found, key=lambda r: r.prefix.prefixlen) if found else None
