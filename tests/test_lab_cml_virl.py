"""VIRL 1 `.virl` XML: the same wired lab as a CML file gives, and XML that cannot be trusted refused."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from cml_samples import HUB, spoke
from dmvpnlab.lab.cml import LabFileError, load_lab_file
from dmvpnlab.lab.wired.model import Endpoint


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def virl(extra_nodes: str = "", extra_connections: str = "") -> str:
    """Our own VIRL sample: a hub and two spokes on an unmanaged switch, a Linux server behind Spoke1."""
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<topology xmlns="http://www.cisco.com/VIRL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          schemaVersion="0.95">
    <extensions>
        <entry key="management_network" type="String">flat</entry>
    </extensions>
    <node name="hub" type="SIMPLE" subtype="IOSv" location="100,100">
        <extensions><entry key="config" type="String">{_escape(HUB)}</entry></extensions>
        <interface id="0" name="GigabitEthernet0/0"/>
    </node>
    <node name="spoke1" type="SIMPLE" subtype="IOSv" location="200,100">
        <extensions><entry key="config" type="String">{_escape(spoke(1))}</entry></extensions>
        <interface id="0" name="GigabitEthernet0/0"/>
        <interface id="1" name="GigabitEthernet0/1"/>
    </node>
    <node name="spoke2" type="SIMPLE" subtype="IOSv" location="300,100">
        <extensions><entry key="config" type="String">{_escape(spoke(2))}</entry></extensions>
        <interface id="0" name="GigabitEthernet0/0"/>
    </node>
    <node name="wan" type="SEGMENT" subtype="Unmanaged Switch" location="200,200">
        <interface id="0" name="port0"/>
        <interface id="1" name="port1"/>
        <interface id="2" name="port2"/>
    </node>
    <node name="server-1" type="SIMPLE" subtype="server" location="200,0">
        <extensions><entry key="config" type="String">#cloud-config
hostname: server-1
</entry></extensions>
        <interface id="0" name="eth1" ipv4="10.0.1.10" netPrefixLenV4="24"/>
    </node>{extra_nodes}
    <connection src="/virl:topology/virl:node[1]/virl:interface[1]" dst="/virl:topology/virl:node[4]/virl:interface[1]"/>
    <connection src="/virl:topology/virl:node[2]/virl:interface[1]" dst="/virl:topology/virl:node[4]/virl:interface[2]"/>
    <connection src="/virl:topology/virl:node[3]/virl:interface[1]" dst="/virl:topology/virl:node[4]/virl:interface[3]"/>
    <connection src="/virl:topology/virl:node[5]/virl:interface[1]" dst="/virl:topology/virl:node[2]/virl:interface[2]"/>{extra_connections}
</topology>
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dmvpn.virl"
    path.write_text(text)
    return path


def test_a_virl_file_becomes_the_same_kind_of_wired_lab(tmp_path: Path) -> None:
    topo = load_lab_file(_write(tmp_path, virl()))
    assert topo.format == "virl 1" and topo.name == "dmvpn"
    assert [(r.name, r.role) for r in topo.routers] == [("hub", "hub"), ("spoke1", "spoke"), ("spoke2", "spoke")]
    assert topo.routers[0].config == HUB
    assert [i.ios_name for i in topo.router("spoke1").interfaces] == ["GigabitEthernet0/0", "GigabitEthernet0/1"]
    assert [b.name for b in topo.bridges] == ["wan"]
    assert [(k.a, k.b) for k in topo.links][:1] == [(Endpoint(node="hub", interface="Gi0-0"),
                                                     Endpoint(node="wan", interface="port0"))]
    server = topo.hosts[0]
    assert server.name == "server-1" and server.definition == "ubuntu"
    assert server.addresses == {"eth1": [IPv4Interface("10.0.1.10/24")]} and server.gateway is None
    assert topo.links[3].a == Endpoint(node="server-1", interface="eth1")


def test_virl_interface_names_win_over_slots(tmp_path: Path) -> None:
    text = virl().replace('<interface id="0" name="GigabitEthernet0/0"/>\n    </node>\n    <node name="spoke1"',
                          '<interface id="0" name="GigabitEthernet0/3"/>\n    </node>\n    <node name="spoke1"')
    topo = load_lab_file(_write(tmp_path, text))
    assert topo.routers[0].interfaces[0].ios_name == "GigabitEthernet0/3"
    assert topo.links[0].a.interface == "Gi0-3"


def test_a_flat_connector_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, virl('\n    <node name="flat-1" type="ASSET" subtype="FLAT"><interface id="0" name="link0"/></node>'))
    with pytest.raises(LabFileError) as e:
        load_lab_file("dmvpn.virl")
    assert str(e.value) == ("dmvpn.virl: node 'flat-1' (id n5): node[6]/@subtype: expected a node this lab can run, "
                            "got 'external_connector': a lab here never reaches the outside network (remove the "
                            "connector and its links, or use an unmanaged_switch)")


def test_an_unknown_subtype_is_skipped_with_a_note(tmp_path: Path) -> None:
    topo = load_lab_file(_write(tmp_path, virl('\n    <node name="xr" type="SIMPLE" subtype="IOS XRv"/>')))
    assert "xr" not in topo.node_names()
    assert any(n.startswith("node 'xr' (id n5): node definition 'IOS XRv' is not run here") for n in topo.notes)


@pytest.mark.parametrize("connection, paragraph", [
    ('<connection src="/virl:topology/virl:node[9]/virl:interface[1]" dst="/virl:topology/virl:node[1]/virl:interface[1]"/>',
     "connection[5]: connection[5]/@src: expected one of the 5 nodes (node[1]..node[5]), got node[9]"),
    ('<connection src="/virl:topology/virl:node[3]/virl:interface[4]" dst="/virl:topology/virl:node[1]/virl:interface[1]"/>',
     "node 'spoke2': connection[5]/@src: expected one of the node's 1 interfaces, got interface[4]"),
    ('<connection src="node 1" dst="/virl:topology/virl:node[1]/virl:interface[1]"/>',
     "connection[5]: connection[5]/@src: expected a reference to a node's interface, such as "
     "'/virl:topology/virl:node[1]/virl:interface[1]', got 'node 1'"),
    ('<connection src="/virl:topology/virl:node[3]/virl:interface[1]" dst="/virl:topology/virl:node[4]/virl:interface[1]"/>',
     "link 'l4' to node 'spoke2' (id n2): connection[5]/@src: expected an interface no other link uses, got 'i0', "
     "which link 'l2' uses"),
])
def test_a_broken_connection_is_one_paragraph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connection: str,
                                              paragraph: str) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, virl(extra_connections="\n    " + connection))
    with pytest.raises(LabFileError) as e:
        load_lab_file("dmvpn.virl")
    assert str(e.value) == f"dmvpn.virl: {paragraph}"


@pytest.mark.parametrize("text, paragraph", [
    ('<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n<topology>&b;</topology>',
     "expected VIRL XML without a DTD, got `<!DOCTYPE` or `<!ENTITY` (refused: entities could expand without bound)"),
    ("<topology><node name='x'></topology>",
     "expected well-formed XML, got mismatched tag: line 1, column 27"),
])
def test_xml_that_cannot_be_trusted_or_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      text: str, paragraph: str) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, text)
    with pytest.raises(LabFileError) as e:
        load_lab_file("dmvpn.virl")
    assert str(e.value) == f"dmvpn.virl: {paragraph}"


def test_a_virl_host_with_its_own_address_lines_keeps_them(tmp_path: Path) -> None:
    text = virl().replace("hostname: server-1\n", "hostname: server-1\nruncmd:\n  - ip addr add 10.0.1.99/24 dev eth1\n"
                          "  - ip route add default via 10.0.1.1\n")
    host = load_lab_file(_write(tmp_path, text)).hosts[0]
    assert host.addresses == {"eth1": [IPv4Interface("10.0.1.99/24")]} and host.gateway == IPv4Address("10.0.1.1")
