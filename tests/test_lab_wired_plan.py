"""The wired build plan, as data: names, ports, captures, conditioning commands, notes, refusals.

No namespace is created: `plan()` is pure, so everything a wired lab will build is checked
here before any of it exists (and a lab it refuses builds nothing).
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dmvpnlab.lab.wired import conditioning
from dmvpnlab.lab.wired.model import Conditioning, Endpoint, WiredLink
from dmvpnlab.lab.wired.plan import WiredPlanError, mgmt_ifname, plan, valid_linux_name
from tests.wired_samples import three_routers


def test_nodes_come_management_first_then_routers_hosts_switches_with_their_roles():
    p = plan(three_routers(host=True))
    assert [(n.name, n.kind, n.role) for n in p.nodes] == [
        ("mgmt", "management", "management"), ("Hub", "router", "hub"), ("Spoke1", "router", "spoke"),
        ("Spoke2", "router", "spoke"), ("PC1", "host", "host"), ("SW1", "bridge", "switch")]


def test_links_keep_the_model_names_on_both_ends_and_every_router_end_is_captured():
    p = plan(three_routers(wired=True, host=True))
    ends = [(link.a_node, link.a_if, link.b_node, link.b_if) for link in p.links]
    hub_if = three_routers(wired=True).routers[0].interfaces[0].linux_name
    assert ends[0] == ("Hub", hub_if, "SW1", "p1")
    assert [e[3] for e in ends[:3]] == ["p1", "p2", "p3"]
    assert ("Hub", ends[3][1]) in p.captures and ("PC1", "ens2") not in p.captures
    assert len(p.captures) == 4  # three switch links and the hub's host link, router side only


def test_management_ports_are_router_mgmt_and_fit_linux_names():
    p = plan(three_routers())
    assert p.mgmt_ports == {"Hub": "Hub-mgmt", "Spoke1": "Spoke1-mgmt", "Spoke2": "Spoke2-mgmt"}
    long = mgmt_ifname("Spoke10-Branch-Office")
    assert valid_linux_name(long) and long.endswith("-mgmt") and long.startswith("Spoke1")
    assert mgmt_ifname("Spoke10-Branch-Office") != mgmt_ifname("Spoke10-Branch-Office2")
    assert valid_linux_name(mgmt_ifname("Büro 1"))


def test_no_management_network_no_management_nodes():
    p = plan(three_routers(management=False))
    assert p.mgmt_bridge is None and p.mgmt_ports == {} and p.nodes[0].name == "Hub"


def test_a_node_called_mgmt_moves_the_management_bridge():
    topo = three_routers()
    topo.bridges[0].name = "MGMT"
    for link in topo.links:
        if link.b.node == "SW1":
            link.b.node = "MGMT"
    assert plan(topo).mgmt_bridge == "mgmt-net"


def test_hosts_get_their_addresses_routes_and_gateway_in_that_order():
    p = plan(three_routers(host=True))
    assert p.commands["PC1"] == ["ip link set ens2 up", "ip addr add 192.168.11.10/24 dev ens2",
                                 "ip route replace 10.0.0.0/24 via 192.168.11.1",
                                 "ip route replace default via 192.168.11.1"]
    assert "Hub" not in p.commands  # routers: nothing from the lab, their agent applies the config


def test_a_dhcp_host_is_listed_for_a_client_and_an_unaddressed_host_gets_a_note():
    topo = three_routers(host=True)
    pc = topo.hosts[0]
    pc.addresses, pc.gateway, pc.routes, pc.dhcp = {}, None, [], ["ens2"]
    p = plan(topo)
    assert p.dhcp == [("PC1", "ens2")]
    pc.dhcp = []
    assert any("PC1: no address" in n for n in plan(topo).notes)


def test_conditioning_shapes_and_drops_on_both_ends_and_says_what_it_cannot_apply():
    cond = Conditioning(bandwidth_kbps=2000, loss_percent=5, delay_ms=20, jitter_ms=4)
    p = plan(three_routers(conditioning=cond))
    spoke_if = three_routers().routers[1].interfaces[0].linux_name
    for node, ifname in (("Spoke1", spoke_if), ("SW1", "p2")):
        cmds = p.commands[node]
        assert cmds[0] == f"tc qdisc replace dev {ifname} root handle 2: tbf rate 2000kbit burst 2500 latency 100ms"
        assert cmds[-1].endswith("numgen random mod 100 '<' 5 counter drop")
        assert f'hook ingress device "{ifname}"' in cmds[-2]
        assert not any("netem" in c for c in cmds)
    lines = [n for n in p.notes if n.startswith("link l2")]
    assert lines == [f"link l2 (Spoke1 {spoke_if} - SW1 p2): delay 20 ms and jitter 4 ms not applied, "
                     "this kernel has no netem (bandwidth 2000 kbps and loss 5 % applied)"]


def test_with_netem_delay_and_jitter_go_in_netem_and_tbf_hangs_below_it():
    cmds = conditioning.commands("Gi0-0", Conditioning(bandwidth_kbps=512, delay_ms=10, jitter_ms=2), netem=True)
    assert cmds == ["tc qdisc replace dev Gi0-0 root handle 1: netem delay 10ms 2ms",
                    "tc qdisc replace dev Gi0-0 parent 1: handle 2: tbf rate 512kbit burst 2048 latency 100ms"]


def test_fractional_loss_is_rounded_to_whole_percent_never_to_none():
    assert conditioning.loss_threshold(0.2) == 1
    assert conditioning.loss_threshold(2.5) == 3
    assert conditioning.loss_threshold(0) == 0
    assert conditioning.loss_threshold(150) == 100
    p = plan(three_routers(conditioning=Conditioning(loss_percent=0.5)))
    assert "link l2: loss 0.5 % applied as 1 %" in p.notes


def test_the_importers_notes_come_first():
    assert plan(three_routers()).notes[0] == "node XR1: node_definition iosxrv9000 is not handled; skipped"


@pytest.mark.parametrize("change, expected", [
    (lambda t: setattr(t.links[0].b, "node", "SW9"), "node 'SW9' is not a node of the lab"),
    (lambda t: setattr(t.links[0].b, "interface", "p9"), "SW1 has no interface 'p9'"),
    (lambda t: setattr(t.links[1].b, "interface", "p1"), "interface p1 of SW1 is already on link 'l1'"),
    (lambda t: setattr(t.links[0].b, "interface", "a/b"), "is not a usable Linux interface name"),
    (lambda t: t.links.append(WiredLink(id="x", a=Endpoint(node="Hub", interface="q"),
                                        b=Endpoint(node="Hub", interface="r"))), "both ends are on Hub"),
    (lambda t: setattr(t.bridges[0], "name", "hub"), "differ only in case"),
    (lambda t: setattr(t.bridges[0], "name", "S W"), "cannot name a namespace"),
])
def test_a_lab_that_cannot_be_built_is_one_paragraph_naming_what(change, expected):
    topo = three_routers()
    topo.bridges[0].interfaces = []  # the switch takes any port name
    if "has no interface" in expected:
        topo = three_routers()
    change(topo)
    with pytest.raises(WiredPlanError) as info:
        plan(topo)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_a_host_address_on_an_interface_with_no_link_is_a_note_not_a_crash():
    topo = three_routers(host=True)
    topo.hosts[0].addresses["ens9"] = topo.hosts[0].addresses["ens2"]
    topo.hosts[0].gateway = IPv4Address("192.168.11.1")
    assert any("interface ens9 is on no link" in n for n in plan(topo).notes)
