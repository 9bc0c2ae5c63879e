"""What the report knows about the lab: nodes, roles, addresses, links.

From `lab.json` when the capture directory has one (written at bring-up by
`dmvpnlab.lab.description`, read here as plain JSON: the report never imports the lab);
otherwise derived from the capture file names (`owner-peer.pcapng`) and the names'
conventions (hub*, spoke*, isp, nat*, h<N>), so the capture directories of older runs
still get a drawing. Addresses a derived lab does not know are learnt from the packets
(`learn_address`), so NHRP messages still land on the right lane.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DESCRIPTION_FILE = "lab.json"
ROUTER_ROLES = ("hub", "spoke", "router")
TUNNEL_PEERS = re.compile(r"^Tunnel\d+$")
HIDDEN_ROLES = ("management",)  # the management switch: SSH to the routers, no DMVPN traffic, not captured


@dataclass
class Node:
    name: str
    role: str  # hub, spoke, router, host, nat, isp, bridge, ?
    addresses: dict[str, str] = field(default_factory=dict)  # interface -> a.b.c.d/n
    tunnel: str | None = None
    nbma: str | None = None
    behind: str | None = None  # the NAT box in front of a router

    @property
    def is_router(self) -> bool:
        return self.role in ROUTER_ROLES


@dataclass
class Link:
    stem: str  # capture file name without its extension
    owner: str
    peer: str


@dataclass
class LabInfo:
    """Nodes and links of a lab, and which node an underlay address belongs to."""

    name: str
    source: str = ""  # topology file, when lab.json says
    description: str = ""
    up_at: float | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    tunnel_captures: list[str] = field(default_factory=list)  # stems of TunnelN captures (inner view)
    from_file: bool = False  # True: read from lab.json; False: derived from file names
    owners: dict[str, str] = field(default_factory=dict)  # address (no prefix) -> node name

    def owner_of(self, address: str) -> str | None:
        return self.owners.get(address)

    def learn_address(self, address: str, node: str) -> None:
        """Remember that `address` is `node`'s (the first claim wins: configured beats learnt)."""
        self.owners.setdefault(address, node)

    def routers(self) -> list[Node]:
        """Routers, hubs first, then by name with numbers in order (spoke2 before spoke10)."""
        return sorted((n for n in self.nodes.values() if n.is_router), key=lambda n: (n.role != "hub", natural(n.name)))


def natural(name: str) -> tuple[Any, ...]:
    """Sort key that orders embedded numbers numerically."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def guess_role(name: str) -> str:
    """The role a node name means in the default naming plan (hub, spokeN, isp, natK, hN)."""
    lower = name.lower()
    if lower.startswith("hub"):
        return "hub"
    if lower.startswith("spoke"):
        return "spoke"
    if lower == "isp":
        return "isp"
    if re.fullmatch(r"nat\d+", lower):
        return "nat"
    if re.fullmatch(r"nat\d+in", lower):
        return "bridge"
    if re.fullmatch(r"h\d+[a-z]?", lower):
        return "host"
    return "?"


def capture_stems(directory: Path) -> list[str]:
    return sorted({p.name.removesuffix(".pcapng").removesuffix(".pcap") for p in directory.glob("*.pcap*")})


def load(directory: Path) -> LabInfo:
    """The lab of a capture directory: lab.json if it is there and readable, else file names."""
    path = directory / DESCRIPTION_FILE
    stems = capture_stems(directory)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return _from_description(data, stems)
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            pass  # a damaged description: the file names still tell most of it
    return _from_stems(directory.name, stems)


def _from_description(data: dict[str, Any], stems: list[str]) -> LabInfo:
    info = LabInfo(name=str(data["lab"]), source=str(data.get("topology", "")),
                   description=str(data.get("description", "")), up_at=data.get("up_at"), from_file=True)
    for item in data["nodes"]:
        if item.get("role") in HIDDEN_ROLES:
            continue
        node = Node(name=item["name"], role=item.get("role") or "?", addresses=dict(item.get("addresses") or {}),
                    tunnel=item.get("tunnel"), nbma=item.get("nbma"), behind=item.get("behind"))
        info.nodes[node.name] = node
    for node in info.nodes.values():  # NBMA first: a router's own address beats a NAT's view of it
        if node.nbma:
            info.learn_address(node.nbma, node.name)
        if node.tunnel:
            info.learn_address(node.tunnel.split("/")[0], node.name)
    for node in info.nodes.values():
        for address in node.addresses.values():
            info.learn_address(address.split("/")[0], node.name)
    known = {item["stem"] for item in data.get("links", [])}
    for item in data.get("links", []):
        _add_link(info, item["stem"], item["owner"], item["peer"])
    for stem in stems:  # captures the description does not list (a wired lab's own names)
        if stem not in known:
            _add_stem(info, stem)
    return info


def _from_stems(name: str, stems: list[str]) -> LabInfo:
    info = LabInfo(name=name)
    for stem in stems:
        _add_stem(info, stem)
    owners = {link.owner for link in info.links}
    # A peer no naming rule knows and that owns no capture is an interface (nat1-inside), not a node.
    strays = {n for n, node in info.nodes.items() if node.role == "?" and n not in owners}
    info.links = [link for link in info.links if link.peer not in strays]
    for name in strays:
        del info.nodes[name]
    return info


def _add_stem(info: LabInfo, stem: str) -> None:
    owner, _, peer = stem.partition("-")
    if not peer:
        return
    _add_link(info, stem, owner, peer)


def _add_link(info: LabInfo, stem: str, owner: str, peer: str) -> None:
    if TUNNEL_PEERS.match(peer):
        info.tunnel_captures.append(stem)
        info.nodes.setdefault(owner, Node(owner, guess_role(owner)))
        return
    for name in (owner, peer):
        if name not in info.nodes:
            info.nodes[name] = Node(name, guess_role(name))
    info.links.append(Link(stem, owner, peer))
