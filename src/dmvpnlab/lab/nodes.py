"""Mininet node classes for the lab's roles: router, LAN host, ISP router, NAT box.

Why subclasses of Mininet's Host rather than plain Hosts with ad-hoc commands: each role's
kernel settings (forwarding, reverse-path filter, NAT) then live in one place and are
applied in a single shell round trip per node, which is what keeps bring-up of a few
hundred nodes fast. Everything here runs inside the node's own network namespace (sysctls
under net.ipv4 and nftables rulesets are per namespace), so nothing touches the root one.
"""

from __future__ import annotations

import shlex
from ipaddress import IPv4Address, IPv4Interface
from typing import Any, Callable, Iterable

from mininet.node import Host

# Keep each line sent to a node's shell well below the pty's 4095-byte canonical limit.
MAX_LINE = 3000


def shell_lines(commands: Iterable[str], max_line: int = MAX_LINE) -> list[str]:
    """Join shell commands with ` ; ` into as few lines as fit below `max_line` bytes.

    Commands go to a node's shell through a pty in canonical mode, which truncates a line
    at 4095 bytes: one long line of per-port commands (a 120-spoke management bridge) lost
    its tail and the shell saw half a command. A command longer than `max_line` gets a
    line of its own (nothing is split inside a command).
    """
    lines: list[str] = []
    chunk: list[str] = []
    size = 0
    for command in commands:
        if chunk and size + len(command) > max_line:
            lines.append(" ; ".join(chunk))
            chunk, size = [], 0
        chunk.append(command)
        size += len(command) + 3
    if chunk:
        lines.append(" ; ".join(chunk))
    return lines


def run_in_lines(node: Any, commands: Iterable[str]) -> str:
    """Run `commands` in `node`'s shell, a few lines at a time; their combined output."""
    return "".join(node.cmd(line) for line in shell_lines(commands)).strip()


class LabNode(Host):
    """A Mininet Host that knows its lab role and batches its configuration commands."""

    role = "node"
    forwarding = False

    def __init__(self, name: str, **params):
        super().__init__(name, inNamespace=True, **params)
        self._pending: list[str] = []

    # Configuration is queued and then run as one `cmd` (one pty round trip per node).

    def queue(self, command: str) -> None:
        self._pending.append(command)

    def chunks(self) -> list[str]:
        """The queued commands as shell lines (see `shell_lines`), and clear the queue."""
        lines = shell_lines(self._pending)
        self._pending.clear()
        return lines

    def flush(self) -> str:
        """Run the queued commands; returns their combined output (errors show up here)."""
        return "".join(self.cmd(line) for line in self.chunks()).strip()


    def base_config(self) -> None:
        self.queue("ip link set lo up")
        # An IPv4 lab: without IPv6, captures hold no router solicitations or MLD reports,
        # only the traffic a scenario is asserting about.
        self.queue("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        forward = 1 if self.forwarding else 0
        self.queue(f"sysctl -qw net.ipv4.ip_forward={forward}")
        if self.forwarding:
            # Asymmetric paths are normal in a DMVPN lab (tunnel in, underlay out): a strict
            # reverse-path filter would drop them.
            self.queue("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0")

    def add_address(self, ifname: str, address: IPv4Interface) -> None:
        """Address an interface and bring it up; also tell Mininet (its CLI uses node.IP())."""
        self.queue(f"ip addr add {address.with_prefixlen} dev {shlex.quote(ifname)}")
        self.queue(f"ip link set {shlex.quote(ifname)} up")
        if self.forwarding:
            self.queue(f"sysctl -qw net.ipv4.conf.{ifname.replace('.', '/')}.rp_filter=0")
        intf = self.nameToIntf.get(ifname)
        if intf is not None:
            intf.ip = str(address.ip)
            intf.prefixLen = address.network.prefixlen

    def default_route(self, gateway: IPv4Address) -> None:
        self.queue(f"ip route replace default via {gateway}")


class RouterNode(LabNode):
    """A DMVPN router's namespace: forwards, no rp_filter; its agent is started later."""

    role = "router"
    forwarding = True


class LanHost(LabNode):
    """A host on a router's LAN: default route to its router, no forwarding."""

    role = "host"


class IspNode(LabNode):
    """The ISP: routes between every WAN /30 through its connected routes, nothing else.

    It has no default route, so lab traffic to any other address dies here and never
    reaches the machine's real network.
    """

    role = "isp"
    forwarding = True


class NatNode(LabNode):
    """A NAT box in front of one spoke or a fleet: masquerade on the outside interface.

    Unsolicited UDP from outside (no mapping: `ct state new`) is dropped in the input hook,
    as a CPE's firewall does, instead of reaching the box's own UDP stack. A dropped
    packet's conntrack entry is never confirmed, and that matters for spokes behind two
    NATs punching a shortcut: the far spoke's first IKE packet, arriving before ours
    left, would otherwise leave an unreplied entry that takes the very port tuple our own
    outbound mapping needs, and the masquerade would move us to another port the far
    side never hears from."""

    role = "nat"
    forwarding = True

    def masquerade(self, outside_ifname: str) -> None:
        table = "dmvpnlab_nat"
        self.queue(f"nft add table ip {table}")
        self.queue(f"nft 'add chain ip {table} post {{ type nat hook postrouting priority srcnat ; policy accept ; }}'")
        self.queue(f"nft add rule ip {table} post oifname {shlex.quote(outside_ifname)} masquerade")
        self.queue(f"nft 'add chain ip {table} in {{ type filter hook input priority filter ; policy accept ; }}'")
        self.queue(f"nft add rule ip {table} in iifname {shlex.quote(outside_ifname)} ct state new meta l4proto udp drop")


def flush_all(nodes: list["LabNode"], tick: Callable[[], None] = lambda: None) -> dict[str, str]:
    """Run every node's queued commands, all nodes at once (one line each per round).

    Nodes configure in parallel: each round sends one line to every node that has one left
    and then collects the outputs, instead of a full pty round trip per node in turn.
    Returns node name -> non-empty output (errors).
    """
    pending = {node.name: node.chunks() for node in nodes}
    by_name = {node.name: node for node in nodes}
    errors: dict[str, str] = {}
    while any(pending.values()):
        sent = []
        for name, lines in pending.items():
            if lines:
                by_name[name].sendCmd(lines.pop(0))
                sent.append(name)
        for name in sent:
            out = by_name[name].waitOutput().strip()
            if out:
                errors[name] = (errors.get(name, "") + "\n" + out).strip()
            if not pending[name]:
                tick()
    return errors
