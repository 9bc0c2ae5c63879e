"""The resolved lab model: `Topology` with every router, NAT box, segment and address filled in.

What the Mininet builder, the config renderer, the tables and the demo read; none of them
computes an address, they take it from here. Built only by `resolve` (from spec objects),
never by hand from an input format. Imports pydantic and `dmvpnlab.lab.management` (the
management network's plan).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from dmvpnlab.lab import management as mgmt_plan

ISP_NAME = "isp"
WAN_IOS_NAME = "GigabitEthernet0/0"
LAN_IOS_NAME = "GigabitEthernet0/1"


class Host(BaseModel):
    """A LAN host: a namespace with one interface and a default route to its router."""

    name: str
    address: IPv4Interface
    gateway: IPv4Address


class Lan(BaseModel):
    """A router's LAN interface and the hosts behind it."""

    ios_name: str = LAN_IOS_NAME
    network: IPv4Network
    router_address: IPv4Interface
    hosts: list[Host] = Field(default_factory=list)


class Wan(BaseModel):
    """A router's underlay link: to the ISP, to a NAT box, or onto a shared segment."""

    ios_name: str = WAN_IOS_NAME
    address: IPv4Interface
    gateway: IPv4Address
    peer: str  # 'isp', a NAT box name or a segment name


class NatBox(BaseModel):
    """A masquerading box between the routers inside it and the ISP (outside).

    One router: a /30 veth straight to the router, as it always was. Several (a NAT
    fleet): the inside is a bridge, `inside_bridge`, with every router and the box on it,
    as when branch offices share one CPE: they all leave through one public address."""

    name: str
    index: int
    inside: IPv4Interface
    outside: IPv4Interface
    isp_address: IPv4Interface  # the ISP's end of the outside link
    routers: list[str]  # the routers behind it, lowest index first

    @property
    def router(self) -> str:
        """The (first) router behind it: the one whose public /30 the box takes by default."""
        return self.routers[0]

    @property
    def inside_bridge(self) -> str | None:
        """The bridge of a fleet's inside segment (`<box>in`); None for a one-router box."""
        return f"{self.name}in" if len(self.routers) > 1 else None


class Segment(BaseModel):
    """A shared L2 bridge: members' WANs on one subnet, the ISP attached too."""

    name: str
    network: IPv4Network
    members: list[str]
    isp_address: IPv4Interface


class Router(BaseModel):
    """A DMVPN router (hub or spoke) with every address resolved."""

    name: str
    role: Literal["hub", "spoke"]
    index: int
    tunnel_address: IPv4Interface
    wan: Wan
    lan: Lan | None = None
    nat: str | None = None
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)

    @property
    def nbma_address(self) -> IPv4Address:
        """The WAN address as configured on the router (before any NAT)."""
        return self.wan.address.ip

    @property
    def is_hub(self) -> bool:
        return self.role == "hub"


class Management(BaseModel):
    """The management network (see `dmvpnlab.lab.management`): SSH to routers from this machine."""

    network: IPv4Network
    username: str = mgmt_plan.DEFAULT_USERNAME
    password: str = Field(default=mgmt_plan.DEFAULT_PASSWORD, repr=False)
    port: int = mgmt_plan.DEFAULT_PORT
    explicit: bool = False  # given in the file: used as is, never moved at bring-up

    @property
    def root_address(self) -> IPv4Interface:
        return mgmt_plan.root_address(self.network)

    def address(self, router: "Router") -> IPv4Interface:
        return mgmt_plan.router_address(self.network, router.index)


class Topology(BaseModel):
    """A whole lab: routers, NAT boxes, segments and the implicit ISP router `isp`."""

    name: str
    description: str = ""
    source: Path
    nodes_dir: Path  # the topology's own template directory (the first of template_dirs)
    template_dirs: tuple[Path, ...] = ()  # lookup order: its own nodes/, then the package's
    tunnel_network: IPv4Network
    routers: list[Router]
    nat_boxes: list[NatBox] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    management: Management | None = None

    _by_name: dict[str, Router] = PrivateAttr(default_factory=dict)

    def router(self, name: str) -> Router:
        """The router called `name`; KeyError if there is none."""
        if not self._by_name:
            self._by_name = {r.name: r for r in self.routers}
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no router {name!r} in topology {self.name!r}") from None

    def nat_box(self, name: str) -> NatBox:
        for box in self.nat_boxes:
            if box.name == name:
                return box
        raise KeyError(f"no NAT box {name!r} in topology {self.name!r}")

    def segment(self, name: str) -> Segment:
        for seg in self.segments:
            if seg.name == name:
                return seg
        raise KeyError(f"no segment {name!r} in topology {self.name!r}")

    @property
    def hubs(self) -> list[Router]:
        return [r for r in self.routers if r.role == "hub"]

    @property
    def hub(self) -> Router:
        """The first hub (hierarchical labs may have more)."""
        return self.hubs[0]

    @property
    def spokes(self) -> list[Router]:
        return [r for r in self.routers if r.role == "spoke"]

    @property
    def managed_routers(self) -> list[Router]:
        """Routers on the management network: those that run an agent (have a template)."""
        return [r for r in self.routers if r.template] if self.management is not None else []

    def management_address(self, name: str) -> IPv4Interface | None:
        """A router's management address, None if it has none (no template, or no network)."""
        router = self.router(name)
        if self.management is None or not router.template:
            return None
        return self.management.address(router)

    @property
    def hosts(self) -> list[Host]:
        return [h for r in self.routers if r.lan for h in r.lan.hosts]

    def isp_interfaces(self) -> list[tuple[str, IPv4Interface]]:
        """(peer, ISP-side address) for every link the ISP router has.

        Peer is a router name (direct /30), a NAT box name (its outside /30) or a segment
        name (the ISP's port on the bridge). The builder and the captures use this so the
        ISP's addresses are defined here and nowhere else.
        """
        out: list[tuple[str, IPv4Interface]] = []
        for r in self.routers:
            if r.wan.peer == ISP_NAME:
                out.append((r.name, IPv4Interface(f"{r.wan.gateway}/{r.wan.address.network.prefixlen}")))
        out.extend((box.name, box.isp_address) for box in self.nat_boxes)
        out.extend((seg.name, seg.isp_address) for seg in self.segments)
        return out

    def to_summary(self) -> list[dict[str, str]]:
        """One row per router for the node table: name, role, nbma, tunnel, lan, hosts."""
        rows = []
        for r in self.routers:
            nbma = str(r.nbma_address)
            if r.nat:
                nbma += f" (via {r.nat} {self.nat_box(r.nat).outside.ip})"
            rows.append(
                {
                    "name": r.name,
                    "role": r.role,
                    "nbma": nbma,
                    "tunnel": str(r.tunnel_address),
                    "lan": str(r.lan.network) if r.lan else "-",
                    "hosts": ", ".join(h.name for h in r.lan.hosts) if r.lan else "",
                }
            )
        return rows
