"""A validated CML lab (`schema.CmlFile`) -> `WiredTopology`: nodes by definition, interfaces, links.

The CML file is the wiring and each router's config is the whole router, so this only
names and connects: routers keep their config as written (role read from it), hosts get
the addresses their cloud-init gives, `unmanaged_switch` nodes become bridges, links join
the interfaces they name. What a file asks that cannot be had here is a note (skipped node
definitions, links to them, conditioning fields, config lines not applied); what makes
the file wrong (a link to a node or interface that does not exist, two nodes with one
label, an external connector) is a `LabProblem` naming the node and the field. VIRL files
arrive here too, converted to a `CmlFile` by `virl`. Imports the wired model and the
modules of this package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dmvpnlab.lab import management as mgmt_plan
from dmvpnlab.lab.cml import definitions as defs
from dmvpnlab.lab.cml.cloudinit import host_network
from dmvpnlab.lab.cml.errors import LabProblem, node_name, show
from dmvpnlab.lab.cml.names import MAX_NODE_NAME, NodeNames, plain_linux_name, router_linux_name
from dmvpnlab.lab.cml.routers import ignored_note, port_key, router_facts, switch_layout
from dmvpnlab.lab.cml.schema import CmlFile, CmlLink, CmlNode
from dmvpnlab.lab.wired.model import (
    Conditioning,
    Endpoint,
    WiredBridge,
    WiredHost,
    WiredInterface,
    WiredLink,
    WiredManagement,
    WiredRouter,
    WiredTopology,
)

_LAB_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
SKIPPED_NOTE = re.compile(r"node definition .* is not run here; the node is skipped")  # `_add_node`'s note
ROUTER_CONFIG_NAMES = ("ios_config.txt", "iosxe_config.txt", "config.txt", "startup-config", "node.cfg")


@dataclass
class _Built:
    """The wired lab being assembled, and where each CML interface ended up."""

    topo: WiredTopology
    names: NodeNames = field(default_factory=NodeNames)
    # (node id, interface id) -> where a link to it lands; None: a loopback (links refused)
    endpoints: dict[tuple[str, str], Endpoint | None] = field(default_factory=dict)
    node_index: dict[str, int] = field(default_factory=dict)  # node id -> index in nodes
    skipped: dict[str, str] = field(default_factory=dict)  # node id -> its label


def lab_name_of(path: Path) -> str:
    """The lab's name: the file's stem as a safe file name (it names captures/<lab>/)."""
    name = _LAB_NAME_BAD.sub("_", path.stem).strip("_.") or "lab"
    return name[:64]


def to_wired(lab: CmlFile, path: Path, fmt: str) -> WiredTopology:
    """The wired lab of a validated CML file; LabProblem for what makes it unusable."""
    title = (lab.title or "").strip()
    description = " - ".join(x for x in (title, lab.description.strip()) if x)
    # Management network and SSH as native labs have them: the default plan (`lab.management`;
    # not explicit, so the builder may move it when the default network is in use here).
    built = _Built(WiredTopology(name=lab_name_of(path), description=description, source=path, format=fmt,
                                 management=WiredManagement(network=mgmt_plan.DEFAULT_NETWORK)))
    _check_nodes(lab)
    for i, node in enumerate(lab.nodes):
        built.node_index[node.id] = i
        _add_node(built, i, node)
    used: dict[tuple[str, str], str] = {}
    for j, link in enumerate(lab.links):
        _add_link(built, lab, j, link, used)
    return built.topo


def _check_nodes(lab: CmlFile) -> None:
    """Ids and labels unique (labels in any case), definitions allowed; before anything is mapped."""
    ids: dict[str, int] = {}
    labels: dict[str, CmlNode] = {}
    for i, node in enumerate(lab.nodes):
        who = node_name(node.label, node.id)
        if node.id in ids:
            raise LabProblem(("nodes", i, "id"), f"expected an id no other node has, got {show(node.id)}, "
                             f"which nodes[{ids[node.id]}] has too", who)
        ids[node.id] = i
        other = labels.get(node.label.lower())
        if other is not None:
            raise LabProblem(("nodes", i, "label"), f"expected a label no other node has in any case (node names "
                             f"are typed in any case), got {show(node.label)}, which "
                             f"{node_name(other.label, other.id)} has", who)
        labels[node.label.lower()] = node
        d = defs.definition(node.node_definition)
        if d is not None and d.kind == "refused":
            raise LabProblem(("nodes", i, "node_definition"), "expected a node this lab can run, got "
                             f"{show(node.node_definition)}: a lab here never reaches the outside network "
                             "(remove the connector and its links, or use an unmanaged_switch)", who)
        _check_interfaces(i, node, who)


def _check_interfaces(i: int, node: CmlNode, who: str) -> None:
    seen: dict[str, int] = {}
    slots: dict[int, int] = {}
    for k, itf in enumerate(node.interfaces):
        where = ("nodes", i, "interfaces", k)
        if itf.id in seen:
            raise LabProblem(where + ("id",), f"expected an interface id no other interface of the node has, "
                             f"got {show(itf.id)}, which interfaces[{seen[itf.id]}] has too", who)
        seen[itf.id] = k
        if itf.type != "physical":
            continue
        if itf.slot is None and itf.ios_name is None:
            raise LabProblem(where + ("slot",), "expected the slot of a physical interface (an integer: "
                             "it gives the interface its IOS name), got nothing", who)
        if itf.slot is not None:
            if itf.slot in slots:
                raise LabProblem(where + ("slot",), f"expected a slot no other interface of the node has, got "
                                 f"{itf.slot}, which interfaces[{slots[itf.slot]}] has too", who)
            slots[itf.slot] = k


def _add_node(built: _Built, i: int, node: CmlNode) -> None:
    d = defs.definition(node.node_definition)
    who = node_name(node.label, node.id)
    if d is None:
        built.skipped[node.id] = node.label
        built.topo.notes.append(f"{who}: node definition {show(node.node_definition)} is not run here; "
                                "the node is skipped (routers: iosv, csr1000v, cat8000v, iol-xe, iosvl2, "
                                "ioll2-xe; hosts: ubuntu, alpine, desktop, server; unmanaged_switch)")
        return
    name = built.names.claim(node.label)
    if name != node.label:
        built.topo.notes.append(f"{who} is called {name!r} here (a node name is letters, digits, '_' and '-', "
                                f"starting with a letter, at most {MAX_NODE_NAME} characters, unique in any case)")
    if d.kind == "router":
        _add_router(built, i, node, d, name)
    elif d.kind == "host":
        _add_host(built, node, name)
    else:
        taken: set[str] = set()
        interfaces = [WiredInterface(label=itf.label or itf.id, slot=itf.slot if itf.slot is not None else k,
                                     ios_name=itf.label or itf.id,
                                     linux_name=plain_linux_name(itf.label, itf.slot if itf.slot is not None else k,
                                                                 "p", taken))
                      for k, itf in enumerate(node.interfaces) if itf.type == "physical"]
        for itf, wired in zip([x for x in node.interfaces if x.type == "physical"], interfaces):
            built.endpoints[(node.id, itf.id)] = Endpoint(node=name, interface=wired.linux_name)
        built.topo.bridges.append(WiredBridge(name=name, definition=node.node_definition.lower(),
                                              interfaces=interfaces))


def router_config(node: CmlNode) -> tuple[str, str | None]:
    """The router's IOS config text and, when the node has several files, a note on which was used."""
    files = node.configuration
    if not files:
        return "", None
    if len(files) == 1:
        return files[0].content, None
    chosen = next((f for name in ROUTER_CONFIG_NAMES for f in files if f.name.lower() == name), files[0])
    return chosen.content, f"its configuration has {len(files)} files; {chosen.name or 'the first'!r} is the IOS config"


