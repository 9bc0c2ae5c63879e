"""Management network plan, its topology section, its table rows and the agent's --ssh (no root)."""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from dmvpnlab.agent.command import parse_ssh_endpoint
from dmvpnlab.lab import management as mgmt
from dmvpnlab.lab.agents import agent_command, ssh_login
from dmvpnlab.lab.table import node_rows
from dmvpnlab.lab.topology.build import topology_from_data
from dmvpnlab.lab.topology.errors import TopologyError

REPO = Path(__file__).resolve().parents[1]
PHASE3 = {"hub": {"template": "hub.j2"}, "spokes": 2, "spoke_defaults": {"template": "spoke.j2"}}


def topo(**extra):
    return topology_from_data({**PHASE3, **extra}, REPO / "topologies" / "x.yaml")


def error_of(**extra) -> str:
    with pytest.raises(TopologyError) as info:
        topo(**extra)
    return str(info.value)


def test_default_plan_puts_this_machine_at_1_and_router_i_at_10_plus_i():
    t = topo()
    assert t.management.network == IPv4Network("172.31.255.0/24")
    assert t.management.root_address == IPv4Interface("172.31.255.1/24")
    assert [str(t.management_address(r.name)) for r in t.routers] == [
        "172.31.255.10/24", "172.31.255.11/24", "172.31.255.12/24"]
    assert (t.management.username, t.management.password, t.management.port) == ("admin", "admin", 22)


def test_default_network_grows_downwards_when_router_indexes_do_not_fit_a_slash24():
    assert mgmt.default_network(244) == IPv4Network("172.31.255.0/24")
    assert mgmt.default_network(245) == IPv4Network("172.31.254.0/23")
    t = topology_from_data({**PHASE3, "spokes": 1000, "tunnel": {"network": "10.0.0.0/22"}},
                           REPO / "topologies" / "x.yaml")
    assert t.management.network == IPv4Network("172.31.252.0/22")
    assert t.management_address("spoke1000").ip in t.management.network


def test_topology_section_sets_network_and_login():
    t = topo(management={"network": "10.99.0.0/24", "username": "netops", "password": "s3cret", "port": 2222})
    assert t.management.explicit
    assert str(t.management_address("spoke2")) == "10.99.0.12/24"
    assert (t.management.username, t.management.password, t.management.port) == ("netops", "s3cret", 2222)
    assert "s3cret" not in repr(t.management)


def test_management_false_means_no_management_network():
    t = topo(management=False)
    assert t.management is None and t.managed_routers == []
    assert all(row["mgmt"] == "-" for row in node_rows(t) if row["role"] in ("hub", "spoke"))


def test_only_routers_with_an_agent_get_a_management_address():
    t = topology_from_data({"hub": {"template": "hub.j2"}, "spokes": 1}, REPO / "topologies" / "x.yaml")
    assert [r.name for r in t.managed_routers] == ["hub"]
    assert t.management_address("spoke1") is None


def test_bad_management_sections_name_the_field():
    assert "management.network: expected a management network with room for router index 2 at .12" in \
        error_of(management={"network": "10.9.9.0/29"})
    assert "management.network: expected a network of its own" in error_of(management={"network": "192.168.1.0/24"})
    assert "management.passwd: unknown key 'passwd'; did you mean 'password'?" in error_of(management={"passwd": "x"})
    assert "management.password: expected a non-empty string" in error_of(management={"password": ""})
    assert "management.port" in error_of(management={"port": 0})


def test_a_node_named_like_the_management_bridge_is_refused_unless_management_is_off():
    routers = {"mgmt": {"role": "spoke", "index": 9}}
    assert "expected no node named 'mgmt'" in error_of(routers=routers)
    assert topo(routers=routers, management=False).router("mgmt").index == 9


