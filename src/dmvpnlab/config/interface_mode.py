"""`interface X` and its sub-mode: addresses (static, secondary, `dhcp`), MTU/MSS, 802.1Q
(`encapsulation dot1Q`), `ip nat inside|outside`, `ip access-group`, the `tunnel ...` and
`ip nhrp ...` lines.

Every interface kind ifnames names is a section (Ethernet kinds and their subinterfaces,
Loopback, Tunnel, Vlan); `interface Null0` and kinds we do not name are kept verbatim.

Exposes `COMMANDS` and `MODES` for the session's dispatcher (see modes.py); the
interface-level routing lines (`ip ospf ...`) are router_mode's. A `no` form removes what
the positive form set. `tunnel protection` names a profile that must exist
(config.references). Imports config.model, config.modes, config.references, config.tokens
and ifnames.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import Literal, TypeVar

from dmvpnlab.config import references
from dmvpnlab.config.model import (
    Interface,
    NhrpConfig,
    NhrpMap,
    NhrpNhs,
    TunnelProtection,
    interface_sort_key,
)
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec, address_or_interface, flag, number, open_section, setting
from dmvpnlab.config.tokens import (
    Cursor,
    Incomplete,
    Invalid,
    Refused,
    Unknown,
    looks_like_address,
    parse_ipv4,
)
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname, is_physical, is_subinterface


T = TypeVar("T")


# The keys of the lists this module indexes (modes.Context.entries wants the same function
# each time).
def _name(itf: Interface) -> str:
    return itf.name


def _ios_order(itf: Interface) -> tuple[int, list[int], str]:
    return interface_sort_key(itf.name)


def _itself(value: T) -> T:
    return value


def _map_address(m: NhrpMap) -> IPv4Address:
    return m.address


def _nhs_address(nhs: NhrpNhs) -> IPv4Address | None:
    return nhs.address  # None: the one `dynamic` NHS


def _enter_interface(ctx: Context, cur: Cursor, neg: bool) -> None:
    if not cur.more():
        raise Incomplete()
    name_col = cur.column()
    raw_name = "".join(t.text for t in cur.tokens[cur.pos:])
    try:
        name = canonical_ios_ifname(raw_name)
    except InterfaceNameError:
        if neg:
            raise Invalid(name_col) from None
        raise Unknown() from None  # Serial0/0/0, Port-channel1, range ...: kept verbatim
    if name == "Null0":
        raise Unknown()  # the discard interface: `no ip unreachables` and the like, kept verbatim
    if neg and is_physical(name):
        raise Refused("% Removal of physical interfaces is not permitted")
    open_section(ctx, neg, Mode.INTERFACE, ctx.config.interfaces, _name, name,
                 lambda: Interface(name), order=_ios_order)


# -- plain interface lines ------------------------------------------------------------


def _description(ctx: Context, cur: Cursor, neg: bool) -> None:
    itf: Interface = ctx.target
    itf.description = None if neg else cur.rest()


def _ip_address(ctx: Context, cur: Cursor, neg: bool) -> None:
    itf: Interface = ctx.target
    if neg:
        if cur.more() and looks_like_address(cur.peek() or ""):
            addr = IPv4Interface((int(cur.ipv4()), cur.mask()))
            if cur.accept("secondary"):
                ctx.entries(itf.secondary_addresses, _itself).drop(addr)
                return
        itf.address = None
        itf.secondary_addresses = []
        itf.dhcp = False
        return
    if cur.more() and (cur.peek() or "").lower() == "dhcp" and len(cur.tokens) == cur.pos + 1:
        cur.next()
        itf.address, itf.secondary_addresses, itf.dhcp = None, [], True  # the DHCP client owns it
        return
    if cur.more() and not looks_like_address(cur.peek() or ""):
        raise Unknown()  # dhcp client-id ..., negotiated, pool ...
    addr = IPv4Interface((int(cur.ipv4()), cur.mask()))
    _check_host_address(cur, addr)
    if cur.accept("secondary"):
        cur.end()
        ctx.entries(itf.secondary_addresses, _itself).put(addr)
        return
    cur.end()
    itf.address = addr
    itf.dhcp = False


def _encapsulation(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`encapsulation dot1Q VID [native]`: only a subinterface takes it (IOS refuses it elsewhere)."""
    itf: Interface = ctx.target
    word = cur.tokens[cur.pos - 1]
    if not is_subinterface(itf.name):
        raise Invalid(word.column)
    if neg:
        itf.dot1q_vlan, itf.dot1q_native = None, False
        return
    if (cur.peek() or "").lower() != "dot1q":
        raise Unknown() if cur.more() else Incomplete()  # isl, frame-relay ...: kept verbatim
    cur.next()
    vlan = cur.integer(1, 4094)
    native = cur.accept("native")
    if cur.more() and (cur.peek() or "").lower() == "second-dot1q":
        raise Unknown()  # QinQ: kept verbatim
    cur.end()
    itf.dot1q_vlan, itf.dot1q_native = vlan, native


