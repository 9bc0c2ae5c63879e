"""Global configuration lines of their own: hostname, version, username, enable secret|password,
banner (motd read into `banner_motd`), ip route.

Exposes `COMMANDS` and `MODES` for the session's dispatcher (see modes.py), and
`GLOBAL_ONLY`, the unmodelled global commands that still end a sub-mode in flat input.
Sections with a sub-mode of their own (interface, crypto, router) are in their modules.
Imports config.model, config.modes, config.tokens and ifnames.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.config.model import DEFAULT_HOSTNAME, StaticRoute, Username
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec
from dmvpnlab.config.tokens import Cursor, Invalid, Unknown, is_number, looks_like_address, parse_ipv4
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname

_TWO_WORDS = re.compile(r"\s*\S+\s+\S+\s*")  # `banner motd ` before the delimiter
_HOSTNAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

# Global-only lines in IOS that we do not model: in flat input they leave a sub-mode
# (otherwise `ntp server ...` after an interface would stick to it). The global commands
# we model leave a sub-mode anyway (parser.py).
GLOBAL_ONLY = ("line", "ntp", "snmp-server", "logging", "service", "aaa",
               "policy-map", "class-map", "control-plane", "boot",
               "boot-start-marker", "boot-end-marker", "clock", "archive", "license",
               "redundancy", "spanning-tree", "vtp", "route-map", "multilink",
               "diagnostic", "alias", "scheduler", "tacacs-server", "radius-server",
               "parser")


def _hostname(ctx: Context, cur: Cursor, neg: bool) -> None:
    if neg:
        ctx.config.hostname = DEFAULT_HOSTNAME
        return
    name_tok = cur.next()
    cur.end()
    if not _HOSTNAME.match(name_tok.text):
        raise Invalid(name_tok.column, "% Hostname contains one or more illegal characters.")
    ctx.config.hostname = name_tok.text


def _version(ctx: Context, cur: Cursor, neg: bool) -> None:
    if not neg:
        ctx.config.version = cur.rest()


def _username_name(user: Username) -> str:
    return user.name


def _username(ctx: Context, cur: Cursor, neg: bool) -> None:
    users = ctx.entries(ctx.config.usernames, _username_name)
    name = cur.word()
    if neg:
        users.drop(name)
        return
    start = cur.pos
    while cur.more():  # a privilege level must be one (IOS: 0-15); the rest is kept as given
        if cur.accept("privilege"):
            cur.integer(0, 15)
        elif (cur.peek() or "").lower() in ("secret", "password"):
            cur.next()
            _secret_text(cur)
        else:
            cur.next()
    cur.pos = start
    users.put(Username(name, cur.rest()))


def _secret_text(cur: Cursor) -> tuple[int | None, str]:
    """`[0|5|7|8|9] TEXT`: the encryption type (None when none is given) and the text after it."""
    kind: int | None = None
    if len(cur.tokens) - cur.pos > 1 and cur.peek() in ("0", "4", "5", "6", "7", "8", "9"):
        kind = int(cur.word())
    return kind, cur.rest()


def _enable(ctx: Context, cur: Cursor, neg: bool) -> None:
    if cur.accept("secret"):
        ctx.config.enable_secret = None if neg else _enable_text(cur)
    elif cur.accept("password"):
        ctx.config.enable_password = None if neg else _enable_text(cur)
    else:
        raise Unknown()  # enable view, enable algorithm-type ...


def _enable_text(cur: Cursor) -> str:
    if (cur.peek() or "").lower() == "level":
        raise Unknown()  # a secret per privilege level: kept verbatim
    start = cur.pos
    _secret_text(cur)  # Incomplete when nothing follows
    cur.pos = start
    return cur.rest()


def _banner(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`banner motd ^C` ... `^C`: the delimiter is the first character of the text, or ^C.

    Every banner is kept as the block the user wrote (so `show running-config` gives it
    back as written); the motd's text also fills `banner_motd` once its delimiter closes
    it (see `banner_text`; the session calls it for a banner spanning lines). A second
    `banner motd` replaces the first; `no banner motd` removes it.
    """
    kind = (cur.peek() or "").lower()
    motd = kind == "motd"
    if neg:
        if not motd or len(cur.tokens) > cur.pos + 1:
            raise Unknown()
        _drop_motd(ctx)
        return
    cur.next()  # motd / login / exec / incoming
    if not cur.more():
        raise Unknown()
    rest = cur.line[cur.column():]
    delim = "^C" if rest.startswith("^C") else rest[0]
    if motd:
        _drop_motd(ctx)
    block = ctx.keep_block(cur.line)
    if delim not in rest[len(delim):]:
        ctx.collect_banner(block, delim)
    elif motd:
        ctx.config.banner_motd = banner_text(block.lines, delim)


