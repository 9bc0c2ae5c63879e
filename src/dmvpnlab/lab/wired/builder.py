"""WiredTopology -> running namespaces and links, the way the native builder makes them.

The same Mininet machinery and node classes as `dmvpnlab.lab.builder` (it is subclassed:
node creation, recording and bridges are shared): RouterNode per router, LanHost per
host, BridgeNode per switch, each in its own namespace and recorded as it appears; one
veth pair per link with the model's Linux names on both ends (`plan.py`). Routers get
no address here: their agents apply their whole configs. Hosts get theirs, and links
their conditioning (tc/nftables, `conditioning.py`), in one batched round per node.

Management as native labs: the bridge (own namespace), one port per router
(`<router>-mgmt`), the root link `dmvpn-<lab>` claimed under the allocation lock with a
network none of the configs use.
"""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Network
from typing import Callable

from dmvpnlab.lab import management as mgmt
from dmvpnlab.lab.builder import BridgeNode, Builder, BuildError, Progress, Underlay
from dmvpnlab.lab.nodes import LabNode, LanHost, RouterNode, flush_all, run_in_lines
from dmvpnlab.lab.records import LabRecords, LinkRecord, link_ifindex
from dmvpnlab.lab.wired.facts import RouterFacts
from dmvpnlab.lab.wired.model import WiredTopology
from dmvpnlab.lab.wired.plan import WiredPlan
from dmvpnlab.rundir import run_root

NETEM_PROBE = ["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"]


def lab_networks(topology: WiredTopology, facts: dict[str, RouterFacts]) -> list[IPv4Network]:
    """Every network the routers' configs and the hosts use (a moved management network avoids them)."""
    nets = [n for f in facts.values() for n in f.networks()]
    nets += [a.network for h in topology.hosts for addrs in h.addresses.values() for a in addrs]
    return [n for n in nets if n.prefixlen > 0]


class WiredBuilder(Builder):
    """Builds one wired lab from its plan; `progress(phase, total)` then `tick()` report progress."""

    def __init__(self, topology: WiredTopology, wired_plan: WiredPlan, facts: dict[str, RouterFacts],
                 records: LabRecords | None = None, progress: Progress | None = None,
                 tick: Callable[[], None] | None = None):
        super().__init__(topology, records, progress, tick)  # type: ignore[arg-type]
        self.plan = wired_plan
        self.facts = facts

    # -- nodes

    def add_nodes(self) -> None:
        classes = {"router": RouterNode, "host": LanHost, "bridge": BridgeNode, "management": BridgeNode}
        self._progress("creating namespaces", len(self.plan.nodes))
        for node in self.plan.nodes:
            self._add(node.name, classes[node.kind], node.role)
            if node.kind == "management":
                self._claim_management()
            elif node.kind == "bridge":
                self._bridge_ports.setdefault(node.name, 0)

    def _claim_management(self) -> None:
        """As the native builder: a free network under the lock, claimed by the root link."""
        t = self.topo
        assert t.management is not None and self.plan.mgmt_bridge is not None
        with mgmt.allocation_lock(run_root()):
            network = mgmt.pick_network(t.management.network, t.management.explicit,
                                        mgmt.networks_in_use(), lab_networks(t, self.facts))
            if network != t.management.network:
                self.topo = t = t.model_copy(update={"management": t.management.model_copy(update={"network": network})})

            def record(ifname: str) -> None:
                if self.records is not None:
                    self.records.add_link(LinkRecord(name=ifname, kind="veth", ifindex=link_ifindex(ifname)))

            self.root_link = mgmt.attach_root(t.name, self.nodes[self.plan.mgmt_bridge].pid,
                                              t.management.root_address, record)

    # -- links

    def add_links(self) -> None:
        self._progress("creating links", len(self.plan.links) + len(self.plan.mgmt_ports))
        for link in self.plan.links:
            self._link(link.a_node, link.a_if, link.b_node, link.b_if)
        bridge = self.plan.mgmt_bridge
        for router, ifname in self.plan.mgmt_ports.items():
            port = self._bridge_port(bridge)  # type: ignore[arg-type]
            self._link(router, ifname, bridge, port)  # type: ignore[arg-type]
            self._mgmt_ports.append(port)

    # -- addresses, conditioning

    def configure(self) -> None:
        t = self.topo
        for node in self.nodes.values():
            if isinstance(node, LabNode):
                node.base_config()
        for name, commands in self.plan.commands.items():
            node = self.nodes[name]
            if isinstance(node, LabNode):
                for command in commands:
                    node.queue(command)
        for router, ifname in self.plan.mgmt_ports.items():
            address = t.management_address(router)
            assert address is not None
            for command in mgmt.router_commands(ifname, address):
                self.nodes[router].queue(command)
            self.addresses.setdefault(router, {})[ifname] = address.with_prefixlen
        for h in t.hosts:
            for ifname, addresses in h.addresses.items():
                if addresses:
                    self.addresses.setdefault(h.name, {})[ifname] = addresses[0].with_prefixlen
        lab_nodes = [node for node in self.nodes.values() if isinstance(node, LabNode)]
        bridges = [n.name for n in self.plan.nodes if n.kind in ("bridge", "management")]
        self._progress("configuring hosts and links", len(lab_nodes) + len(bridges))
        errors = flush_all(lab_nodes, self._tick)
        if errors:
            name, out = next(iter(errors.items()))
            raise BuildError(f"configuring {name} failed: {out}")
        for bridge in bridges:
            self.nodes[bridge].start()
            commands = self.plan.commands.get(bridge, [])
            out = run_in_lines(self.nodes[bridge], commands)
            if out:
                raise BuildError(f"conditioning on bridge {bridge} failed: {out}")
            self._tick()
        if self._mgmt_ports:
            out = run_in_lines(self.nodes[self.plan.mgmt_bridge], mgmt.bridge_commands(self._mgmt_ports))
            if out:
                raise BuildError(f"management bridge: {out}")

    def build(self) -> Underlay:
        self.add_nodes()
        self.add_links()
        self.configure()
        return Underlay(net=self.net, nodes=self.nodes, captures=[], roles=self.roles, addresses=self.addresses)


def has_netem() -> bool:
    """True if this kernel has the netem qdisc: probed on the lo of a throwaway namespace
    (`unshare --net`: the namespace dies with the probe, nothing of the machine's is touched)."""
    try:
        return subprocess.run(NETEM_PROBE, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
