"""Scenario checks for routing over DMVPN, shared by the scenarios/test_routing_*.py modules.

Each routing module brings up one lab (topologies/<protocol>.yaml with the phase in the
marker's vars), then asks the same questions whatever the protocol: which route does
`show ip route` give spoke1 for spoke2's LAN (code, next hop), which links did the pings
cross (captures), what does a LAN going down do. So every question is written once, here,
and a module says only which protocol, phase and variant it runs.

The routers are asked through their own CLI (`dmvpnlab cli NODE -c ...`), the way a user
would; routes are read from `show ip route` text (the `%` next-hop-override flag is
not kept by ntc-templates' parser, so the lines are read by one regex of IOS's format).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from crossings import H1, H2, HUB_WAN, SPOKE1_WAN, SPOKE2_WAN, captures, ping, wait_for

REPO = Path(__file__).resolve().parents[1]
HUB_TUNNEL, SPOKE1_TUNNEL, SPOKE2_TUNNEL = "10.0.0.1", "10.0.0.2", "10.0.0.3"
LAN1, LAN2 = "192.168.1.0/24", "192.168.2.0/24"
LAN_IFACE = "GigabitEthernet0/1"

# `O     192.168.2.0/24 [110/2] via 10.0.0.3, 00:00:12, Tunnel0`, `D   % 192.168.0.0/16 [90/..] via ...`,
# `S*    0.0.0.0/0 [1/0] via ...`, `O IA  ...`, `D EX  ...`; a second path of the same prefix
# continues on the next line as `                [110/2] via 10.0.0.4, ...`.
_ROUTE = re.compile(r"^(?P<code>[A-Za-z]{1,2}\*?(?: (?:IA|EX|E1|E2|N1|N2|L1|L2))?)(?P<tight>%)?\s+(?P<flag>[%+]\s+)?"
                    r"(?P<prefix>\d+\.\d+\.\d+\.\d+/\d+) \[(?P<ad>\d+)/(?P<metric>\d+)\] via (?P<via>[\d.]+)")
_MORE_PATH = re.compile(r"^\s+\[(?P<ad>\d+)/(?P<metric>\d+)\] via (?P<via>[\d.]+)")


@dataclass(frozen=True)
class Route:
    """One path of one `show ip route` entry."""

    code: str
    prefix: IPv4Network
    ad: int
    metric: int
    via: str
    override: bool  # IOS's `%`: NHRP overrides this route's next hop


def cli(lab: Any, node: str, *lines: str, check: bool = True) -> str:
    """`dmvpnlab cli NODE -c LINE ...` in one session; fails the test if a line is refused."""
    argv = [sys.executable, "-m", "dmvpnlab.command", "cli", str(lab.records.directory / node)]
    for line in lines:
        argv += ["-c", line]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, f"{node}: {lines}\n{done.stdout}{done.stderr}"
    return done.stdout


def parse_routes(text: str) -> list[Route]:
    """The routes with a next hop (not C/L) of a `show ip route` output."""
    out: list[Route] = []
    last: Route | None = None
    for line in text.splitlines():
        m = _ROUTE.match(line)
        if m:
            last = Route(m["code"], IPv4Network(m["prefix"]), int(m["ad"]), int(m["metric"]), m["via"],
                         bool(m["tight"] or (m["flag"] and "%" in m["flag"])))
            out.append(last)
            continue
        more = _MORE_PATH.match(line)
        if more and last is not None:
            out.append(Route(last.code, last.prefix, int(more["ad"]), int(more["metric"]), more["via"], last.override))
    return out


def show_routes(lab: Any, node: str) -> tuple[str, list[Route]]:
    text = cli(lab, node, "show ip route")
    return text, parse_routes(text)


def routes_for(routes: list[Route], prefix: str) -> list[Route]:
    net = IPv4Network(prefix)
    return [r for r in routes if r.prefix == net]


def covering(routes: list[Route], address: str, codes: set[str]) -> list[Route]:
    """The longest-prefix routes of `codes` that contain `address` (what the lookup would use)."""
    ip = IPv4Address(address)
    hits = [r for r in routes if ip in r.prefix and r.code in codes]
    if not hits:
        return []
    longest = max(r.prefix.prefixlen for r in hits)
    return [r for r in hits if r.prefix.prefixlen == longest]


def wait_route(lab: Any, node: str, prefix: str, code: str, via: str | None, timeout: float) -> Route:
    """Wait until `node` routes exactly `prefix` by `code` (via `via` if given); the test fails
    with the last `show ip route` otherwise."""
    last = [""]

    def present() -> bool:
        last[0], routes = show_routes(lab, node)
        return any(r.code == code and (via is None or r.via == via) for r in routes_for(routes, prefix))

    assert wait_for(present, timeout=timeout, step=0.5), \
        f"{node}: no `{code} {prefix}` via {via or 'any'} within {timeout} s:\n{last[0]}"
    return next(r for r in routes_for(parse_routes(last[0]), prefix) if r.code == code)


def wait_gone(lab: Any, node: str, prefix: str, codes: set[str], timeout: float) -> float:
    """Seconds until `node` routes `prefix` by none of `codes`; fails after `timeout`."""
    started = time.monotonic()
    last = [""]

    def gone() -> bool:
        last[0], routes = show_routes(lab, node)
        return not [r for r in routes_for(routes, prefix) if r.code in codes]

    assert wait_for(gone, timeout=timeout, step=0.3), f"{node}: {prefix} still routed after {timeout} s:\n{last[0]}"
    return time.monotonic() - started


# ------------------------------------------------------------------ paths


def pings_through_hub_only(lab: Any, count: int = 6) -> None:
    """h1 -> h2: every request and every reply crosses the hub (Phase 1, or a hub next hop without redirect)."""
    since, result = ping(lab, "h1", H2, count=count)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    for reply in (False, True):
        per_seq = seen.links_per_seq(seen.echo(H1, H2, reply=reply, since=since))
        assert len(per_seq) == count, f"{count} {'replies' if reply else 'requests'} seen: {per_seq}"
        stray = {seq: links for seq, links in per_seq.items() if HUB_WAN not in links}
        assert not stray, f"{'replies' if reply else 'requests'} that did not cross the hub: {stray}"


def first_via_hub_then_direct(lab: Any, count: int = 10) -> None:
    """h1 -> h2: the first request crosses the hub, the second half spoke to spoke only."""
    since, result = ping(lab, "h1", H2, count=count)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    requests = seen.echo(H1, H2, since=since)
    per_seq = seen.links_per_seq(requests)
    assert HUB_WAN in per_seq[min(per_seq)], f"the first packet goes through the hub: {per_seq}"
    late = [s for s in requests if s.seq > count // 2]
    assert late and HUB_WAN not in seen.links(late), f"later packets still cross the hub: {per_seq}"
    assert {SPOKE1_WAN, SPOKE2_WAN} <= seen.links(late)


def direct_now(lab: Any, count: int = 4) -> None:
    """h1 -> h2 with a shortcut or resolution in place: no request or reply crosses the hub."""
    since, result = ping(lab, "h1", H2, count=count)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    both = seen.echo(H1, H2, since=since) + seen.echo(H1, H2, reply=True, since=since)
    assert both and HUB_WAN not in seen.links(both), seen.links_per_seq(seen.echo(H1, H2, since=since))


def forget_resolutions(lab: Any) -> None:
    """`clear ip nhrp` on both spokes, then wait for the hub entry to be back (registration)."""
    for spoke in ("spoke1", "spoke2"):
        cli(lab, spoke, "clear ip nhrp")
    for spoke in ("spoke1", "spoke2"):
        assert wait_for(lambda: HUB_TUNNEL in cli(lab, spoke, "show dmvpn | include UP"), timeout=10)


# ------------------------------------------------------------------ phases


def wait_routes_both_ways(lab: Any, code: str, timeout: float, *, via_hub: bool, learnt: str | None = None) -> None:
    """spoke1 routes spoke2's LAN and spoke2 routes spoke1's by `code`, via the hub or via each
    other (a Phase 2 next hop); `learnt`: a summary both learn instead of the far LAN. Traffic
    checks wait for both ways: an echo reply needs the way back as much as the request needs
    the way there, and the two spokes' adjacencies come up at different moments. Via the hub,
    the hub's own routes to both LANs are waited for too."""
    for node, far, peer in (("spoke1", LAN2, SPOKE2_TUNNEL), ("spoke2", LAN1, SPOKE1_TUNNEL)):
        wait_route(lab, node, learnt or far, code, HUB_TUNNEL if via_hub else peer, timeout)
    if via_hub:  # and the hub forwards both ways (its own routes are installed, not only flooded)
        for far, spoke in ((LAN2, SPOKE2_TUNNEL), (LAN1, SPOKE1_TUNNEL)):
            wait_route(lab, "hub", far, code, spoke, timeout)


