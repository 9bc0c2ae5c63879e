"""IOS interface names <-> Linux interface names (dmvpnlab.ifnames), both ways."""

from __future__ import annotations

import pytest

from dmvpnlab.ifnames import (
    LINUX_IFNAME_MAX,
    InterfaceNameError,
    canonical_ios_ifname,
    install_interface_map,
    installed_interface_map,
    ios_ifname,
    is_physical,
    is_subinterface,
    linux_ifname,
    split_ios_ifname,
    wired_linux_name,
)


@pytest.mark.parametrize(
    "ios, linux",
    [
        ("GigabitEthernet0/0", "spoke1-eth0"),
        ("GigabitEthernet0/1", "spoke1-eth1"),
        ("Gi0/1", "spoke1-eth1"),
        ("gi0/3", "spoke1-eth3"),
        ("Tunnel0", "Tunnel0"),
        ("Tu1", "Tunnel1"),
        ("Loopback0", "lo"),
    ],
)
def test_ios_names_map_to_mininet_style_linux_names(ios: str, linux: str) -> None:
    assert linux_ifname("spoke1", ios) == linux


@pytest.mark.parametrize(
    "linux, ios",
    [
        ("spoke1-eth0", "GigabitEthernet0/0"),
        ("spoke1-eth1", "GigabitEthernet0/1"),
        ("Tunnel0", "Tunnel0"),
        ("lo", "Loopback0"),
    ],
)
def test_linux_names_map_back_to_full_ios_names(linux: str, ios: str) -> None:
    assert ios_ifname("spoke1", linux) == ios


@pytest.mark.parametrize("ios", ["GigabitEthernet0/0", "GigabitEthernet0/7", "Tunnel0", "Tunnel12"])
def test_round_trip_is_identity_for_full_names(ios: str) -> None:
    assert ios_ifname("hub", linux_ifname("hub", ios)) == ios


def test_abbreviations_expand_to_the_name_ios_shows() -> None:
    assert canonical_ios_ifname("Gi0/0") == "GigabitEthernet0/0"
    assert canonical_ios_ifname("tu0") == "Tunnel0"
    assert canonical_ios_ifname("Lo0") == "Loopback0"


def test_node_name_of_ten_characters_fits_the_15_byte_limit_up_to_eth9() -> None:
    name = linux_ifname("abcdefghij", "GigabitEthernet0/9")
    assert name == "abcdefghij-eth9" and len(name) == LINUX_IFNAME_MAX


def test_linux_name_longer_than_15_bytes_is_refused() -> None:
    with pytest.raises(InterfaceNameError, match="longer than 15"):
        linux_ifname("abcdefghijk", "GigabitEthernet0/0")


def test_other_ethernet_kinds_have_no_linux_interface_in_a_native_lab() -> None:
    # Fa0/0 is FastEthernet0/0, its own interface, not GigabitEthernet0/0.
    for ios in ("FastEthernet0/0", "Ethernet0/0", "GigabitEthernet1", "GigabitEthernet0/0/0", "Vlan1"):
        with pytest.raises(InterfaceNameError, match="native lab"):
            linux_ifname("spoke1", ios)


def test_unknown_ios_interface_is_refused() -> None:
    with pytest.raises(InterfaceNameError):
        linux_ifname("hub", "Serial0/0/0")


def test_interface_of_another_node_is_not_mapped() -> None:
    with pytest.raises(InterfaceNameError, match="not an interface of hub"):
        ios_ifname("hub", "spoke1-eth0")


def test_no_linux_name_contains_a_slash() -> None:
    for ios in ("GigabitEthernet0/0", "Gi0/5", "Tunnel0", "Loopback0"):
        assert "/" not in linux_ifname("hub", ios)


def test_leading_zeros_name_the_same_interface() -> None:
    assert linux_ifname("hub", "Gi0/01") == "hub-eth1"
    assert canonical_ios_ifname("Gi0/01") == "GigabitEthernet0/1"


# -- every interface kind keeps its type ------------------------------------------------


@pytest.mark.parametrize(
    "typed, full",
    [
        ("Fa0/0", "FastEthernet0/0"),
        ("fastethernet 0/1", "FastEthernet0/1"),
        ("Et0/0", "Ethernet0/0"),
        ("Eth1/2", "Ethernet1/2"),
        ("e0/3", "Ethernet0/3"),
        ("Gi1", "GigabitEthernet1"),
        ("GigE0/2", "GigabitEthernet0/2"),
        ("gig0/0/1", "GigabitEthernet0/0/1"),
        ("Gi0/1.10", "GigabitEthernet0/1.10"),
        ("GigabitEthernet0/01.0010", "GigabitEthernet0/1.10"),
        ("Lo10", "Loopback10"),
        ("Tu1", "Tunnel1"),
        ("Vl1", "Vlan1"),
        ("vlan 20", "Vlan20"),
        ("Null0", "Null0"),
        ("nu0", "Null0"),
    ],
)
def test_every_kind_of_interface_keeps_its_type(typed: str, full: str) -> None:
    assert canonical_ios_ifname(typed) == full


