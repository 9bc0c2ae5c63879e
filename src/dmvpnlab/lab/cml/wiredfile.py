"""dmvpnlab's own wired lab format: what `dmvpnlab import -o OUT.yaml` writes and `up` reads back.

A converted CML lab, kept as a file a user edits (configs as plain `.cfg` files next to
it) rather than re-importing the CML export each time::

    format: dmvpnlab-wired/1
    name: phase3
    nodes:                              # in this order (router order = management addresses)
      Hub:
        kind: router                    # router | host | bridge
        definition: iosv
        config: phase3/Hub.cfg          # relative to this file (or `config_text: |` inline)
        interfaces:
        - {label: GigabitEthernet0/0, slot: 0, ios: GigabitEthernet0/0, linux: Gi0-0}
      PC1:
        kind: host
        definition: ubuntu
        interfaces: [{label: ens2, slot: 0, ios: ens2, linux: ens2}]
        addresses: {ens2: [10.1.0.10/24]}
        gateway: 10.1.0.1
        routes: [{to: 10.9.0.0/16, via: 10.1.0.254}]
        dhcp: []
    links:
    - {id: l0, a: 'Hub:Gi0-0', b: 'SW:port0', conditioning: {bandwidth_kbps: 2000, delay_ms: 20}}
    management: {network: 172.31.255.0/24, username: admin, password: admin, port: 22}   # optional
    notes: [...]                        # the import's notes, printed at `up`

A router's role is read from its config when the file is loaded (so editing a config
changes it), and so is the note on lines the config keeps but does not apply. Problems are
`LabFileError`s naming the node and the field, as for CML files. Imports PyYAML, pydantic,
the wired model and this package's modules.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dmvpnlab.lab import management as mgmt_plan
from dmvpnlab.lab.cml.errors import LabFileError, LabProblem, node_name, problem_error, show
from dmvpnlab.lab.cml.names import MAX_NODE_NAME, usable_node_name
from dmvpnlab.lab.cml.routers import IGNORED_NOTE, ignored_note, router_facts
from dmvpnlab.lab.cml.schema import describe
from dmvpnlab.lab.cml.source import MAX_CONFIG_FILE_CHARS, parse_yaml, read_text
from dmvpnlab.lab.topology.build import display_name
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

WIRED_FORMAT = "dmvpnlab-wired/1"
_LINUX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_LAB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FileInterface(_Strict):
    label: str
    slot: int
    ios: str
    linux: str

    @field_validator("linux")
    @classmethod
    def _linux(cls, value: str) -> str:
        if not _LINUX.fullmatch(value) or value == "lo":
            raise ValueError(f"expected a Linux interface name (1-15 of letters, digits, '_', '.', '-'; not 'lo'), "
                             f"got {show(value)}")
        return value


class FileRoute(_Strict):
    to: str
    via: str


class FileNode(_Strict):
    kind: Literal["router", "host", "bridge"]
    definition: str
    config: str | None = None
    config_text: str | None = None
    interfaces: list[FileInterface] = Field(default_factory=list)
    addresses: dict[str, list[str]] = Field(default_factory=dict)
    gateway: str | None = None
    routes: list[FileRoute] = Field(default_factory=list)
    dhcp: list[str] = Field(default_factory=list)


class FileConditioning(_Strict):
    bandwidth_kbps: int | None = Field(default=None, ge=1, le=10_000_000)
    delay_ms: float | None = Field(default=None, ge=0, le=10_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=10_000)
    loss_percent: float | None = Field(default=None, ge=0, le=100)


class FileLink(_Strict):
    id: str
    a: str
    b: str
    conditioning: FileConditioning | None = None


class FileManagement(_Strict):
    network: str
    username: str = "admin"
    password: str = "admin"
    port: int = Field(default=22, ge=1, le=65535)


class WiredFile(_Strict):
    format: str
    name: str
    description: str = ""
    imported_from: str | None = None
    nodes: dict[str, FileNode]
    links: list[FileLink] = Field(default_factory=list)
    management: FileManagement | None = None
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ dump


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line ({label: ..., slot: ...})."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def dump_wired(topo: WiredTopology, out: str | Path, tick: Callable[[], None] = lambda: None) -> list[Path]:
    """Write `topo` as OUT.yaml plus OUT's stem directory of `<Node>.cfg` files; the paths
    written. `tick()` after each file (routers' configs, then the lab file), for a progress bar."""
    out = Path(out)
    config_dir = out.parent / out.stem
    written: list[Path] = []
    nodes: dict[str, Any] = {}
    for r in topo.routers:
        config_dir.mkdir(parents=True, exist_ok=True)
        cfg = config_dir / f"{r.name}.cfg"
        cfg.write_text(r.config)  # exactly as the lab file has it (round trip)
        written.append(cfg)
        tick()
        nodes[r.name] = {"kind": "router", "definition": r.definition, "config": f"{out.stem}/{r.name}.cfg",
                         "interfaces": _interfaces(r.interfaces)}
    for h in topo.hosts:
        nodes[h.name] = {"kind": "host", "definition": h.definition, "interfaces": _interfaces(h.interfaces),
                         "addresses": _Flow({k: [str(a) for a in v] for k, v in h.addresses.items()}),
                         "gateway": str(h.gateway) if h.gateway else None,
                         "routes": [_Flow(to=str(n), via=str(v)) for n, v in h.routes], "dhcp": list(h.dhcp)}
    for b in topo.bridges:
        nodes[b.name] = {"kind": "bridge", "definition": b.definition, "interfaces": _interfaces(b.interfaces)}
    links = []
    for link in topo.links:
        entry = _Flow(id=link.id, a=f"{link.a.node}:{link.a.interface}", b=f"{link.b.node}:{link.b.interface}")
        if link.conditioning:
            entry["conditioning"] = _Flow({k: v for k, v in link.conditioning.model_dump().items() if v is not None})
        links.append(entry)
    data: dict[str, Any] = {"format": WIRED_FORMAT, "name": topo.name, "description": topo.description,
                            "imported_from": f"{topo.format}: {topo.source}", "nodes": nodes, "links": links}
    if topo.management and topo.management.explicit:  # else the default plan, as when it was imported
        m = topo.management
        data["management"] = _Flow(network=str(m.network), username=m.username, password=m.password, port=m.port)
    data["notes"] = [n for n in topo.notes if not IGNORED_NOTE.match(n)]
    header = (f"# A wired dmvpnlab lab (`dmvpnlab up {out.name}`), written by `dmvpnlab import` from "
              f"{topo.source}.\n# Router configs are the .cfg files in {out.stem}/; edit them and this file freely.\n")
    out.write_text(header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120))
    written.insert(0, out)
    tick()
    return written