def phase1_hub_and_spoke(lab: Any, code: str, timeout: float) -> None:
    """Spokes learn each other's LANs with the hub as next hop; all traffic crosses the hub."""
    wait_routes_both_ways(lab, code, timeout, via_hub=True)
    pings_through_hub_only(lab)


def phase3_shortcut(lab: Any, code: str, learnt: str, timeout: float) -> list[Route]:
    """The spoke learns `learnt` (a summary, or the far LAN) via the hub; the first packets cross
    the hub, the redirect and shortcut follow, then direct; spoke1's `show ip route` shows
    the shortcut as an H route (more specific than the summary) or as a `%` override of the
    protocol's own route for the same prefix. Returns spoke1's routes for LAN2 after it."""
    summary = IPv4Network(learnt) != IPv4Network(LAN2)
    wait_routes_both_ways(lab, code, timeout, via_hub=True, learnt=learnt if summary else None)
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    assert wait_for(lambda: "192.168.2.0/24" in cli(lab, "spoke1", "show ip nhrp"), timeout=5), \
        cli(lab, "spoke1", "show ip nhrp")
    seen = captures(lab)
    requests = seen.echo(H1, H2, since=since)
    per_seq = seen.links_per_seq(requests)
    assert HUB_WAN in per_seq[min(per_seq)], f"the first packet goes through the hub: {per_seq}"
    late = [s for s in requests if s.seq > 5]
    assert late and HUB_WAN not in seen.links(late), f"later packets still cross the hub: {per_seq}"
    text, routes = show_routes(lab, "spoke1")
    mine = routes_for(routes, LAN2)
    shortcut = [r for r in mine if r.code == "H" and r.via == SPOKE2_TUNNEL]
    override = [r for r in mine if r.code == code and r.override]
    if summary:
        assert shortcut, f"spoke1: no `H {LAN2} via {SPOKE2_TUNNEL}` under the summary:\n{text}"
    else:
        assert override or shortcut, f"spoke1: no `{code} % {LAN2}` (next-hop override) nor H route:\n{text}"
    return mine


