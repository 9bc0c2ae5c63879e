"""The node table of a wired lab: the same columns as native labs, read from the configs.

Node (the file's label, case kept), Role (hub / spoke / router / host / switch /
management), NBMA address (the first tunnel's source address), Tunnel (every TunnelN with
its address), LAN (loopbacks and the other addressed interfaces), Hosts (hosts on the
router's non-underlay links), Management (where SSH answers). Rows are plain dicts of
strings, stored in the lab records like native rows (`status` reads them back).
"""

from __future__ import annotations

from dmvpnlab.lab.wired.facts import RouterFacts
from dmvpnlab.lab.wired.model import WiredTopology
from dmvpnlab.lab.wired.plan import WiredPlan


def _neighbours(plan: WiredPlan) -> dict[tuple[str, str], list[str]]:
    """(node, Linux interface) -> the nodes at the other end (through a switch: its other members)."""
    ends: dict[str, list[tuple[str, str]]] = {}
    for link in plan.links:
        ends.setdefault(link.a_node, []).append((link.a_if, link.b_node))
        ends.setdefault(link.b_node, []).append((link.b_if, link.a_node))
    switches = {n.name for n in plan.nodes if n.kind == "bridge"}
    out: dict[tuple[str, str], list[str]] = {}
    for node, pairs in ends.items():
        for ifname, peer in pairs:
            if peer in switches:
                members = [other for _, other in ends.get(peer, []) if other != node]
                out[(node, ifname)] = members
            else:
                out[(node, ifname)] = [peer]
    return out


def wired_rows(topology: WiredTopology, plan: WiredPlan, facts: dict[str, RouterFacts]) -> list[dict[str, str]]:
    hosts = {h.name for h in topology.hosts}
    neighbours = _neighbours(plan)
    rows: list[dict[str, str]] = []
    for r in topology.routers:
        f = facts.get(r.name, RouterFacts())
        tunnels = ", ".join(f"{t.name} {t.address}" if t.address else t.name for t in f.tunnels) or "-"
        lan = ", ".join(str(a) for _, a in f.lan_addresses()) or "-"
        underlay = {i.linux_name for i in r.interfaces if i.ios_name in f.tunnel_sources}
        mine = sorted({peer for (node, ifname), peers in neighbours.items() if node == r.name
                       and ifname not in underlay for peer in peers if peer in hosts})
        address = topology.management_address(r.name)
        rows.append({"name": r.name, "role": r.role, "nbma": str(f.nbma) if f.nbma else "-", "tunnel": tunnels,
                     "lan": lan, "hosts": ", ".join(mine), "mgmt": str(address.ip) if address else "-"})
    for h in topology.hosts:
        addrs = [str(a) for addrs in h.addresses.values() for a in addrs]
        addrs += [f"{ifname} DHCP" for ifname in h.dhcp]
        gateway = f"gw {h.gateway}" if h.gateway else ""
        rows.append({"name": h.name, "role": "host", "nbma": "-", "tunnel": "-",
                     "lan": ", ".join(addrs) or "-", "hosts": gateway, "mgmt": "-"})
    for b in topology.bridges:
        members = sorted({peer for (node, _), peers in neighbours.items() if node == b.name for peer in peers})
        rows.append({"name": b.name, "role": "switch", "nbma": "-", "tunnel": "-", "lan": "-",
                     "hosts": ", ".join(members), "mgmt": "-"})
    if plan.mgmt_bridge is not None and topology.management is not None:
        rows.append({"name": plan.mgmt_bridge, "role": "management", "nbma": "-", "tunnel": "-",
                     "lan": str(topology.management.network), "hosts": "this machine",
                     "mgmt": str(topology.management.root_address.ip)})
    return rows
