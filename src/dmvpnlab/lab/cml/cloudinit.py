"""A Linux host's addresses from its CML configuration: cloud-init, netplan, or shell lines.

CML boots `ubuntu`/`desktop`/`server` with cloud-init (the node's `configuration` is the
user-data, or, from 0.2.x, files named `user-data` and `network-config`) and `alpine`
with a shell script. What a DMVPN lab's host needs from them is small: IPv4 addresses per
interface, a default gateway, a few static routes, or DHCP. Read, in this order:

- a `network-config` file: netplan v2 (`ethernets: {ens2: {addresses, gateway4, routes,
  dhcp4}}`, with or without a top-level `network:`);
- user-data `#cloud-config`: `write_files` of `/etc/netplan/*.yaml` (netplan as above),
  `runcmd`/`bootcmd` lines;
- shell lines anywhere else (alpine's script, runcmd): `ip addr add A/L dev IF`,
  `ip route add default|NET via G`, `route add default gw G`, `ifconfig IF A netmask M`.

Nothing here is an error: a host whose cloud-init we cannot read gets DHCP on its first
interface and a note saying why, as a booted host would come up without its config.
Imports PyYAML (through `lab.topology` bounded loading) and nothing else from dmvpnlab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

_IP_ADDR = re.compile(r"^ip\s+(?:-4\s+)?a(?:d|dd|ddr|ddre|ddres|ddress)?\s+(?:add|replace)\s+(?P<addr>\S+)\s+(?:.*?\s)?dev\s+(?P<dev>\S+)")
_IP_ROUTE = re.compile(r"^ip\s+(?:-4\s+)?r(?:o|ou|out|oute)?\s+(?:add|replace)\s+(?P<to>\S+)\s+via\s+(?P<via>\S+)")
_ROUTE_GW = re.compile(r"^route\s+add\s+(?:-net\s+)?default\s+gw\s+(?P<via>\S+)")
_IFCONFIG = re.compile(r"^ifconfig\s+(?P<dev>\S+)\s+(?:inet\s+)?(?P<addr>\d[\d.]*(?:/\d+)?)(?:\s+netmask\s+(?P<mask>\S+))?")


@dataclass
class HostNetwork:
    """What a host's configuration says about its IPv4 network."""

    addresses: dict[str, list[IPv4Interface]] = field(default_factory=dict)
    gateway: IPv4Address | None = None
    routes: list[tuple[IPv4Network, IPv4Address]] = field(default_factory=list)
    dhcp: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.addresses and not self.dhcp


def host_network(files: list[tuple[str, str]], interfaces: list[str], who: str) -> HostNetwork:
    """The network of host `who` from its config files [(name, content)] and Linux interface names."""
    net = HostNetwork()
    for name, content in files:
        base = name.rsplit("/", 1)[-1].lower()
        if base in ("network-config", "network-config.yaml", "network_config"):
            _netplan_text(content, f"{name}", net, who)
        elif content.lstrip().startswith("#cloud-config"):
            _user_data(content, net, who)
        else:
            _shell(content.splitlines(), net)
    for dev in [*net.addresses, *net.dhcp]:
        if dev not in interfaces:
            net.notes.append(f"host {who}: its config names interface {dev!r}, which the node does not have "
                             f"(it has {', '.join(interfaces) or 'none'}); that part is not applied")
    net.addresses = {d: a for d, a in net.addresses.items() if d in interfaces}
    net.dhcp = [d for d in dict.fromkeys(net.dhcp) if d in interfaces and d not in net.addresses]
    if net.empty and interfaces:
        net.dhcp = [interfaces[0]]
    return net


def _yaml(text: str, what: str, net: HostNetwork, who: str) -> Any:
    from dmvpnlab.lab.topology import yamlfile
    from dmvpnlab.lab.topology.errors import TopologyError

    try:
        data, _ = yamlfile.parse_yaml(text, what, max_chars=256 * 1024, max_scalar=64 * 1024)
    except TopologyError as e:
        net.notes.append(f"host {who}: cannot read its {what} ({e.message}); it is not applied")
        return None
    return data


