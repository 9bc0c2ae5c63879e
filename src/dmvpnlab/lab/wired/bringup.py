"""`Lab.up(WiredTopology)`: the bring-up steps of a wired lab, in the native order.

plan (every refusal before anything exists) -> namespaces, links, hosts, conditioning,
management (builder.py) -> a capture on every router link end, `<node>-<intf>.pcapng`
-> agents with their whole configs, hubs first (agents.py) -> captures on every router's
TunnelN once the agents made them -> DHCP clients on the hosts that lease (after the
agents: a router may be their server) -> NHRP registrations -> the records say `up` with
the node table. Each step is recorded before the next relies on it, so a failure
anywhere is torn down by `Lab.down` like a native lab's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from dmvpnlab.ipsec.keylog import KeyLog
from dmvpnlab.lab import agents as agents_mod
from dmvpnlab.lab.captures import CaptureRecorder, keys_directory
from dmvpnlab.lab.description import write_description
from dmvpnlab.lab.wired import agents as wired_agents
from dmvpnlab.lab.wired import dhcp_hosts
from dmvpnlab.lab.wired.facts import RouterFacts, router_facts
from dmvpnlab.lab.wired.model import WiredTopology
from dmvpnlab.lab.wired.plan import WiredPlan, plan
from dmvpnlab.lab.wired.table import wired_rows


def prepare(topology: WiredTopology) -> tuple[WiredPlan, dict[str, RouterFacts]]:
    """The plan and the configs' facts; WiredPlanError before anything is built."""
    netem = False
    if any(link.conditioning and (link.conditioning.delay_ms or link.conditioning.jitter_ms)
           for link in topology.links):
        from dmvpnlab.lab.wired.builder import has_netem

        netem = has_netem()
    return plan(topology, netem=netem), {r.name: router_facts(r) for r in topology.routers}


def bring_up(lab: Any, reporter: Any, say: Callable[[str], None], captures: bool,
             captures_root: Path | None) -> None:
    """Build and start `lab.topology` (a WiredTopology) into `lab` (a `dmvpnlab.lab.lab.Lab`)."""
    from dmvpnlab.lab.wired.builder import WiredBuilder  # Mininet import only when a lab is built

    wired_plan, facts = prepare(lab.topology)
    for line in wired_plan.notes:
        say(line)
    builder = WiredBuilder(lab.topology, wired_plan, facts, lab.records, progress=reporter.phase,
                           tick=reporter.tick)
    lab.net = builder.net
    lab.nodes = builder.nodes  # filled as nodes appear, so a failed build still tears down
    underlay = builder.build()
    lab.topology = builder.topo  # with the management network actually claimed
    lab.roles, lab.addresses = underlay.roles, underlay.addresses
    for name, entries in _router_addresses(lab.topology, facts).items():
        lab.addresses[name] = {**entries, **lab.addresses.get(name, {})}  # NBMA first, management last
    if captures:
        lab.captures = CaptureRecorder.prepare(lab.topology.name, captures_root, lab.records)
        reporter.phase("starting captures", len(wired_plan.captures))
        for node, ifname in wired_plan.captures:
            lab.captures.start_interface(lab.nodes[node], node, ifname)
            reporter.tick()
        lab.captures.save_records()
        lab.captures.wait_ready()
    lab.keys_dir = lab.captures.directory if lab.captures else keys_directory(lab.topology.name, captures_root)
    KeyLog(lab.keys_dir)
    if lab.topology.routers:
        lab.launcher = agents_mod.Launcher(lab.records.directory, lab.records, keylog_dir=lab.keys_dir)
        lab.agents = wired_agents.start_agents(lab.topology, lab.nodes, lab.records.directory, lab.records,
                                               lab.launcher, note=say)
        reporter.phase("waiting for agents", len(lab.agents))
        agents_mod.wait_ready(lab.agents)
        if lab.captures is not None:
            _capture_tunnels(lab, facts)
    for line in dhcp_hosts.start(lab, wired_plan.dhcp):
        say(line)
    if lab.agents:
        reporter.phase("waiting for NHRP registrations", 1)
        unregistered = agents_mod.wait_registered(lab.agents)
        if unregistered:
            say(f"not registered with every NHS yet: {', '.join(unregistered)}")
    lab.records.update(state="up", nodes=lab.node_info(), table=wired_rows(lab.topology, wired_plan, facts),
                       captures=str(lab.captures.directory) if lab.captures else None,
                       keys=str(lab.keys_dir) if lab.keys_dir else None,
                       management=lab.management_info(), notes=list(wired_plan.notes), kind="wired")
    write_description(lab)  # captures/<lab>/lab.json, for `dmvpnlab report`


def _capture_tunnels(lab: Any, facts: dict[str, RouterFacts]) -> None:
    """dumpcap on every TunnelN the agents made (a tunnel the agent could not make is skipped)."""
    keys = []
    for handle in lab.agents:
        for tunnel in facts[handle.node].tunnels:
            if lab.exec(handle.node, ["ip", "link", "show", tunnel.name]).ok:
                keys.append(lab.captures.start_interface(lab.nodes[handle.node], handle.node, tunnel.name).key)
    lab.captures.save_records()
    lab.captures.wait_ready(keys=keys)


def _router_addresses(topology: WiredTopology, facts: dict[str, RouterFacts]) -> dict[str, dict[str, str]]:
    """Per router, the addresses its config gives (by Linux name), the NBMA first: what
    `status --json` shows and what `Lab.address_of(router)` answers (as native labs' NBMA)."""
    out: dict[str, dict[str, str]] = {}
    for r in topology.routers:
        f = facts[r.name]
        by_linux = r.interface_map
        entries: dict[str, str] = {}
        sources = [t.source for t in f.tunnels if t.source]
        for ios in sources + [n for n in f.addresses if n not in sources]:
            addrs = f.addresses.get(ios)
            if not addrs:
                continue
            linux = by_linux.get(ios) or ("lo" if ios.startswith("Loopback") else ios)
            entries.setdefault(linux, addrs[0].with_prefixlen)
        out[r.name] = {**entries}
    return out