def _interfaces(interfaces: list[WiredInterface]) -> list[_Flow]:
    return [_Flow(label=i.label, slot=i.slot, ios=i.ios_name, linux=i.linux_name) for i in interfaces]


# ------------------------------------------------------------------ load


def load_wired(path: str | Path) -> WiredTopology:
    path = Path(path)
    file = display_name(path)
    return load_wired_text(read_text(path, file), path, file)


def load_wired_text(text: str, path: Path, file: str) -> WiredTopology:
    """The wired lab a wired-format file describes; LabFileError naming the node and field."""
    data, lines = parse_yaml(text, file)
    try:
        spec = _validate(data)
        return _topology(spec, path, file)
    except LabProblem as p:
        raise problem_error(file, p, lines) from None


def _validate(data: Any) -> WiredFile:
    if not isinstance(data, dict):
        raise LabProblem((), f"expected a wired lab (a mapping with format, name, nodes, links), got {show(data)}")
    if data.get("format") != WIRED_FORMAT:
        raise LabProblem(("format",), f"expected {WIRED_FORMAT!r}, got {show(data.get('format'))}")
    try:
        return WiredFile.model_validate(data)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        message = describe(first)
        if first["type"] == "extra_forbidden":
            message = f"expected none of this field (unknown here), got {show(loc[-1])}"
        who = node_name(loc[1], None) if len(loc) > 1 and loc[0] == "nodes" and isinstance(loc[1], str) else ""
        raise LabProblem(loc, message, who) from None


def _topology(spec: WiredFile, path: Path, file: str) -> WiredTopology:
    if not _LAB_NAME.fullmatch(spec.name):
        raise LabProblem(("name",), "expected a lab name of letters, digits, '.', '_' and '-', at most 64 "
                         f"characters (it names captures/<name>/), got {show(spec.name)}")
    topo = WiredTopology(name=spec.name, description=spec.description, source=path, format="dmvpnlab-wired 1",
                         notes=list(spec.notes))
    seen: dict[str, str] = {}
    interfaces: dict[str, set[str]] = {}
    for name, node in spec.nodes.items():
        who = node_name(name, None)
        if not usable_node_name(name):
            raise LabProblem(("nodes", name), "expected a node name of letters, digits, '_' and '-', starting with a "
                             f"letter, at most {MAX_NODE_NAME} characters, got {show(name)}", who)
        if name.lower() in seen:
            raise LabProblem(("nodes", name), f"expected a name no other node has in any case, got {show(name)}, "
                             f"like {show(seen[name.lower()])}", who)
        seen[name.lower()] = name
        wired = _node_interfaces(name, node)
        interfaces[name] = {i.linux_name for i in wired}
        if node.kind == "router":
            topo.routers.append(_router(name, node, wired, path, topo))
        elif node.kind == "host":
            topo.hosts.append(_host(name, node, wired))
        else:
            topo.bridges.append(WiredBridge(name=name, definition=node.definition, interfaces=wired))
    _links(spec, topo, interfaces)
    if spec.management:
        m = spec.management
        try:
            network = IPv4Network(m.network)
        except ValueError:
            raise LabProblem(("management", "network"), f"expected an IPv4 network such as 172.31.255.0/24, "
                             f"got {show(m.network)}") from None
        topo.management = WiredManagement(network=network, username=m.username, password=m.password,
                                          port=m.port, explicit=True)
    else:
        topo.management = WiredManagement(network=mgmt_plan.DEFAULT_NETWORK)
    return topo


