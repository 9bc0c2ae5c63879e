"""The wired dmvpnlab format: `dmvpnlab import -o` writes it, `load_lab_file` reads back the same lab."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest
import yaml

from cml_samples import lab, link, write
from dmvpnlab.command import main
from dmvpnlab.lab.cml import WIRED_FORMAT, LabFileError, dump_wired, load_lab_file
from dmvpnlab.lab.wired.model import WiredManagement, WiredTopology

USER_DATA = "#cloud-config\nruncmd:\n  - ip addr add 10.0.1.10/24 dev ens2\n  - ip route add default via 10.0.1.1\n" \
            "  - ip route add 10.9.0.0/16 via 10.0.1.254\n"


def _rich_lab() -> dict:
    data = lab()
    data["nodes"].append({"id": "n7", "label": "PC1", "node_definition": "ubuntu", "configuration": USER_DATA,
                          "interfaces": [{"id": "i0", "label": "ens2", "slot": 0}]})
    data["nodes"].append({"id": "n8", "label": "PC2", "node_definition": "alpine",
                          "interfaces": [{"id": "i0", "label": "eth0", "slot": 0}]})
    data["links"] += [link("l7", "n7", "i0", "n1", "i2"), link("l8", "n8", "i0", "n3", "i3")]
    data["links"][0]["conditioning"] = {"bandwidth": 5000, "latency": 30, "loss": 2}
    return data


def _same_lab(a: WiredTopology, b: WiredTopology) -> None:
    for part in ("name", "description", "routers", "hosts", "bridges", "links", "management"):
        assert getattr(a, part) == getattr(b, part), part


def test_dump_then_load_gives_the_same_lab(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, _rich_lab()))
    written = dump_wired(topo, tmp_path / "out" / "mylab.yaml")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "out/mylab.yaml", "out/mylab/Hub.cfg", "out/mylab/Spoke1.cfg", "out/mylab/Spoke2.cfg"]
    back = load_lab_file(tmp_path / "out" / "mylab.yaml")
    assert isinstance(back, WiredTopology) and back.format == "dmvpnlab-wired 1"
    _same_lab(topo, back)
    assert back.hosts[0].routes and back.hosts[1].dhcp == ["eth0"]
    assert sorted(back.notes) == sorted(topo.notes)  # the ignored-lines note is recomputed, not duplicated


def test_the_file_is_readable_yaml_with_configs_next_to_it(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, _rich_lab()))
    dump_wired(topo, tmp_path / "mylab.yaml")
    data = yaml.safe_load((tmp_path / "mylab.yaml").read_text())
    assert data["format"] == WIRED_FORMAT and list(data["nodes"]) == ["Hub", "Spoke1", "Spoke2", "PC1", "PC2", "SW"]
    assert data["nodes"]["Hub"] == {
        "kind": "router", "definition": "iosv", "config": "mylab/Hub.cfg",
        "interfaces": [{"label": "GigabitEthernet0/0", "slot": 0, "ios": "GigabitEthernet0/0", "linux": "Gi0-0"},
                       {"label": "GigabitEthernet0/1", "slot": 1, "ios": "GigabitEthernet0/1", "linux": "Gi0-1"}]}
    assert data["links"][0] == {"id": "l0", "a": "Hub:Gi0-0", "b": "SW:port0",
                                "conditioning": {"bandwidth_kbps": 5000, "delay_ms": 30.0, "loss_percent": 2.0}}
    assert "management" not in data  # the default plan, as imported
    assert (tmp_path / "mylab" / "Hub.cfg").read_text() == topo.routers[0].config


def test_editing_a_config_changes_the_role(tmp_path: Path) -> None:
    dump_wired(load_lab_file(write(tmp_path, lab())), tmp_path / "w.yaml")
    cfg = tmp_path / "w" / "Spoke2.cfg"
    cfg.write_text(cfg.read_text().replace(" ip nhrp nhs 172.20.0.1 nbma 172.16.0.1 multicast\n", ""))
    assert load_lab_file(tmp_path / "w.yaml").router("Spoke2").role == "router"


def test_an_explicit_management_network_round_trips(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, lab()))
    topo.management = WiredManagement(network=IPv4Network("10.99.0.0/24"), username="u", password="p", port=2222,
                                       explicit=True)
    dump_wired(topo, tmp_path / "w.yaml")
    assert load_lab_file(tmp_path / "w.yaml").management == topo.management


def test_inline_config_text_is_accepted(tmp_path: Path) -> None:
    text = f"""format: {WIRED_FORMAT}
name: tiny
nodes:
  R1:
    kind: router
    definition: iosv
    config_text: |
      hostname R1
      interface GigabitEthernet0/0
       ip address 10.0.0.1 255.255.255.0
    interfaces: [{{label: Gi0/0, slot: 0, ios: GigabitEthernet0/0, linux: Gi0-0}}]
  H1:
    kind: host
    definition: alpine
    interfaces: [{{label: eth0, slot: 0, ios: eth0, linux: eth0}}]
    addresses: {{eth0: [10.0.0.2/24]}}
