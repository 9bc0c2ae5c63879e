"""IOS interface names <-> Linux interface names, kept in one place.

Configs and show outputs speak IOS (GigabitEthernet0/0, FastEthernet0/1, Ethernet1/2,
GigabitEthernet1 on a csr1000v, Loopback0, Tunnel0, Vlan1, subinterfaces such as
GigabitEthernet0/1.10); Linux names may not contain '/' and must be at most 15 bytes.

Two kinds of lab name the Linux side differently:
- a native lab (no interface map installed): Mininet names a node's veth ends
  `<node>-eth<N>`, so GigabitEthernet0/N maps to that; other Ethernet kinds have no Linux
  interface there;
- a wired lab (a CML file, one router per agent process) hands the agent its map of IOS
  name -> Linux name (`install_interface_map`), built with `wired_linux_name`
  (`GigabitEthernet0/1` -> `Gi0-1`).
Either way a tunnel is a TAP the agent creates as `TunnelN` (a legal Linux name as it
is), every Loopback lives on Linux `lo` (this kernel has no dummy interfaces) and a
subinterface is a TAP the agent makes under its `wired_linux_name` (`Gi0-1.10`).

`canonical_ios_ifname` keeps the interface's type: `Fa0/0` is FastEthernet0/0, not
GigabitEthernet0/0. Abbreviations are accepted as IOS accepts them (any prefix of the
type word: `Gi`, `gig`, `Fa`, `Et`, `Eth`, `Lo`, `Tu`, `Vl`), plus `GigE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

LINUX_IFNAME_MAX = 15


class InterfaceNameError(ValueError):
    """An interface name that has no counterpart on the other side."""


# The interface types we name, with their wired-lab Linux prefix; Ethernet kinds take
# slot/port numbers and subinterfaces, the others one number.
ETHERNET_KINDS = ("Ethernet", "FastEthernet", "GigabitEthernet")
_LINUX_PREFIX = {"GigabitEthernet": "Gi", "FastEthernet": "Fa", "Ethernet": "Et", "Vlan": "Vl"}
_ALL_KINDS = (*ETHERNET_KINDS, "Loopback", "Tunnel", "Vlan", "Null")
_ALIASES = {"gige": "GigabitEthernet"}
_NUMBER_MAX = {"Loopback": 2147483647, "Tunnel": 2147483647, "Vlan": 4094, "Null": 0}

# ASCII only (`\d` would take `٣`), each number at most 10 digits past its leading zeros
# (IOS's largest interface number is 2^31-1; int() refuses more than 4300 digits).
_NAME = re.compile(r"^([A-Za-z][A-Za-z-]*)\s*([0-9][0-9/.]*)$", re.ASCII)
_ETHERNET_NUMBERS = re.compile(r"^(0*\d{1,10})(?:/(0*\d{1,10}))?(?:/(0*\d{1,10}))?(?:\.(0*\d{1,10}))?$", re.ASCII)
_ONE_NUMBER = re.compile(r"^0*(\d{1,10})$", re.ASCII)
_LINUX_ETH = re.compile(r"^(?P<node>.+)-eth(?P<port>\d+)$")
_LINUX_TUNNEL = re.compile(r"^Tunnel(\d+)$")
_LINUX_WIRED = re.compile(r"^(Gi|Fa|Et|Vl)(\d{1,10}(?:-\d{1,10}){0,2})(?:\.(\d{1,10}))?$", re.ASCII)


def _kind(word: str) -> str | None:
    """The full type word an IOS abbreviation stands for (case-insensitive), or None."""
    low = word.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    found = [k for k in _ALL_KINDS if k.lower().startswith(low)]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class IosName:
    """A canonical IOS interface name taken apart: `GigabitEthernet0/1.10` is
    kind GigabitEthernet, numbers (0, 1), subinterface 10."""

    kind: str
    numbers: tuple[int, ...]
    subinterface: int | None = None

    def __str__(self) -> str:
        text = self.kind + "/".join(str(n) for n in self.numbers)
        return text if self.subinterface is None else f"{text}.{self.subinterface}"

    @property
    def parent(self) -> str:
        """The main interface of a subinterface (the name itself for a main interface)."""
        return str(IosName(self.kind, self.numbers))


def split_ios_ifname(name: str) -> IosName:
    """Take an IOS interface name (abbreviations accepted) apart; InterfaceNameError if unknown."""
    m = _NAME.match(name.strip())
    kind = _kind(m.group(1)) if m else None
    if m is None or kind is None:
        raise InterfaceNameError(f"unknown interface name {name!r}")
    digits = m.group(2)
    if kind in ETHERNET_KINDS:
        e = _ETHERNET_NUMBERS.match(digits)
        if e is None:
            raise InterfaceNameError(f"unknown interface name {name!r}")
        numbers = tuple(int(g) for g in e.groups()[:3] if g is not None)
        sub = int(e.group(4)) if e.group(4) is not None else None
        if sub is not None and not 1 <= sub <= 4294967295:
            raise InterfaceNameError(f"subinterface number out of range in {name!r}")
        return IosName(kind, numbers, sub)
    one = _ONE_NUMBER.match(digits)
    if one is None or int(one.group(1)) > _NUMBER_MAX[kind] or (kind == "Vlan" and int(one.group(1)) < 1):
        raise InterfaceNameError(f"unknown interface name {name!r}")
    return IosName(kind, (int(one.group(1)),))


def canonical_ios_ifname(name: str) -> str:
    """Expand IOS abbreviations (Gi0/0, fa0/1, tu0, Lo1, Gi0/1.10) to the full name IOS shows."""
    return str(split_ios_ifname(name))


def is_subinterface(name: str) -> bool:
    """Is `name` (an IOS name) a subinterface such as GigabitEthernet0/1.10?"""
    try:
        return split_ios_ifname(name).subinterface is not None
    except InterfaceNameError:
        return False


def is_physical(name: str) -> bool:
    """Is `name` a main Ethernet interface (one a lab wires to a link; IOS cannot remove it)?"""
    try:
        parts = split_ios_ifname(name)
    except InterfaceNameError:
        return False
    return parts.kind in ETHERNET_KINDS and parts.subinterface is None


def _fits(name: str) -> str:
    if len(name.encode()) > LINUX_IFNAME_MAX:
        raise InterfaceNameError(f"{name!r} is longer than {LINUX_IFNAME_MAX} bytes")
    return name


def wired_linux_name(ios: str) -> str:
    """The Linux name of an interface in a wired lab router's namespace.

    `GigabitEthernet0/1` -> `Gi0-1`, `GigabitEthernet1` -> `Gi1`, `FastEthernet0/0` ->
    `Fa0-0`, `Ethernet1/2` -> `Et1-2`, `Vlan1` -> `Vl1`, `GigabitEthernet0/1.10` ->
    `Gi0-1.10`, `TunnelN` -> `TunnelN`, every Loopback -> `lo`.
    """
    parts = split_ios_ifname(ios)
    if parts.kind == "Loopback":
        return "lo"
    if parts.kind == "Tunnel":
        return str(parts)
    if parts.kind == "Null":
        raise InterfaceNameError("Null0 is the discard interface: it has no Linux interface")
    name = _LINUX_PREFIX[parts.kind] + "-".join(str(n) for n in parts.numbers)
    if parts.subinterface is not None:
        name += f".{parts.subinterface}"
    return _fits(name)


def _ios_from_wired(linux: str) -> str | None:
    """The reverse of `wired_linux_name` for the names it builds from numbers."""
    m = _LINUX_WIRED.match(linux)
    if m is None:
        return None
    kind = {v: k for k, v in _LINUX_PREFIX.items()}[m.group(1)]
    numbers = m.group(2).replace("-", "/")
    try:
        return canonical_ios_ifname(kind + numbers + (f".{m.group(3)}" if m.group(3) else ""))
    except InterfaceNameError:
        return None


# -- the process-wide interface map of a wired lab router --------------------------------

_MAP: dict[str, str] | None = None
_REVERSE: dict[str, str] = {}


def install_interface_map(mapping: Mapping[str, str] | None) -> None:
    """Install (or, with None, remove) this process's IOS -> Linux interface map.

    One router per agent process, so the map is process-wide. Keys may be abbreviated
    (they are made canonical); values must be legal Linux names (no `/`, no blank, at
    most 15 bytes). InterfaceNameError names the first bad entry; nothing is installed then.
    """
    global _MAP, _REVERSE
    if mapping is None:
        _MAP, _REVERSE = None, {}
        return
    table: dict[str, str] = {}
    for ios, linux in mapping.items():
        if not isinstance(ios, str) or not isinstance(linux, str):
            raise InterfaceNameError(f"interface map entries must be strings, got {ios!r}: {linux!r}")
        full = canonical_ios_ifname(ios)
        if not linux or "/" in linux or any(c.isspace() for c in linux) or linux in (".", ".."):
            raise InterfaceNameError(f"{linux!r} (for {full}) is not a legal Linux interface name")
        table[full] = _fits(linux)
    _MAP = table
    _REVERSE = {linux: ios for ios, linux in table.items()}


def installed_interface_map() -> dict[str, str] | None:
    """A copy of the installed map (None in a native lab)."""
    return None if _MAP is None else dict(_MAP)


def linux_ifname(node: str, ios: str) -> str:
    """The Linux name of IOS interface `ios` on router `node`."""
    parts = split_ios_ifname(ios)
    full = str(parts)
    if _MAP is not None and full in _MAP:
        return _MAP[full]
    if parts.kind == "Tunnel":
        return full
    if parts.kind == "Loopback":
        return "lo"
    if parts.subinterface is not None:
        return wired_linux_name(full)  # a TAP the agent makes
    if _MAP is not None:
        raise InterfaceNameError(f"{full} is not an interface of {node} (not in its interface map)")
    if parts.kind == "GigabitEthernet" and len(parts.numbers) == 2 and parts.numbers[0] == 0:
        name = f"{node}-eth{parts.numbers[1]}"
        if len(name) > LINUX_IFNAME_MAX:
            raise InterfaceNameError(f"{name!r} is longer than {LINUX_IFNAME_MAX} bytes (node name too long)")
        return name
    raise InterfaceNameError(f"{full} is not an interface of {node} (a native lab wires GigabitEthernet0/N)")


def ios_ifname(node: str, linux: str) -> str:
    """The IOS name of Linux interface `linux` on router `node` (`lo` is Loopback0)."""
    if _MAP is not None and linux in _REVERSE:
        return _REVERSE[linux]
    if m := _LINUX_TUNNEL.match(linux):
        return f"Tunnel{int(m.group(1))}"
    if linux == "lo":
        return "Loopback0"
    if (wired := _ios_from_wired(linux)) is not None and is_subinterface(wired):
        return wired  # a subinterface TAP the agent made
    if _MAP is None and (m := _LINUX_ETH.match(linux)):
        if m.group("node") == node:
            return f"GigabitEthernet0/{int(m.group('port'))}"
    raise InterfaceNameError(f"{linux!r} is not an interface of {node}")
