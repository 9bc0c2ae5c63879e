"""The routers of a lab: which exist (hub, generated spokes, additions), their role and index, their parts.

`router_entries` decides from the spec which routers there are and what role and plan
index each has; `RouterParts` fills in one router's tunnel address, template, variables,
LAN and WAN from what was written, ``spoke_defaults`` and the address plan (in that
order of precedence). Imports `spec`, `model`, `rules`, `addressing` and `errors`.
"""

from __future__ import annotations

import math
import re
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

from dmvpnlab.lab.topology import addressing
from dmvpnlab.lab.topology.errors import FieldPath, TopologyProblem
from dmvpnlab.lab.topology.model import ISP_NAME, LAN_IOS_NAME, WAN_IOS_NAME, Host, Lan, Segment, Wan
from dmvpnlab.lab.topology.rules import check_host_address, check_name, check_template_name, ethernet_ios_name, interface
from dmvpnlab.lab.topology.spec import HostSpec, RouterSpec, SpokeDefaultsSpec, TopologySpec, WanSpec
from dmvpnlab.lab.topology.templates import find_template, looked_in


class RouterEntry:
    """A router being resolved: its spec, where it came from, and its defaults."""

    def __init__(self, name: str, path: FieldPath, spec: RouterSpec, defaults: SpokeDefaultsSpec | None) -> None:
        self.name = name
        self.path = path
        self.spec = spec
        self.defaults = defaults
        self.role: str = "spoke"
        self.index: int = 0

    def pick(self, field: str) -> tuple[Any, FieldPath, bool]:
        """(value, path it came from, explicitly given?) with router > spoke_defaults > plan."""
        if field in self.spec.model_fields_set:
            return getattr(self.spec, field), self.path + (field,), True
        if self.defaults is not None and field in self.defaults.model_fields_set:
            return getattr(self.defaults, field), ("spoke_defaults", field), True
        return None, self.path + (field,), False


def router_entries(spec: TopologySpec) -> list[RouterEntry]:
    """Every router of the lab in file order: the hub, spoke1..spokeN, then additions; roles and
    indices settled, a hub present and no index used twice."""
    entries: dict[str, RouterEntry] = {}
    if spec.hub is not None:
        if "hub" in spec.routers:
            raise TopologyProblem(("routers", "hub"), "expected the hub once, got it under both `hub:` and `routers:`")
        entries["hub"] = RouterEntry("hub", ("hub",), spec.hub, None)
    for n in range(1, spec.spokes + 1):
        # Generated: the logical path is routers.spokeN; errors point at the `spokes:` line.
        entries[f"spoke{n}"] = RouterEntry(f"spoke{n}", ("routers", f"spoke{n}"), RouterSpec(), spec.spoke_defaults)
    for name, rspec in spec.routers.items():
        path: FieldPath = ("routers", name)
        check_name(name, path, "router")
        rspec = rspec or RouterSpec()
        if name in entries and entries[name].defaults is not None:
            entries[name].spec = rspec
        else:
            entries[name] = RouterEntry(name, path, rspec, None)
    out = list(entries.values())
    for e in out:
        _role_and_index(e)
    if not any(e.role == "hub" for e in out):
        raise TopologyProblem(("hub",), "expected a hub: add a `hub:` section or a router with `role: hub`, got none")
    by_index: dict[int, RouterEntry] = {}
    for e in out:
        if e.index in by_index:
            raise TopologyProblem(
                e.path + ("index",),
                f"expected a router index not used by another router, got {e.index} "
                f"(also {by_index[e.index].name}'s); set `index:`",
            )
        by_index[e.index] = e
    return out


def _role_and_index(e: RouterEntry) -> None:
    """Role and index: written, or inferred for `hub` (hub, 0) and `spokeN` (spoke, N)."""
    s = e.spec
    spoke_match = re.fullmatch(r"spoke([0-9]+)", e.name)
    if e.path == ("hub",):
        if s.role == "spoke":
            raise TopologyProblem(("hub", "role"), "expected 'hub' (this is the `hub:` section), got 'spoke'")
        e.role = "hub"
    elif s.role is not None:
        e.role = s.role
    elif e.name == "hub":
        e.role = "hub"
    elif spoke_match or e.defaults is not None:
        e.role = "spoke"
    else:
        raise TopologyProblem(e.path + ("role",), f"expected 'hub' or 'spoke' for router {e.name} (only hub and spokeN are inferred), got nothing")
    if s.index is not None:
        e.index = s.index
    elif e.name == "hub":
        e.index = 0
    elif spoke_match:
        e.index = int(spoke_match.group(1))
        if e.index > addressing.MAX_ROUTER_INDEX:
            raise TopologyProblem(e.path, f"expected a router index from 0 to {addressing.MAX_ROUTER_INDEX} "
                                          f"(the address plan's range), got {e.index} from the name {e.name}; "
                                          f"set `index:`")
    else:
        raise TopologyProblem(e.path + ("index",), f"expected an `index:` for router {e.name} (only hub and spokeN are inferred), got nothing")
    if e.role == "spoke" and e.index == 0:
        raise TopologyProblem(e.path + ("index",), "expected a spoke index of 1 or more (0 is the hub's), got 0")