def _add_router(built: _Built, i: int, node: CmlNode, d: defs.Definition, name: str) -> None:
    who = node_name(node.label, node.id)
    config, files_note = router_config(node)
    if files_note:
        built.topo.notes.append(f"{who}: {files_note}")
    if not config.strip():
        built.topo.notes.append(f"{who}: has no configuration; it runs as an unconfigured router")
    facts = router_facts(config)
    if facts.errors:
        more = f" (and {len(facts.errors) - 1} more)" if len(facts.errors) > 1 else ""
        raise LabProblem(("nodes", i, "configuration"), "expected an IOS config whose supported lines are "
                         f"well formed, got {facts.errors[0]}{more}", who)
    note = ignored_note(name, facts)
    if note:
        built.topo.notes.append(note)
    layout = switch_layout(config) if d.switch else None
    interfaces: list[WiredInterface] = []
    switchports: list[tuple[str, WiredInterface]] = []  # (CML interface id, its port)
    for k, itf in enumerate(node.interfaces):
        if itf.type != "physical":
            built.endpoints[(node.id, itf.id)] = None
            continue
        assert d.ios_name is not None
        slot = itf.slot if itf.slot is not None else k
        ios = itf.ios_name or d.ios_name(slot)
        try:
            linux = router_linux_name(ios)
        except ValueError as e:
            raise LabProblem(("nodes", i, "interfaces", k), f"expected an interface with a Linux name, got {e}",
                             who) from None
        wired = WiredInterface(label=itf.label or ios, slot=slot, ios_name=ios, linux_name=linux)
        if layout is not None and port_key(ios) not in layout.routed:
            switchports.append((itf.id, wired))
        else:
            interfaces.append(wired)
            built.endpoints[(node.id, itf.id)] = Endpoint(node=name, interface=linux)
    router = WiredRouter(name=name, definition=node.node_definition.lower(), index=len(built.topo.routers),
                         role=facts.role, config=config, interfaces=interfaces)  # type: ignore[arg-type]
    built.topo.routers.append(router)
    if layout is not None and (switchports or layout.svis):
        _add_switch(built, node, router, switchports, layout.svis)


