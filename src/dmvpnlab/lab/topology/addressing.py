"""The default address plan, as pure functions of a router's index.

Kept apart from the resolver so the whole plan reads as the one table below, the
resolver only applies it, and it can be tested without any topology file. Router index:
the hub is 0, spokeN is N. Imports only the standard library.

    tunnel            10.0.0.0/24: index i -> .(i+1)      (hub .1, spokeN .(N+1))
    WAN, index 0      203.0.113.1/30, ISP side 203.0.113.2
    WAN, index N>0    100.(64+N//256).(N%256).1/30, ISP side .2
    LAN, index i<256  192.168.i.0/24; above: 10.(128+i//256).(i%256).0/24
                      router .1, first host h{i} at .10, extra hosts h{i}b, h{i}c ... at .11, .12 ...
    behind natN       router WAN 172.(16+N//256).(N%256).1/30, NAT inside .2;
                      NAT outside = the router's normal public /30 (NAT .1, ISP .2)
    natN fleet        (several routers behind natN) inside 172.(16+N//256).(N%256).0/24
                      on a bridge: router index i at .(i+1), NAT inside .254; NAT
                      outside = the public /30 of the lowest-indexed router behind it
    shared segment    member with index i at .(i+1), ISP at the last usable address (.254 of a /24)

The plan's formulas bound the indices it can address: LAN 10.(128+i//256) runs out past
index 32767 (`MAX_ROUTER_INDEX`), the NAT inside 172.(16+N//256) leaves 172.16.0.0/12 past
4095 (`MAX_NAT_INDEX`). The spec's schema takes its index ranges from here, so an index
the schema accepts is one the plan can address.
"""

from __future__ import annotations

import string
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

DEFAULT_TUNNEL_NETWORK = IPv4Network("10.0.0.0/24")
HUB_WAN_NETWORK = IPv4Network("203.0.113.0/30")
FIRST_HOST_OFFSET = 10
# Extra hosts are named h{i}b, h{i}c ...: short, Linux-safe, and h{i} stays the first.
HOST_SUFFIXES = string.ascii_lowercase[1:]
MAX_PLAN_HOSTS = 1 + len(HOST_SUFFIXES)
MAX_ROUTER_INDEX = (255 - 128) * 256 + 255  # 32767: the last planned LAN, 10.255.255.0/24
MAX_NAT_INDEX = (31 - 16) * 256 + 255  # 4095: the last inside /30 in 172.16.0.0/12


class PlanRangeError(ValueError):
    """An address the plan was asked for lies outside its network (or the index outside the plan).

    The resolver checks room before it asks (and reports the field), so this is a
    tripwire: reaching it means a check is missing, and the loader's last guard words it."""


def has_room(network: IPv4Network, n: int) -> bool:
    """True if address number `n` of `network` is a host address: neither the network
    address nor the broadcast (a /31 or /32 has no such pair, RFC 3021)."""
    if network.prefixlen >= 31:
        return 0 <= n < network.num_addresses
    return 0 < n < network.num_addresses - 1


def _check_index(index: int, highest: int) -> None:
    if not 0 <= index <= highest:
        raise PlanRangeError(f"index {index} is outside the plan (0 to {highest})")


def _nth(network: IPv4Network, n: int) -> IPv4Interface:
    """Address number `n` of `network`, with the network's prefix length."""
    if not 0 <= n < network.num_addresses:
        raise PlanRangeError(f"address number {n} is outside {network}")
    return IPv4Interface(f"{network.network_address + n}/{network.prefixlen}")


def tunnel_address(network: IPv4Network, index: int) -> IPv4Interface:
    """Hub (index 0) at .1, spokeN at .(N+1) of the tunnel network."""
    return _nth(network, index + 1)


def public_wan_network(index: int) -> IPv4Network:
    """The /30 between a router (or the NAT box in front of it) and the ISP."""
    _check_index(index, MAX_ROUTER_INDEX)
    if index == 0:
        return HUB_WAN_NETWORK
    return IPv4Network(f"100.{64 + index // 256}.{index % 256}.0/30")


def nat_inside_network(nat_index: int) -> IPv4Network:
    """The /30 between natN (at .2) and the router behind it (at .1)."""
    _check_index(nat_index, MAX_NAT_INDEX)
    return IPv4Network(f"172.{16 + nat_index // 256}.{nat_index % 256}.0/30")


def nat_fleet_network(nat_index: int) -> IPv4Network:
    """The /24 segment behind natN when it serves several routers.

    The single-router /30 is the first quarter of the same /24, so a box keeps its
    third octet whichever form it takes, and no two boxes' inside networks can meet."""
    _check_index(nat_index, MAX_NAT_INDEX)
    return IPv4Network(f"172.{16 + nat_index // 256}.{nat_index % 256}.0/24")


def lan_network(index: int) -> IPv4Network:
    """192.168.i.0/24 up to index 255, then 10.(128+i//256).(i%256).0/24."""
    _check_index(index, MAX_ROUTER_INDEX)
    if index < 256:
        return IPv4Network(f"192.168.{index}.0/24")
    return IPv4Network(f"10.{128 + index // 256}.{index % 256}.0/24")


def host_name(index: int, position: int) -> str:
    """First host of router i is h{i}; extra hosts h{i}b, h{i}c, ..."""
    if position == 0:
        return f"h{index}"
    return f"h{index}{HOST_SUFFIXES[position - 1]}"


def host_address(network: IPv4Network, position: int) -> IPv4Interface:
    """Hosts from .10 up."""
    return _nth(network, FIRST_HOST_OFFSET + position)


def first_address(network: IPv4Network) -> IPv4Interface:
    """.1: where the plan puts a router on a LAN and a router on its WAN /30."""
    return _nth(network, 1)


def other_end(network: IPv4Network, address: IPv4Address) -> IPv4Address:
    """The first usable address of `network` that is not `address` (the far end of a /30)."""
    for host in network.hosts():
        if host != address:
            return host
    raise ValueError(f"{network} has no address besides {address}")


def segment_member_address(network: IPv4Network, index: int) -> IPv4Interface:
    """A segment member sits at .(index+1), like its tunnel address."""
    return _nth(network, index + 1)


def segment_isp_address(network: IPv4Network) -> IPv4Interface:
    """The ISP takes the last usable address of a shared segment (.254 of a /24)."""
    return IPv4Interface(f"{network.broadcast_address - 1}/{network.prefixlen}")
