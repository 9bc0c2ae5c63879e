"""`RouterConfig` -> `show running-config` text, in the order IOS prints it.

Only non-default values are printed (as IOS does), so that reading the output back gives
the same model: `parse_config(render_running_config(cfg)).config == cfg`. Lines the lab
does not model come back where the user had them relative to the modelled sections
(before them, or after them), verbatim.

Rendering never raises and never prints a line break, control character or lone surrogate
inside a line: every line passes through config.text's rule. A model the parser filled
holds only such text already (the pass changes nothing); one built in code gets the same
escapes the parser would have stored. Imports config.model, config.text, config.render_services
(the router-wide services' lines) and config.global_mode (which kept block is the motd banner).
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network

from dmvpnlab.config.model import (
    Interface,
    IpsecProfile,
    IsakmpKey,
    IsakmpPolicy,
    KeyChain,
    Keyring,
    NhrpNhs,
    RawBlock,
    RouterConfig,
    StaticRoute,
    TransformSet,
    interface_sort_key,
)
from dmvpnlab.config import render_services
from dmvpnlab.config.global_mode import is_motd_header
from dmvpnlab.config.text import printable


def _addr_mask(addr: IPv4Interface) -> str:
    return f"{addr.ip} {addr.netmask}"


def _net_mask(net: IPv4Network) -> str:
    return f"{net.network_address} {net.netmask}"


def _line(fmt: str, value: object, default: object = None) -> list[str]:
    """`fmt` filled with `value`, or nothing when `value` is the default (IOS prints none)."""
    return [] if value == default else [fmt.format(value)]


def _interface_lines(itf: Interface) -> list[str]:
    n = itf.nhrp
    tp = itf.tunnel_protection
    return [
        f"interface {itf.name}",
        *_line(" description {}", itf.description),
        *_line(" bandwidth {}", itf.bandwidth),
        *_line(" mtu {}", itf.mtu),
        *([] if itf.dot1q_vlan is None else
          [f" encapsulation dot1Q {itf.dot1q_vlan}" + (" native" if itf.dot1q_native else "")]),
        _address_line(itf),
        *(f" ip address {_addr_mask(a)} secondary" for a in itf.secondary_addresses),
        *_line(" ip access-group {} in", itf.access_group_in),
        *_line(" ip access-group {} out", itf.access_group_out),
        *_line(" ip mtu {}", itf.ip_mtu),
        *_line(" ip nat {}", itf.nat),
        *_line(" ip nhrp authentication {}", n.authentication),
        *(f" ip nhrp map {m.address} {m.nbma}" for m in n.maps),
        *(f" ip nhrp map multicast {m}" for m in n.multicast_maps),
        *_line(" ip nhrp network-id {}", n.network_id),
        *_line(" ip nhrp holdtime {}", n.holdtime),
        *(_nhs_line(nhs) for nhs in n.nhs),
        *(f" ip nhrp nhs cluster {c} max-connections {m}" for c, m in sorted(n.nhs_max_connections.items())),
        *_line(" ip nhrp nhs fallback {}", n.nhs_fallback),
        *_line(" ip nhrp registration no-unique", n.registration_no_unique, False),
        *_line(" ip nhrp registration timeout {}", n.registration_timeout),
        *_line(" ip nhrp shortcut", n.shortcut, False),
        *_line(" ip nhrp redirect" + (f" timeout {n.redirect_timeout}" if n.redirect_timeout else ""),
               n.redirect, False),
        *_line(" ip tcp adjust-mss {}", itf.tcp_adjust_mss),
        *(f" {line}" for line in itf.routing_lines),
        *_line(" delay {}", itf.delay),
        *_line(" shutdown", itf.shutdown, False),
        *(f" {line}" for line in itf.extra_lines),
        *_line(" tunnel source {}", itf.tunnel_source),
        *_line(" tunnel mode {}", itf.tunnel_mode),
        *_line(" tunnel destination {}", itf.tunnel_destination),
        *_line(" tunnel key {}", itf.tunnel_key),
        *([] if tp is None else
          [f" tunnel protection ipsec profile {tp.profile}" + (" shared" if tp.shared else "")]),
    ]


def _address_line(itf: Interface) -> str:
    if itf.address is not None:
        return f" ip address {_addr_mask(itf.address)}"
    return " ip address dhcp" if itf.dhcp else " no ip address"


def _nhs_line(nhs: NhrpNhs) -> str:
    return " ".join([
        " ip nhrp nhs", "dynamic" if nhs.address is None else str(nhs.address),
        *_line("nbma {}", nhs.nbma), *_line("multicast", nhs.multicast, False),
        *_line("priority {}", nhs.priority), *_line("cluster {}", nhs.cluster),
    ])


def _policy_lines(pol: IsakmpPolicy) -> list[str]:
    default = IsakmpPolicy(pol.priority)
    return [
        f"crypto isakmp policy {pol.priority}",
        *_line(" encr {}", pol.encryption, default.encryption),
        *_line(" hash {}", pol.hash, default.hash),
        *_line(" authentication {}", pol.authentication, default.authentication),
        *_line(" group {}", pol.group, default.group),
        *_line(" lifetime {}", pol.lifetime, default.lifetime),
        *(f" {line}" for line in pol.extra_lines),
    ]


def _peer_words(peer: IPv4Network) -> list[str]:
    # No mask for one host, nor for the 0.0.0.0 wildcard: IOS prints none.
    bare = peer.prefixlen == 32 or peer == IPv4Network("0.0.0.0/0")
    return [f"address {peer.network_address}", *_line("{}", None if bare else peer.netmask)]


def _key_line(key: IsakmpKey) -> str:
    return " ".join([
        "crypto isakmp key", *_line("{}", key.encryption_type), key.key, *_peer_words(key.peer),
        *_line("no-xauth", key.no_xauth, False),
    ])


def _keyring_lines(ring: Keyring) -> list[str]:
    return [
        f"crypto keyring {ring.name} ",  # IOS prints the trailing blank
        *_line("  local-address {}", ring.local_address),
        *(" ".join(["  pre-shared-key", *_peer_words(k.peer), "key", *_line("{}", k.encryption_type), k.key])
          for k in ring.keys),
        *(f" {line}" for line in ring.extra_lines),
    ]


def _key_chain_lines(chain: KeyChain) -> list[str]:
    out = [f"key chain {chain.name}", *(f" {line}" for line in chain.extra_lines)]
    for key in chain.keys:
        out += [f" key {key.key_id}", *_line("  key-string {}", key.key_string),
                *(f" {line}" for line in key.extra_lines)]  # kept with the key's own indent
    return out


def _transform_lines(ts: TransformSet) -> list[str]:
    return [f"crypto ipsec transform-set {ts.name} {' '.join(ts.transforms)}",
            f" mode {ts.mode}", *(f" {line}" for line in ts.extra_lines)]


def _profile_lines(prof: IpsecProfile) -> list[str]:
    return [
        f"crypto ipsec profile {prof.name}",
        *_line(" set security-association lifetime seconds {}", prof.lifetime_seconds),
        *_line(" set security-association lifetime kilobytes {}", prof.lifetime_kilobytes),
        *_line(" set transform-set {}", " ".join(prof.transform_sets), ""),
        *_line(" set pfs {}", prof.pfs),
        *(f" {line}" for line in prof.extra_lines),
    ]


def _route_line(route: StaticRoute) -> str:
    return " ".join([
        "ip route", _net_mask(route.prefix), *_line("{}", route.interface), *_line("{}", route.next_hop),
        *_line("{}", route.distance), *_line("tag {}", route.tag), *_line("name {}", route.name),
        *_line("permanent", route.permanent, False), *_line("track {}", route.track),
    ])


def _raw_lines(blocks: list[RawBlock]) -> list[str]:
    """Kept blocks, a `!` after each multi-line one (a section) and after the group, as IOS prints."""
    out: list[str] = []
    for block in blocks:
        out += block.lines
        if len(block.lines) > 1:
            out.append("!")
    return out + ["!"] if out and out[-1] != "!" else out


def _banner_lines(text: str) -> list[str]:
    """A motd set in the model but written by no kept block (a config built in code)."""
    delim = "^C" if "^C" not in text else next((c for c in "#%$@~" if c not in text), chr(3))
    return [f"banner motd {delim}", *text.split("\n"), delim]


def render_config_body(config: RouterConfig) -> list[str]:
    """The configuration lines proper (what a startup-config file holds)."""
    out: list[str] = ["!", f"version {config.version}", "!", f"hostname {config.hostname}", "!"]
    out += _raw_lines(config.extra_head)
    enable = [*_line("enable secret {}", config.enable_secret), *_line("enable password {}", config.enable_password)]
    out += enable + ["!"] if enable else []
    out += render_services.head_lines(config)
    if config.usernames:
        out += [f"username {u.name} {u.args}" for u in config.usernames] + ["!"]
    for chain in config.key_chains:
        out += _key_chain_lines(chain) + ["!"]
    for ring in config.keyrings:
        out += _keyring_lines(ring) + ["!"]
    crypto: list[str] = []
    for pol in config.isakmp_policies:
        crypto += _policy_lines(pol)
    crypto += [_key_line(k) for k in config.isakmp_keys]
    if config.isakmp_keepalive is not None:
        ka = config.isakmp_keepalive
        crypto.append(" ".join(str(x) for x in ("crypto isakmp keepalive", ka.seconds, ka.retry, ka.mode)
                               if x is not None))
    if config.isakmp_nat_keepalive is not None:
        crypto.append(f"crypto isakmp nat keepalive {config.isakmp_nat_keepalive}")
    crypto += _line("crypto ipsec security-association lifetime seconds {}", config.ipsec_lifetime_seconds)
    crypto += _line("crypto ipsec security-association lifetime kilobytes {}", config.ipsec_lifetime_kilobytes)
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
    out += render_services.gateway_lines(config)
    routes = [render_services.nat_line(r) for r in config.nat_rules] + [_route_line(r) for r in config.static_routes]
    out += routes + ["!"] if routes else []
    out += render_services.access_list_lines(config)
    out += _raw_lines(config.extra_tail)
    if config.banner_motd is not None and not any(
            b.lines and is_motd_header(b.lines[0]) for b in config.extra_head + config.extra_tail):
        out += _banner_lines(config.banner_motd)
    out.append("end")
    return [printable(line) for line in out]


def render_running_config(config: RouterConfig) -> str:
    """`show running-config` output, header and byte count included."""
    body = "\n".join(render_config_body(config)) + "\n"
    return f"Building configuration...\n\nCurrent configuration : {len(body.encode())} bytes\n{body}"
