"""IOS interface names <-> Linux interface names (dmvpnlab.ifnames), both ways."""

from __future__ import annotations

import pytest

from dmvpnlab.ifnames import (
    LINUX_IFNAME_MAX,
    InterfaceNameError,
    canonical_ios_ifname,
    ios_ifname,
    linux_ifname,
)


@pytest.mark.parametrize(
    "ios, linux",
    [
        ("GigabitEthernet0/0", "spoke1-eth0"),
        ("GigabitEthernet0/1", "spoke1-eth1"),
        ("Gi0/1", "spoke1-eth1"),
        ("gi0/3", "spoke1-eth3"),
        ("FastEthernet0/2", "spoke1-eth2"),
        ("Ethernet0/0", "spoke1-eth0"),
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
