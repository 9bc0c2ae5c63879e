"""The router's non-tunnel interfaces from its IOS config: addresses, shutdown, MTU, loopbacks.

Why a module of its own: in a wired (CML) lab the lab gives a router no addresses at all,
its IOS config is the whole router, so every `interface` section must reach the kernel:
primary and secondary addresses, `shutdown` (link down: the kernel drops the connected
routes, as IOS does), `mtu` (the link MTU) and `ip mtu`, and Loopbacks, whose addresses
all live on Linux `lo` (this kernel has no dummy interfaces, several loopbacks share it).
`bandwidth` and `delay` are model only: OSPF and EIGRP read them from the config.

Ownership rule: the agent removes only addresses it added itself (tracked in `added`),
never the management address or what the lab or a DHCP client (`ip address dhcp`, owned
by l2's client) put there. An address that was already present when the config asked for
it is left alone both ways. An interface the config names that does not exist in the
namespace is warned about once and listed in `not_applied`.

Why `ip mtu` sets the link MTU too: Linux has one MTU per device. When `ip mtu` is below the
link MTU it becomes the kernel MTU, so the router sends no larger IP packet (IOS's
meaning); the price is that a veth then also drops received frames above it, which IOS
would take.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any

from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.ifnames import InterfaceNameError, linux_ifname
from dmvpnlab.agent.netns_guard import set_router_sysctl

log = logging.getLogger("dmvpnlab.agent")

LOOPBACK_LINUX = "lo"


def is_loopback(itf: Interface) -> bool:
    return itf.name.startswith("Loopback")


def configured_addresses(itf: Interface) -> list[IPv4Interface]:
    """Primary first (Linux makes the first address of a subnet the primary), then secondaries."""
    if itf.dhcp or itf.address is None and not itf.secondary_addresses:
        return []
    primary = [itf.address] if itf.address is not None else []
    return primary + [a for a in itf.secondary_addresses if a not in primary]


@dataclass
class InterfacesNode:
    """What the agent did to the namespace's interfaces, so the next apply can undo it."""

    node: str
    kernel: Any  # routing.kernel.Kernel (or a test double with the same methods)
    added: set[tuple[str, IPv4Interface]] = field(default_factory=set)
    original_mtu: dict[str, int] = field(default_factory=dict)
    not_applied: list[str] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)
    _sysctls_done: bool = False

    def resolve(self, itf: Interface) -> str | None:
        """The Linux name of `itf` if that interface exists here, else None (noted once)."""
        try:
            ifname = linux_ifname(self.node, itf.name)
        except InterfaceNameError as error:
            self._missing(itf, str(error))
            return None
        if self.kernel.ifindex(ifname) is None:
            self._missing(itf, f"no interface {ifname} in this namespace")
            return None
        return ifname

    def _missing(self, itf: Interface, why: str) -> None:
        self.not_applied.append(f"interface {itf.name}: not applied ({why})")
        if itf.name not in self._warned:
            self._warned.add(itf.name)
            log.warning("interface %s: not applied (%s)", itf.name, why)

    def apply(self, config: RouterConfig) -> None:
        """Make the kernel's addresses, link states and MTUs match the config's interfaces."""
        if not self._sysctls_done:
            # Removing a primary must keep the secondaries (IOS has no such cascade).
            set_router_sysctl("net/ipv4/conf/all/promote_secondaries", "1")
            set_router_sysctl("net/ipv4/conf/default/promote_secondaries", "1")
            # A route over an interface whose carrier is gone is ignored, so a floating
            # static takes over as on IOS (an admin-down link loses its routes anyway).
            set_router_sysctl("net/ipv4/conf/all/ignore_routes_with_linkdown", "1")
            self._sysctls_done = True
        self.not_applied = []
        wanted: dict[str, list[IPv4Interface]] = {}
        for itf in config.interfaces:
            if itf.is_tunnel:
                continue
            ifname = self.resolve(itf)
            if ifname is None:
                continue
            if is_loopback(itf) or ifname == LOOPBACK_LINUX:
                if itf.shutdown:  # `lo` stays up for the others: a shut loopback loses its addresses
                    continue
            else:
                self._link(itf, ifname)
            addresses = wanted.setdefault(ifname, [])
            addresses.extend(a for a in configured_addresses(itf) if a not in addresses)
        self._remove_stale(wanted)
        for ifname, addresses in wanted.items():
            self._add(ifname, addresses)

    def addresses(self, config: RouterConfig, name: str) -> list[IPv4Interface]:
        """The addresses IOS interface `name` has in the kernel now, primary first.

        Why not `kernel.addresses(linux_ifname(...))`: every Loopback shares `lo`, whose
        first address is 127.0.0.1; a Loopback's own are the configured ones present on
        `lo` (`tunnel source Loopback0` needs exactly that)."""
        itf = config.interface(name)
        if itf is None:  # no section in the config: whatever the lab put on the link
            try:
                return self.kernel.addresses(linux_ifname(self.node, name))
            except InterfaceNameError:
                return []
        ifname = self.resolve(itf)
        if ifname is None:
            return []
        present = self.kernel.addresses(ifname)
        if is_loopback(itf) or ifname == LOOPBACK_LINUX:
            return [a for a in configured_addresses(itf) if a in present] if not itf.shutdown else []
        return present

    def _link(self, itf: Interface, ifname: str) -> None:
        try:
            self._mtu(itf, ifname)
            self.kernel.set_link(ifname, not itf.shutdown)
        except Exception as error:  # netlink refused (an MTU the driver cannot take...)
            self.not_applied.append(f"interface {itf.name}: link settings not applied ({error})")
            log.warning("interface %s (%s): link settings not applied: %s", itf.name, ifname, error)

    def _mtu(self, itf: Interface, ifname: str) -> None:
        if itf.mtu is None and itf.ip_mtu is None and ifname not in self.original_mtu:
            return  # never touched: leave the lab's MTU
        current = self.kernel.link_mtu(ifname)
        if current is None:
            return
        base = self.original_mtu.setdefault(ifname, current)
        target = itf.mtu if itf.mtu is not None else base
        if itf.ip_mtu is not None and itf.ip_mtu < target:
            target = itf.ip_mtu
        if target != current:
            self.kernel.set_mtu(ifname, target)
        if itf.mtu is None and itf.ip_mtu is None:
            del self.original_mtu[ifname]  # back to what it was: no longer ours

    def _remove_stale(self, wanted: dict[str, list[IPv4Interface]]) -> None:
        for ifname, address in sorted(self.added, key=str):
            if address in wanted.get(ifname, []):
                continue
            try:
                self.kernel.remove_address(ifname, address)
            except Exception as error:
                log.warning("%s %s: could not remove: %s", ifname, address, error)
            self.added.discard((ifname, address))

    def _add(self, ifname: str, addresses: list[IPv4Interface]) -> None:
        try:
            present = set(self.kernel.addresses(ifname))
        except Exception as error:
            log.warning("%s: addresses unreadable: %s", ifname, error)
            return
        for address in addresses:
            if address in present:
                continue
            try:
                self.kernel.ensure_address(ifname, address)
            except Exception as error:  # an address clash with another interface...
                self.not_applied.append(f"ip address {address.ip} {address.netmask} on {ifname}: not applied ({error})")
                log.warning("ip address %s on %s: not applied: %s", address, ifname, error)
                continue
            self.added.add((ifname, address))