def _add_switch(built: _Built, node: CmlNode, router: WiredRouter, ports: list[tuple[str, WiredInterface]],
                svis: list[int]) -> None:
    """An L2 image's switchports as a bridge `<Name>-sw`, its SVIs linked to that bridge."""
    bridge = built.names.claim(f"{router.name}-sw")
    interfaces = [port for _, port in ports]
    for itf_id, port in ports:
        built.endpoints[(node.id, itf_id)] = Endpoint(node=bridge, interface=port.linux_name)
    for vlan in svis:
        ios = f"Vlan{vlan}"
        linux = router_linux_name(ios)
        router.interfaces.append(WiredInterface(label=ios, slot=-1, ios_name=ios, linux_name=linux))
        interfaces.append(WiredInterface(label=ios, slot=-1, ios_name=ios, linux_name=linux))
        built.topo.links.append(WiredLink(id=f"{router.name}-{linux}", a=Endpoint(node=router.name, interface=linux),
                                          b=Endpoint(node=bridge, interface=linux)))
    built.topo.bridges.append(WiredBridge(name=bridge, definition=router.definition, interfaces=interfaces))
    ports_text = ", ".join(port.ios_name for _, port in ports) or "none"
    built.topo.notes.append(f"router {router.name} ({router.definition}): its switchports ({ports_text}) and SVIs "
                            f"join the bridge {bridge}; VLANs are not separated (this kernel filters no VLANs on "
                            "bridges): they are one L2 segment")