def _user_data(text: str, net: HostNetwork, who: str) -> None:
    data = _yaml(text, "user-data", net, who)
    if not isinstance(data, dict):
        return
    for item in data.get("write_files") or []:
        if isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"].startswith("/etc/netplan/") \
                and isinstance(item.get("content"), str):
            _netplan_text(item["content"], item["path"], net, who)
    for key in ("bootcmd", "runcmd"):
        commands = data.get(key)
        if isinstance(commands, list):
            lines = [c if isinstance(c, str) else " ".join(str(w) for w in c) if isinstance(c, list) else ""
                     for c in commands]
            _shell(lines, net)


def _netplan_text(text: str, what: str, net: HostNetwork, who: str) -> None:
    data = _yaml(text, what, net, who)
    if isinstance(data, dict) and isinstance(data.get("network"), dict):
        data = data["network"]
    if not isinstance(data, dict):
        return
    if data.get("version") == 1:
        net.notes.append(f"host {who}: its {what} is network config version 1, which is not read here "
                         "(write netplan, version 2)")
        return
    ethernets = data.get("ethernets")
    if not isinstance(ethernets, dict):
        return
    for dev, spec in ethernets.items():
        if isinstance(spec, dict):
            _netplan_interface(dev, spec, net, who)


def _netplan_interface(dev: str, spec: dict[str, Any], net: HostNetwork, who: str) -> None:
    if "match" in spec:
        net.notes.append(f"host {who}: netplan `match:` on {dev!r} is not read; the name {dev!r} is used as it is")
    if spec.get("dhcp4") in (True, "yes", "true", "on"):
        net.dhcp.append(dev)
    for entry in spec.get("addresses") or []:
        text = entry if isinstance(entry, str) else next(iter(entry), None) if isinstance(entry, dict) else None
        _add_address(net, dev, text)
    gateway = _address(spec.get("gateway4"))
    if gateway:
        net.gateway = gateway
    for route in spec.get("routes") or []:
        if isinstance(route, dict):
            _add_route(net, route.get("to"), route.get("via"))


def _shell(lines: list[str], net: HostNetwork) -> None:
    for raw in lines:
        for line in raw.replace("&&", ";").split(";"):
            line = " ".join(line.split()).removeprefix("sudo ")
            if m := _IP_ADDR.match(line):
                _add_address(net, m["dev"], m["addr"])
            elif m := _IP_ROUTE.match(line):
                _add_route(net, m["to"], m["via"])
            elif m := _ROUTE_GW.match(line):
                _add_route(net, "default", m["via"])
            elif m := _IFCONFIG.match(line):
                _add_address(net, m["dev"], f"{m['addr']}/{m['mask']}" if m["mask"] else m["addr"])


def _add_address(net: HostNetwork, dev: str, text: Any) -> None:
    if not isinstance(text, str) or not isinstance(dev, str):
        return
    try:
        address = IPv4Interface(text)
    except ValueError:  # IPv6 or not an address: not ours
        return
    if "/" not in text:
        return  # no prefix: the kernel would take /32; a lab host with one is not what was meant
    addresses = net.addresses.setdefault(dev, [])
    if address not in addresses:
        addresses.append(address)


def _add_route(net: HostNetwork, to: Any, via: Any) -> None:
    gateway = _address(via)
    if gateway is None or not isinstance(to, str):
        return
    if to in ("default", "0.0.0.0/0"):
        net.gateway = gateway
        return
    try:
        network = IPv4Network(to, strict=False)
    except ValueError:
        return
    if (network, gateway) not in net.routes:
        net.routes.append((network, gateway))


def _address(text: Any) -> IPv4Address | None:
    if not isinstance(text, str):
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        return None


__all__ = ["HostNetwork", "host_network"]
