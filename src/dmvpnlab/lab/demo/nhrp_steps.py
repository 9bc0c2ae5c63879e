"""The demo's NHRP steps on a live lab: registrations, then the Phase 3 story's traffic and what it showed.

They make the traffic (one ping h1 -> h2), wait for the shortcut routes, collect the
captures and the routers' `show` outputs, and hand them to the pure judges in `story` and
`show`; the traffic is made once per lab and shared by the story's steps. Imports
`items`, `story`, `show`, `ladders`, `underlay_steps` (ping summary),
`dmvpnlab.analysis.paths`, `dmvpnlab.cli.client` and the codec's packet types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from dmvpnlab.analysis.paths import CaptureSet, IcmpSighting, NhrpSighting
from dmvpnlab.cli.client import run_cli
from dmvpnlab.lab.demo.items import Check, Item, Output
from dmvpnlab.lab.demo.ladders import address_names, nhrp_ladder, public_nbma
from dmvpnlab.lab.demo.show import dmvpn_peer_check, route_check, without_legend
from dmvpnlab.lab.demo import story
from dmvpnlab.lab.demo.underlay_steps import ping_summary
from dmvpnlab.lab.topology.model import Host, Router
from dmvpnlab.nhrp.codec import PacketType

STORY_PINGS = 10          # echo requests h1 -> h2 in the story: the first via the hub, the rest direct
STORY_PING_INTERVAL = 0.2  # seconds; the shortcut forms within milliseconds of the first one
ROUTE_WAIT = 3.0          # seconds to wait for the kernel shortcut routes to appear


@dataclass
class StoryRun:
    """The story's traffic, made once per lab and read by every story step."""

    since: float  # wall clock just before the first echo: bounds every capture query
    ping: Any  # the ExecResult of ping from the requester's host
    nhrp: list[NhrpSighting]
    icmp: list[IcmpSighting]
    requester: Router
    src: Host
    owner: Router
    dst: Host


_RUNS: dict[int, tuple[Any, StoryRun]] = {}


def _story_run(lab: Any) -> StoryRun:
    """Ping requester host -> owner host once (first echo via the hub, the rest direct), wait for
    both shortcut routes, then read the captures."""
    cached = _RUNS.get(id(lab))
    if cached is not None and cached[0] is lab:
        return cached[1]
    cast = story.story_cast(lab.topology)
    if isinstance(cast, str):
        raise RuntimeError(cast)
    requester, src, owner, dst = cast
    since = time.time()
    result = lab.exec(src.name, ["ping", "-n", "-c", str(STORY_PINGS), "-i", str(STORY_PING_INTERVAL),
                                 "-W", "1", str(dst.address.ip)], timeout=STORY_PINGS * (STORY_PING_INTERVAL + 1) + 5)
    _wait_for(lambda: _has_route(lab, requester.name, owner) and _has_route(lab, owner.name, requester), ROUTE_WAIT)
    lab.flush_captures()
    seen = CaptureSet(lab.captures.directory)
    run = StoryRun(since, result, seen.nhrp, seen.icmp, requester, src, owner, dst)
    _RUNS[id(lab)] = (lab, run)
    return run


def _has_route(lab: Any, node: str, towards: Router) -> bool:
    if towards.lan is None:
        return False
    text = lab.exec(node, ["ip", "route", "show", "proto", "nhrp"]).stdout
    return any(l.startswith(f"{towards.lan.network} via {towards.tunnel_address.ip} ") for l in text.splitlines())


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _cli(lab: Any, node: str, command: str) -> str:
    """An IOS command on a router, through its control socket (as `dmvpnlab cli NODE -c` does)."""
    return run_cli(lab.records.directory / node, command)


cli = _cli  # for the other live steps (ipsec_steps)
story_run = _story_run  # the story's traffic, shared with the IPsec steps


def _skip(lab: Any) -> list[Item] | None:
    cast = story.story_cast(lab.topology)
    return [Output("Skipped", cast)] if isinstance(cast, str) else None