def _add_host(built: _Built, node: CmlNode, name: str) -> None:
    taken: set[str] = set()
    interfaces = []
    for k, itf in enumerate(node.interfaces):
        if itf.type != "physical":
            built.endpoints[(node.id, itf.id)] = None
            continue
        slot = itf.slot if itf.slot is not None else k
        linux = plain_linux_name(itf.label, slot, "eth", taken)
        interfaces.append(WiredInterface(label=itf.label or linux, slot=slot, ios_name=itf.label or linux,
                                         linux_name=linux))
        built.endpoints[(node.id, itf.id)] = Endpoint(node=name, interface=linux)
    files = [(f.name, f.content) for f in node.configuration]
    net = host_network(files, [i.linux_name for i in interfaces], name)
    built.topo.notes.extend(net.notes)
    built.topo.hosts.append(WiredHost(name=name, definition=node.node_definition.lower(), interfaces=interfaces,
                                      addresses=net.addresses, gateway=net.gateway, dhcp=net.dhcp,
                                      routes=net.routes))


def _add_link(built: _Built, lab: CmlFile, j: int, link: CmlLink, used: dict[tuple[str, str], str]) -> None:
    where = ("links", j)
    if any(link.id == other.id for other in lab.links[:j]):
        raise LabProblem(where + ("id",), f"expected a link id no other link has, got {show(link.id)}",
                         f"link {show(link.id)}")
    ends = []
    for n_key, i_key in (("n1", "i1"), ("n2", "i2")):
        node_id, itf_id = getattr(link, n_key), getattr(link, i_key)
        ends.append(_end(built, lab, j, link, n_key, i_key, node_id, itf_id, used))
    skipped = [built.skipped[getattr(link, k)] for k in ("n1", "n2") if getattr(link, k) in built.skipped]
    if skipped:
        built.topo.notes.append(f"link {show(link.id)}: dropped, it joins the skipped node {show(skipped[0])}")
        return
    a, b = ends
    assert a is not None and b is not None
    built.topo.links.append(WiredLink(id=link.id, a=a, b=b, conditioning=_conditioning(built, link)))


def _end(built: _Built, lab: CmlFile, j: int, link: CmlLink, n_key: str, i_key: str, node_id: str, itf_id: str,
         used: dict[tuple[str, str], str]) -> Endpoint | None:
    who = f"link {show(link.id)}"
    if node_id not in built.node_index:
        raise LabProblem(("links", j, n_key), f"expected the id of a node of this lab, got {show(node_id)}", who)
    node = lab.nodes[built.node_index[node_id]]
    who = f"link {show(link.id)} to {node_name(node.label, node.id)}"
    if not any(itf.id == itf_id for itf in node.interfaces):
        ids = ", ".join(itf.id for itf in node.interfaces[:8]) or "none"
        raise LabProblem(("links", j, i_key), f"expected the id of an interface of that node ({ids}), "
                         f"got {show(itf_id)}", who)
    if (node_id, itf_id) in used:
        raise LabProblem(("links", j, i_key), f"expected an interface no other link uses, got {show(itf_id)}, "
                         f"which link {show(used[(node_id, itf_id)])} uses", who)
    used[(node_id, itf_id)] = link.id
    if node_id in built.skipped:
        return None
    end = built.endpoints.get((node_id, itf_id))
    if end is None:
        raise LabProblem(("links", j, i_key), f"expected a physical interface, got the loopback {show(itf_id)} "
                         "(loopbacks take no links)", who)
    return end


def _conditioning(built: _Built, link: CmlLink) -> Conditioning | None:
    c = link.conditioning
    if c is None or not c.enabled:
        return None
    extra = sorted(k for k, v in (c.model_extra or {}).items() if v not in (None, 0, 0.0, False))
    if extra:
        built.topo.notes.append(f"link {show(link.id)}: conditioning {', '.join(extra)} "
                                f"{'is' if len(extra) == 1 else 'are'} not applied here (bandwidth, latency, "
                                "jitter and loss are)")
    result = Conditioning(bandwidth_kbps=c.bandwidth or None, delay_ms=c.latency or None,
                          jitter_ms=c.jitter or None, loss_percent=c.loss or None)
    return result if any(v is not None for v in result.model_dump().values()) else None
