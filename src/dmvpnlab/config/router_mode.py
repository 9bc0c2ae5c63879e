"""Routing protocol lines: `router ospf|eigrp|bgp|rip ...` sections and their interface-level lines.

A router section is kept as text for the FRR translator (its body verbatim, see the
ROUTER `ModeSpec`); only its header is checked here. The interface-level routing lines
(`ip ospf ...`, `ip rip ...`, `no ip split-horizon eigrp N`, ...) are interface-mode
commands that live here, with routing. Exposes `COMMANDS` and `MODES` for the session's
dispatcher (see modes.py). Imports config.model, config.modes and config.tokens.
"""

from __future__ import annotations

from dmvpnlab.config.model import Interface, RouterSection
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec, open_section
from dmvpnlab.config.tokens import Cursor, Incomplete, Unknown

_ROUTING_PROTOCOLS = ("ospf", "eigrp", "bgp", "rip")
# EIGRP's interface lines (`ip <word> eigrp AS ...`): they are EIGRP's only with the `eigrp`.
_EIGRP_IF_WORDS = ("next-hop-self", "split-horizon", "hello-interval", "hold-time",
                   "summary-address", "bandwidth-percent", "authentication")
# On by default in EIGRP, so the `no` form is itself the configuration to keep.
_DEFAULT_ON = ("split-horizon", "next-hop-self")


def _enter_router(ctx: Context, cur: Cursor, neg: bool) -> None:
    proto = cur.choice(*_ROUTING_PROTOCOLS, unknown=True)
    args = [t.text for t in cur.tokens[cur.pos:]]
    if proto == "ospf":
        if not args:
            raise Incomplete()
        cur.integer(1, 65535)
    elif proto in ("eigrp", "bgp"):
        if not args:
            raise Incomplete()
        if proto == "bgp":
            cur.integer(1, 4294967295)
    header = " ".join(["router", proto, *args])
    open_section(ctx, neg, Mode.ROUTER, ctx.config.router_sections, _header, header,
                 lambda: RouterSection(header))


def _header(section: RouterSection) -> str:
    return section.header  # the key of the router sections (modes.Context.entries)


def _routing_key(line: str) -> tuple[str, ...]:
    """What identifies a kept interface routing line: its first three words (`ip ospf
    cost`), or for EIGRP's on-by-default switches its whole text; `no` aside."""
    parts = line.split()
    if parts[:1] == ["no"]:
        parts = parts[1:]
    return tuple(parts) if len(parts) > 1 and parts[1].lower() in _DEFAULT_ON else tuple(parts[:3])


def _interface_routing_line(ctx: Context, cur: Cursor, neg: bool) -> None:
    """Interface routing lines, verbatim for FRR; `no` removes the positive form.

    A line replaces the kept one with the same first three words (`ip ospf cost`), where it
    stands, found by key; a shorter line (`no ip ospf`), or an EIGRP switch, removes every
    line its words start (a scan, for these rare lines only).
    """
    itf: Interface = ctx.target
    words = [t.text for t in cur.tokens[cur.pos - 1:]]  # from the word after `[no] ip`
    body = " ".join(["ip", *words])
    default_on = words[0].lower() in _DEFAULT_ON
    lines = ctx.entries(itf.routing_lines, _routing_key)
    key = _routing_key(body)
    if default_on or len(key) < 3:
        lines.drop_where(lambda line: _routing_key(line)[:len(key)] == key)
    elif neg:
        lines.drop(key)
    if neg and default_on:
        lines.put("no " + body)
    elif not neg and not default_on:
        lines.put(body)


def _interface_eigrp_line(ctx: Context, cur: Cursor, neg: bool) -> None:
    if not any(t.text.lower() == "eigrp" for t in cur.tokens):
        raise Unknown()
    _interface_routing_line(ctx, cur, neg)


COMMANDS = (
    Command(Mode.GLOBAL, "router", _enter_router),
    Command(Mode.INTERFACE, "ip ospf", _interface_routing_line),
    Command(Mode.INTERFACE, "ip rip", _interface_routing_line),
    *(Command(Mode.INTERFACE, f"ip {word}", _interface_eigrp_line) for word in _EIGRP_IF_WORDS),
)

# Router lines that hold one value: a new one replaces the old, wherever it stands.
_SINGLE_VALUED = (("router-id",), ("bgp", "router-id"), ("version",), ("auto-cost", "reference-bandwidth"),
                  ("maximum-paths",), ("default-metric",), ("timers", "basic"), ("distance",))


def _words(line: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in line.split())


def merge_router_line(lines: list[str], line: str) -> None:
    """Add one router-section body line as IOS does, so a `configure terminal` edit of the
    section reaches FRR as the user meant it (not as a line appended to the old ones):
    `no X` removes a line X (`no network 10.0.0.0 0.0.0.255 area 0`), and when there is
    none is itself the setting (`no auto-summary`, `no passive-interface Gi0/0`); X
    removes a `no X`; a single-valued line (router-id, version...) replaces its previous
    value; a line already there is not added twice. Indented lines (BGP address
    families) are appended as they come."""
    if line[:1].isspace():
        lines.append(line)
        return
    words = _words(line)
    if words[:1] == ("no",):
        positive = words[1:]
        kept = [x for x in lines if _words(x) != positive]
        if len(kept) == len(lines):
            kept = [x for x in lines if _words(x) != words] + [line]
        lines[:] = kept
        return
    lines[:] = [x for x in lines if _words(x) != ("no", *words)]
    for key in _SINGLE_VALUED:
        if words[:len(key)] == key and len(words) > len(key):
            lines[:] = [x for x in lines if not (x[:1] != " " and _words(x)[:len(key)] == key)]
    if words not in [_words(x) for x in lines]:
        lines.append(line)


MODES = (ModeSpec(Mode.ROUTER, body=lambda section: section.lines, verbatim=True, merge=merge_router_line),)
