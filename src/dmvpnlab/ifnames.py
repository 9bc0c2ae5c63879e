"""IOS interface names <-> Linux interface names, kept in one place.

Configs and show outputs speak IOS (GigabitEthernet0/0, Tunnel0); Linux names may not
contain '/' and must be at most 15 bytes. Mininet names a node's veth ends
`<node>-eth<N>`, so GigabitEthernet0/N maps to that; the tunnel is a TAP the agent
creates inside the router's namespace, where the name `Tunnel0` is legal as it is.
"""

from __future__ import annotations

import re

# ASCII only (`\d` would take `٣`), and a number of at most 10 digits past its leading
# zeros (IOS's largest interface number is 2^31-1; int() refuses more than 4300 digits).
_ETHERNET = re.compile(
    r"^(?:GigabitEthernet|Gi|GigE|FastEthernet|Fa|Ethernet|Et|Eth)\s*0/0*(\d{1,10})$", re.IGNORECASE | re.ASCII
)
_TUNNEL = re.compile(r"^(?:Tunnel|Tu)\s*0*(\d{1,10})$", re.IGNORECASE | re.ASCII)
_LOOPBACK = re.compile(r"^(?:Loopback|Lo)\s*0*(\d{1,10})$", re.IGNORECASE | re.ASCII)
_LINUX_ETH = re.compile(r"^(?P<node>.+)-eth(?P<port>\d+)$")
_LINUX_TUNNEL = re.compile(r"^Tunnel(\d+)$")

LINUX_IFNAME_MAX = 15


class InterfaceNameError(ValueError):
    """An interface name that has no counterpart on the other side."""


def canonical_ios_ifname(name: str) -> str:
    """Expand IOS abbreviations (Gi0/0, tu0) to the full name IOS shows."""
    if m := _ETHERNET.match(name.strip()):
        return f"GigabitEthernet0/{int(m.group(1))}"
    if m := _TUNNEL.match(name.strip()):
        return f"Tunnel{int(m.group(1))}"
    if m := _LOOPBACK.match(name.strip()):
        return f"Loopback{int(m.group(1))}"
    raise InterfaceNameError(f"unknown interface name {name!r}")


def linux_ifname(node: str, ios: str) -> str:
    """The Linux name of IOS interface `ios` on router `node`."""
    full = canonical_ios_ifname(ios)
    if full.startswith("GigabitEthernet"):
        name = f"{node}-eth{full.split('/')[1]}"
    elif full.startswith("Tunnel"):
        name = full
    else:
        name = "lo"
    if len(name) > LINUX_IFNAME_MAX:
        raise InterfaceNameError(f"{name!r} is longer than {LINUX_IFNAME_MAX} bytes (node name too long)")
    return name


def ios_ifname(node: str, linux: str) -> str:
    """The IOS name of Linux interface `linux` on router `node`."""
    if m := _LINUX_ETH.match(linux):
        if m.group("node") == node:
            return f"GigabitEthernet0/{int(m.group('port'))}"
    if m := _LINUX_TUNNEL.match(linux):
        return f"Tunnel{m.group(1)}"
    if linux == "lo":
        return "Loopback0"
    raise InterfaceNameError(f"{linux!r} is not an interface of {node}")