links:
  - {{id: a, a: 'R1:Gi0-0', b: 'H1:eth0'}}
"""
    topo = load_lab_file(write(tmp_path, text, "tiny.yaml"))
    assert topo.routers[0].config.startswith("hostname R1\n") and topo.links[0].b.node == "H1"


@pytest.mark.parametrize("edit, paragraph", [
    (lambda d: d.update(format="dmvpnlab-wired/9"), "format: expected 'dmvpnlab-wired/1', got 'dmvpnlab-wired/9'"),
    (lambda d: d["links"][0].update(b="SW:port9"),
     "link 'l0': links[0].b: expected one of SW's interfaces (port0, port1, port2, port3), got 'SW:port9'"),
    (lambda d: d["links"][0].update(a="Nope:Gi0-0"),
     "link 'l0': links[0].a: expected 'NODE:INTERFACE' naming a node of this lab and its Linux interface name, "
     "got 'Nope:Gi0-0'"),
    (lambda d: d["links"][1].update(b="SW:port0"),
     "link 'l1': links[1].b: expected an interface no other link uses, got 'SW:port0', which link 'l0' uses"),
    (lambda d: d["nodes"]["Hub"]["interfaces"][0].update(linux="Gi0/0"),
     "node 'Hub': nodes.Hub.interfaces[0].linux: expected a Linux interface name (1-15 of letters, digits, '_', "
     "'.', '-'; not 'lo'), got 'Gi0/0'"),
    (lambda d: d["nodes"]["Hub"].update(kind="switch"),
     "node 'Hub': nodes.Hub.kind: expected 'router', 'host' or 'bridge', got 'switch'"),
    (lambda d: d["nodes"]["Hub"].update(colour="red"),
     "node 'Hub': nodes.Hub.colour: expected none of this field (unknown here), got 'colour'"),
    (lambda d: d["nodes"]["Hub"].update(config="w/Nope.cfg"),
     "node 'Hub': nodes.Hub.config: expected a readable config file, got 'w/Nope.cfg': no such router config file"),
    (lambda d: d["nodes"].update({"Bad Name": d["nodes"].pop("SW")}),
     "node 'Bad Name': nodes['Bad Name']: expected a node name of letters, digits, '_' and '-', starting with a "
     "letter, at most 24 characters, got 'Bad Name'"),
    (lambda d: d.update(name="my lab"), "name: expected a lab name of letters, digits, '.', '_' and '-', at most 64 "
     "characters (it names captures/<name>/), got 'my lab'"),
])
def test_a_broken_wired_file_is_one_paragraph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit,
                                              paragraph: str) -> None:
    monkeypatch.chdir(tmp_path)
    dump_wired(load_lab_file(write(tmp_path, lab())), tmp_path / "w.yaml")
    data = yaml.safe_load((tmp_path / "w.yaml").read_text())
    edit(data)
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(LabFileError) as e:
        load_lab_file("w.yaml")
    assert str(e.value).startswith(f"w.yaml: {paragraph}"), str(e.value)
    assert "\n" not in str(e.value)


def test_import_command_writes_and_up_reads_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, _rich_lab(), "cml.yaml")
    assert main(["import", "cml.yaml", "-o", "topo/mylab.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:7] == [
        "cml.yaml: cml 0.3.0 lab 'cml' (Phase 3 - hub and two spokes)",
        "  routers: 3 (hubs: Hub; spokes: Spoke1, Spoke2; other routers: none)",
        "  hosts:   2 (PC1, PC2)",
        "  bridges: 1 (SW)",
        "  links:   5 (1 with conditioning)",
        "  skipped: 0 nodes",
        "notes:",
    ]
    assert out.splitlines()[-1] == ("wrote topo/mylab.yaml and 3 router configs in topo/mylab/ "
                                    "(bring it up: dmvpnlab up topo/mylab.yaml)")
    assert isinstance(load_lab_file("topo/mylab.yaml"), WiredTopology)
    assert main(["import", "cml.yaml", "-o", "topo/mylab.yaml"]) == 1
    assert capsys.readouterr().err == "dmvpnlab: topo/mylab.yaml exists; give --force to overwrite it\n"
    assert main(["import", "cml.yaml", "-o", "topo/mylab.yaml", "--force"]) == 0


def test_import_without_output_only_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, lab(), "cml.yaml")
    assert main(["import", "cml.yaml"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing written (give -o OUT.yaml to write the wired lab)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cml.yaml"]


def test_import_of_a_native_topology_says_up_runs_it(capsys: pytest.CaptureFixture[str]) -> None:
    native = Path(__file__).resolve().parents[1] / "topologies" / "default.yaml"
    assert main(["import", str(native)]) == 2
    assert "expected a CML or VIRL lab file, got a native dmvpnlab topology" in capsys.readouterr().err
