"""What a wired router's IOS config says that the lab shows or needs before its agent runs.

The lab gives a wired router no address (its agent applies the whole config), but the
node table wants its NBMA address (the tunnel source's address), its tunnels and its
LANs, the management network must avoid every network the configs use, and the tunnel
captures need the tunnel interface names. All of that is read here from the config text
with the project's own parser (`dmvpnlab.config.parser`), once per router, never raising:
a config the parser refuses still gets a row (its agent then reports the lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.config.parser import parse_config
from dmvpnlab.lab.wired.model import WiredRouter


@dataclass
class TunnelFacts:
    name: str  # IOS name, e.g. Tunnel0 (also its Linux name: the agent's TAP)
    address: IPv4Interface | None
    source: str | None  # the IOS interface or address the config names
    nbma: IPv4Address | None  # the source's address when the config gives it
    network_id: int | None = None


@dataclass
class RouterFacts:
    """A router's config, read: its interfaces' addresses, tunnels, loopbacks."""

    hostname: str = ""
    addresses: dict[str, list[IPv4Interface]] = field(default_factory=dict)  # IOS name -> addresses
    dhcp: list[str] = field(default_factory=list)  # IOS names with `ip address dhcp`
    tunnels: list[TunnelFacts] = field(default_factory=list)
    errors: int = 0

    @property
    def nbma(self) -> IPv4Address | None:
        """The first tunnel's NBMA address (the router's address on the underlay)."""
        return next((t.nbma for t in self.tunnels if t.nbma is not None), None)

    @property
    def tunnel_sources(self) -> set[str]:
        return {t.source for t in self.tunnels if t.source}

    def loopbacks(self) -> list[IPv4Interface]:
        return [a for name, addrs in self.addresses.items() if name.startswith("Loopback") for a in addrs]

    def lan_addresses(self) -> list[tuple[str, IPv4Interface]]:
        """Addresses of the interfaces that are neither tunnels nor a tunnel's source."""
        skip = self.tunnel_sources
        return [(name, a) for name, addrs in self.addresses.items()
                if not name.startswith("Tunnel") and name not in skip for a in addrs]

    def networks(self) -> list[IPv4Network]:
        return [a.network for addrs in self.addresses.values() for a in addrs]


def router_facts(router: WiredRouter) -> RouterFacts:
    """Parse `router.config` (never raises; a refused line only counts in `errors`)."""
    try:
        result = parse_config(router.config, source=f"{router.name} startup-config")
    except Exception:  # the agent will report the config; the table must still come up
        return RouterFacts(hostname=router.name, errors=1)
    config = result.config
    facts = RouterFacts(hostname=config.hostname, errors=len(result.errors))
    for itf in config.interfaces:
        addrs = ([itf.address] if itf.address is not None else []) + list(itf.secondary_addresses)
        if addrs:
            facts.addresses[itf.name] = addrs
        if getattr(itf, "dhcp", False):
            facts.dhcp.append(itf.name)
    for itf in config.tunnels:
        source = itf.tunnel_source
        if isinstance(source, IPv4Address):
            nbma: IPv4Address | None = source
            source_name: str | None = None
        else:
            source_name = source
            own = facts.addresses.get(source) if source else None
            nbma = own[0].ip if own else None
        facts.tunnels.append(TunnelFacts(itf.name, itf.address, source_name or (str(source) if source else None),
                                         nbma, itf.nhrp.network_id))
    return facts
