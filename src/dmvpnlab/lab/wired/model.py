"""The resolved wired lab: every node, interface, link and config as the lab file gives them.

Built by the importers (`dmvpnlab.lab.cml`) and by the wired-format loader, read by the
wired builder, the agent launcher, the node table and the captures. Nothing here computes
an address from a role: routers' addresses are in their IOS configs, hosts' in the file
(or their cloud-init), links join named interfaces. Imports pydantic and
`dmvpnlab.lab.management` only.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from dmvpnlab.lab import management as mgmt_plan


class WiredInterface(BaseModel):
    """One interface of a node: the file's label, its slot, the IOS name and the Linux name.

    `linux_name` is what the interface is called inside the node's namespace (at most 15
    bytes, no '/'; see `dmvpnlab.ifnames.wired_linux_name`); captures are named after it.
    """

    label: str
    slot: int
    ios_name: str
    linux_name: str


class Conditioning(BaseModel):
    """CML link conditioning; None fields are not set. Units as CML gives them."""

    bandwidth_kbps: int | None = None
    delay_ms: float | None = None
    jitter_ms: float | None = None
    loss_percent: float | None = None


class Endpoint(BaseModel):
    node: str
    interface: str  # the node's Linux interface name (WiredInterface.linux_name)


class WiredLink(BaseModel):
    """A point-to-point link between two node interfaces (a veth pair)."""

    id: str
    a: Endpoint
    b: Endpoint
    conditioning: Conditioning | None = None


class WiredRouter(BaseModel):
    """A router that runs an agent with its whole IOS config.

    `role` is what its config makes it: "hub" (a tunnel with `ip nhrp map multicast
    dynamic` and no NHS), "spoke" (a tunnel with an NHS) or "router" (no mGRE tunnel:
    an ISP router, a core router). `index` orders routers (management addresses).
    """

    name: str
    definition: str  # the CML node_definition (iosv, csr1000v, iol-xe, iosvl2)
    index: int
    role: Literal["hub", "spoke", "router"]
    config: str  # the whole startup config, as the file gives it
    interfaces: list[WiredInterface] = Field(default_factory=list)

    def interface(self, ios_name: str) -> WiredInterface | None:
        return next((i for i in self.interfaces if i.ios_name == ios_name), None)

    @property
    def interface_map(self) -> dict[str, str]:
        """IOS name -> Linux name: what the agent is given (`--interface-map`)."""
        return {i.ios_name: i.linux_name for i in self.interfaces}


class WiredHost(BaseModel):
    """A Linux host (ubuntu, alpine, desktop, server): addresses from its cloud-init or the file."""

    name: str
    definition: str
    interfaces: list[WiredInterface] = Field(default_factory=list)
    addresses: dict[str, list[IPv4Interface]] = Field(default_factory=dict)  # linux name -> addresses
    gateway: IPv4Address | None = None
    dhcp: list[str] = Field(default_factory=list)  # linux names that ask DHCP for their address
    routes: list[tuple[IPv4Network, IPv4Address]] = Field(default_factory=list)


class WiredBridge(BaseModel):
    """An L2 switch (unmanaged_switch, an iosvl2's switchports): a Linux bridge in its own namespace."""

    name: str
    definition: str
    interfaces: list[WiredInterface] = Field(default_factory=list)


class WiredManagement(BaseModel):
    """The management network, as in native labs (SSH from this machine to every router)."""

    network: IPv4Network
    username: str = mgmt_plan.DEFAULT_USERNAME
    password: str = Field(default=mgmt_plan.DEFAULT_PASSWORD, repr=False)
    port: int = mgmt_plan.DEFAULT_PORT
    explicit: bool = False

    @property
    def root_address(self) -> IPv4Interface:
        return mgmt_plan.root_address(self.network)

    def address(self, router: WiredRouter) -> IPv4Interface:
        return mgmt_plan.router_address(self.network, router.index)


class WiredTopology(BaseModel):
    """A whole wired lab. `notes` are the importer's lines for the user (skipped nodes,
    conditioning that cannot be applied, sections not running): printed at `up`."""

    name: str
    description: str = ""
    source: Path
    format: str  # "cml 0.3.0", "cml 0.0.5", "virl 1", "dmvpnlab-wired 1"
    routers: list[WiredRouter] = Field(default_factory=list)
    hosts: list[WiredHost] = Field(default_factory=list)
    bridges: list[WiredBridge] = Field(default_factory=list)
    links: list[WiredLink] = Field(default_factory=list)
    management: WiredManagement | None = None
    notes: list[str] = Field(default_factory=list)

    _by_name: dict[str, WiredRouter] = PrivateAttr(default_factory=dict)

    def router(self, name: str) -> WiredRouter:
        """The router called `name`, any case (CML labels keep their case in output)."""
        if not self._by_name:
            self._by_name = {r.name.lower(): r for r in self.routers}
        try:
            return self._by_name[name.lower()]
        except KeyError:
            raise KeyError(f"no router {name!r} in lab {self.name!r}") from None

    def node_names(self) -> list[str]:
        return [n.name for n in (*self.routers, *self.hosts, *self.bridges)]

    def canonical_name(self, name: str) -> str | None:
        """The node's name as the file spells it, for a name typed in any case."""
        return next((n for n in self.node_names() if n.lower() == name.lower()), None)

    @property
    def managed_routers(self) -> list[WiredRouter]:
        """Routers on the management network: every router (each runs an agent)."""
        return list(self.routers) if self.management is not None else []

    def management_address(self, name: str) -> IPv4Interface | None:
        """A router's management address (any case), None if the lab has no management network;
        KeyError if there is no such router (as `Topology.management_address`)."""
        router = self.router(name)
        return self.management.address(router) if self.management is not None else None

    @property
    def hubs(self) -> list[WiredRouter]:
        return [r for r in self.routers if r.role == "hub"]

    @property
    def spokes(self) -> list[WiredRouter]:
        return [r for r in self.routers if r.role == "spoke"]
