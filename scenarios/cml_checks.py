"""Shared steps of the CML lab scenarios (scenarios/test_cml_*.py): bring a CML file up, ask its routers.

Our own CML labs (topologies/cml/) all have the same wiring: Hub, Spoke1 and Spoke2 with
GigabitEthernet0/0 on one unmanaged switch (172.16.0.0/24), Tunnel0 192.168.0.0/24 and a
Loopback0 per router as its LAN (10.0.0.1, 10.0.1.1, 10.0.2.1). The lab file is brought up
exactly as `dmvpnlab up FILE` does (`labfile.load_lab` detects the format, `Lab.up` builds the
wired lab), and everything is asked the way a user asks it: the routers' own CLI (`show
dmvpn`, `ping ... source Loopback0`), and the per-link captures
(`captures/<lab>/<node>-<linux intf>.pcapng`, e.g. `Hub-Gi0-0`).

On a switch every router's link carries only its own traffic once the bridge has learnt
the MACs, but a frame flooded before that could show up on the hub's link without going
through the hub; so "via the hub" is decided by the outer (NBMA) addresses: GRE to or
from the hub's address, seen on the hub's link.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

from crossings import captures, wait_for
from dmvpnlab.analysis.paths import link_name
from test_cli_configure import cli

REPO = Path(__file__).resolve().parents[1]
CML = REPO / "topologies" / "cml"

NBMA = {"Hub": "172.16.0.1", "Spoke1": "172.16.0.2", "Spoke2": "172.16.0.3"}
TUNNEL = {"Hub": "192.168.0.1", "Spoke1": "192.168.0.2", "Spoke2": "192.168.0.3"}
LOOPBACK = {"Hub": "10.0.0.1", "Spoke1": "10.0.1.1", "Spoke2": "10.0.2.1"}
WAN = {name: f"{name}-Gi0-0" for name in NBMA}  # capture (link) names of the underlay ports


def bring_up(path: Path) -> Iterator[Any]:
    """A running lab from a CML file, torn down afterwards whatever happened (a fixture body)."""
    from dmvpnlab.testing.leaks import ROOT_REASON, is_root

    if not is_root():
        pytest.skip(ROOT_REASON)
    from dmvpnlab.lab.lab import Lab
    from dmvpnlab.lab.labfile import load_lab

    started = time.monotonic()
    instance = Lab.up(load_lab(path), quiet=True)
    print(f"{path.name}: Lab.up {time.monotonic() - started:.2f} s")
    try:
        yield instance
    finally:
        instance.down()


def dmvpn_peers(lab: Any, node: str) -> dict[str, str]:
    """`show dmvpn` on `node`, read by ntc-templates' cisco_ios template: peer NBMA -> state (UP, NHRP...)."""
    from ntc_templates.parse import parse_output

    rows = parse_output(platform="cisco_ios", command="show dmvpn", data=cli(lab, node, "show dmvpn"))
    return {row["peer_nbma"]: row["state"] for row in rows if row.get("peer_nbma")}


def spokes_registered(lab: Any, spokes: Iterable[str] = ("Spoke1", "Spoke2"), timeout: float = 20.0) -> float:
    """Wait until the hub's `show dmvpn` has every spoke UP; seconds it took. Fails the test if not."""
    started = time.monotonic()
    wanted = {NBMA[s] for s in spokes}
    ok = wait_for(lambda: all(dmvpn_peers(lab, "Hub").get(a) == "UP" for a in wanted), timeout=timeout, step=0.5)
    assert ok, cli(lab, "Hub", "show dmvpn")
    return time.monotonic() - started


def routed(lab: Any, node: str, prefix: str, timeout: float = 40.0) -> None:
    """Wait until `node`'s kernel has a route for `prefix` (EIGRP learnt it, or a static one is in)."""
    assert wait_for(lambda: bool(lab.exec(node, ["ip", "route", "show", prefix]).stdout.strip()),
                    timeout=timeout, step=0.5), cli(lab, node, "show ip route")


def route_line(table: str, code: str, prefix: str, distance: int, via: str | None = None) -> bool:
    """Whether `show ip route` has `CODE ... PREFIX [DISTANCE/metric] via VIA` (any indent IOS uses).

    Under a `10.0.0.0/24 is subnetted` header IOS leaves the mask off the line (`D  10.0.2.0
    [90/...]`): the network address alone matches then."""
    hop = rf" via {re.escape(via)}" if via else ""
    network, length = prefix.split("/")
    pattern = rf"^{re.escape(code)}\s+{re.escape(network)}(?:/{length})? \[{distance}/\d+\]{hop}"
    return re.search(pattern, table, re.MULTILINE) is not None


def router_ping(lab: Any, node: str, target: str, *extra: str) -> tuple[float, str]:
    """IOS `ping TARGET source Loopback0 ...` typed at `node`: (start time, the output)."""
    since = time.time()
    return since, cli(lab, node, " ".join(("ping", target, "source", "Loopback0", *extra)))


def assert_all_echoes(text: str, count: int = 5, source: str | None = None) -> None:
    """The IOS ping output says every echo came back; ntc-templates' cisco_ios ping reads it so."""
    from ntc_templates.parse import parse_output

    assert "!" * count in text, text
    assert f"Success rate is 100 percent ({count}/{count})" in text, text
    row, = parse_output(platform="cisco_ios", command="ping", data=text)
    assert (row["sent_qty"], row["success_pct"], row["response_stream"]) == (str(count), "100", ["!" * count]), row
    if source is not None:
        assert row["source"] == source, row


def via_hub(sightings: Iterable[Any]) -> list[Any]:
    """Sightings of GRE to or from the hub's NBMA address on the hub's link."""
    hub = NBMA["Hub"]
    return [s for s in sightings if s.link == WAN["Hub"] and s.encapsulated and hub in (str(s.outer_src),
                                                                                            str(s.outer_dst))]


def direct(sightings: Iterable[Any]) -> list[Any]:
    """Sightings of GRE spoke to spoke (NBMA Spoke1 <-> Spoke2), on whatever link."""
    pair = {NBMA["Spoke1"], NBMA["Spoke2"]}
    return [s for s in sightings if s.encapsulated and {str(s.outer_src), str(s.outer_dst)} == pair]


def seqs(sightings: Iterable[Any]) -> set[int]:
    return {s.seq for s in sightings}


def lab_captures(lab: Any) -> Any:
    """The captures so far; checks the per-link files the scenarios read are there."""
    seen = captures(lab)
    names = {link_name(p) for p in Path(lab.captures.directory).glob("*.pcap*")}
    missing = [link for link in WAN.values() if link not in names]
    assert not missing, f"no capture for {missing} in {lab.captures.directory}: {sorted(names)}"
    return seen


def echo_loopbacks(seen: Any, since: float, reply: bool = False) -> list[Any]:
    """Spoke1 Loopback0 -> Spoke2 Loopback0 echo requests (or the replies) since `since`."""
    return seen.echo(LOOPBACK["Spoke1"], LOOPBACK["Spoke2"], reply=reply, since=since)
