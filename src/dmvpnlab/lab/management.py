"""The management network: how the machine that runs the lab reaches every router's SSH.

Like containerlab's management network: a bridge the lab creates, one management
address per router, and one address for the machine itself, so `ssh admin@172.31.255.11`
(or netmiko, or Ansible) works from the root namespace. Only routers that run an agent
(those with a config template) get one: the SSH server lives in the agent.

Plan (the `management:` section of a topology overrides it)::

    network     172.31.255.0/24; when router indexes go past 244 the default grows
                downwards (/23 = 172.31.254.0/23, /22 ...) so every router fits
    this machine  .1 on `dmvpn-<lab>` in the root namespace (the only link a lab puts there)
    router i    .(10+i) on `<router>-mgmt`: hub .10, spokeN .(10+N)
    bridge      `mgmt`: a LinuxBridge in a namespace of its own, like every lab bridge
    SSH         port 22, admin/admin

If the default network is already routed on this machine (another lab, a VPN, Docker),
the next free /24 below it is taken (172.31.254.0/24, ...), under a lock so two labs
coming up at once never pick the same one; an explicit `management.network` that is in
use is an error instead. Look at `dmvpnlab status` for the addresses a lab really got.

Why it cannot leak lab traffic, and what keeps the machine safe:
- nothing is bridged to the real uplink; the root side is one veth with a connected route
  to the management network only: no default route, no NAT, no forwarding on it
  (`net.ipv4.conf.<veth>.forwarding=0`, even on machines that forward, e.g. Docker hosts);
- the router ports of the bridge are *isolated* (they reach the root port, never each
  other), so routers cannot talk to each other over it (no OSPF hellos, no shortcuts);
- in a router the management address has no route in the main table (`noprefixroute`):
  its connected route sits in table MGMT_TABLE, used only by packets *from* the
  management address (`ip rule from A lookup MGMT_TABLE`). Lab traffic is routed by the
  main table and so never reaches the management network, `show ip route` does not show
  it (as with IOS's Mgmt-intf VRF), and the router does not forward anything that arrives
  on it (`forwarding=0` on `<router>-mgmt`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any, Iterable, Iterator


DEFAULT_NETWORK = IPv4Network("172.31.255.0/24")
DEFAULT_POOL = IPv4Network("172.31.0.0/16")  # where a default network may move when taken
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin"
DEFAULT_PORT = 22
ROUTER_OFFSET = 10  # router index i at .(10+i)
ROOT_OFFSET = 1  # the machine at .1
BRIDGE_NAME = "mgmt"
BRIDGE_ROOT_PORT = "m0"
IFNAME_SUFFIX = "-mgmt"
ROOT_IFNAME_PREFIX = "dmvpn-"
MGMT_TABLE = 4040  # routing table of the management address inside a router
MGMT_RULE_PREF = 1000
LOCK_NAME = ".management.lock"


class ManagementError(RuntimeError):
    """The management network cannot be set up (its network is in use on this machine...)."""


# ------------------------------------------------------------------ the plan (pure)


def router_address(network: IPv4Network, index: int) -> IPv4Interface:
    """Router index i at .(10+i) of the management network."""
    return IPv4Interface(f"{network.network_address + ROUTER_OFFSET + index}/{network.prefixlen}")


def root_address(network: IPv4Network) -> IPv4Interface:
    """The machine that runs the lab, at .1."""
    return IPv4Interface(f"{network.network_address + ROOT_OFFSET}/{network.prefixlen}")


def fits(network: IPv4Network, index: int) -> bool:
    """True if router index `index` has an address in `network` (below its broadcast)."""
    return ROUTER_OFFSET + index < network.num_addresses - 1


def smallest_prefix(index: int) -> int:
    """The longest prefix whose networks hold router index `index`."""
    prefix = 32
    while not fits(IPv4Network(f"0.0.0.0/{prefix}"), index):
        prefix -= 1
    return prefix


def default_network(highest_index: int) -> IPv4Network:
    """172.31.255.0/24, or the smallest network ending at 172.31.255.255 that holds every router."""
    prefix = min(DEFAULT_NETWORK.prefixlen, smallest_prefix(highest_index))
    return IPv4Network(f"{DEFAULT_NETWORK.broadcast_address}/{prefix}", strict=False)


def candidates(network: IPv4Network, explicit: bool) -> Iterator[IPv4Network]:
    """Networks to try, best first: an explicit one only; a default one, then the same size below it."""
    yield network
    if explicit:
        return
    step = network.num_addresses
    address = int(network.network_address) - step
    while address >= int(DEFAULT_POOL.network_address):
        yield IPv4Network(f"{IPv4Address(address)}/{network.prefixlen}")
        address -= step


def pick_network(network: IPv4Network, explicit: bool, in_use: Iterable[IPv4Network],
                 lab_networks: Iterable[IPv4Network]) -> IPv4Network:
    """The first candidate that overlaps nothing routed on this machine nor in the lab."""
    in_use, lab_networks = list(in_use), list(lab_networks)
    for candidate in candidates(network, explicit):
        clash = next((n for n in in_use if n.overlaps(candidate)), None)
        if clash is None and not any(n.overlaps(candidate) for n in lab_networks):
            return candidate
        if explicit:
            raise ManagementError(
                f"the management network {network} overlaps {clash} on this machine; "
                "choose a free one with `management: {network: ...}` in the topology")
    raise ManagementError(f"no free management network of size /{network.prefixlen} in {DEFAULT_POOL} "
                          "on this machine; set `management: {network: ...}` in the topology")


def lab_networks(topology: Any) -> list[IPv4Network]:
    """Every network the lab uses besides management (a moved default must not land on one)."""
    nets = [topology.tunnel_network]
    for r in topology.routers:
        nets.append(r.wan.address.network)
        if r.lan:
            nets.append(r.lan.network)
    for box in topology.nat_boxes:
        nets += [box.inside.network, box.outside.network]
    nets += [seg.network for seg in topology.segments]
    return nets


def router_ifname(node: str) -> str:
    """`<router>-mgmt`: never a name `dmvpnlab.ifnames` maps to an IOS interface."""
    return f"{node}{IFNAME_SUFFIX}"


def root_ifname(lab: str) -> str:
    """`dmvpn-<lab>` in the root namespace; long lab names are shortened with a hash (15 bytes)."""
    name = ROOT_IFNAME_PREFIX + lab
    if len(name) <= 15:
        return name
    digest = hashlib.sha1(lab.encode()).hexdigest()[:4]
    return f"{ROOT_IFNAME_PREFIX}{lab[:4]}-{digest}"


def router_commands(ifname: str, address: IPv4Interface) -> list[str]:
    """Shell commands (run in the router's namespace) that give it its management address.

    No prefix route in the main table: the connected route goes to MGMT_TABLE, used only by
    packets from the management address (see the module docstring).
    """
    net = address.network
    return [
        f"ip addr add {address.with_prefixlen} dev {ifname} noprefixroute",
        f"ip link set dev {ifname} up",
        f"sysctl -qw net.ipv4.conf.{ifname}.forwarding=0 net.ipv4.conf.{ifname}.rp_filter=0",
        f"ip route replace {net} dev {ifname} src {address.ip} table {MGMT_TABLE}",
        f"ip rule add from {address.ip} lookup {MGMT_TABLE} pref {MGMT_RULE_PREF}",
    ]


def bridge_commands(router_ports: Iterable[str]) -> list[str]:
    """In the bridge's namespace, after it started: join the root port, isolate the router ports."""
    commands = [f"ip link set dev {BRIDGE_ROOT_PORT} master br0", f"ip link set dev {BRIDGE_ROOT_PORT} up"]
    commands += [f"bridge link set dev {port} isolated on" for port in router_ports]
    return commands


# ------------------------------------------------------------------ the machine (root namespace)


def _ip_json(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(["ip", "-j", "-4", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise ManagementError(f"`ip -4 {' '.join(args)}` failed: {done.stderr.strip()}")
    return json.loads(done.stdout or "[]")


def networks_in_use() -> list[IPv4Network]:
    """Every IPv4 network this namespace has an address in or a route to (default route aside)."""
    out: list[IPv4Network] = []
    for route in _ip_json("route", "show", "table", "all"):
        dst = route.get("dst", "default")
        if dst == "default":
            continue
        try:
            out.append(IPv4Network(dst, strict=False))
        except ValueError:
            continue
    for link in _ip_json("addr", "show"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                out.append(IPv4Network(f"{info['local']}/{info.get('prefixlen', 32)}", strict=False))
    return [n for n in out if n.prefixlen > 0]


@contextlib.contextmanager
def allocation_lock(run_root: Path) -> Iterator[None]:
    """Serialise 'pick a free network, then claim it' between labs coming up at once."""
    run_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class RootLink:
    """The machine's end of the management network."""

    ifname: str
    address: IPv4Interface


def attach_root(lab: str, bridge_pid: int, address: IPv4Interface, record: Any) -> RootLink:
    """Create `dmvpn-<lab>` here, its peer in the bridge's namespace; address it.

    `record(ifname)` is called as soon as the link exists (the lab records it, so
    `down`/`clean` delete it by name and ifindex); the link also dies with the bridge's
    namespace, since a veth pair goes when either end's namespace goes.
    """
    ifname = root_ifname(lab)
    if Path("/sys/class/net", ifname).exists():
        raise ManagementError(f"a link named {ifname} already exists in the root namespace "
                              "(another lab's? `dmvpnlab status`, or `dmvpnlab clean`)")
    run = _runner()
    run(["ip", "link", "add", "name", ifname, "type", "veth", "peer", "name", BRIDGE_ROOT_PORT,
         "netns", str(bridge_pid)])
    record(ifname)
    for key, value in ((f"net/ipv4/conf/{ifname}/forwarding", "0"),
                       (f"net/ipv6/conf/{ifname}/disable_ipv6", "1")):
        try:
            Path("/proc/sys", key).write_text(value)
        except OSError:
            pass  # no IPv6 in this kernel: nothing to disable
    run(["ip", "addr", "add", address.with_prefixlen, "dev", ifname])
    run(["ip", "link", "set", "dev", ifname, "up"])
    return RootLink(ifname, address)


def _runner():
    def run(argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise ManagementError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
    return run