def step_registrations(lab: Any) -> list[Item]:
    """Every spoke registered with the hub at bring-up; the hub's `show dmvpn` lists them UP."""
    if not lab.agents:
        return [Output("Skipped", "no router agents run in this lab")]
    lab.flush_captures()
    seen = CaptureSet(lab.captures.directory)
    items = story.registration_story(lab.topology, seen.nhrp)
    hub = lab.topology.hub
    text = _cli(lab, hub.name, "show dmvpn")
    items.append(Output(f"{hub.name}# show dmvpn", without_legend(text, "Interface:")))
    for spoke in lab.topology.spokes:
        items.append(dmvpn_peer_check(hub.name, text, spoke.name, public_nbma(lab.topology, spoke),
                                      spoke.tunnel_address.ip))
    return items


def step_first_packets_via_hub(lab: Any) -> list[Item]:
    """The first echo h1 -> h2 (and its reply) cross the hub's WAN link."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story_run(lab)
    items: list[Item] = [Check(f"{run.src.name} pings {run.dst.name} {run.dst.address.ip} ({STORY_PINGS} echoes)",
                               run.ping.ok, ping_summary(run.ping))]
    return items + story.hub_path_story(lab.topology, run.icmp, run.since, run.requester, run.src, run.owner, run.dst)


def step_redirect_and_resolution(lab: Any) -> list[Item]:
    """The hub redirects both spokes; each resolves the other's host through the hub and the
    other spoke answers it directly."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story_run(lab)
    topo = lab.topology
    exchange = sorted((s for s in run.nhrp if s.time >= run.since
                       and int(s.packet.type) in (PacketType.TRAFFIC_INDICATION, PacketType.RESOLUTION_REQUEST,
                                                  PacketType.RESOLUTION_REPLY)),
                      key=lambda s: s.time)
    items: list[Item] = [nhrp_ladder("NHRP after the first echo, on every WAN link it crossed", exchange,
                                     address_names(topo))]
    items += story.redirect_story(topo, run.nhrp, run.since, run.requester, run.src, run.owner, run.dst)
    items += story.redirect_story(topo, run.nhrp, run.since, run.owner, run.dst, run.requester, run.src)
    return items


def step_shortcuts(lab: Any) -> list[Item]:
    """Both spokes installed a shortcut route (H in IOS, `proto nhrp` in the kernel) and
    spoke1's `show dmvpn` lists spoke2 as a peer."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story_run(lab)
    items: list[Item] = []
    for node, peer in ((run.requester, run.owner), (run.owner, run.requester)):
        assert peer.lan is not None
        if node is run.requester:
            text = _cli(lab, node.name, "show ip route nhrp")
            items.append(Output(f"{node.name}# show ip route nhrp", without_legend(text, "Gateway")))
            items.append(route_check(node.name, "show ip route nhrp", text, peer.lan.network, peer.tunnel_address.ip))
        kernel = lab.exec(node.name, ["ip", "route", "show", "proto", "nhrp"]).stdout
        items.append(Output(f"{node.name}$ ip route show proto nhrp", kernel.rstrip() or "(none)"))
        items.append(route_check(node.name, "ip route show proto nhrp", kernel, peer.lan.network, peer.tunnel_address.ip))
    text = _cli(lab, run.requester.name, "show dmvpn")
    items.append(Output(f"{run.requester.name}# show dmvpn", without_legend(text, "Interface:")))
    items.append(dmvpn_peer_check(run.requester.name, text, run.owner.name, public_nbma(lab.topology, run.owner),
                                  run.owner.tunnel_address.ip))
    return items


def step_direct_path(lab: Any) -> list[Item]:
    """After the shortcut, echoes go spoke to spoke: only the spokes' WAN links, never the hub's."""
    if (skip := _skip(lab)) is not None:
        return skip
    run = _story_run(lab)
    return story.direct_path_story(lab.topology, run.icmp, run.since, story.last_resolution_reply(run.nhrp, run.since),
                             run.requester, run.src, run.owner, run.dst)
