"""WiredTopology -> the build plan: nodes, veth pairs, per-node commands, captures, notes.

Pure (no namespaces, no Mininet), so names, ports, conditioning commands and the notes
are unit-tested as data; `builder.py` runs the plan. Why a plan: every check that can
refuse a lab (a link to a missing node, an interface used twice, a Linux name the kernel
would refuse) happens here, before anything exists, so a bad lab builds nothing.

Names (see the contract): a node is its file label (case kept); every link end is the
model's Linux interface name in its node's namespace (`Gi0-0` on a router, a host's
`eth0`, a bridge's port name as the importer gave it); each router's management port is
`<router>-mgmt` (shortened with a hash when the label makes it longer than 15 bytes);
the management bridge is `mgmt` unless a lab node already has that name. Routers get no
address from the lab (their agent applies the whole config); hosts get theirs here.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Interface

from dmvpnlab.lab import management as mgmt
from dmvpnlab.lab.wired import conditioning
from dmvpnlab.lab.wired.model import Conditioning, WiredTopology

LINUX_IFNAME_MAX = 15
_LINUX_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
BRIDGE_CANDIDATES = ("mgmt", "mgmt-net", "lab-mgmt")


class WiredPlanError(ValueError):
    """A wired lab that cannot be built as it is; str() is one paragraph for the user."""


@dataclass
class NodePlan:
    name: str
    kind: str  # "router" | "host" | "bridge" | "management"
    role: str  # hub | spoke | router | host | switch | management


@dataclass
class LinkPlan:
    id: str
    a_node: str
    a_if: str
    b_node: str
    b_if: str
    conditioning: Conditioning | None = None


@dataclass
class WiredPlan:
    nodes: list[NodePlan] = field(default_factory=list)
    links: list[LinkPlan] = field(default_factory=list)
    commands: dict[str, list[str]] = field(default_factory=dict)  # node -> shell commands, after the links
    captures: list[tuple[str, str]] = field(default_factory=list)  # (router, Linux interface)
    dhcp: list[tuple[str, str]] = field(default_factory=list)  # (host, Linux interface) that lease by DHCP
    mgmt_bridge: str | None = None
    mgmt_ports: dict[str, str] = field(default_factory=dict)  # router -> its management interface
    notes: list[str] = field(default_factory=list)

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)


def valid_linux_name(name: str) -> bool:
    return (0 < len(name.encode()) <= LINUX_IFNAME_MAX and bool(_LINUX_NAME.match(name))
            and name not in (".", ".."))


def mgmt_ifname(router: str) -> str:
    """`<router>-mgmt`, or a 15-byte form `<first letters><hash>-mgmt` for long or odd labels."""
    plain = mgmt.router_ifname(router)
    if valid_linux_name(plain):
        return plain
    safe = "".join(c for c in router if c.isascii() and (c.isalnum() or c in "_-"))[:6]
    digest = hashlib.sha1(router.encode()).hexdigest()[:4]
    return f"{safe}{digest}{mgmt.IFNAME_SUFFIX}"


def management_bridge_name(topology: WiredTopology) -> str:
    taken = {n.lower() for n in topology.node_names()}
    return next(n for n in BRIDGE_CANDIDATES if n not in taken)


def _check_names(topology: WiredTopology) -> None:
    seen: dict[str, str] = {}
    for name in topology.node_names():
        key = name.lower()
        if key in seen:
            raise WiredPlanError(f"lab {topology.name!r}: nodes {seen[key]!r} and {name!r} differ only in case; "
                                 "node names must be unique in any case (commands accept them in any case)")
        seen[key] = name
        if not name or "/" in name or any(c.isspace() for c in name):
            raise WiredPlanError(f"lab {topology.name!r}: node name {name!r} cannot name a namespace "
                                 "(expected no spaces and no '/')")


def plan(topology: WiredTopology, netem: bool = False) -> WiredPlan:
    """The build plan of `topology`; WiredPlanError (nothing built) if it cannot be built."""
    _check_names(topology)
    out = WiredPlan(notes=list(topology.notes))
    interfaces: dict[str, set[str]] = {}
    kinds: dict[str, str] = {}
    for r in topology.routers:
        out.nodes.append(NodePlan(r.name, "router", r.role))
        interfaces[r.name] = {i.linux_name for i in r.interfaces}
        kinds[r.name] = "router"
    for h in topology.hosts:
        out.nodes.append(NodePlan(h.name, "host", "host"))
        interfaces[h.name] = {i.linux_name for i in h.interfaces}
        kinds[h.name] = "host"
    for b in topology.bridges:
        out.nodes.append(NodePlan(b.name, "bridge", "switch"))
        interfaces[b.name] = {i.linux_name for i in b.interfaces}
        kinds[b.name] = "bridge"
    used: dict[tuple[str, str], str] = {}
    for link in topology.links:
        if link.a.node == link.b.node:
            raise WiredPlanError(f"lab {topology.name!r}, link {link.id!r}: both ends are on {link.a.node} "
                                 "(expected a link between two nodes)")
        for end in (link.a, link.b):
            where = f"lab {topology.name!r}, link {link.id!r}"
            if end.node not in kinds:
                raise WiredPlanError(f"{where}: node {end.node!r} is not a node of the lab "
                                     f"(expected one of: {', '.join(topology.node_names())})")
            if not valid_linux_name(end.interface):
                raise WiredPlanError(f"{where}: interface {end.interface!r} of {end.node} is not a usable Linux "
                                     f"interface name (expected at most {LINUX_IFNAME_MAX} bytes of letters, "
                                     "digits, '_', '-' and '.')")
            if interfaces[end.node] and end.interface not in interfaces[end.node]:
                raise WiredPlanError(f"{where}: {end.node} has no interface {end.interface!r} "
                                     f"(it has: {', '.join(sorted(interfaces[end.node]))})")
            key = (end.node, end.interface)
            if key in used:
                raise WiredPlanError(f"{where}: interface {end.interface} of {end.node} is already on link "
                                     f"{used[key]!r} (an interface takes one link)")
            used[key] = link.id
        out.links.append(LinkPlan(link.id, link.a.node, link.a.interface, link.b.node, link.b.interface,
                                  link.conditioning))
        for end in (link.a, link.b):
            if kinds[end.node] == "router":
                out.captures.append((end.node, end.interface))
            cmds = conditioning.commands(end.interface, link.conditioning, netem)
            if cmds:
                out.commands.setdefault(end.node, []).extend(cmds)
        for line in (conditioning.not_applied(link, netem), conditioning.rounded_loss_note(link)):
            if line:
                out.notes.append(line)
    _plan_hosts(topology, out, used)
    if topology.management is not None and topology.routers:
        out.mgmt_bridge = management_bridge_name(topology)
        out.nodes.insert(0, NodePlan(out.mgmt_bridge, "management", "management"))
        out.mgmt_ports = {r.name: mgmt_ifname(r.name) for r in topology.routers}
    return out


def _plan_hosts(topology: WiredTopology, out: WiredPlan, used: dict[tuple[str, str], str]) -> None:
    """Hosts: their links up, their addresses and routes; DHCP interfaces listed for the builder."""
    for h in topology.hosts:
        linked = [ifname for (node, ifname) in used if node == h.name]
        cmds = [f"ip link set {shlex.quote(ifname)} up" for ifname in linked]
        for ifname, addresses in h.addresses.items():
            if ifname not in linked:
                out.notes.append(f"host {h.name}: interface {ifname} is on no link; its addresses are not applied")
                continue
            cmds += [f"ip addr add {IPv4Interface(a).with_prefixlen} dev {shlex.quote(ifname)}" for a in addresses]
        for prefix, via in h.routes:
            cmds.append(f"ip route replace {prefix} via {via}")
        if h.gateway is not None:
            cmds.append(f"ip route replace default via {h.gateway}")
        for ifname in h.dhcp:
            if ifname in linked:
                out.dhcp.append((h.name, ifname))
            else:
                out.notes.append(f"host {h.name}: DHCP interface {ifname} is on no link")
        if not h.addresses and not h.dhcp:
            out.notes.append(f"host {h.name}: no address in the file and no DHCP: it stays unaddressed")
        out.commands[h.name] = cmds + out.commands.get(h.name, [])