def _ip_nat(ctx: Context, cur: Cursor, neg: bool) -> None:
    itf: Interface = ctx.target
    side = (cur.peek() or "").lower()
    if side not in ("inside", "outside") or len(cur.tokens) != cur.pos + 1:
        # `ip nat enable`, or a global `ip nat inside source ...` typed in this mode
        raise Unknown() if cur.more() else Incomplete()
    cur.next()
    if neg:
        if itf.nat == side:
            itf.nat = None
        return
    itf.nat = "inside" if side == "inside" else "outside"


def _access_group(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`ip access-group NAME|NUMBER in|out` (`no ip access-group [NAME] in|out` clears it)."""
    itf: Interface = ctx.target
    if neg and (cur.peek() or "").lower() in ("in", "out") and len(cur.tokens) == cur.pos + 1:
        name = None
    else:
        name = cur.word()
    direction = cur.choice("in", "out")
    cur.end()
    attr = "access_group_in" if direction == "in" else "access_group_out"
    setattr(itf, attr, None if neg else name)


def _check_host_address(cur: Cursor, addr: IPv4Interface) -> None:
    """IOS refuses a network or broadcast address as an interface address."""
    net = addr.network
    if net.prefixlen < 31 and addr.ip in (net.network_address, net.broadcast_address):
        mask_tok = cur.tokens[cur.pos - 1]
        raise Invalid(mask_tok.column, f"Bad mask /{net.prefixlen} for address {addr.ip}")


# -- tunnel ... ------------------------------------------------------------------------


def _tunnel_mode(ctx: Context, cur: Cursor, neg: bool) -> None:
    itf: Interface = ctx.target
    if neg:
        itf.tunnel_mode = None
        return
    cur.choice("gre", unknown=True)
    kind = cur.choice("multipoint", "ip", unknown=True)
    cur.end()
    itf.tunnel_mode = "gre multipoint" if kind == "multipoint" else "gre ip"


def _tunnel_protection(ctx: Context, cur: Cursor, neg: bool) -> None:
    itf: Interface = ctx.target
    if neg:
        itf.tunnel_protection = None
        return
    name = cur.word()
    shared = cur.accept("shared")
    cur.end()
    ctx.refer(references.IPSEC_PROFILE, name)
    itf.tunnel_protection = TunnelProtection(name, shared)


# -- ip nhrp ... -----------------------------------------------------------------------


def _nhrp_map(ctx: Context, cur: Cursor, neg: bool) -> None:
    nhrp = ctx.target.nhrp
    if cur.accept("multicast"):
        tok = cur.next()
        target: IPv4Address | Literal["dynamic"]
        if tok.text.lower() == "dynamic":
            target = "dynamic"
        else:
            addr = parse_ipv4(tok.text)
            if addr is None:
                raise Invalid(tok.column)
            target = addr
        cur.end()
        multicast = ctx.entries(nhrp.multicast_maps, _itself)
        if neg:
            multicast.drop(target)
        else:
            multicast.put(target)
        return
    if cur.more() and not looks_like_address(cur.peek() or ""):
        raise Unknown()  # `ip nhrp map group ...`
    address = cur.ipv4()
    maps = ctx.entries(nhrp.maps, _map_address)
    if neg and not cur.more():
        maps.drop(address)
        return
    nbma = cur.ipv4()
    cur.end()
    if neg:
        maps.drop(address)
    else:
        maps.put(NhrpMap(address, nbma))


def _nhrp_nhs(ctx: Context, cur: Cursor, neg: bool) -> None:
    nhrp = ctx.target.nhrp
    if not cur.more():
        raise Incomplete()
    first = (cur.peek() or "").lower()
    if cur.accept("cluster", 1):
        _nhrp_nhs_cluster(nhrp, cur, neg)
        return
    if cur.accept("fallback", 1):
        _nhrp_nhs_fallback(nhrp, cur, neg)
        return
    servers = ctx.entries(nhrp.nhs, _nhs_address)
    if first == "dynamic":
        cur.next()
        if neg:
            servers.drop(None)
            return
        cur.choice("nbma")
        nhs = NhrpNhs(None, cur.ipv4())
        nhs.multicast = cur.accept("multicast")
        cur.end()
        servers.put(nhs)
        return
    if not looks_like_address(first):
        raise Unknown()  # an IPv6 NHS, ...
    address = cur.ipv4()
    if neg:
        servers.drop(address)
        return
    nhs = NhrpNhs(address)
    while cur.more():
        tok = cur.tokens[cur.pos]
        if cur.accept("nbma"):
            nhs.nbma = cur.ipv4()
        elif cur.accept("multicast"):
            nhs.multicast = True
        elif cur.accept("priority"):
            nhs.priority = cur.integer(0, 255)
        elif cur.accept("cluster"):
            nhs.cluster = cur.integer(0, 10)
        else:
            raise Invalid(tok.column)
    servers.put(nhs)


def _nhrp_nhs_cluster(nhrp: NhrpConfig, cur: Cursor, neg: bool) -> None:
    """`ip nhrp nhs cluster N max-connections M`: register with at most M NHSs of cluster N."""
    cluster = cur.integer(0, 10)
    if not cur.more():
        raise Incomplete()
    if not cur.accept("max-connections", 1):
        raise Invalid(cur.column())
    if neg:
        if cur.more():
            cur.integer(1, 255)
        cur.end()
        nhrp.nhs_max_connections.pop(cluster, None)
        return
    limit = cur.integer(1, 255)
    cur.end()
    nhrp.nhs_max_connections[cluster] = limit


def _nhrp_nhs_fallback(nhrp: NhrpConfig, cur: Cursor, neg: bool) -> None:
    """`ip nhrp nhs fallback S`: seconds a recovered preferred NHS must answer before the
    spoke returns to it (IOS without it: at once)."""
    if neg:
        if cur.more():
            cur.integer(0, 3600)
        cur.end()
        nhrp.nhs_fallback = None
        return
    seconds = cur.integer(0, 3600)
    cur.end()
    nhrp.nhs_fallback = seconds


def _nhrp_authentication(ctx: Context, cur: Cursor, neg: bool) -> None:
    nhrp = ctx.target.nhrp
    if neg:
        nhrp.authentication = None
        return
    tok = cur.next()
    if len(tok.text) > 8:
        raise Invalid(tok.column + 8)  # IOS keys are at most 8 characters
    cur.end()
    nhrp.authentication = tok.text


def _nhrp_redirect(ctx: Context, cur: Cursor, neg: bool) -> None:
    nhrp = ctx.target.nhrp
    timeout = None
    if cur.accept("timeout"):
        timeout = None if neg else cur.integer(2, 30)
    cur.end()
    nhrp.redirect = not neg
    nhrp.redirect_timeout = timeout


def _nhrp(itf: Interface) -> NhrpConfig:
    return itf.nhrp


COMMANDS = (
    Command(Mode.GLOBAL, "int[erface]", _enter_interface, leaves_abbreviated=True),
    Command(Mode.INTERFACE, "desc[ription]", _description),
    Command(Mode.INTERFACE, "shut[down]", flag("shutdown")),
    Command(Mode.INTERFACE, "bandwidth", setting("bandwidth", number(1, 10000000))),
    Command(Mode.INTERFACE, "delay", setting("delay", number(1, 16777215))),
    Command(Mode.INTERFACE, "ip add[ress]", _ip_address),
    Command(Mode.INTERFACE, "ip mtu", setting("ip_mtu", number(68, 17912))),
    Command(Mode.INTERFACE, "mtu", setting("mtu", number(64, 9216))),
    Command(Mode.INTERFACE, "encap[sulation]", _encapsulation),
    Command(Mode.INTERFACE, "ip nat", _ip_nat),
    Command(Mode.INTERFACE, "ip access-group", _access_group),
    Command(Mode.INTERFACE, "ip tcp adjust-mss", setting("tcp_adjust_mss", number(500, 1460))),
    Command(Mode.INTERFACE, "ip nhrp network-id", setting("network_id", number(1, 4294967295), of=_nhrp)),
    Command(Mode.INTERFACE, "ip nhrp map", _nhrp_map),
    Command(Mode.INTERFACE, "ip nhrp nhs", _nhrp_nhs),
    Command(Mode.INTERFACE, "ip nhrp holdtime", setting("holdtime", number(1, 65535), of=_nhrp)),
    Command(Mode.INTERFACE, "ip nhrp authentication", _nhrp_authentication),
    Command(Mode.INTERFACE, "ip nhrp redirect", _nhrp_redirect),
    Command(Mode.INTERFACE, "ip nhrp shortcut", flag("shortcut", of=_nhrp)),
    Command(Mode.INTERFACE, "ip nhrp registration no-unique", flag("registration_no_unique", of=_nhrp)),
    Command(Mode.INTERFACE, "ip nhrp registration timeout",
            setting("registration_timeout", number(1, 65535), of=_nhrp)),
    Command(Mode.INTERFACE, "tunnel source", setting("tunnel_source", address_or_interface, check_no=False)),
    Command(Mode.INTERFACE, "tunnel mode", _tunnel_mode),
    Command(Mode.INTERFACE, "tunnel destination", setting("tunnel_destination", Cursor.ipv4)),
    Command(Mode.INTERFACE, "tunnel key", setting("tunnel_key", number(0, 4294967295))),
    Command(Mode.INTERFACE, "tunnel protection ipsec profile", _tunnel_protection),
)

MODES = (ModeSpec(Mode.INTERFACE, complete_families=(("ip", "nhrp"), ("tunnel",))),)
