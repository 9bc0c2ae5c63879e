"""Scenario helpers for faults: NHS states, RSS, registrations seen on the wire after a fault."""

from __future__ import annotations

from typing import Any

from crossings import agent_state, captures
from dmvpnlab.nhrp.codec import PacketType


def nhs_states(lab: Any, node: str) -> dict[str, str]:
    """NHS tunnel address -> E/R/W on every tunnel of `node`."""
    nhrp = agent_state(lab, node)["nhrp"]
    blocks = nhrp.get("tunnels") or [nhrp]
    return {n["address"]: n["state"] for block in blocks for n in block.get("nhs", [])}


def nhs_counters(lab: Any, node: str) -> dict[str, tuple[int, int]]:
    """NHS tunnel address -> (requests sent, replies received)."""
    nhrp = agent_state(lab, node)["nhrp"]
    blocks = nhrp.get("tunnels") or [nhrp]
    return {n["address"]: (n["requests_sent"], n["replies"]) for block in blocks for n in block.get("nhs", [])}


def agent_pid(lab: Any, node: str) -> int:
    return next(h.popen.pid for h in lab.agents if h.node == node)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def registrations_after(lab: Any, link: str, since: float, replies: bool = False) -> list[Any]:
    """Registration Requests (or Replies) seen on capture `link` since the wall-clock `since`."""
    kind = PacketType.REGISTRATION_REPLY if replies else PacketType.REGISTRATION_REQUEST
    return captures(lab).messages(kind, link=link, since=since)
