"""Flow paths and `trace` on the Phase 3 lab: the hub first, then the shortcut, proven by the captures.

The first test drives a detached lab the way a user does (`dmvpnlab up --detach`, `dmvpnlab
trace`, `dmvpnlab down`) and ends it before the module's in-process lab comes up, so only
one lab runs at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dmvpnlab.lab.flows import assert_path

pytestmark = pytest.mark.dmvpn_topology("topologies/default.yaml")
REPO = Path(__file__).resolve().parent.parent
VIA_HUB, DIRECT = ["spoke1", "hub", "spoke2"], ["spoke1", "spoke2"]


def dmvpnlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dmvpnlab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_dmvpnlab_trace_against_a_detached_lab_explains_the_hub_then_the_shortcut():
    up = dmvpnlab("up", "--detach", "topologies/default.yaml")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        first = dmvpnlab("trace", "h1", "h2", "--lab", "default")
        assert first.returncode == 0, first.stdout + first.stderr
        lines = first.stdout.splitlines()
        assert lines[0].startswith("trace h1 -> h2 (192.168.2.10)")
        assert " 2  hub: route S 192.168.2.0/24 via 10.0.0.3; NHRP 10.0.0.3/32 -> NBMA 100.64.2.1" in first.stdout
        assert "hub-isp.pcapng:" in first.stdout and lines[-1].startswith("arrived: via hub: spoke1 has no shortcut")
        assert "hub's redirect (NHRP traffic indication" in lines[-1]
        assert lines[-1].endswith("spoke1 now has H 192.168.2.0/24, the next packet goes direct")
        time.sleep(1.0)  # the resolution the redirect started
        second = json.loads(dmvpnlab("trace", "h1", "h2", "--lab", "default", "--json").stdout)
        assert second["routers"] == DIRECT and second["arrived"]
        hop = second["hops"][0]
        assert (hop["code"], hop["route"]["prefix"], hop["nbma"], hop["encrypted"]) == (
            "H", "192.168.2.0/24", "100.64.2.1", False)
        assert hop["nhrp"]["nbma"] == "100.64.2.1" and hop["proof"][0]["file"].endswith("spoke1-h1.pcapng")
        assert second["verdict"].startswith("direct: spoke1 sent it to spoke2 (NBMA 100.64.2.1) by an NHRP shortcut")
    finally:
        down = dmvpnlab("down", "default")
    assert down.returncode == 0, down.stdout + down.stderr


def test_the_first_echo_goes_via_the_hub_and_the_next_ones_direct(lab):
    since = time.time()
    assert lab.ping("h1", "h2", count=1).ok
    assert lab.path("h1", "h2", since=since) == VIA_HUB
    time.sleep(1.0)
    assert lab.ping("h1", "h2", count=3).ok
    path = lab.path("h1", "h2", since=since)
    assert path == DIRECT and path.links == ["spoke1-h1", "spoke1-isp", "spoke2-isp", "spoke2-h2"]
    assert [(run.path.routers, run.count) for run in lab.paths("h1", "h2", since=since)] == [(VIA_HUB, 1), (DIRECT, 3)]
    assert lab.path("h2", "h0", since=time.time()).reason.startswith("no ICMP echo request h2 -> h0")


def test_assert_path_says_what_was_expected_what_was_seen_and_where_the_proof_is(lab):
    since = time.time()
    assert lab.ping("h1", "h2", count=2).ok
    assert_path(lab, "h1", "H2", DIRECT, since=since)
    with pytest.raises(AssertionError) as failed:
        assert_path(lab, "h1", "h2", VIA_HUB, since=since)
    message = str(failed.value)
    assert "expected spoke1 -> hub -> spoke2" in message
    assert "seen: 2 direct (spoke1 -> spoke2)" in message
    assert f"captures: {lab.captures.directory}" in message
    assert "spoke1-isp.pcapng:" in message and "(GRE 100.64.1.1 -> 100.64.2.1)" in message


def test_lab_trace_from_h2_explains_the_hub_hop_then_the_shortcut_hop(lab):
    first = lab.trace("h2", "h0")  # h0 is behind the hub itself: direct spoke2 -> hub
    assert first.arrived and first.path == ["spoke2", "hub"]
    via_hub = lab.trace("h2", "h1")  # spoke2 had no shortcut to spoke1 before, or has one from h1's echoes
    assert via_hub.arrived and via_hub.path in (["spoke2", "hub", "spoke1"], ["spoke2", "spoke1"])
    time.sleep(1.0)
    direct = lab.trace("h2", "h1")
    assert direct.path == ["spoke2", "spoke1"] and direct.hops[0].code in ("H", "D%", "S%")
    assert direct.hops[0].nbma == "100.64.1.1" and "NBMA 100.64.1.1" in direct.render()
    assert direct.render().splitlines()[-1].startswith("arrived: direct: spoke2 sent it to spoke1")