def lan_down_withdraws(lab: Any, code: str, bound: float, shortcut: bool) -> dict[str, float]:
    """spoke2's LAN is shut from its CLI: LAN2 leaves the hub's and spoke1's tables (protocol
    route and any shortcut) within `bound` seconds; `no shutdown` brings it back and h1
    reaches h2 again within `bound`. Returns the measured times."""
    times: dict[str, float] = {}
    if shortcut:
        ping(lab, "h1", H2, count=3)  # a shortcut in place, to see it go
    cli(lab, "spoke2", "configure terminal", f"interface {LAN_IFACE}", "shutdown", "end")
    try:
        times["hub"] = wait_gone(lab, "hub", LAN2, {code}, bound)
        times["spoke1"] = wait_gone(lab, "spoke1", LAN2, {code, "H"}, bound)
        if shortcut:
            assert wait_for(lambda: "192.168.2.0/24" not in cli(lab, "spoke1", "show ip nhrp"), timeout=bound), \
                cli(lab, "spoke1", "show ip nhrp")
    finally:
        cli(lab, "spoke2", "configure terminal", f"interface {LAN_IFACE}", "no shutdown", "end")
    started = time.monotonic()
    assert wait_for(lambda: lab.exec("h1", ["ping", "-n", "-c", "1", "-W", "1", H2]).ok, timeout=bound, step=0.2), \
        "h1 does not reach h2 again after `no shutdown`"
    times["back"] = time.monotonic() - started
    return times
