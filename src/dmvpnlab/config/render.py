"""`RouterConfig` -> `show running-config` text, in the order IOS prints it.

Only non-default values are printed (as IOS does), so that reading the output back gives
the same model: `parse_config(render_running_config(cfg)).config == cfg`. Lines the lab
does not model come back where the user had them relative to the modelled sections
(before them, or after them), verbatim.
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network

from dmvpnlab.config.model import (
    Interface,
    IpsecProfile,
    IsakmpKey,
    IsakmpPolicy,
    RawBlock,
    RouterConfig,
    StaticRoute,
    TransformSet,
    interface_sort_key,
)

def _addr_mask(addr: IPv4Interface) -> str:
    return f"{addr.ip} {addr.netmask}"


def _net_mask(net: IPv4Network) -> str:
    return f"{net.network_address} {net.netmask}"


def _interface_lines(itf: Interface) -> list[str]:
    out = [f"interface {itf.name}"]
    if itf.description is not None:
        out.append(f" description {itf.description}")
    if itf.bandwidth is not None:
        out.append(f" bandwidth {itf.bandwidth}")
    if itf.address is not None:
        out.append(f" ip address {_addr_mask(itf.address)}")
    else:
        out.append(" no ip address")
    out += [f" ip address {_addr_mask(a)} secondary" for a in itf.secondary_addresses]
    if itf.ip_mtu is not None:
        out.append(f" ip mtu {itf.ip_mtu}")
    n = itf.nhrp
    if n.authentication is not None:
        out.append(f" ip nhrp authentication {n.authentication}")
    out += [f" ip nhrp map {m.address} {m.nbma}" for m in n.maps]
    out += [f" ip nhrp map multicast {m}" for m in n.multicast_maps]
    if n.network_id is not None:
        out.append(f" ip nhrp network-id {n.network_id}")
    if n.holdtime is not None:
        out.append(f" ip nhrp holdtime {n.holdtime}")
    for nhs in n.nhs:
        line = " ip nhrp nhs " + ("dynamic" if nhs.address is None else str(nhs.address))
        if nhs.nbma is not None:
            line += f" nbma {nhs.nbma}"
        if nhs.multicast:
            line += " multicast"
        if nhs.priority is not None:
            line += f" priority {nhs.priority}"
        if nhs.cluster is not None:
            line += f" cluster {nhs.cluster}"
        out.append(line)
    if n.registration_no_unique:
        out.append(" ip nhrp registration no-unique")
    if n.registration_timeout is not None:
        out.append(f" ip nhrp registration timeout {n.registration_timeout}")
    if n.shortcut:
        out.append(" ip nhrp shortcut")
    if n.redirect:
        out.append(" ip nhrp redirect" + (f" timeout {n.redirect_timeout}" if n.redirect_timeout else ""))
    if itf.tcp_adjust_mss is not None:
        out.append(f" ip tcp adjust-mss {itf.tcp_adjust_mss}")
    out += [f" {line}" for line in itf.routing_lines]
    if itf.shutdown:
        out.append(" shutdown")
    out += [f" {line}" for line in itf.extra_lines]
    if itf.tunnel_source is not None:
        out.append(f" tunnel source {itf.tunnel_source}")
    if itf.tunnel_mode is not None:
        out.append(f" tunnel mode {itf.tunnel_mode}")
    if itf.tunnel_destination is not None:
        out.append(f" tunnel destination {itf.tunnel_destination}")
    if itf.tunnel_key is not None:
        out.append(f" tunnel key {itf.tunnel_key}")
    if itf.tunnel_protection is not None:
        tp = itf.tunnel_protection
        out.append(f" tunnel protection ipsec profile {tp.profile}" + (" shared" if tp.shared else ""))
    return out


def _policy_lines(pol: IsakmpPolicy) -> list[str]:
    default = IsakmpPolicy(pol.priority)
    out = [f"crypto isakmp policy {pol.priority}"]
    if pol.encryption != default.encryption:
        out.append(f" encr {pol.encryption}")
    if pol.hash != default.hash:
        out.append(f" hash {pol.hash}")
    if pol.authentication != default.authentication:
        out.append(f" authentication {pol.authentication}")
    if pol.group != default.group:
        out.append(f" group {pol.group}")
    if pol.lifetime != default.lifetime:
        out.append(f" lifetime {pol.lifetime}")
    out += [f" {line}" for line in pol.extra_lines]
    return out


def _key_line(key: IsakmpKey) -> str:
    line = "crypto isakmp key "
    if key.encryption_type is not None:
        line += f"{key.encryption_type} "
    line += f"{key.key} address {key.peer.network_address}"
    wildcard = key.peer.prefixlen == 0 and int(key.peer.network_address) == 0
    if key.peer.prefixlen != 32 and not wildcard:
        line += f" {key.peer.netmask}"
    if key.no_xauth:
        line += " no-xauth"
    return line


def _transform_lines(ts: TransformSet) -> list[str]:
    return [f"crypto ipsec transform-set {ts.name} {' '.join(ts.transforms)}",
            f" mode {ts.mode}", *(f" {line}" for line in ts.extra_lines)]


def _profile_lines(prof: IpsecProfile) -> list[str]:
    out = [f"crypto ipsec profile {prof.name}"]
    if prof.lifetime_seconds is not None:
        out.append(f" set security-association lifetime seconds {prof.lifetime_seconds}")
    if prof.lifetime_kilobytes is not None:
        out.append(f" set security-association lifetime kilobytes {prof.lifetime_kilobytes}")
    if prof.transform_sets:
        out.append(f" set transform-set {' '.join(prof.transform_sets)}")
    if prof.pfs is not None:
        out.append(f" set pfs {prof.pfs}")
    out += [f" {line}" for line in prof.extra_lines]
    return out


def _route_line(route: StaticRoute) -> str:
    parts = ["ip route", _net_mask(route.prefix)]
    if route.interface is not None:
        parts.append(route.interface)
    if route.next_hop is not None:
        parts.append(str(route.next_hop))
    if route.distance is not None:
        parts.append(str(route.distance))
    if route.tag is not None:
        parts.append(f"tag {route.tag}")
    if route.name is not None:
        parts.append(f"name {route.name}")
    if route.permanent:
        parts.append("permanent")
    if route.track is not None:
        parts.append(f"track {route.track}")
    return " ".join(parts)


def _raw_lines(blocks: list[RawBlock]) -> list[str]:
    """Kept blocks, a `!` after each multi-line one (a section) and after the group, as IOS prints."""
    out: list[str] = []
    for block in blocks:
        out += block.lines
        if len(block.lines) > 1:
            out.append("!")
    return out + ["!"] if out and out[-1] != "!" else out


def render_config_body(config: RouterConfig) -> list[str]:
    """The configuration lines proper (what a startup-config file holds)."""
    out: list[str] = ["!", f"version {config.version}", "!", f"hostname {config.hostname}", "!"]
    out += _raw_lines(config.extra_head)
    if config.enable_secret is not None:
        out += [f"enable secret {config.enable_secret}", "!"]
    if config.usernames:
        out += [f"username {u.name} {u.args}" for u in config.usernames] + ["!"]
    crypto: list[str] = []
    for pol in config.isakmp_policies:
        crypto += _policy_lines(pol)
    crypto += [_key_line(k) for k in config.isakmp_keys]
    if config.isakmp_keepalive is not None:
        ka = config.isakmp_keepalive
        crypto.append(" ".join(str(x) for x in ("crypto isakmp keepalive", ka.seconds, ka.retry, ka.mode)
                               if x is not None))
    if crypto:
        out += crypto + ["!"]
    for ts in config.transform_sets:
        out += _transform_lines(ts) + ["!"]
    for prof in config.ipsec_profiles:
        out += _profile_lines(prof) + ["!"]
    for itf in sorted(config.interfaces, key=lambda i: interface_sort_key(i.name)):
        out += _interface_lines(itf) + ["!"]
    for section in config.router_sections:
        out += [section.header, *(f" {line}" for line in section.lines), "!"]
    if config.static_routes:
        out += [_route_line(r) for r in config.static_routes] + ["!"]
    out += _raw_lines(config.extra_tail)
    out.append("end")
    return out


def render_running_config(config: RouterConfig) -> str:
    """`show running-config` output, header and byte count included."""
    body = "\n".join(render_config_body(config)) + "\n"
    return f"Building configuration...\n\nCurrent configuration : {len(body.encode())} bytes\n{body}"
