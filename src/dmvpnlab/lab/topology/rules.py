"""Rules every resolved field obeys: node names, addresses inside their network, IOS interface names.

Shared by the resolver's stages so a name or an address is judged the same wherever it
appears; each rule raises `TopologyProblem` at the field it was given. Imports
`dmvpnlab.ifnames`, `errors` and `model` (names of the implicit ISP).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Interface, IPv4Network
from typing import Any

from dmvpnlab import ifnames
from dmvpnlab.lab.topology.errors import FieldPath, TopologyProblem, show
from dmvpnlab.lab.topology.model import ISP_NAME

MAX_NODE_NAME = ifnames.LINUX_IFNAME_MAX - len("-eth9")  # 10
# fullmatch, never `$`: `$` also matches before a final newline, and 'spoke1\n' is no name.
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_TRAILING_NUMBER = re.compile(r"([0-9]+)\Z")
# A template is looked up as nodes/<name>: a relative path of plain file-name parts, short
# enough that no lookup can fail with "file name too long" (NAME_MAX is 255 bytes).
MAX_TEMPLATE_NAME = 128
_TEMPLATE_PART_RE = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")


def check_name(name: Any, path: FieldPath, what: str) -> None:
    """Node names (routers, hosts, NAT boxes, segments) start with a letter, contain only
    letters, digits and ``_`` and have at most 10 characters, so ``<name>-eth9`` fits
    Linux's 15-byte interface names and ``<router>-<peer>`` capture file names split
    unambiguously. ``isp`` is the implicit ISP router's."""
    if not isinstance(name, str) or len(name) > MAX_NODE_NAME or not _NAME_RE.fullmatch(name):
        raise TopologyProblem(
            path,
            f"expected a {what} name of letters, digits and '_' starting with a letter, at most "
            f"{MAX_NODE_NAME} characters (so '<name>-eth9' fits a Linux interface name), got {show(name)}",
        )
    if name == ISP_NAME:
        raise TopologyProblem(path, f"expected a {what} name other than {ISP_NAME!r} (the implicit ISP router), got {name!r}")


def check_template_name(value: Any, path: FieldPath) -> None:
    """A template name is a relative path below nodes/ of plain parts ('hub.j2', 'lab/spoke.j2'),
    checked before the file system is asked, so a name the file system cannot take (too long,
    a NUL, '..') is this paragraph and not an OSError."""
    ok = isinstance(value, str) and 0 < len(value) <= MAX_TEMPLATE_NAME and all(
        _TEMPLATE_PART_RE.fullmatch(part) for part in value.split("/"))
    if not ok:
        raise TopologyProblem(
            path,
            f"expected a template file name inside nodes/ (letters, digits, '.', '_', '+', '-', parts "
            f"separated by '/', not starting with '.', at most {MAX_TEMPLATE_NAME} characters), got {show(value)}",
        )


def interface(text: str, default_prefix: int, path: FieldPath) -> IPv4Interface:
    """Parse an address; a bare address takes the prefix of the network it belongs to."""
    return IPv4Interface(text if "/" in text else f"{text}/{default_prefix}")


def check_host_address(iface: IPv4Interface, path: FieldPath, network: IPv4Network | None = None) -> None:
    """`iface` is a host address inside `network` (default: its own), not the network or broadcast address."""
    network = network or iface.network
    if iface.network != network:
        raise TopologyProblem(path, f"expected an address inside {network}, got {iface}")
    if network.prefixlen < 31 and iface.ip in (network.network_address, network.broadcast_address):
        raise TopologyProblem(path, f"expected a host address of {network}, got its network or broadcast address {iface}")


def ethernet_ios_name(value: Any, default: str, node: str, path: FieldPath) -> str:
    """An Ethernet interface's full IOS name (Gi0/1 -> GigabitEthernet0/1) whose Linux name fits."""
    if value is None:
        return default
    try:
        full = ifnames.canonical_ios_ifname(str(value))
    except ifnames.InterfaceNameError:
        full = ""
    if not full.startswith("GigabitEthernet"):
        raise TopologyProblem(path, f"expected an Ethernet interface such as GigabitEthernet0/1, got {show(value)}")
    try:
        ifnames.linux_ifname(node, full)
    except ifnames.InterfaceNameError as e:
        raise TopologyProblem(path, f"expected an interface whose Linux name fits 15 bytes: {e}") from None
    return full


def index_from_name(name: str) -> int | None:
    """The trailing number of a name (nat3 -> 3), which the plan takes as its index."""
    m = _TRAILING_NUMBER.search(name)
    return int(m.group(1)) if m else None

