"""CML 2 lab files -> WiredTopology: versions, node definitions, interface names, roles, links, notes.

Each test writes a small lab of our own (tests/cml_samples.py) with one thing changed and
reads what the importer makes of it. No privileges: nothing is built.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from cml_samples import HUB, lab, link, router, spoke, switch, write
from dmvpnlab.lab.cml import LabFileError, load_cml, load_lab_file
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.wired.model import Conditioning, Endpoint, WiredInterface

REPO = Path(__file__).resolve().parents[1]


def test_a_phase3_lab_becomes_routers_with_their_roles_a_bridge_and_links(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, lab()))
    assert topo.name == "lab" and topo.format == "cml 0.3.0"
    assert topo.description == "Phase 3 - hub and two spokes"
    assert [(r.name, r.role, r.index, r.definition) for r in topo.routers] == [
        ("Hub", "hub", 0, "iosv"), ("Spoke1", "spoke", 1, "iosv"), ("Spoke2", "spoke", 2, "iosv")]
    assert topo.routers[0].config == HUB
    assert topo.routers[0].interfaces == [
        WiredInterface(label="GigabitEthernet0/0", slot=0, ios_name="GigabitEthernet0/0", linux_name="Gi0-0"),
        WiredInterface(label="GigabitEthernet0/1", slot=1, ios_name="GigabitEthernet0/1", linux_name="Gi0-1")]
    assert topo.routers[1].interface_map == {"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1"}
    assert [b.name for b in topo.bridges] == ["SW"]
    assert [i.linux_name for i in topo.bridges[0].interfaces] == ["port0", "port1", "port2", "port3"]
    assert [(k.id, k.a, k.b) for k in topo.links] == [
        ("l0", Endpoint(node="Hub", interface="Gi0-0"), Endpoint(node="SW", interface="port0")),
        ("l1", Endpoint(node="Spoke1", interface="Gi0-0"), Endpoint(node="SW", interface="port1")),
        ("l2", Endpoint(node="Spoke2", interface="Gi0-0"), Endpoint(node="SW", interface="port2"))]
    assert topo.management is not None and topo.management.network == IPv4Network("172.31.255.0/24")
    assert not topo.management.explicit
    assert topo.hubs[0].name == "Hub" and [s.name for s in topo.spokes] == ["Spoke1", "Spoke2"]


@pytest.mark.parametrize("version", ["0.0.3", "0.0.5", "0.1.0", "0.2.0", "0.2.2", "0.3.0"])
def test_every_format_version_loads(tmp_path: Path, version: str) -> None:
    topo = load_cml(write(tmp_path, lab(version)))
    assert topo.format == f"cml {version}"
    assert [r.role for r in topo.routers] == ["hub", "spoke", "spoke"]


def test_a_0_0_x_file_without_a_lab_section_loads(tmp_path: Path) -> None:
    data = lab()
    del data["lab"]
    data["lab_title"] = "old export"
    topo = load_lab_file(write(tmp_path, data))
    assert topo.format == "cml 0.0.x" and topo.description == "old export"


def test_configuration_as_text_and_as_a_list_of_files_give_the_same_config(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, lab()))
    assert topo.router("spoke1").config == spoke(1)  # [{name: ios_config.txt, content}]
    assert topo.router("SPOKE2").config == spoke(2)  # a plain string


def test_several_configuration_files_the_ios_one_is_used_and_said(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][0]["configuration"] = [{"name": "notes.md", "content": "x"},
                                         {"name": "ios_config.txt", "content": HUB}]
    topo = load_lab_file(write(tmp_path, data))
    assert topo.routers[0].config == HUB
    assert "node 'Hub' (id n0): its configuration has 2 files; 'ios_config.txt' is the IOS config" in topo.notes


def test_a_router_without_configuration_runs_unconfigured_and_is_said(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][2]["configuration"] = None
    topo = load_lab_file(write(tmp_path, data))
    assert topo.routers[2].config == "" and topo.routers[2].role == "router"
    assert "node 'Spoke2' (id n2): has no configuration; it runs as an unconfigured router" in topo.notes


@pytest.mark.parametrize("definition, names, linux", [
    ("iosv", ["GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/5"], ["Gi0-0", "Gi0-1", "Gi0-5"]),
    ("csr1000v", ["GigabitEthernet1", "GigabitEthernet2", "GigabitEthernet6"], ["Gi1", "Gi2", "Gi6"]),
    ("cat8000v", ["GigabitEthernet1", "GigabitEthernet2", "GigabitEthernet6"], ["Gi1", "Gi2", "Gi6"]),
    ("iol-xe", ["Ethernet0/0", "Ethernet0/1", "Ethernet1/1"], ["Et0-0", "Et0-1", "Et1-1"]),
    ("iosvl2", ["GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet1/1"], ["Gi0-0", "Gi0-1", "Gi1-1"]),
])
def test_interface_labels_map_to_ios_names_by_slot_as_cml_does(tmp_path: Path, definition: str,
                                                                names: list[str], linux: list[str]) -> None:
    config = "hostname R1\n" + "".join(f"interface {n}\n no switchport\n" for n in names)
    node = router("n0", "R1", config, definition=definition)
    node["interfaces"] = [{"id": f"i{s}", "label": f"whatever{s}", "slot": s} for s in (0, 1, 5)]
    topo = load_lab_file(write(tmp_path, {"lab": {"version": "0.3.0"}, "nodes": [node], "links": []}))
    assert [(i.ios_name, i.linux_name, i.label) for i in topo.routers[0].interfaces] == \
        list(zip(names, linux, ["whatever0", "whatever1", "whatever5"]))


def test_loopback_interfaces_are_not_wired(tmp_path: Path) -> None:
    topo = load_lab_file(write(tmp_path, lab()))
    assert all(not i.ios_name.startswith("Loopback") for r in topo.routers for i in r.interfaces)


def test_an_unknown_definition_is_skipped_with_one_note_and_its_links_dropped(tmp_path: Path) -> None:
    data = lab()
    data["nodes"].append({"id": "n9", "label": "nx1", "node_definition": "nxosv9000",
                          "interfaces": [{"id": "i0", "label": "Ethernet1/1", "slot": 0}]})
    data["links"].append(link("l9", "n9", "i0", "n3", "i3"))
    topo = load_lab_file(write(tmp_path, data))
    assert "nx1" not in topo.node_names() and [k.id for k in topo.links] == ["l0", "l1", "l2"]
    assert topo.notes == [
        "router Hub: 3 config lines kept but not applied here (`show running-config` lists them): "
        "'service timestamps debug datetime msec'; 'line vty 0 4'; 'login local'",
        "node 'nx1' (id n9): node definition 'nxosv9000' is not run here; the node is skipped (routers: iosv, "
        "csr1000v, cat8000v, iol-xe, iosvl2, ioll2-xe; hosts: ubuntu, alpine, desktop, server; unmanaged_switch)",
        "link 'l9': dropped, it joins the skipped node 'nx1'",
    ]


@pytest.mark.parametrize("label, name", [
    ("Spoke 2", "Spoke_2"), ("2nd-spoke", "n2nd-spoke"), ("spoke/2", "spoke_2"),
    ("a-very-long-router-label-indeed", "a-very-long-router-label"), ("Zürich", "Z_rich"),
])
def test_a_label_that_is_not_a_usable_name_is_mapped_and_said(tmp_path: Path, label: str, name: str) -> None:
    data = lab()
    data["nodes"][2]["label"] = label
    topo = load_lab_file(write(tmp_path, data))
    assert topo.routers[2].name == name and topo.links[2].a.node == name
    assert (f"node {label!r} (id n2) is called {name!r} here (a node name is letters, digits, '_' and '-', "
            "starting with a letter, at most 24 characters, unique in any case)") in topo.notes


def test_usual_cml_default_labels_are_kept(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][0]["label"], data["nodes"][3]["label"] = "iosv-0", "unmanaged-switch-0"
    topo = load_lab_file(write(tmp_path, data))
    assert topo.node_names() == ["iosv-0", "Spoke1", "Spoke2", "unmanaged-switch-0"]


def test_a_mapped_label_never_takes_another_nodes_name(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][1]["label"], data["nodes"][2]["label"] = "Spoke_2", "Spoke 2"
    topo = load_lab_file(write(tmp_path, data))
    assert [r.name for r in topo.routers] == ["Hub", "Spoke_2", "Spoke_2_2"]


def test_link_conditioning_is_kept_in_cml_units_when_enabled(tmp_path: Path) -> None:
    data = lab()
    data["links"][0]["conditioning"] = {"enabled": True, "bandwidth": 2000, "latency": 40, "jitter": 5,
                                        "loss": 1.5, "delay_corr": 10, "duplicate": 0}
    data["links"][1]["conditioning"] = {"enabled": False, "bandwidth": 2000}
    data["links"][2]["conditioning"] = {"bandwidth": 0, "latency": 0, "loss": 0.0}
    topo = load_lab_file(write(tmp_path, data))
    assert topo.links[0].conditioning == Conditioning(bandwidth_kbps=2000, delay_ms=40, jitter_ms=5, loss_percent=1.5)
    assert topo.links[1].conditioning is None and topo.links[2].conditioning is None
    assert ("link 'l0': conditioning delay_corr is not applied here (bandwidth, latency, jitter and loss are)"
            in topo.notes)


def test_lines_the_parser_ignores_are_counted_per_router(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][1]["configuration"] = spoke(1) + "".join(f"snmp-server community c{i} RO\n" for i in range(5))
    topo = load_lab_file(write(tmp_path, data))
    assert ("router Spoke1: 5 config lines kept but not applied here (`show running-config` lists them): "
            "'snmp-server community c0 RO'; 'snmp-server community c1 RO'; 'snmp-server community c2 RO' "
            "and 2 more") in topo.notes
    assert not any(n.startswith("router Spoke2:") for n in topo.notes)


def test_iosvl2_switchports_join_a_bridge_and_its_svi_is_the_routers(tmp_path: Path) -> None:
    config = ("hostname L2\ninterface GigabitEthernet0/0\n no switchport\n ip address 172.16.0.9 255.255.255.0\n"
              "interface GigabitEthernet0/1\n switchport mode access\ninterface Vlan1\n"
              " ip address 10.9.0.1 255.255.255.0\n")
    data = lab()
    l2 = router("n5", "L2", config, slots=3, definition="iosvl2")
    data["nodes"].append(l2)
    data["nodes"].append({"id": "n6", "label": "PC", "node_definition": "alpine", "configuration":
                          "ip address add 10.9.0.10/24 dev eth0\nip route add default via 10.9.0.1\n",
                          "interfaces": [{"id": "i0", "label": "eth0", "slot": 0}]})
    data["links"] += [link("l5", "n5", "i1", "n3", "i3"), link("l6", "n6", "i0", "n5", "i2")]
    topo = load_lab_file(write(tmp_path, data))
    l2r = topo.router("L2")
    assert [(i.ios_name, i.linux_name) for i in l2r.interfaces] == [("GigabitEthernet0/0", "Gi0-0"), ("Vlan1", "Vl1")]
    sw = next(b for b in topo.bridges if b.name == "L2-sw")
    assert [i.linux_name for i in sw.interfaces] == ["Gi0-1", "Gi0-2", "Vl1"]
    by_id = {k.id: k for k in topo.links}
    assert by_id["l5"].a == Endpoint(node="L2", interface="Gi0-0")
    assert by_id["l6"].b == Endpoint(node="L2-sw", interface="Gi0-1")
    assert by_id["L2-Vl1"].a == Endpoint(node="L2", interface="Vl1") and by_id["L2-Vl1"].b.node == "L2-sw"
    assert any(n.startswith("router L2 (iosvl2): its switchports (GigabitEthernet0/1, GigabitEthernet0/2) and SVIs "
                            "join the bridge L2-sw; VLANs are not separated") for n in topo.notes)
    pc = topo.hosts[0]
    assert pc.addresses == {"eth0": [IPv4Interface("10.9.0.10/24")]} and pc.gateway == IPv4Address("10.9.0.1")


def test_a_native_topology_is_read_by_the_native_loader() -> None:
    assert isinstance(load_lab_file(REPO / "topologies" / "default.yaml"), Topology)
    assert isinstance(load_lab_file(REPO / "topologies" / "default.yaml", ["phase=2"]), Topology)


def test_var_assignments_with_a_cml_lab_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, lab())
    with pytest.raises(LabFileError) as e:
        load_lab_file(path, ["phase=2"])
    assert str(e.value) == (f"--var: expected no --var with {path}: template variables apply to native topologies, "
                            "and this is a CML lab whose router configs are used as written")


def test_the_labs_in_the_repository_import(tmp_path: Path) -> None:
    labs = sorted((REPO / "topologies" / "cml").glob("*.yaml"))
    for path in labs:
        if path.name in ("external.yaml", "broken.yaml"):
            with pytest.raises(LabFileError):
                load_lab_file(path)
        else:
            topo = load_lab_file(path)
            assert topo.hubs and topo.spokes, path.name


def test_a_switch_port_that_is_not_a_linux_name_gets_one(tmp_path: Path) -> None:
    data = lab()
    data["nodes"][3]["interfaces"][0]["label"] = "port 0 / uplink"
    topo = load_lab_file(write(tmp_path, data))
    assert topo.bridges[0].interfaces[0].linux_name == "p0" and topo.links[0].b.interface == "p0"


def test_hosts_and_switches_can_be_written_with_flow_style_and_numbers_as_ids(tmp_path: Path) -> None:
    text = """lab: {version: 0.2.1, title: t}
nodes:
  - {id: 0, label: R1, node_definition: iosv, configuration: "hostname R1\\n",
     interfaces: [{id: 0, slot: 0, label: GigabitEthernet0/0}]}
  - {id: 1, label: S1, node_definition: unmanaged_switch, interfaces: [{id: 0, slot: 0, label: port0}]}
links:
  - {id: 0, n1: 0, i1: 0, n2: 1, i2: 0}
"""
    topo = load_lab_file(write(tmp_path, text))
    assert [(k.a.node, k.b.node) for k in topo.links] == [("R1", "S1")]
    assert switch("n", "x")["node_definition"] == "unmanaged_switch"
