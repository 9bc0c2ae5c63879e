"""Global `ip` lines of a whole router that are not routing: NAT, the DHCP server, `ip routing`,
`ip default-gateway`, `ip domain name`.

- `ip nat inside source list ACL interface IF [overload]` (PAT to an interface's address)
  and `ip nat inside source static LOCAL GLOBAL`; other NAT forms (pools, route-maps,
  static ports, outside source) are kept verbatim.
- `ip dhcp excluded-address LOW [HIGH]` and `ip dhcp pool NAME` with its sub-mode:
  `network A M` (or `A /LEN`), `default-router A ...`, `dns-server A ...`,
  `lease DAYS [HOURS [MINUTES]]`; other pool lines are kept in the pool, verbatim.
- `[no] ip routing`, `ip default-gateway A`, `ip domain name X` (and the older spelling
  `ip domain-name X`, which IOS 15 prints as `ip domain name X`).
Exposes `COMMANDS` and `MODES`. Imports config.model, config.modes, config.tokens and ifnames.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.config.model import DhcpPool, NatRule
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec, open_section
from dmvpnlab.config.tokens import Cursor, Incomplete, Invalid, Unknown, is_number, parse_integer
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname

DEFAULT_LEASE_SECONDS = 86400  # IOS's default lease: one day (not printed)
MAX_SERVERS = 8  # default-router and dns-server take up to eight addresses


def _interface(cur: Cursor) -> str:
    """An interface name, `GigabitEthernet 0/0` typed with a space too."""
    tok = cur.next()
    name = tok.text
    if cur.more() and is_number((cur.peek() or "").replace("/", "").replace(".", "")):
        name += cur.next().text
    try:
        return canonical_ios_ifname(name)
    except InterfaceNameError:
        raise Invalid(tok.column) from None


def _nat_key(rule: NatRule) -> tuple[str, str | None, str | None, IPv4Address | None]:
    return rule.kind, rule.access_list, rule.interface, rule.local


def _nat_inside_source(ctx: Context, cur: Cursor, neg: bool) -> None:
    if cur.accept("list"):
        acl = cur.word()
        if not cur.accept("interface"):
            raise Unknown() if cur.more() else Incomplete()  # `pool NAME`, `route-map`: kept
        rule = NatRule("list", access_list=acl, interface=_interface(cur))
        rule.overload = cur.accept("overload")
    elif cur.accept("static"):
        if (cur.peek() or "").lower() in ("tcp", "udp", "network"):
            raise Unknown()  # static port forwarding, network statics: kept verbatim
        local = cur.ipv4()
        rule = NatRule("static", local=local, global_address=cur.ipv4())
    else:
        raise Unknown()  # route-map ...
    if cur.more():
        raise Unknown()  # extendable, no-alias, vrf ...: kept verbatim, not half applied
    rules = ctx.entries(ctx.config.nat_rules, _nat_key)
    if neg:
        rules.drop(_nat_key(rule))
    else:
        rules.put(rule)


def _excluded(ctx: Context, cur: Cursor, neg: bool) -> None:
    low = cur.ipv4()
    high = low
    if cur.more():
        tok = cur.tokens[cur.pos]
        high = cur.ipv4()
        if int(high) < int(low):
            raise Invalid(tok.column)
    cur.end()
    ranges = ctx.config.dhcp_excluded
    if neg:
        ranges[:] = [r for r in ranges if r != (low, high)]
    elif (low, high) not in ranges:
        ranges.append((low, high))


def _pool_name(pool: DhcpPool) -> str:
    return pool.name


def _dhcp_pool(ctx: Context, cur: Cursor, neg: bool) -> None:
    name = cur.word()
    cur.end()
    open_section(ctx, neg, Mode.DHCP_POOL, ctx.config.dhcp_pools, _pool_name, name, lambda: DhcpPool(name))


def _pool_network(ctx: Context, cur: Cursor, neg: bool) -> None:
    pool: DhcpPool = ctx.target
    if neg:
        pool.network = None
        return
    addr = cur.ipv4()
    tok = cur.next()
    if tok.text.startswith("/"):
        plen = parse_integer(tok.text[1:], 0, 32)
        if plen is None:
            raise Invalid(tok.column)
    else:
        cur.pos -= 1
        plen = cur.mask()
    cur.end()
    pool.network = IPv4Network((int(addr), plen), strict=False)


def _addresses(cur: Cursor) -> list[IPv4Address]:
    found = [cur.ipv4()]
    while cur.more():
        if len(found) == MAX_SERVERS:
            raise Invalid(cur.tokens[cur.pos].column)
        found.append(cur.ipv4())
    return found


def _server_list(attr: str):  # type: ignore[no-untyped-def]
    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        pool: DhcpPool = ctx.target
        if neg:
            setattr(pool, attr, [])
            return
        setattr(pool, attr, _addresses(cur))
    return handler


def _lease(ctx: Context, cur: Cursor, neg: bool) -> None:
    pool: DhcpPool = ctx.target
    if neg:
        pool.lease_seconds = None
        return
    if (cur.peek() or "").lower() == "infinite":
        raise Unknown()  # kept in the pool verbatim
    days = cur.integer(0, 365)
    hours = cur.integer(0, 23) if cur.more() else 0
    minutes = cur.integer(0, 59) if cur.more() else 0
    cur.end()
    seconds = ((days * 24 + hours) * 60 + minutes) * 60
    if seconds == 0:
        raise Invalid(cur.tokens[-1].column)
    pool.lease_seconds = None if seconds == DEFAULT_LEASE_SECONDS else seconds


def _ip_routing(ctx: Context, cur: Cursor, neg: bool) -> None:
    if cur.more():
        raise Unknown()  # `ip routing protocol purge interface` ...
    ctx.config.ip_routing = not neg


def _default_gateway(ctx: Context, cur: Cursor, neg: bool) -> None:
    if neg:
        ctx.config.default_gateway = None
        return
    gateway = cur.ipv4()
    cur.end()
    ctx.config.default_gateway = gateway


def _domain_name(ctx: Context, cur: Cursor, neg: bool) -> None:
    if (cur.peek() or "").lower() == "vrf":
        raise Unknown()
    if neg:
        ctx.config.domain_name = None
        return
    name = cur.word()
    cur.end()
    ctx.config.domain_name = name


COMMANDS = (
    Command(Mode.GLOBAL, "ip nat inside source", _nat_inside_source),
    Command(Mode.GLOBAL, "ip dhcp excluded-address", _excluded),
    Command(Mode.GLOBAL, "ip dhcp pool", _dhcp_pool),
    Command(Mode.DHCP_POOL, "net[work]", _pool_network),
    Command(Mode.DHCP_POOL, "default-router", _server_list("default_routers")),
    Command(Mode.DHCP_POOL, "dns-server", _server_list("dns_servers")),
    Command(Mode.DHCP_POOL, "lease", _lease),
    Command(Mode.GLOBAL, "ip routing", _ip_routing),
    Command(Mode.GLOBAL, "ip default-gateway", _default_gateway),
    Command(Mode.GLOBAL, "ip domain name", _domain_name),
    Command(Mode.GLOBAL, "ip domain-name", _domain_name),
)

MODES = (ModeSpec(Mode.DHCP_POOL),)
