"""The agent's interfaces part: the config's non-tunnel interfaces become kernel state.

What an IOS user expects when the config is the whole router: every address (primary
first, then the secondaries) on its interface, loopbacks on Linux `lo` side by side,
`shutdown` taking the link down (a shut loopback loses its addresses instead: `lo`
serves them all), `mtu` setting the link MTU and going back when removed, `ip address
dhcp` leaving the interface to the DHCP client, and a changed config removing exactly
the addresses the agent had added: never the management address, never one it found.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest
from agentif_fakes import FakeKernel

from dmvpnlab.agent.interfaces_node import InterfacesNode
from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.ifnames import install_interface_map

MAP = {"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1", "GigabitEthernet0/2": "Gi0-2"}


@pytest.fixture(autouse=True)
def interface_map():
    install_interface_map(MAP)
    yield
    install_interface_map(None)


def A(text: str) -> IPv4Interface:
    return IPv4Interface(text)


def kernel() -> FakeKernel:
    k = FakeKernel()
    for name in ("lo", "Gi0-0", "Gi0-1", "mgmt0"):
        k.add_link(name)
    k.addrs["mgmt0"] = [A("172.30.0.5/24")]
    k.addrs["lo"] = [A("127.0.0.1/8")]
    return k


def config(*interfaces: Interface) -> RouterConfig:
    return RouterConfig(interfaces=list(interfaces))


def test_addresses_primary_then_secondaries_and_loopbacks_share_lo() -> None:
    k = kernel()
    node = InterfacesNode("R1", k)
    node.apply(config(
        Interface("GigabitEthernet0/0", address=A("198.51.100.2/24"), secondary_addresses=[A("198.51.100.9/24")]),
        Interface("Loopback0", address=A("10.255.0.1/32")),
        Interface("Loopback1", address=A("192.168.1.1/24")),
        Interface("Tunnel0", address=A("10.0.0.2/24")),  # the tunnels part's, not ours
    ))
    assert k.addrs["Gi0-0"] == [A("198.51.100.2/24"), A("198.51.100.9/24")]
    assert k.addrs["lo"] == [A("127.0.0.1/8"), A("10.255.0.1/32"), A("192.168.1.1/24")]
    assert ("link", "Gi0-0", True) in k.calls
    assert not any(c[1] == "lo" for c in k.calls if c[0] == "link")  # lo is never set down or up
    assert node.not_applied == []


def test_removed_and_changed_addresses_go_but_only_the_agents_own() -> None:
    k = kernel()
    k.addrs["Gi0-1"] = [A("192.0.2.1/24")]  # the lab put it there
    node = InterfacesNode("R1", k)
    node.apply(config(Interface("GigabitEthernet0/0", address=A("198.51.100.2/24"),
                                secondary_addresses=[A("198.51.100.9/24")]),
                      Interface("GigabitEthernet0/1", address=A("192.0.2.1/24")),
                      Interface("Loopback1", address=A("192.168.1.1/24"))))
    node.apply(config(Interface("GigabitEthernet0/0", address=A("198.51.100.3/24")),
                      Interface("GigabitEthernet0/1")))
    assert k.addrs["Gi0-0"] == [A("198.51.100.3/24")]
    assert k.addrs["lo"] == [A("127.0.0.1/8")]
    assert k.addrs["Gi0-1"] == [A("192.0.2.1/24")]  # not the agent's: kept
    assert k.addrs["mgmt0"] == [A("172.30.0.5/24")]


def test_shutdown_takes_the_link_down_and_a_shut_loopback_loses_its_addresses() -> None:
    k = kernel()
    node = InterfacesNode("R1", k)
    node.apply(config(Interface("GigabitEthernet0/0", address=A("198.51.100.2/24"), shutdown=True),
                      Interface("Loopback0", address=A("10.255.0.1/32"), shutdown=True),
                      Interface("Loopback1", address=A("10.255.0.2/32"))))
    assert k.links["Gi0-0"]["up"] is False
    assert k.addrs["Gi0-0"] == [A("198.51.100.2/24")]  # IOS keeps the address of a shut interface
    assert A("10.255.0.1/32") not in k.addrs["lo"] and A("10.255.0.2/32") in k.addrs["lo"]
    assert k.links["lo"]["up"] is True
    node.apply(config(Interface("GigabitEthernet0/0", address=A("198.51.100.2/24")),
                      Interface("Loopback0", address=A("10.255.0.1/32"))))
    assert k.links["Gi0-0"]["up"] is True and A("10.255.0.1/32") in k.addrs["lo"]


def test_mtu_and_ip_mtu_set_the_link_mtu_and_removal_restores_it() -> None:
    k = kernel()
    node = InterfacesNode("R1", k)
    node.apply(config(Interface("GigabitEthernet0/0", mtu=1400)))
    assert k.links["Gi0-0"]["mtu"] == 1400
    node.apply(config(Interface("GigabitEthernet0/0", ip_mtu=1300)))
    assert k.links["Gi0-0"]["mtu"] == 1300
    node.apply(config(Interface("GigabitEthernet0/0")))
    assert k.links["Gi0-0"]["mtu"] == 1500
    node.apply(config(Interface("GigabitEthernet0/1")))
    assert not any(c[0] == "mtu" and c[1] == "Gi0-1" for c in k.calls)  # never configured: untouched


def test_dhcp_interfaces_get_no_static_address_and_keep_the_clients() -> None:
    k = kernel()
    k.addrs["Gi0-0"] = [A("198.51.100.77/24")]  # what the DHCP client got
    node = InterfacesNode("R1", k)
    node.apply(config(Interface("GigabitEthernet0/0", dhcp=True)))
    node.apply(config(Interface("GigabitEthernet0/0", dhcp=True)))
    assert k.addrs["Gi0-0"] == [A("198.51.100.77/24")]
    assert ("link", "Gi0-0", True) in k.calls


def test_a_missing_interface_is_warned_once_and_listed_as_not_applied(caplog: pytest.LogCaptureFixture) -> None:
    k = kernel()
    node = InterfacesNode("R1", k)
    cfg = config(Interface("GigabitEthernet0/2", address=A("203.0.113.1/24")),
                 Interface("FastEthernet0/0", address=A("203.0.114.1/24")),
                 Interface("Loopback0", address=A("10.255.0.1/32")))
    node.apply(cfg)
    node.apply(cfg)
    assert node.not_applied == [
        "interface GigabitEthernet0/2: not applied (no interface Gi0-2 in this namespace)",
        "interface FastEthernet0/0: not applied (FastEthernet0/0 is not an interface of R1 (not in its interface map))",
    ]
    warnings = [r.getMessage() for r in caplog.records if "not applied" in r.getMessage()]
    assert len(warnings) == 2  # once each, not per apply
    assert A("10.255.0.1/32") in k.addrs["lo"]  # the others still applied


def test_an_address_clash_is_reported_and_the_rest_applied() -> None:
    k = kernel()

    def refuse(ifname: str, address: IPv4Interface) -> None:
        if address == A("198.51.100.9/24"):
            raise OSError("File exists")
        FakeKernel.ensure_address(k, ifname, address)

    k.ensure_address = refuse  # type: ignore[method-assign]
    node = InterfacesNode("R1", k)
    node.apply(config(Interface("GigabitEthernet0/0", address=A("198.51.100.2/24"),
                                secondary_addresses=[A("198.51.100.9/24"), A("198.51.100.10/24")])))
    assert k.addrs["Gi0-0"] == [A("198.51.100.2/24"), A("198.51.100.10/24")]
    assert node.not_applied == ["ip address 198.51.100.9 255.255.255.0 on Gi0-0: not applied (File exists)"]


def test_the_addresses_of_one_loopback_are_its_own_not_los() -> None:
    k = kernel()
    node = InterfacesNode("R1", k)
    cfg = config(Interface("Loopback0", address=A("10.255.0.1/32")), Interface("Loopback1", address=A("10.255.0.2/32")),
                 Interface("GigabitEthernet0/0", address=A("198.51.100.2/24")))
    node.apply(cfg)
    assert node.addresses(cfg, "Loopback1") == [A("10.255.0.2/32")]
    assert node.addresses(cfg, "GigabitEthernet0/0") == [A("198.51.100.2/24")]
    assert node.addresses(cfg, "GigabitEthernet0/7") == []
