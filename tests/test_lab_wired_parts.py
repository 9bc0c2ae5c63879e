"""The wired lab's other pure parts: config facts, node table, agent files, capture names,
node names in any case, and reading a lab file of any kind (no namespaces are created)."""

from __future__ import annotations

import json
import socket
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from dmvpnlab.cli.client import NodeNotFound, resolve
from dmvpnlab.lab.agents import agent_command
from dmvpnlab.lab.captures import CaptureRecorder
from dmvpnlab.lab.labfile import load_lab
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.wired import agents as wired_agents
from dmvpnlab.lab.wired.facts import router_facts
from dmvpnlab.lab.wired.model import WiredRouter
from dmvpnlab.lab.wired.plan import plan
from dmvpnlab.lab.wired.table import wired_rows
from tests.wired_samples import three_routers

REPO = Path(__file__).resolve().parents[1]


def test_facts_read_the_nbma_from_the_tunnel_source_and_the_lans_from_the_rest():
    hub = router_facts(three_routers().routers[0])
    assert hub.nbma == IPv4Address("198.51.100.1")
    assert [(t.name, t.address, t.network_id) for t in hub.tunnels] == [("Tunnel0", IPv4Interface("10.0.0.1/24"), 1)]
    assert hub.loopbacks() == [IPv4Interface("192.168.1.1/24")]
    assert [name for name, _ in hub.lan_addresses()] == ["Loopback0", "GigabitEthernet0/1"]


def test_facts_of_a_config_with_a_tunnel_source_address_and_one_with_no_tunnel():
    router = WiredRouter(name="R", definition="iosv", index=0, role="router",
                         config="interface Tunnel5\n ip address 10.9.0.1 255.255.255.0\n tunnel source 192.0.2.9\n")
    assert router_facts(router).nbma == IPv4Address("192.0.2.9")
    bare = router_facts(WiredRouter(name="ISP", definition="iosv", index=1, role="router",
                                    config="hostname ISP\n"))
    assert bare.nbma is None and bare.tunnels == [] and bare.hostname == "ISP"


def test_facts_never_raise_on_a_config_the_parser_refuses():
    router = WiredRouter(name="R", definition="iosv", index=0, role="router",
                         config="interface GigabitEthernet0/0\n ip address 999.1.1.1 255.0.0.0\n")
    assert router_facts(router).errors >= 1


def test_the_node_table_has_every_node_with_the_native_columns():
    topo = three_routers(host=True)
    rows = wired_rows(topo, plan(topo), {r.name: router_facts(r) for r in topo.routers})
    by = {row["name"]: row for row in rows}
    assert list(by) == ["Hub", "Spoke1", "Spoke2", "PC1", "SW1", "mgmt"]
    assert by["Hub"] == {"name": "Hub", "role": "hub", "nbma": "198.51.100.1", "tunnel": "Tunnel0 10.0.0.1/24",
                         "lan": "192.168.1.1/24, 192.168.11.1/24", "hosts": "PC1", "mgmt": "172.31.255.10"}
    assert by["Spoke2"]["mgmt"] == "172.31.255.12" and by["Spoke2"]["hosts"] == ""
    assert by["PC1"]["lan"] == "192.168.11.10/24" and by["PC1"]["role"] == "host"
    assert by["SW1"] == {"name": "SW1", "role": "switch", "nbma": "-", "tunnel": "-", "lan": "-",
                         "hosts": "Hub, Spoke1, Spoke2", "mgmt": "-"}
    assert by["mgmt"]["lan"] == "172.31.255.0/24" and by["mgmt"]["mgmt"] == "172.31.255.1"


def test_each_router_gets_its_config_as_written_and_its_interface_map(tmp_path):
    hub = three_routers(wired=True).routers[0]
    config, mapping = wired_agents.write_router_files(hub, tmp_path / "Hub")
    assert config.name == "startup-config" and config.read_text() == hub.config
    assert json.loads(mapping.read_text()) == hub.interface_map
    assert mapping.name == "interface-map.json"