def test_node_table_has_a_management_column_and_a_row_for_the_bridge():
    rows = {r["name"]: r for r in node_rows(topo())}
    assert rows["spoke1"]["mgmt"] == "172.31.255.11"
    assert rows["mgmt"]["lan"] == "172.31.255.0/24" and rows["mgmt"]["mgmt"] == "172.31.255.1"


def test_a_default_network_in_use_moves_to_the_next_free_one_below_it():
    default = IPv4Network("172.31.255.0/24")
    in_use = [IPv4Network("172.31.255.0/24"), IPv4Network("172.31.254.0/24")]
    assert mgmt.pick_network(default, False, in_use, []) == IPv4Network("172.31.253.0/24")
    assert mgmt.pick_network(default, False, [], [IPv4Network("172.31.255.0/30")]) == IPv4Network("172.31.254.0/24")


def test_an_explicit_network_in_use_is_an_error_not_moved():
    with pytest.raises(mgmt.ManagementError, match="overlaps 10.99.0.0/16 on this machine"):
        mgmt.pick_network(IPv4Network("10.99.0.0/24"), True, [IPv4Network("10.99.0.0/16")], [])


def test_no_free_network_in_the_pool_is_an_error():
    with pytest.raises(mgmt.ManagementError, match="no free management network"):
        mgmt.pick_network(IPv4Network("172.31.255.0/24"), False, [IPv4Network("172.31.0.0/16")], [])


def test_root_link_names_fit_linux_and_differ_per_lab():
    assert mgmt.root_ifname("default") == "dmvpn-default"
    long_a, long_b = mgmt.root_ifname("phase3-expiry"), mgmt.root_ifname("phase3-expiry2")
    assert len(long_a) <= 15 and len(long_b) <= 15 and long_a != long_b


def test_router_side_keeps_the_management_route_out_of_the_main_table():
    commands = mgmt.router_commands("hub-mgmt", IPv4Interface("172.31.255.10/24"))
    assert "ip addr add 172.31.255.10/24 dev hub-mgmt noprefixroute" in commands
    assert f"ip route replace 172.31.255.0/24 dev hub-mgmt src 172.31.255.10 table {mgmt.MGMT_TABLE}" in commands
    assert f"ip rule add from 172.31.255.10 lookup {mgmt.MGMT_TABLE} pref {mgmt.MGMT_RULE_PREF}" in commands
    assert any("net.ipv4.conf.hub-mgmt.forwarding=0" in c for c in commands)


def test_bridge_isolates_router_ports_from_each_other():
    commands = mgmt.bridge_commands(["p1", "p2"])
    assert "bridge link set dev p1 isolated on" in commands and "bridge link set dev p2 isolated on" in commands
    assert not any(f"dev {mgmt.BRIDGE_ROOT_PORT} isolated" in c for c in commands)


def test_agent_gets_the_ssh_endpoint_on_its_command_line_but_not_the_password():
    t = topo(management={"network": "10.99.0.0/24", "password": "s3cret"})
    login = ssh_login(t, t.router("spoke1"))
    argv = agent_command("spoke1", Path("/x/startup-config"), Path("/x"), login)
    assert argv[-4:] == ["--ssh", "10.99.0.11:22", "--ssh-user", "admin"]
    assert "s3cret" not in argv and login.password == "s3cret"
    assert ssh_login(topo(management=False), t.router("spoke1")) is None


@pytest.mark.parametrize("text, expected", [("172.31.255.10", ("172.31.255.10", 22)),
                                            ("127.0.0.1:2222", ("127.0.0.1", 2222))])
def test_ssh_endpoint_is_address_and_optional_port(text, expected):
    assert parse_ssh_endpoint(text) == expected


@pytest.mark.parametrize("text", ["hub", "10.0.0.1:ssh", "10.0.0.1:70000", ""])
def test_bad_ssh_endpoint_says_what_was_expected(text):
    with pytest.raises(ValueError, match="expected"):
        parse_ssh_endpoint(text)
