"""Linux hosts of a CML lab: addresses from cloud-init (netplan, write_files, runcmd), shell lines, else DHCP."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from cml_samples import lab, link, write
from dmvpnlab.lab.cml import load_lab_file
from dmvpnlab.lab.cml.cloudinit import host_network
from dmvpnlab.lab.wired.model import WiredHost

NETPLAN = """network:
  version: 2
  ethernets:
    ens2:
      dhcp4: false
      addresses: [10.0.1.10/24, 10.0.1.11/24]
      routes:
        - {to: default, via: 10.0.1.1}
        - {to: 192.168.0.0/16, via: 10.0.1.254}
"""


def _host_lab(tmp_path: Path, definition: str, configuration: Any, labels: tuple[str, ...] = ("ens2",)) -> WiredHost:
    data = lab()
    data["nodes"].append({"id": "n7", "label": "PC1", "node_definition": definition, "configuration": configuration,
                          "interfaces": [{"id": f"i{k}", "label": name, "slot": k, "type": "physical"}
                                         for k, name in enumerate(labels)]})
    data["links"].append(link("l7", "n7", "i0", "n3", "i3"))
    topo = load_lab_file(write(tmp_path, data))
    assert topo.links[-1].a.node == "PC1"
    return topo.hosts[0]


def test_netplan_in_a_network_config_file(tmp_path: Path) -> None:
    host = _host_lab(tmp_path, "ubuntu", [{"name": "user-data", "content": "#cloud-config\nhostname: pc1\n"},
                                          {"name": "network-config", "content": NETPLAN}])
    assert host.addresses == {"ens2": [IPv4Interface("10.0.1.10/24"), IPv4Interface("10.0.1.11/24")]}
    assert host.gateway == IPv4Address("10.0.1.1")
    assert host.routes == [(IPv4Network("192.168.0.0/16"), IPv4Address("10.0.1.254"))]
    assert host.dhcp == []


def test_netplan_written_by_user_data_write_files(tmp_path: Path) -> None:
    indented = "".join(f"      {line}\n" for line in NETPLAN.splitlines())
    user_data = f"#cloud-config\nwrite_files:\n  - path: /etc/netplan/60-lab.yaml\n    content: |\n{indented}"
    host = _host_lab(tmp_path, "ubuntu", user_data)
    assert host.addresses["ens2"][0] == IPv4Interface("10.0.1.10/24") and host.gateway == IPv4Address("10.0.1.1")


def test_runcmd_ip_lines_in_user_data(tmp_path: Path) -> None:
    user_data = ("#cloud-config\nruncmd:\n  - ip addr add 10.0.1.20/24 dev ens2\n"
                 "  - [ip, route, add, default, via, 10.0.1.1]\n  - sudo ip route add 172.16.0.0/12 via 10.0.1.2\n")
    host = _host_lab(tmp_path, "desktop", user_data)
    assert host.addresses == {"ens2": [IPv4Interface("10.0.1.20/24")]}
    assert host.gateway == IPv4Address("10.0.1.1")
    assert host.routes == [(IPv4Network("172.16.0.0/12"), IPv4Address("10.0.1.2"))]


def test_an_alpine_shell_script(tmp_path: Path) -> None:
    script = "#!/bin/sh\nhostname pc1\nifconfig eth0 10.0.1.30 netmask 255.255.255.0 up\nroute add default gw 10.0.1.1\n"
    host = _host_lab(tmp_path, "alpine", script, labels=("eth0",))
    assert host.addresses == {"eth0": [IPv4Interface("10.0.1.30/24")]} and host.gateway == IPv4Address("10.0.1.1")


def test_no_address_in_the_config_asks_dhcp_on_the_first_interface(tmp_path: Path) -> None:
    host = _host_lab(tmp_path, "server", "#cloud-config\nhostname: pc1\n", labels=("ens2", "ens3"))
    assert host.addresses == {} and host.dhcp == ["ens2"]
    assert _host_lab(tmp_path, "ubuntu", None).dhcp == ["ens2"]


def test_dhcp4_in_netplan_is_kept_per_interface() -> None:
    netplan = "version: 2\nethernets:\n  ens2: {dhcp4: true}\n  ens3: {addresses: [10.0.0.5/24]}\n"
    net = host_network([("network-config", netplan)], ["ens2", "ens3"], "PC1")
    assert net.dhcp == ["ens2"] and net.addresses == {"ens3": [IPv4Interface("10.0.0.5/24")]}


@pytest.mark.parametrize("files, note", [
    ([("network-config", "version: 2\nethernets:\n  eth9: {addresses: [10.0.0.5/24]}\n")],
     "host PC1: its config names interface 'eth9', which the node does not have (it has ens2); "
     "that part is not applied"),
    ([("network-config", "network: {version: 1, config: []}\n")],
     "host PC1: its network-config is network config version 1, which is not read here (write netplan, version 2)"),
    ([("network-config", "ethernets: [\n")],
     "host PC1: cannot read its network-config (YAML syntax error: expected the node content, but found '<stream end>'); "
     "it is not applied"),
])
def test_what_cannot_be_read_is_a_note_and_the_host_asks_dhcp(files: list[tuple[str, str]], note: str) -> None:
    net = host_network(files, ["ens2"], "PC1")
    assert net.notes == [note] and net.dhcp == ["ens2"]


def test_ipv6_and_prefixless_addresses_are_not_taken() -> None:
    net = host_network([("", "ip addr add 2001:db8::1/64 dev ens2\nip addr add 10.0.0.1 dev ens2\n")], ["ens2"], "h")
    assert net.addresses == {} and net.dhcp == ["ens2"]
