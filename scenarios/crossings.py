"""Scenario helpers: run traffic, then read from the captures which links it crossed.

Links are capture names (`<owner>-<peer>`): hub-isp, spoke1-isp, spoke2-isp are the WAN
links, spokeN-hN the LANs. A packet "crossed the hub" when it was seen on hub-isp.
"""

from __future__ import annotations

import time
from typing import Any

from dmvpnlab.analysis.paths import CaptureSet
from dmvpnlab.jsonline import request

H1, H2, H0 = "192.168.1.10", "192.168.2.10", "192.168.0.10"
HUB_WAN, SPOKE1_WAN, SPOKE2_WAN = "hub-isp", "spoke1-isp", "spoke2-isp"
# NBMA (WAN) addresses of the default address plan (lab/addressing.py).
HUB_NBMA, SPOKE1_NBMA, SPOKE2_NBMA = "203.0.113.1", "100.64.1.1", "100.64.2.1"


def ping(lab: Any, src: str, dst: str, count: int, interval: float = 0.2) -> tuple[float, Any]:
    """Ping and return (start time, result); the start time bounds the capture query."""
    started = time.time()
    result = lab.exec(src, ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", dst])
    return started, result


def captures(lab: Any) -> CaptureSet:
    lab.flush_captures()
    return CaptureSet(lab.captures.directory)


def wait_for(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def shortcuts(lab: Any, node: str) -> str:
    """The router's NHRP shortcut routes, as `ip route` shows them (proto nhrp)."""
    return lab.exec(node, ["ip", "route", "show", "proto", "nhrp"]).stdout


def agent_state(lab: Any, node: str) -> dict[str, Any]:
    """The router agent's JSON state (control socket)."""
    return request(lab.records.directory / node / "control.sock", {"op": "state"})["state"]


def direct_after_redirect(lab: Any, count: int = 10) -> tuple[float, CaptureSet, list[Any]]:
    """Ping h1 -> h2 until both spokes hold their Phase 3 shortcut: the ping's start, the captures
    and the second half of the echo requests (those sent after the redirect), which must not
    cross the hub. What each scenario then asserts about that direct path is its own."""
    since, result = ping(lab, "h1", H2, count=count)
    assert result.ok, result.stdout + result.stderr
    assert wait_for(lambda: "192.168.2.0/24 via 10.0.0.3" in shortcuts(lab, "spoke1"), timeout=3)
    assert wait_for(lambda: "192.168.1.0/24 via 10.0.0.2" in shortcuts(lab, "spoke2"), timeout=3)
    seen = captures(lab)
    requests = seen.echo(H1, H2, since=since)
    late = requests[len(requests) // 2:]
    assert late and HUB_WAN not in seen.links(late)
    return since, seen, late


def dmvpn_rows(text: str) -> dict[str, list[str]]:
    """`show dmvpn` peer rows by tunnel address: [nbma, state, attributes]."""
    rows = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 6 and words[0].isdigit() and words[3] in ("UP", "IKE", "IPSEC", "NHRP", "DOWN"):
            rows[words[2]] = [words[1], words[3], words[5]]
    return rows
