"""Lab-side flow paths and trace, on a lab known only by its records, with crafted captures.

The records are what `Lab.up` writes (`nodes`, `table`); the probe's "network" is a fake
exec that writes the captures the real lab would have for the echo id it is given, and
the routers' CLI answers `| json` as the agents do. So the hop explanations, the verdict
and assert_path's message are checked without a lab.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from test_analysis_flowpath import HUB, S1, S2, T0, direct, lab_captures, via_hub

from dmvpnlab.lab.flows import LabView, all_paths, check_path, last_path, path_runs, since_time
from dmvpnlab.lab.trace import TraceTarget, best_route, code_of, run_trace

NODES = [{"name": "hub", "role": "hub", "pid": 1, "addresses": {"hub-eth0": f"{HUB}/30"}},
         {"name": "spoke1", "role": "spoke", "pid": 2, "addresses": {"spoke1-eth0": f"{S1}/30"}},
         {"name": "spoke2", "role": "spoke", "pid": 3, "addresses": {"spoke2-eth0": f"{S2}/30"}},
         {"name": "isp", "role": "isp", "pid": 4, "addresses": {}},
         {"name": "h1", "role": "host", "pid": 5, "addresses": {"h1-eth0": "192.168.1.10/24"}},
         {"name": "h2", "role": "host", "pid": 6, "addresses": {"h2-eth0": "192.168.2.10/24"}}]
TABLE = [{"name": "hub", "role": "hub", "nbma": HUB}, {"name": "spoke1", "role": "spoke", "nbma": S1},
         {"name": "spoke2", "role": "spoke", "nbma": f"{S2} (via nat1 198.51.100.1)"},
         {"name": "isp", "role": "isp", "nbma": "-"}]


def view_of(tmp_path) -> LabView:
    records = SimpleNamespace(lab="default", data={"nodes": NODES, "table": TABLE})
    return LabView.of(records, flush=lambda: None, captures=tmp_path, keys=tmp_path)


def test_the_view_knows_routers_nbma_addresses_and_names_in_any_case(tmp_path):
    view = view_of(tmp_path)
    assert view.routers() == ["hub", "spoke1", "spoke2"]
    assert {str(a): r for a, r in view.nbma().items()} == {HUB: "hub", S1: "spoke1", S2: "spoke2",
                                                          "198.51.100.1": "spoke2"}
    assert view.address("H2") == "192.168.2.10" and view.address("spoke1") == S1 and view.address("10.9.9.9") == "10.9.9.9"
    with pytest.raises(ValueError):
        view.addresses("nosuchnode")
    assert since_time(SimpleNamespace(time=12.5)) == 12.5 and since_time(None) == 0.0


def test_paths_by_node_name_and_assert_path_names_expected_seen_and_frames(tmp_path):
    lab_captures(tmp_path, via_hub(tmp_path, 1, T0), direct(tmp_path, 2, T0 + 1), direct(tmp_path, 3, T0 + 2))
    view = view_of(tmp_path)
    assert last_path(view, "h1", "h2") == ["spoke1", "spoke2"]
    assert [(r.path.routers, r.count) for r in path_runs(view, "h1", "h2")] == [
        (["spoke1", "hub", "spoke2"], 1), (["spoke1", "spoke2"], 2)]
    assert check_path(view, "h1", "h2", ["spoke1", "spoke2"]).seq == 3
    with pytest.raises(AssertionError) as failed:
        check_path(view, "h1", "h2", ["spoke1", "hub", "spoke2"], since=T0 + 0.5)
    message = str(failed.value)
    assert message.splitlines()[0] == "path h1 -> h2: expected spoke1 -> hub -> spoke2"
    assert "seen: 2 direct (spoke1 -> spoke2)" in message and f"captures: {tmp_path}" in message
    assert "spoke1-isp.pcapng:3" in message and f"(GRE {S1} -> {S2})" in message


def test_nothing_seen_fails_with_the_reason(tmp_path):
    with pytest.raises(AssertionError, match="no capture in"):
        check_path(view_of(tmp_path), "h1", "h2", ["spoke1", "spoke2"])


def route(prefix: str, code: str, next_hop: str | None, interface: str, override: bool = False) -> dict:
    return {"prefix": prefix, "code": code, "next_hop": next_hop, "interface": interface, "override": override}


def test_the_route_for_a_destination_is_the_longest_match_and_its_code_shows_the_override():
    routes = [route("0.0.0.0/0", "S", "100.64.1.2", "Gi0/0"), route("192.168.0.0/16", "D", "10.0.0.1", "Tunnel0", True),
              route("192.168.2.0/24", "H", "10.0.0.3", "Tunnel0")]
    assert best_route(routes, "192.168.2.10")["code"] == "H"
    assert code_of(best_route(routes, "192.168.3.1")) == "D%" and code_of(None) == "-"
    assert code_of(route("10.1.0.0/16", "O E2", "10.0.0.1", "Tunnel0", True)) == "O%E2"


class FakeLab:
    """Routers answering `| json`; exec writes the captures of the probe id it is given."""

    def __init__(self, tmp_path, shortcut: bool) -> None:
        self.tmp_path, self.shortcut = tmp_path, shortcut

    def exec(self, node: str, argv: list[str]) -> SimpleNamespace:
        ident = int(argv[argv.index("-e") + 1])
        now = time.time()
        packet = direct(self.tmp_path, 1, now, ident) if self.shortcut else via_hub(self.tmp_path, 1, now, ident)
        lab_captures(self.tmp_path, packet)
        return SimpleNamespace(rc=0, stdout="")

    def cli(self, router: str, line: str) -> str:
        spoke1 = [route("192.168.2.0/24", "H", "10.0.0.3", "Tunnel0")] if self.shortcut else [
            route("192.168.0.0/16", "S", "10.0.0.1", None)]
        routes = {"spoke1": spoke1, "hub": [route("192.168.2.0/24", "S", "10.0.0.3", None)],
                  "spoke2": [route("192.168.2.0/24", "C", None, "GigabitEthernet0/1")]}[router]
        nhrp = [{"prefix": "10.0.0.3/32", "next_hop": "10.0.0.3", "nbma": S2, "type": "dynamic", "flags": ["router"]},
                {"prefix": "10.0.0.1/32", "next_hop": "10.0.0.1", "nbma": HUB, "type": "static", "flags": []}]
        return json.dumps({"routes": routes} if "route" in line else {"entries": nhrp})


def test_trace_via_the_hub_explains_each_hop_and_why(tmp_path):
    fake = FakeLab(tmp_path, shortcut=False)
    result = run_trace(TraceTarget(view_of(tmp_path), fake.exec, fake.cli), "h1", "h2")
    assert result.path == ["spoke1", "hub", "spoke2"] and result.arrived
    first, hub, last = result.hops
    assert (first.code, first.route["prefix"], first.nbma, first.link) == ("S", "192.168.0.0/16", HUB, "spoke1-isp")
    assert first.nhrp["nbma"] == HUB and (hub.nbma, hub.link) == (S2, "hub-isp") and last.nbma is None
    text = result.render()
    assert " 2  hub: route S 192.168.2.0/24 via 10.0.0.3; NHRP 10.0.0.3/32 -> NBMA 100.64.2.1" in text
    assert "frame hub-isp.pcapng:1" in text and "frame hub-isp.pcapng:2" in text
    assert text.splitlines()[-1].startswith("arrived: via hub: spoke1 has no shortcut to 192.168.0.0/16 yet")


def test_trace_over_the_shortcut_says_direct_and_json_carries_the_same(tmp_path):
    fake = FakeLab(tmp_path, shortcut=True)
    result = run_trace(TraceTarget(view_of(tmp_path), fake.exec, fake.cli), "h1", "h2")
    data = json.loads(json.dumps(result.to_json(), default=str))
    assert data["routers"] == ["spoke1", "spoke2"] and data["hops"][0]["code"] == "H"
    assert data["hops"][0]["proof"][1]["outer"] == f"{S1} -> {S2}"
    assert data["verdict"] == f"direct: spoke1 sent it to spoke2 (NBMA {S2}) by an NHRP shortcut to 192.168.2.0/24"
    assert all_paths(view_of(tmp_path), "h1", "h2", ident=data["ident"])[0][0] == ["spoke1", "spoke2"]