@pytest.mark.parametrize("bad", ["Serial0/0/0", "Vlan0", "Vlan4095", "Null1", "Gi0/1.0", "Gi0/1/2/3",
                                 "Tunnel0.1", "Loopback0/1", "Gi", "0/1", "Gi0/1.", "Port-channel1"])
def test_names_that_are_no_interface_we_know_are_refused(bad: str) -> None:
    with pytest.raises(InterfaceNameError):
        canonical_ios_ifname(bad)


def test_split_names_give_kind_numbers_and_subinterface_and_parent() -> None:
    parts = split_ios_ifname("Gi0/1.10")
    assert (parts.kind, parts.numbers, parts.subinterface, parts.parent) == ("GigabitEthernet", (0, 1), 10,
                                                                            "GigabitEthernet0/1")
    assert is_subinterface("GigabitEthernet0/1.10") and not is_subinterface("GigabitEthernet0/1")
    assert is_physical("Ethernet0/0") and is_physical("GigabitEthernet1")
    assert not is_physical("Loopback0") and not is_physical("Gi0/1.10") and not is_physical("Vlan1")


# -- wired labs: Linux names from IOS names, and the interface map ------------------------


@pytest.mark.parametrize(
    "ios, linux",
    [
        ("GigabitEthernet0/1", "Gi0-1"),
        ("GigabitEthernet1", "Gi1"),
        ("FastEthernet0/0", "Fa0-0"),
        ("Ethernet1/2", "Et1-2"),
        ("Vlan1", "Vl1"),
        ("GigabitEthernet0/1.10", "Gi0-1.10"),
        ("GigabitEthernet0/0/1", "Gi0-0-1"),
        ("Tunnel3", "Tunnel3"),
        ("Loopback0", "lo"),
        ("Loopback7", "lo"),
    ],
)
def test_wired_linux_names(ios: str, linux: str) -> None:
    assert wired_linux_name(ios) == linux


def test_wired_linux_name_longer_than_15_bytes_is_refused() -> None:
    with pytest.raises(InterfaceNameError, match="longer than 15"):
        wired_linux_name("GigabitEthernet0/1.4000000000")


@pytest.fixture
def wired_map():
    install_interface_map({"GigabitEthernet0/0": "Gi0-0", "Gi0/1": "Gi0-1", "Vlan1": "Vl1"})
    yield
    install_interface_map(None)


def test_with_a_map_names_come_from_the_map(wired_map) -> None:
    assert linux_ifname("Hub", "GigabitEthernet0/0") == "Gi0-0"
    assert linux_ifname("Hub", "gi0/1") == "Gi0-1"
    assert linux_ifname("Hub", "Vlan1") == "Vl1"
    assert installed_interface_map() == {"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1",
                                         "Vlan1": "Vl1"}


def test_with_a_map_tunnels_loopbacks_and_subinterfaces_need_no_entry(wired_map) -> None:
    assert linux_ifname("Hub", "Tunnel1") == "Tunnel1"
    assert linux_ifname("Hub", "Loopback1") == "lo"
    assert linux_ifname("Hub", "GigabitEthernet0/1.10") == "Gi0-1.10"


def test_with_a_map_an_interface_not_in_it_is_refused(wired_map) -> None:
    with pytest.raises(InterfaceNameError, match="not in its interface map"):
        linux_ifname("Hub", "GigabitEthernet0/5")


def test_with_a_map_linux_names_map_back(wired_map) -> None:
    assert ios_ifname("Hub", "Gi0-1") == "GigabitEthernet0/1"
    assert ios_ifname("Hub", "Tunnel1") == "Tunnel1"
    assert ios_ifname("Hub", "lo") == "Loopback0"
    assert ios_ifname("Hub", "Gi0-1.10") == "GigabitEthernet0/1.10"
    with pytest.raises(InterfaceNameError):
        ios_ifname("Hub", "Gi0-7")  # a wired-style name the map does not hold
    with pytest.raises(InterfaceNameError):
        ios_ifname("Hub", "Hub-eth0")  # native names mean nothing with a map


def test_removing_the_map_restores_native_names(wired_map) -> None:
    install_interface_map(None)
    assert installed_interface_map() is None
    assert linux_ifname("hub", "GigabitEthernet0/0") == "hub-eth0"


@pytest.mark.parametrize("bad", [{"Serial0/0": "s0"}, {"Gi0/0": "a/b"}, {"Gi0/0": ""}, {"Gi0/0": "a b"},
                                 {"Gi0/0": "x" * 16}, {"Gi0/0": 5}])
def test_a_bad_map_is_refused_and_nothing_is_installed(bad) -> None:
    with pytest.raises(InterfaceNameError):
        install_interface_map(bad)
    assert installed_interface_map() is None


def test_native_subinterfaces_are_taps_with_wired_names() -> None:
    assert linux_ifname("spoke1", "GigabitEthernet0/1.10") == "Gi0-1.10"
    assert ios_ifname("spoke1", "Gi0-1.10") == "GigabitEthernet0/1.10"
