"""lab.json (written at bring-up) says what the report needs, and the report package stays out of the lab.

The lab here is a stand-in holding what `Lab` holds after bring-up (topology, roles,
addresses, captures): the description is a pure function of those.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

from dmvpnlab.lab.captures import Capture
from dmvpnlab.lab.description import write_description
from dmvpnlab.lab.topology.yamlfile import load_topology
from dmvpnlab.report.labinfo import load

ROOT = Path(__file__).resolve().parent.parent


def stand_in_lab(directory: Path) -> SimpleNamespace:
    topo = load_topology(ROOT / "topologies" / "default.yaml")
    names = ["isp", "hub", "spoke1", "spoke2", "h0", "h1", "h2"]
    roles = {"isp": "isp", "hub": "hub", "spoke1": "spoke", "spoke2": "spoke", "h0": "host", "h1": "host", "h2": "host"}
    addresses = {"h1": {"h1-eth0": "192.168.1.10/24"}, "spoke1": {"spoke1-eth0": "100.64.1.1/30"}}
    captures = {(o, p): Capture(o, p, f"{o}-eth0", directory / f"{o}-{p}.pcapng", directory / "log")
                for o, p in (("hub", "isp"), ("spoke1", "isp"), ("spoke1", "h1"), ("spoke1", "Tunnel0"))}
    return SimpleNamespace(topology=topo, name=topo.name, nodes={n: None for n in names}, roles=roles,
                           addresses=addresses, captures=SimpleNamespace(directory=directory, captures=captures))


def test_lab_json_has_roles_tunnel_and_nbma_addresses_links_and_the_up_time(tmp_path):
    path = write_description(stand_in_lab(tmp_path))
    data = json.loads(path.read_text())
    assert path == tmp_path / "lab.json" and data["lab"] == "default" and data["up_at"] > 0
    spoke1 = next(n for n in data["nodes"] if n["name"] == "spoke1")
    assert (spoke1["role"], spoke1["tunnel"], spoke1["nbma"]) == ("spoke", "10.0.0.2/24", "100.64.1.1")
    assert {l["stem"] for l in data["links"]} == {"hub-isp", "spoke1-isp", "spoke1-h1", "spoke1-Tunnel0"}


def test_the_report_reads_it_back(tmp_path):
    write_description(stand_in_lab(tmp_path))
    lab = load(tmp_path)
    assert lab.from_file and lab.nodes["hub"].role == "hub"
    assert lab.owner_of("192.168.1.10") == "h1" and lab.owner_of("10.0.0.3") == "spoke2"
    assert lab.tunnel_captures == ["spoke1-Tunnel0"]
    assert {(l.owner, l.peer) for l in lab.links} == {("hub", "isp"), ("spoke1", "isp"), ("spoke1", "h1")}


def test_a_lab_without_captures_writes_nothing(tmp_path):
    lab = stand_in_lab(tmp_path)
    lab.captures = None
    assert write_description(lab) is None


def test_the_report_package_never_imports_the_lab_the_cli_or_the_agent():
    for path in (ROOT / "src" / "dmvpnlab" / "report").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("dmvpnlab.lab", "dmvpnlab.cli", "dmvpnlab.agent")), f"{path.name}: {name}"


def test_a_wired_labs_captures_named_after_interfaces_get_the_node_at_the_far_end(tmp_path):
    from dmvpnlab.lab.labfile import load_lab

    topo = load_lab(ROOT / "topologies" / "cml" / "phase3.yaml")
    link = topo.links[0]
    capture = Capture(link.a.node, link.a.interface, link.a.interface, tmp_path / "x.pcapng", tmp_path / "log")
    lab = SimpleNamespace(topology=topo, name=topo.name, nodes={r.name: None for r in topo.routers},
                          roles={r.name: r.role for r in topo.routers}, addresses={},
                          captures=SimpleNamespace(directory=tmp_path, captures={capture.key: capture}))
    data = json.loads(write_description(lab).read_text())
    assert data["kind"] == "wired"
    assert data["links"] == [{"stem": f"{link.a.node}-{link.a.interface}", "owner": link.a.node, "peer": link.b.node,
                              "interfaces": {link.a.node: link.a.interface}}]
