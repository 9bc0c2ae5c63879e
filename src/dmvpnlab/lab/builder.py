"""Topology model -> running Mininet underlay (namespaces, veths, addresses, routes, NAT).

Why Mininet without its usual machinery: we need namespaces, veth pairs and a few bridges,
nothing else, so the network is `Mininet(topo=None, build=False, controller=None, ...)`:
no OVS, no controller, no `mn -c`. Every node, including each L2 bridge, lives in a
namespace of its own (bridges are Mininet LinuxBridges with `inNamespace=True`), so the lab
creates nothing in the root namespace and lab traffic never passes its netfilter.

Wiring (Linux names from `dmvpnlab.ifnames`; the WAN is eth0 and the LAN eth1 by default):

    router WAN   -> isp-ethK               (the /30 of the address plan; K in the order of
                                            `Topology.isp_interfaces()`)
                 -> natN-eth0 (inside);      natN-eth1 (outside) -> isp-ethK
                 -> bridge natNin port      (a NAT fleet: several routers behind natN;
                                            natN-eth0 has a port on the bridge too)
                 -> bridge <segment> port    (shared L2 segment; the ISP has a port too)
    router LAN   -> hN-eth0                 (one host), or a bridge `<router>lan` (several)

Routes: router and host default routes from the model, NAT boxes to the ISP, and the ISP
only its connected routes: no default route, so nothing leaves the lab.

Management (`dmvpnlab.lab.management`): the bridge `mgmt` (own namespace), one port per
templated router (`<router>-mgmt`), and the one link a lab puts in the root namespace,
`dmvpn-<lab>`, recorded as soon as it exists so down/clean delete it.

Each node shell is recorded (PID, start time, namespace inode) as soon as it exists.
"""

from __future__ import annotations

import shlex

from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any, Callable

from mininet.net import Mininet
from mininet.nodelib import LinuxBridge

from dmvpnlab import ifnames
from dmvpnlab.lab import management as mgmt
from dmvpnlab.lab.nodes import IspNode, LabNode, LanHost, NatNode, RouterNode, flush_all, run_in_lines
from dmvpnlab.lab.records import LabRecords, LinkRecord, link_ifindex, record_process
from dmvpnlab.lab.topology.model import ISP_NAME, Topology
from dmvpnlab.rundir import run_root

Progress = Callable[[str, int], None]  # (phase description, total steps); then tick()


class BuildError(RuntimeError):
    """The underlay could not be built as the model says (a command failed in a node)."""


class BridgeNode(LinuxBridge):
    """A Linux bridge in a namespace of its own; every port but lo joins it.

    Mininet's LinuxBridge adds only ports whose names contain the bridge name; ours are
    named p1, p2 ... (short, and private to the bridge's namespace).
    """

    role = "bridge"

    def __init__(self, name: str, **params: Any):
        params["inNamespace"] = True  # Mininet's addSwitch passes its own (False) default
        params.setdefault("dpid", "1")  # unused (no OpenFlow), but Switch wants one for any name
        super().__init__(name, **params)

    @classmethod
    def setup(cls) -> None:
        """Skip LinuxBridge's check of the root namespace's bridge-nf sysctls: our bridges
        live in namespaces of their own, whose (empty) netfilter tables they pass."""

    def start(self, _controllers: Any = None) -> None:
        ports = [i.name for i in self.intfList() if i.name != "lo"]
        script = ["ip link add name br0 type bridge", "ip link set lo up"]
        script += [f"ip link set {p} master br0 up" for p in ports]
        script += ["ip link set br0 up"]
        out = run_in_lines(self, script)
        if out:
            raise BuildError(f"bridge {self.name}: {out}")

    def stop(self, deleteIntfs: bool = False) -> None:  # noqa: N803 (Mininet's name)
        self.terminate()


@dataclass
class CapturePoint:
    """Where one link is captured: in `owner`'s namespace on `ifname`; file owner-peer.pcapng."""

    owner: str
    peer: str
    ifname: str


@dataclass
class Underlay:
    """The built network: Mininet object, nodes by name, and the capture points."""

    net: Mininet
    nodes: dict[str, Any]
    captures: list[CapturePoint] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)  # node -> ifname -> addr


