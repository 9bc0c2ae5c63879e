"""Whole-lab checks on the resolved model: one name per node, one network per link, LAN or segment.

They run last, when every address is known, because a clash can be between any two parts
of the lab (a router named like a planned host, a LAN inside another router's WAN). Each
reports at the spec field of the part that clashes. Imports `model`, `routers` (entries'
paths), `errors` and `dmvpnlab.lab.management` (the management bridge's name).
"""

from __future__ import annotations

from ipaddress import IPv4Network

from dmvpnlab.lab import management as mgmt_plan
from dmvpnlab.lab.topology.errors import FieldPath, TopologyProblem
from dmvpnlab.lab.topology.model import ISP_NAME, Topology
from dmvpnlab.lab.topology.routers import RouterEntry


def check_unique_names(topo: Topology, entries: list[RouterEntry], explicit_paths: set[FieldPath]) -> None:
    """Routers, NAT boxes and hosts share one namespace (Mininet node names).

    `explicit_paths`: where routers were written (not generated), so a router named like a
    planned host is reported at its own entry."""
    owner: dict[str, str] = {ISP_NAME: "the ISP router"}
    paths = {e.name: e.path for e in entries}
    for r in topo.routers:
        owner[r.name] = f"router {r.name}"
    host_owner = {h.name: r for r in topo.routers if r.lan for h in r.lan.hosts}
    for name, r in host_owner.items():
        if name in paths and paths[name] in explicit_paths:
            raise TopologyProblem(paths[name], f"expected a unique name, got router {name!r}, already a LAN host of {r.name}")
    for box in topo.nat_boxes:
        if box.name in owner:
            raise TopologyProblem(("nat_boxes", box.name), f"expected a unique name, got {box.name!r}, already {owner[box.name]}")
        owner[box.name] = f"NAT box {box.name}"
    for r in topo.routers:
        if not r.lan:
            continue
        for i, h in enumerate(r.lan.hosts):
            if h.name in owner:
                raise TopologyProblem(
                    paths[r.name] + ("lan", "hosts", i),
                    f"expected a unique name, got host {h.name!r}, already {owner[h.name]}",
                )
            owner[h.name] = f"a host of {r.name}"
    bridge = mgmt_plan.BRIDGE_NAME
    taken = owner.get(bridge) or (f"segment {bridge}" if any(g.name == bridge for g in topo.segments) else None)
    if topo.managed_routers and taken:
        raise TopologyProblem(("management",), f"expected no node named {bridge!r} (the management bridge's name), "
                              f"got {taken}; rename it or set `management: false`")


def check_overlaps(topo: Topology, entries: list[RouterEntry]) -> None:
    """No two networks of the lab overlap (the ISP routes them all); reported at the later one."""
    paths = {e.name: e.path for e in entries}
    nets: list[tuple[IPv4Network, FieldPath, str]] = [(topo.tunnel_network, ("tunnel", "network"), "the tunnel network")]
    for r in topo.routers:
        if r.wan.peer == ISP_NAME:
            nets.append((r.wan.address.network, paths[r.name] + ("wan", "address"), f"{r.name}'s WAN"))
        if r.lan:
            nets.append((r.lan.network, paths[r.name] + ("lan", "network"), f"{r.name}'s LAN"))
    for box in topo.nat_boxes:
        nets.append((box.inside.network, ("nat_boxes", box.name, "inside"), f"{box.name}'s inside link"))
        nets.append((box.outside.network, ("nat_boxes", box.name, "outside"), f"{box.name}'s outside link"))
    for seg in topo.segments:
        nets.append((seg.network, ("segments", seg.name, "network"), f"segment {seg.name}"))
    if topo.managed_routers:
        assert topo.management is not None
        nets.append((topo.management.network, ("management", "network"), "the management network"))
    nets.sort(key=lambda t: (int(t[0].network_address), t[0].prefixlen))
    widest: tuple[IPv4Network, FieldPath, str] | None = None
    for item in nets:
        if widest is not None and item[0].overlaps(widest[0]):
            raise TopologyProblem(
                item[1],
                f"expected a network of its own, got {item[0]} ({item[2]}) overlapping {widest[0]} ({widest[2]})",
            )
        if widest is None or int(item[0].broadcast_address) > int(widest[0].broadcast_address):
            widest = item