class RouterParts:
    """One router's parts from its entry; knows the lab's tunnel network and template directories."""

    def __init__(self, spec: TopologySpec, template_dirs: tuple[Path, ...]) -> None:
        self.spec = spec
        self.template_dirs = template_dirs  # the lookup order (topology/templates.py)
        self.tunnel = spec.tunnel.network
        self._templates_ok: set[str] = set()  # each template file is looked up once

    def tunnel_address(self, e: RouterEntry) -> IPv4Interface:
        """Written (inside the tunnel network), or .(index+1) of it."""
        text, path, given = e.pick("tunnel_address")
        if given and text is not None:
            iface = interface(text, self.tunnel.prefixlen, path)
            if iface.network != self.tunnel:
                raise TopologyProblem(path, f"expected an address inside the tunnel network {self.tunnel}, got {iface}")
            check_host_address(iface, path)
            return iface
        if not addressing.has_room(self.tunnel, e.index + 1):
            need = 32 - math.ceil(math.log2(e.index + 3))
            raise TopologyProblem(
                ("tunnel", "network"),
                f"expected a tunnel network with room for {e.name} (index {e.index}, address .{e.index + 1}), "
                f"e.g. a /{need} or larger, got {self.tunnel}",
            )
        return addressing.tunnel_address(self.tunnel, e.index)

    def template(self, e: RouterEntry) -> str | None:
        """A file in one of the template directories that exists (checked here, so bring-up never starts on a typo)."""
        value, path, _ = e.pick("template")
        if value is None:
            return None
        if value in self._templates_ok:
            return value
        check_template_name(value, path)
        try:
            found = find_template(self.template_dirs, value)
        except OSError as e:  # e.g. nodes/ unreadable: is_file() only hides "no such file"
            raise TopologyProblem(path, f"expected a template file in {looked_in(self.template_dirs)}, got {value!r} "
                                        f"(cannot look it up: {e.strerror or e})") from None
        if found is None:
            raise TopologyProblem(path, f"expected a template file in one of {looked_in(self.template_dirs)}, "
                                        f"got {value!r} (no such file in any of them)")
        self._templates_ok.add(value)
        return value

    def vars(self, e: RouterEntry) -> dict[str, Any]:
        """Template variables: top-level ``vars``, then ``spoke_defaults.vars``, then the router's."""
        merged = dict(self.spec.vars)
        if e.defaults is not None:
            merged.update(e.defaults.vars)
        merged.update(e.spec.vars)
        return merged

    def lan(self, e: RouterEntry) -> Lan | None:
        """The LAN and its hosts, field by field from the router, ``spoke_defaults`` or the plan; None for ``lan: null``."""
        own_set = "lan" in e.spec.model_fields_set
        own = e.spec.lan
        dflt = e.defaults.lan if e.defaults is not None and "lan" in e.defaults.model_fields_set else None
        if own_set and own is None:
            return None
        if e.defaults is not None and "lan" in e.defaults.model_fields_set and dflt is None and not own_set:
            return None

        def pick(field: str) -> tuple[Any, FieldPath]:
            if own is not None and field in own.model_fields_set:
                return getattr(own, field), e.path + ("lan", field)
            if dflt is not None and field in dflt.model_fields_set:
                return getattr(dflt, field), ("spoke_defaults", "lan", field)
            return None, e.path + ("lan", field)

        ios, ios_path = pick("ios_name")
        ios_name = ethernet_ios_name(ios, LAN_IOS_NAME, e.name, ios_path)
        network, net_path = pick("network")
        raddr, raddr_path = pick("router_address")
        if raddr is not None:
            router_address = interface(raddr, network.prefixlen if network else 24, raddr_path)
            network = network or router_address.network
            check_host_address(router_address, raddr_path, network)
        else:
            network = network or addressing.lan_network(e.index)
            if not addressing.has_room(network, 1):
                raise TopologyProblem(net_path, f"expected a LAN network with room for the router at .1 "
                                                f"(or a `router_address:`), got {network}")
            router_address = addressing.first_address(network)
        hosts_spec, hosts_path = pick("hosts")
        if hosts_spec is None:
            hosts_spec = [HostSpec()]
        hosts: list[Host] = []
        used = {router_address.ip: "the router"}
        for pos, hs in enumerate(hosts_spec):
            hpath = hosts_path + (pos,)
            if hs.name is not None:
                name = hs.name
                check_name(name, hpath + ("name",), "host")
            elif pos < addressing.MAX_PLAN_HOSTS:
                name = addressing.host_name(e.index, pos)
            else:
                raise TopologyProblem(hpath, f"expected a `name:` for host number {pos + 1} (only {addressing.MAX_PLAN_HOSTS} are named by the plan)")
            if hs.address is not None:
                addr = interface(hs.address, network.prefixlen, hpath + ("address",))
                check_host_address(addr, hpath + ("address",), network)
            else:
                offset = addressing.FIRST_HOST_OFFSET + pos
                if not addressing.has_room(network, offset):
                    at = int(network.network_address) + offset
                    shown = IPv4Address(at) if at <= 0xFFFFFFFF else f".{offset}"
                    raise TopologyProblem(hpath, f"expected a LAN big enough for host {name} at {shown}, got {network}")
                addr = addressing.host_address(network, pos)
            if addr.ip in used:
                raise TopologyProblem(hpath + ("address",), f"expected an address not used by {used[addr.ip]}, got {addr.ip}")
            used[addr.ip] = f"host {name}"
            hosts.append(Host(name=name, address=addr, gateway=router_address.ip))
        return Lan(ios_name=ios_name, network=network, router_address=router_address, hosts=hosts)

    def wan(
        self, e: RouterEntry, nat: str | None, nat_inside: IPv4Interface | None, segment: Segment | None,
        nat_fleet: bool = False,
    ) -> Wan:
        """The WAN towards the ISP, the router's NAT box (its inside /30, or the fleet's /24
        with the router at .(index+1) like a segment member) or its shared segment."""
        wspec: WanSpec = e.spec.wan or WanSpec()
        base: FieldPath = e.path + ("wan",)
        ios_name = ethernet_ios_name(wspec.ios_name, WAN_IOS_NAME, e.name, base + ("ios_name",))
        if segment is not None:
            default_prefix, peer = segment.network.prefixlen, segment.name
        elif nat_inside is not None:
            default_prefix, peer = nat_inside.network.prefixlen, nat or ""
        else:
            default_prefix, peer = 30, ISP_NAME
        if wspec.address is not None:
            address = interface(wspec.address, default_prefix, base + ("address",))
        elif segment is not None:
            if not addressing.has_room(segment.network, e.index + 1):
                raise TopologyProblem(base + ("address",), f"expected a segment network with room for {e.name} "
                                                           f"(index {e.index}, planned at .{e.index + 1}), got "
                                                           f"{segment.network}; set `wan: {{address: ...}}`")
            address = addressing.segment_member_address(segment.network, e.index)
        elif nat_inside is not None and nat_fleet:
            if not addressing.has_room(nat_inside.network, e.index + 1) or nat_inside.ip == nat_inside.network[e.index + 1]:
                raise TopologyProblem(base + ("address",), f"expected {nat}'s inside network to have room for {e.name} "
                                                           f"(index {e.index}, planned at .{e.index + 1}), got "
                                                           f"{nat_inside.network}; set `wan: {{address: ...}}`")
            address = addressing.segment_member_address(nat_inside.network, e.index)
        elif nat_inside is not None:
            address = IPv4Interface(f"{addressing.other_end(nat_inside.network, nat_inside.ip)}/{default_prefix}")
        else:
            address = addressing.first_address(addressing.public_wan_network(e.index))
        apath = base + ("address",)
        if address.network.prefixlen > 30:
            raise TopologyProblem(apath, f"expected a WAN prefix of /30 or shorter, got {address}")
        if segment is not None:
            check_host_address(address, apath, segment.network)
            if address.ip == segment.isp_address.ip:
                raise TopologyProblem(apath, f"expected an address other than the ISP's {segment.isp_address.ip} on segment {segment.name}, got {address.ip}")
        elif nat_inside is not None:
            check_host_address(address, apath, nat_inside.network)
            if address.ip == nat_inside.ip:
                raise TopologyProblem(apath, f"expected an address other than {nat}'s inside address, got {address.ip}")
        else:
            check_host_address(address, apath)
        if wspec.gateway is not None:
            gateway = wspec.gateway
            gpath = base + ("gateway",)
            if gateway not in address.network or gateway in (address.ip, address.network.network_address, address.network.broadcast_address):
                raise TopologyProblem(gpath, f"expected another host address of {address.network}, got {gateway}")
        elif segment is not None:
            gateway = segment.isp_address.ip
        elif nat_inside is not None:
            gateway = nat_inside.ip
        else:
            gateway = addressing.other_end(address.network, address.ip)
        return Wan(ios_name=ios_name, address=address, gateway=gateway, peer=peer)