class Builder:
    """Builds one topology; `progress(phase, total)` then `tick()` report progress."""

    def __init__(self, topology: Topology, records: LabRecords | None = None,
                 progress: Progress | None = None, tick: Callable[[], None] | None = None):
        self.topo = topology
        self.records = records
        self._progress = progress or (lambda phase, total: None)
        self._tick = tick or (lambda: None)
        self.net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False, waitConnected=False)
        self.nodes: dict[str, Any] = {}
        self.roles: dict[str, str] = {}
        self.captures: list[CapturePoint] = []
        self.addresses: dict[str, dict[str, str]] = {}
        self._bridge_ports: dict[str, int] = {}
        self._isp_port = 0
        self._mgmt_ports: list[str] = []
        self.root_link: mgmt.RootLink | None = None

    # -- nodes

    def _add(self, name: str, cls: type, role: str) -> Any:
        if cls is BridgeNode:
            node = self.net.addSwitch(name, cls=cls)
        else:
            node = self.net.addHost(name, cls=cls, ip=None)
        self.nodes[name] = node
        self.roles[name] = role
        if self.records is not None:
            # One journal write for the shell and its namespace pin (pin_namespace saves).
            record = self.records.add_process(record_process(node.pid, "node", node=name), save=False)
            if record.netns is not None:
                self.records.pin_namespace(name, node.pid, record.netns)
            else:
                self.records.save()
        self._tick()
        return node

    def add_nodes(self) -> None:
        t = self.topo
        multi_lan = [r for r in t.routers if r.lan and len(r.lan.hosts) > 1]
        fleets = [box for box in t.nat_boxes if box.inside_bridge]
        total = 1 + len(t.routers) + len(t.hosts) + len(t.nat_boxes) + len(t.segments) + len(multi_lan) + len(fleets)
        self._progress("creating namespaces", total + bool(t.managed_routers))
        if t.managed_routers:
            self._add(mgmt.BRIDGE_NAME, BridgeNode, "management")
            self._claim_management()
        self._add(ISP_NAME, IspNode, "isp")
        for r in t.routers:
            self._add(r.name, RouterNode, r.role)
        for box in t.nat_boxes:
            self._add(box.name, NatNode, "nat")
            if box.inside_bridge:
                self._add(box.inside_bridge, BridgeNode, "nat-fleet")
        for h in t.hosts:
            self._add(h.name, LanHost, "host")
        for seg in t.segments:
            self._add(seg.name, BridgeNode, "segment")
        for r in multi_lan:
            self._add(lan_bridge_name(r.name), BridgeNode, "lan-bridge")

    def _claim_management(self) -> None:
        """Pick a management network nobody routes on this machine and claim it with the root link.

        Under a lock, so two labs coming up at once cannot pick the same network; the root
        link's connected route is the claim the next lab sees. A default network may move
        (see management.py), so `self.topo` is replaced by a copy with the network used.
        """
        t = self.topo
        assert t.management is not None
        with mgmt.allocation_lock(run_root()):
            network = mgmt.pick_network(t.management.network, t.management.explicit,
                                        mgmt.networks_in_use(), mgmt.lab_networks(t))
            if network != t.management.network:
                self.topo = t = t.model_copy(update={"management": t.management.model_copy(update={"network": network})})
            assert t.management is not None

            def record(ifname: str) -> None:
                if self.records is not None:
                    self.records.add_link(LinkRecord(name=ifname, kind="veth", ifindex=link_ifindex(ifname)))

            self.root_link = mgmt.attach_root(t.name, self.nodes[mgmt.BRIDGE_NAME].pid,
                                              t.management.root_address, record)

    # -- links

    def _link(self, a: str, a_if: str, b: str, b_if: str) -> None:
        self.net.addLink(self.nodes[a], self.nodes[b], intfName1=a_if, intfName2=b_if)
        self._tick()

    def _bridge_port(self, bridge: str) -> str:
        n = self._bridge_ports.get(bridge, 0) + 1
        self._bridge_ports[bridge] = n
        return f"p{n}"

    def _isp_if(self) -> str:
        name = f"{ISP_NAME}-eth{self._isp_port}"
        self._isp_port += 1
        return name

    def add_links(self) -> None:
        t = self.topo
        isp_peers = [peer for peer, _ in t.isp_interfaces()]
        total = len(isp_peers) + len(t.routers) + len(t.nat_boxes) + len(t.hosts) + len(t.managed_routers)
        self._progress("creating links", total)
        self.isp_ifname: dict[str, str] = {}
        for peer in isp_peers:
            self.isp_ifname[peer] = self._isp_if()
        for r in t.routers:
            wan_if = ifnames.linux_ifname(r.name, r.wan.ios_name)
            if r.wan.peer == ISP_NAME:
                self._link(r.name, wan_if, ISP_NAME, self.isp_ifname[r.name])
            elif r.nat and (bridge := t.nat_box(r.nat).inside_bridge):
                self._link(r.name, wan_if, bridge, self._bridge_port(bridge))
            elif r.nat:
                self._link(r.name, wan_if, r.nat, f"{r.nat}-eth0")
            else:  # a segment
                self._link(r.name, wan_if, r.wan.peer, self._bridge_port(r.wan.peer))
            self.captures.append(CapturePoint(r.name, r.wan.peer, wan_if))
        for box in t.nat_boxes:
            if box.inside_bridge:
                self._link(box.name, f"{box.name}-eth0", box.inside_bridge, self._bridge_port(box.inside_bridge))
                self.captures.append(CapturePoint(box.name, "inside", f"{box.name}-eth0"))
            self._link(box.name, f"{box.name}-eth1", ISP_NAME, self.isp_ifname[box.name])
            self.captures.append(CapturePoint(box.name, ISP_NAME, f"{box.name}-eth1"))
        for seg in t.segments:
            self._link(ISP_NAME, self.isp_ifname[seg.name], seg.name, self._bridge_port(seg.name))
            self.captures.append(CapturePoint(ISP_NAME, seg.name, self.isp_ifname[seg.name]))
        for r in t.managed_routers:
            port = self._bridge_port(mgmt.BRIDGE_NAME)
            self._link(r.name, mgmt.router_ifname(r.name), mgmt.BRIDGE_NAME, port)
            self._mgmt_ports.append(port)
        for r in t.routers:
            if not r.lan:
                continue
            lan_if = ifnames.linux_ifname(r.name, r.lan.ios_name)
            if len(r.lan.hosts) == 1:
                host = r.lan.hosts[0]
                self._link(r.name, lan_if, host.name, f"{host.name}-eth0")
                self.captures.append(CapturePoint(r.name, host.name, lan_if))
            elif r.lan.hosts:
                bridge = lan_bridge_name(r.name)
                self._link(r.name, lan_if, bridge, self._bridge_port(bridge))
                for host in r.lan.hosts:
                    self._link(host.name, f"{host.name}-eth0", bridge, self._bridge_port(bridge))
                self.captures.append(CapturePoint(r.name, "lan", lan_if))

    # -- addresses, routes, NAT

    def _address(self, node: str, ifname: str, address: IPv4Interface) -> None:
        self.nodes[node].add_address(ifname, address)
        self.addresses.setdefault(node, {})[ifname] = address.with_prefixlen

    def configure(self) -> None:
        t = self.topo
        for name, node in self.nodes.items():
            if isinstance(node, LabNode):
                node.base_config()
        for peer, address in t.isp_interfaces():
            self._address(ISP_NAME, self.isp_ifname[peer], address)
        for r in t.routers:
            self._address(r.name, ifnames.linux_ifname(r.name, r.wan.ios_name), r.wan.address)
            self.nodes[r.name].default_route(r.wan.gateway)
            if r.lan:
                lan_if = ifnames.linux_ifname(r.name, r.lan.ios_name)
                if not r.lan.hosts:
                    for command in hostless_lan_commands(lan_if):
                        self.nodes[r.name].queue(command)
                self._address(r.name, lan_if, r.lan.router_address)
                for host in r.lan.hosts:
                    self._address(host.name, f"{host.name}-eth0", host.address)
                    self.nodes[host.name].default_route(host.gateway)
        for box in t.nat_boxes:
            self._address(box.name, f"{box.name}-eth0", box.inside)
            self._address(box.name, f"{box.name}-eth1", box.outside)
            self.nodes[box.name].default_route(box.isp_address.ip)
            self.nodes[box.name].masquerade(f"{box.name}-eth1")
        for r in t.managed_routers:
            address = t.management_address(r.name)
            assert address is not None
            ifname = mgmt.router_ifname(r.name)
            for command in mgmt.router_commands(ifname, address):
                self.nodes[r.name].queue(command)
            self.addresses.setdefault(r.name, {})[ifname] = address.with_prefixlen
        lab_nodes = [(n, node) for n, node in self.nodes.items() if isinstance(node, LabNode)]
        self._progress("configuring addresses and routes", len(lab_nodes) + len(self._bridge_ports))
        errors = flush_all([node for _, node in lab_nodes], self._tick)
        if errors:
            name, out = next(iter(errors.items()))
            raise BuildError(f"configuring {name} failed: {out}")
        for bridge in self._bridge_ports:
            self.nodes[bridge].start()
            self._tick()
        if self._mgmt_ports:
            out = run_in_lines(self.nodes[mgmt.BRIDGE_NAME], mgmt.bridge_commands(self._mgmt_ports))
            if out:
                raise BuildError(f"management bridge: {out}")

    def build(self) -> Underlay:
        self.add_nodes()
        self.add_links()
        self.configure()
        return Underlay(net=self.net, nodes=self.nodes, captures=self.captures,
                        roles=self.roles, addresses=self.addresses)


def hostless_lan_commands(lan_if: str) -> list[str]:
    """A LAN port for a router whose LAN has no hosts (`lan: {hosts: 0}`, the scale lab).

    Why: the router's config still names its LAN interface (the address it pings from and
    announces), so the interface must exist and be up. This kernel has no `dummy` driver;
    a veth pair with both ends inside the router's namespace is a port with carrier that
    costs no extra node. The peer's name is the port's with a trailing `p` (15 bytes max).
    """
    peer = f"{lan_if[:14]}p"
    return [f"ip link add {shlex.quote(lan_if)} type veth peer name {shlex.quote(peer)}",
            f"ip link set {shlex.quote(peer)} up"]


def lan_bridge_name(router: str) -> str:
    """The bridge joining a router's LAN port and its hosts when it has more than one."""
    return f"{router}lan"