def _node_interfaces(name: str, node: FileNode) -> list[WiredInterface]:
    out: list[WiredInterface] = []
    for k, itf in enumerate(node.interfaces):
        for attr, value in (("linux", itf.linux), ("ios", itf.ios)):
            if any(getattr(o, "linux_name" if attr == "linux" else "ios_name") == value for o in out):
                raise LabProblem(("nodes", name, "interfaces", k, attr), f"expected an interface name no other "
                                 f"interface of the node has, got {show(value)}", node_name(name, None))
        out.append(WiredInterface(label=itf.label, slot=itf.slot, ios_name=itf.ios, linux_name=itf.linux))
    return out


def _router(name: str, node: FileNode, interfaces: list[WiredInterface], path: Path,
            topo: WiredTopology) -> WiredRouter:
    who = node_name(name, None)
    if node.config is not None and node.config_text is not None:
        raise LabProblem(("nodes", name, "config_text"), "expected either `config` (a file) or `config_text`, "
                         "got both", who)
    config = node.config_text or ""
    if node.config is not None:
        cfg = Path(node.config) if Path(node.config).is_absolute() else path.parent / node.config
        try:
            config = read_text(cfg, display_name(cfg), MAX_CONFIG_FILE_CHARS, what="router config file")
        except LabFileError as e:
            raise LabProblem(("nodes", name, "config"), f"expected a readable config file, got {show(node.config)}: "
                             f"{e.message}", who) from None
    facts = router_facts(config)
    if facts.errors:
        more = f" (and {len(facts.errors) - 1} more)" if len(facts.errors) > 1 else ""
        raise LabProblem(("nodes", name, "config"), "expected an IOS config whose supported lines are well formed, "
                         f"got {facts.errors[0]}{more}", who)
    note = ignored_note(name, facts)
    if note:
        topo.notes.append(note)
    return WiredRouter(name=name, definition=node.definition, index=len(topo.routers), role=facts.role,  # type: ignore[arg-type]
                       config=config, interfaces=interfaces)


def _host(name: str, node: FileNode, interfaces: list[WiredInterface]) -> WiredHost:
    who = node_name(name, None)
    linux = {i.linux_name for i in interfaces}
    addresses: dict[str, list[IPv4Interface]] = {}
    for dev, values in node.addresses.items():
        if dev not in linux:
            raise LabProblem(("nodes", name, "addresses", dev), f"expected one of the host's interfaces "
                             f"({', '.join(sorted(linux)) or 'none'}), got {show(dev)}", who)
        addresses[dev] = [_parse(IPv4Interface, v, ("nodes", name, "addresses", dev, k), "an IPv4 address/prefix",
                                 who) for k, v in enumerate(values)]
    for k, dev in enumerate(node.dhcp):
        if dev not in linux:
            raise LabProblem(("nodes", name, "dhcp", k), f"expected one of the host's interfaces, got {show(dev)}", who)
    gateway = _parse(IPv4Address, node.gateway, ("nodes", name, "gateway"), "an IPv4 address", who) \
        if node.gateway else None
    routes = [(_parse(IPv4Network, r.to, ("nodes", name, "routes", k, "to"), "an IPv4 network", who),
               _parse(IPv4Address, r.via, ("nodes", name, "routes", k, "via"), "an IPv4 address", who))
              for k, r in enumerate(node.routes)]
    return WiredHost(name=name, definition=node.definition, interfaces=interfaces, addresses=addresses,
                     gateway=gateway, dhcp=list(node.dhcp), routes=routes)


def _parse(kind: Any, value: Any, where: tuple[Any, ...], what: str, who: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise LabProblem(where, f"expected {what}, got {show(value)}", who) from None


def _links(spec: WiredFile, topo: WiredTopology, interfaces: dict[str, set[str]]) -> None:
    used: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for j, link in enumerate(spec.links):
        who = f"link {show(link.id)}"
        if link.id in ids:
            raise LabProblem(("links", j, "id"), f"expected a link id no other link has, got {show(link.id)}", who)
        ids.add(link.id)
        ends = []
        for side in ("a", "b"):
            text = getattr(link, side)
            node, _, itf = text.partition(":")
            if node not in interfaces or itf not in interfaces[node]:
                known = ", ".join(sorted(interfaces.get(node, ()))) if node in interfaces else None
                expected = f"one of {node}'s interfaces ({known or 'none'})" if known is not None else \
                    "'NODE:INTERFACE' naming a node of this lab and its Linux interface name"
                raise LabProblem(("links", j, side), f"expected {expected}, got {show(text)}", who)
            if (node, itf) in used:
                raise LabProblem(("links", j, side), f"expected an interface no other link uses, got {show(text)}, "
                                 f"which link {show(used[(node, itf)])} uses", who)
            used[(node, itf)] = link.id
            ends.append(Endpoint(node=node, interface=itf))
        c = link.conditioning
        topo.links.append(WiredLink(id=link.id, a=ends[0], b=ends[1],
                                    conditioning=Conditioning(**c.model_dump()) if c else None))