def test_the_interface_map_flag_goes_on_the_agent_command_line():
    argv = agent_command("Hub", Path("/s/startup-config"), Path("/s"), None,
                         (wired_agents.INTERFACE_MAP_FLAG, "/s/interface-map.json"))
    assert argv[3:] == ["agent", "--node", "Hub", "--config", "/s/startup-config", "--state-dir", "/s",
                        "--interface-map", "/s/interface-map.json"]


def test_ssh_login_is_the_routers_management_address():
    topo = three_routers()
    login = wired_agents.ssh_login(topo, topo.routers[2])
    assert (login.address, login.port, login.username) == ("172.31.255.12", 22, "admin")
    assert wired_agents.ssh_login(three_routers(management=False), topo.routers[0]) is None


def test_wired_captures_are_named_node_dash_interface(tmp_path):
    recorder = CaptureRecorder.prepare("wiredt", tmp_path)
    assert recorder.interface_path("Spoke1", "Gi0-0").name == "Spoke1-Gi0-0.pcapng"
    assert recorder.interface_path("Hub", "Tunnel1").parent == tmp_path.resolve() / "wiredt"


def test_management_addresses_follow_the_router_index_in_any_case():
    topo = three_routers()
    assert str(topo.management_address("SPOKE1").ip) == "172.31.255.11"
    assert [r.name for r in topo.managed_routers] == ["Hub", "Spoke1", "Spoke2"]
    assert three_routers(management=False).management_address("hub") is None
    with pytest.raises(KeyError):
        topo.management_address("nobody")


def test_the_router_cli_finds_a_router_in_any_case(tmp_path):
    directory = tmp_path / "lab1" / "Spoke1"
    directory.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(directory / "control.sock"))
    try:
        assert resolve("spoke1", tmp_path) == directory / "control.sock"
        assert resolve("lab1/SPOKE1", tmp_path) == directory / "control.sock"
        with pytest.raises(NodeNotFound):
            resolve("spoke9", tmp_path)
    finally:
        listener.close()


def test_a_native_topology_still_loads_through_the_one_loader():
    topo = load_lab(REPO / "topologies" / "default.yaml")
    assert isinstance(topo, Topology) and topo.routers


def test_a_cml_file_loads_as_a_wired_lab_and_refuses_template_variables(tmp_path):
    from cml_samples import lab, write

    from dmvpnlab.lab.wired.model import WiredTopology

    path = write(tmp_path, lab())
    topo = load_lab(path)
    assert isinstance(topo, WiredTopology) and [r.name for r in topo.routers] == ["Hub", "Spoke1", "Spoke2"]
    with pytest.raises(ValueError) as info:
        load_lab(path, variables={"phase": 2})
    assert "template variables" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ValueError):
        load_lab(path, ["phase=2"])


def test_a_cml_file_with_a_link_the_builder_cannot_make_is_refused_at_load(tmp_path):
    from cml_samples import lab, write

    from dmvpnlab.lab.labfile import file_errors

    data = lab()
    data["links"].append({**data["links"][0], "id": "l9"})  # the hub's Gi0/0 on a second link
    try:
        load_lab(write(tmp_path, data))
    except file_errors() as error:
        assert "\n" not in str(error)
    else:
        pytest.fail("a lab whose interface takes two links was accepted")


def test_dhcp_hosts_without_the_client_get_one_line_each(monkeypatch):
    from dmvpnlab.lab.wired import dhcp_hosts

    monkeypatch.setattr(dhcp_hosts, "client_available", lambda: False)
    assert dhcp_hosts.start(object(), [("PC1", "ens2"), ("PC2", "eth0")]) == [
        "host PC1: ens2 asks DHCP, DHCP not available (no `dmvpnlab dhcp-client` yet): it stays unaddressed",
        "host PC2: eth0 asks DHCP, DHCP not available (no `dmvpnlab dhcp-client` yet): it stays unaddressed"]
    assert dhcp_hosts.client_command("ens2")[-3:] == ["dmvpnlab", "dhcp-client", "ens2"]