def is_motd_header(line: str) -> bool:
    """Does this kept line open a `banner motd` block?"""
    words = line.split(None, 2)
    return len(words) >= 3 and words[0].lower() == "banner" and words[1].lower() == "motd"


def _drop_motd(ctx: Context) -> None:
    for blocks in (ctx.config.extra_head, ctx.config.extra_tail):
        blocks[:] = [b for b in blocks if not (b.lines and is_motd_header(b.lines[0]))]
    ctx.config.banner_motd = None


def banner_text(lines: list[str], delim: str) -> str:
    """The text of a banner block between its delimiters, without the line breaks that
    only frame it (`banner motd ^C` / text / `^C` is the text alone)."""
    head = lines[0]
    words = _TWO_WORDS.match(head)
    start = (words.end() if words else 0) + len(delim)
    body = "\n".join([head[start:], *lines[1:]])
    end = body.find(delim)
    text = body[:end] if end != -1 else body
    if text.startswith("\n"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    return text


def _ip_route(ctx: Context, cur: Cursor, neg: bool) -> None:
    if (cur.peek() or "").lower() in ("vrf", "static", "profile"):
        raise Unknown()
    addr_col = cur.column()
    addr, plen = cur.ipv4(), cur.mask()

    def network() -> IPv4Network:
        # IOS checks consistency once the whole command parsed (so a missing next
        # hop is `% Incomplete command.` first).
        try:
            return IPv4Network((int(addr), plen))
        except ValueError:
            raise Invalid(addr_col, "%Inconsistent address and mask") from None

    routes = ctx.entries(ctx.config.static_routes, _route_key)
    if neg:
        prefix = network()
        nh: IPv4Address | None = None
        ifname: str | None = None
        if cur.more():
            nh, ifname = _route_target(cur)
        routes.drop_where(lambda r: r.prefix == prefix
                          and (nh is None or r.next_hop == nh)
                          and (ifname is None or r.interface == ifname))
        return
    next_hop, interface = _route_target(cur)
    route = StaticRoute(IPv4Network("0.0.0.0/0"), next_hop=next_hop, interface=interface)
    while cur.more():
        tok = cur.tokens[cur.pos]
        if is_number(tok.text) and route.distance is None:
            route.distance = cur.integer(1, 255)
        elif cur.accept("tag"):
            route.tag = cur.integer(1, 4294967295)
        elif cur.accept("permanent"):
            route.permanent = True
        elif cur.accept("name"):
            route.name = cur.word()
        elif cur.accept("track"):
            route.track = cur.integer(1, 1000)
        else:
            raise Invalid(tok.column)
    route.prefix = network()
    routes.put(route)  # a route to the same prefix via the same next hop: IOS updates it


def _route_key(route: StaticRoute) -> tuple[IPv4Network, IPv4Address | None, str | None]:
    return route.prefix, route.next_hop, route.interface


def _route_target(cur: Cursor) -> tuple[IPv4Address | None, str | None]:
    """`NEXT-HOP` or `INTERFACE [NEXT-HOP]` of a static route."""
    tok = cur.next()
    if looks_like_address(tok.text):
        addr = parse_ipv4(tok.text)
        if addr is None:
            raise Invalid(tok.column)
        return addr, None
    # interface [next-hop]; `Null0` is the discard interface of summary routes.
    name = tok.text
    if cur.more() and re.fullmatch(r"[A-Za-z]+", name) and re.fullmatch(r"[0-9/]+", cur.peek() or ""):
        name += cur.next().text  # `Tunnel 0` typed with a space
    if re.fullmatch(r"(?i)null\s*0", name):
        ifname = "Null0"
    else:
        try:
            ifname = canonical_ios_ifname(name)
        except InterfaceNameError:
            raise Invalid(tok.column) from None
    nh = None
    if cur.more() and "." in (cur.peek() or "") and looks_like_address(cur.peek() or ""):
        nh = cur.ipv4()
    return nh, ifname


COMMANDS = (
    Command(Mode.GLOBAL, "host[name]", _hostname),
    Command(Mode.GLOBAL, "version", _version),
    Command(Mode.GLOBAL, "username", _username),
    Command(Mode.GLOBAL, "enable", _enable),
    Command(Mode.GLOBAL, "banner", _banner),
    Command(Mode.GLOBAL, "ip route", _ip_route),
)

# We model one line of the large global `ip` family: `ip` alone, or `ip` with another word,
# is a line we keep; only `ip route` is a global command of ours.
MODES = (ModeSpec(Mode.GLOBAL, open_families=(("ip",),)),)
