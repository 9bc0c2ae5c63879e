"""IOS configuration text -> `RouterConfig`, one line at a time, in IOS's modes.

One engine serves both ways configs arrive:
- a whole file (startup-config, a pasted `show running-config` dump, the seed's lines):
  `parse_config(text)` / `load_config(text)`;
- `configure terminal` in the CLI: `ConfigSession.apply(line)` with per-line errors and
  the prompt suffix of the current mode.

Like IOS, a line is first tried in the current sub-mode and, if it is no command of that
mode, in global mode (which leaves the sub-mode). Lines we do not model are kept verbatim
and reported as ignored; a malformed line of a modelled command is an IOS-style error.

Indentation matters only for lines we do not know: in an indented document (a `show
running-config` dump) an unindented unknown line is a new global line, an indented one
belongs to the section above it. In flat input (the seed's lines, an interactive session)
an unknown line stays in the current section, as IOS would try it there first.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable

from dmvpnlab.config.errors import (
    INCOMPLETE,
    INVALID_INPUT,
    ConfigError,
    ConfigSyntaxError,
    IgnoredLine,
)
from dmvpnlab.config.model import (
    DEFAULT_HOSTNAME,
    Interface,
    IpsecProfile,
    IsakmpKeepalive,
    IsakmpKey,
    IsakmpPolicy,
    NhrpMap,
    NhrpNhs,
    RawBlock,
    RouterConfig,
    RouterSection,
    StaticRoute,
    TransformSet,
    TunnelProtection,
    Username,
)
from dmvpnlab.config.tokens import (
    Cursor,
    Incomplete,
    Invalid,
    Unknown,
    looks_like_address,
    matches,
    parse_ipv4,
)
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname


class Mode(enum.Enum):
    """IOS configuration modes, valued by their prompt suffix."""

    GLOBAL = "(config)"
    INTERFACE = "(config-if)"
    ISAKMP = "(config-isakmp)"
    TRANSFORM = "(cfg-crypto-trans)"
    IPSEC_PROFILE = "(ipsec-profile)"
    ROUTER = "(config-router)"
    RAW = "(config-raw)"  # inside a section we keep verbatim (line vty, policy-map, ...)
    BANNER = "(config-banner)"  # collecting banner text up to the delimiter


_PROMPT = re.compile(r"^\s*[A-Za-z0-9_.-]+\((?:config[a-z-]*|cfg-[a-z-]+|ipsec-profile)\)#\s?")
_TRAILING_COMMENT = re.compile(r"\s+!(?:\s.*)?$")
_HOSTNAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_ROUTING_PROTOCOLS = ("ospf", "eigrp", "bgp", "rip")
_EIGRP_IF_WORDS = ("next-hop-self", "split-horizon", "hello-interval", "hold-time",
                   "summary-address", "bandwidth-percent", "authentication")
# Lines that are global-only in IOS: in flat input they leave a sub-mode even though we
# do not model them (otherwise `ntp server ...` after an interface would stick to it).
_GLOBAL_ONLY = ("banner", "line", "ntp", "snmp-server", "logging", "service", "aaa",
                "policy-map", "class-map", "access-list", "control-plane", "boot",
                "boot-start-marker", "boot-end-marker", "clock", "archive", "license",
                "redundancy", "spanning-tree", "vtp", "route-map", "multilink",
                "diagnostic", "alias", "scheduler", "tacacs-server", "radius-server",
                "parser", "enable", "username", "hostname", "interface", "router", "crypto",
                "version")
_TRANSFORMS_WITH_KEYSIZE = ("esp-aes", "esp-gcm", "esp-gmac")
_TRANSFORMS = ("esp-aes", "esp-gcm", "esp-gmac", "esp-3des", "esp-des", "esp-null",
               "esp-seal", "esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac",
               "esp-sha384-hmac", "esp-sha512-hmac", "ah-md5-hmac", "ah-sha-hmac",
               "ah-sha256-hmac", "ah-sha384-hmac", "ah-sha512-hmac", "comp-lzs")
_PFS_GROUPS = ("group1", "group2", "group5", "group14", "group15", "group16", "group19",
               "group20", "group21", "group24")
_ISAKMP_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)


class _Removal(Exception):
    """A `no` form IOS refuses with a message of its own (no caret)."""


@dataclass
class ParseResult:
    """What reading a whole config gave: the model, the ignored lines, the errors."""

    config: RouterConfig
    ignored: list[IgnoredLine] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# Interface sub-commands whose every form we model: what follows these words must parse.
_MODELLED_FAMILIES = (("ip", "nhrp"), ("tunnel",))


def _refuse_typo_in_modelled_family(cur: Cursor) -> None:
    """Raise Invalid at the first word after a fully modelled family prefix."""
    words = [t.text.lower() for t in cur.tokens]
    for family in _MODELLED_FAMILIES:
        if tuple(words[: len(family)]) == family:
            at = min(len(family), len(cur.tokens) - 1)
            raise Invalid(cur.tokens[at].column)


def strip_prompt(line: str) -> str:
    """Drop a pasted IOS prompt such as `Hub(config-if)# ` from the start of a line."""
    return _PROMPT.sub("", line, count=1)


def strip_comment(line: str) -> str:
    """Drop a trailing `! comment` (IOS-style documentation in pasted configs)."""
    return _TRAILING_COMMENT.sub("", line)


def _body(line: str) -> str:
    """A section body line without the section's one-space indent (deeper indents kept)."""
    line = line.rstrip()
    return line[1:] if line[:1].isspace() else line


class ConfigSession:
    """Applies config lines to a `RouterConfig` the way IOS config mode does.

    `indented_input` says the text is an indented dump (see the module docstring);
    `strict_unknown` makes unknown lines errors instead of ignored warnings.
    """

    def __init__(
        self,
        config: RouterConfig | None = None,
        source: str = "running-config",
        *,
        indented_input: bool = False,
        strict_unknown: bool = False,
        strict_families: bool = False,
    ) -> None:
        self.config = config if config is not None else RouterConfig()
        self.source = source
        self.indented_input = indented_input
        self.strict_unknown = strict_unknown
        # Typed at a prompt, a line of a family we model completely (`ip nhrp ...`,
        # `tunnel ...` under an interface) that no handler took is a typo: IOS refuses it.
        self.strict_families = strict_families
        self.errors: list[ConfigError] = []
        self.ignored: list[IgnoredLine] = []
        self.ended = False
        self._mode = Mode.GLOBAL
        self._line_no = 0
        self._interface: Interface | None = None
        self._policy: IsakmpPolicy | None = None
        self._tset: TransformSet | None = None
        self._profile: IpsecProfile | None = None
        self._router: RouterSection | None = None
        self._raw: RawBlock | None = None
        self._banner_delim = ""
        self._banner_line_no = 0

    # -- public --------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def prompt_suffix(self) -> str:
        """The IOS prompt suffix for the current mode, e.g. `(config-if)`."""
        if self._mode is Mode.RAW or self._mode is Mode.BANNER:
            return Mode.GLOBAL.value
        return self._mode.value

    def apply(self, line: str, line_no: int | None = None) -> list[ConfigError]:
        """Apply one line; returns the errors it caused (also kept in `self.errors`)."""
        self._line_no = line_no if line_no is not None else self._line_no + 1
        raw = line.rstrip("\r\n").rstrip()
        if self._mode is Mode.BANNER:
            self._banner_line(raw)
            return []
        text = strip_comment(strip_prompt(raw)).rstrip()
        stripped = text.strip()
        if not stripped or stripped.startswith("!"):
            if stripped.startswith("!") and not text[:1].isspace() and self._mode is Mode.RAW:
                self._mode = Mode.GLOBAL
            return []
        if stripped == "Building configuration..." or stripped.startswith("Current configuration :"):
            return []
        try:
            self._dispatch(text)
        except Invalid as exc:
            return self._error(text, exc.message or INVALID_INPUT, exc.column)
        except Incomplete:
            return self._error(text, INCOMPLETE, None)
        except _Removal as exc:
            return self._error(text, str(exc), None)
        return []

    def finish(self) -> list[ConfigError]:
        """End of input: a banner still waiting for its delimiter swallowed the rest."""
        if self._mode is Mode.BANNER and self._raw is not None:
            first = self._raw.lines[0]
            self._line_no = self._banner_line_no
            self._enter_global()
            return self._error(first, f"% Banner text never ended: no closing delimiter "
                                      f"{self._banner_delim!r} after this line", None)
        return []

    def apply_text(self, text: str) -> list[ConfigError]:
        """Apply several lines (numbered from 1); all their errors."""
        errors: list[ConfigError] = []
        for n, line in enumerate(text.splitlines(), start=1):
            errors += self.apply(line, n)
        return errors

    # -- plumbing ------------------------------------------------------------------
    def _error(self, text: str, message: str, column: int | None) -> list[ConfigError]:
        err = ConfigError(self.source, self._line_no, text, message, column)
        self.errors.append(err)
        return [err]

    def _ignore(self, raw: str) -> None:
        if self.strict_unknown:
            pos = len(raw) - len(raw.lstrip())
            raise Invalid(pos)
        self.ignored.append(IgnoredLine(self.source, self._line_no, raw))

    def _has_body(self) -> bool:
        """Are there sections that print between the kept head and tail blocks?

        Decided from the model (not from what lines came before) so that reading the
        running-config back puts every kept block on the same side.
        """
        c = self.config
        return bool(c.interfaces or c.router_sections or c.static_routes or c.isakmp_policies
                    or c.isakmp_keys or c.isakmp_keepalive or c.transform_sets or c.ipsec_profiles)

    def _enter_global(self) -> None:
        self._mode = Mode.GLOBAL
        self._interface = self._policy = self._tset = self._profile = None
        self._router = None
        self._raw = None

    def _dispatch(self, text: str) -> None:
        indented = text[:1].isspace()
        cur = Cursor(text)
        first = cur.peek() or ""
        if matches(first, "end") and len(cur.tokens) == 1:
            self._enter_global()
            self.ended = True
            return
        if matches(first, "exit") and len(cur.tokens) == 1:
            self._enter_global()
            return

        mode = self._mode
        if mode is Mode.RAW:
            if indented and self._raw is not None:
                self._ignore(text)
                self._raw.lines.append(text)
                return
            self._enter_global()
        elif mode is Mode.ROUTER:
            assert self._router is not None
            leaves = not indented and (
                self._is_known_global(text) or self.indented_input
            )
            if not leaves:
                self._router.lines.append(_body(text))
                return
            self._enter_global()
        elif mode is not Mode.GLOBAL:
            handler = self._submode_handler(mode)
            try:
                handler(Cursor(text))
                return
            except Unknown:
                pass
            leaves = not indented and (
                self.indented_input
                or first.lower() in _GLOBAL_ONLY
                or self._is_known_global(text)
            )
            if not leaves:
                if self.strict_families and mode is Mode.INTERFACE:
                    _refuse_typo_in_modelled_family(Cursor(text))
                self._ignore(text)
                self._submode_extra(_body(text))
                return
            self._enter_global()
        self._global(text, indented)

    def _submode_handler(self, mode: Mode) -> Callable[[Cursor], None]:
        return {
            Mode.INTERFACE: self._interface_line,
            Mode.ISAKMP: self._isakmp_line,
            Mode.TRANSFORM: self._transform_line,
            Mode.IPSEC_PROFILE: self._profile_line,
        }[mode]

    def _submode_extra(self, line: str) -> None:
        target = self._interface or self._policy or self._tset or self._profile
        if target is not None:
            target.extra_lines.append(line)

    def _is_known_global(self, text: str) -> bool:
        """Would the global handler model this line (so it leaves a sub-mode)?"""
        cur = Cursor(text)
        cur.accept("no")
        first = (cur.peek() or "").lower()
        if first in ("interface", "hostname", "router", "crypto", "username", "enable",
                     "version", "banner") or matches(first, "interface", 3):
            return True
        if first == "ip":
            cur.next()
            return (cur.peek() or "").lower() == "route"
        return False

    # -- global mode ---------------------------------------------------------------
    def _raw_block(self, text: str) -> None:
        """Keep an unknown global line; in indented input its indented lines follow it."""
        self._ignore(text)
        block = RawBlock([text])
        (self.config.extra_tail if self._has_body() else self.config.extra_head).append(block)
        if self.indented_input:
            self._raw = block
            self._mode = Mode.RAW

    def _global(self, text: str, indented: bool) -> None:
        if indented and self._raw is not None:
            self._ignore(text)
            self._raw.lines.append(text)
            return
        if indented:
            # A stray indented line (its section header was refused or missing) is read,
            # and kept, unindented: from the running-config it must not join the block above.
            text = text.lstrip()
        cur = Cursor(text)
        neg = cur.accept("no")
        self._raw = None  # a new global line ends the kept block above it
        try:
            self._global_command(cur, neg, text)
        except Unknown:
            self._raw_block(text)

    def _global_command(self, cur: Cursor, neg: bool, text: str) -> None:
        cfg = self.config
        tok = cur.next()
        word = tok.text.lower()
        if matches(word, "hostname", 4):
            if neg:
                cfg.hostname = DEFAULT_HOSTNAME
                return
            name_tok = cur.next()
            cur.end()
            if not _HOSTNAME.match(name_tok.text):
                raise Invalid(name_tok.column, "% Hostname contains one or more illegal characters.")
            cfg.hostname = name_tok.text
        elif word == "version":
            if not neg:
                cfg.version = cur.rest()
        elif matches(word, "interface", 3):
            self._interface_command(cur, neg, text)
        elif word == "ip":
            if not cur.more() or (cur.peek() or "").lower() != "route":
                raise Unknown()
            cur.next()
            self._ip_route(cur, neg)
        elif word == "crypto":
            self._crypto(cur, neg)
        elif word == "router":
            self._router_command(cur, neg)
        elif word == "username":
            name = cur.word()
            cfg.usernames = [u for u in cfg.usernames if u.name != name]
            if not neg:
                cfg.usernames.append(Username(name, cur.rest()))
        elif word == "enable":
            if not cur.accept("secret"):
                raise Unknown()
            if neg:
                cfg.enable_secret = None
            else:
                cfg.enable_secret = cur.rest()
        elif word == "banner" and not neg:
            self._banner_start(cur, text)
        else:
            raise Unknown()

    # banners: `banner motd ^C` ... `^C` (the delimiter is the first character, or ^C)
    def _banner_start(self, cur: Cursor, text: str) -> None:
        cur.next()  # motd / login / exec / incoming
        if not cur.more():
            raise Unknown()
        start = cur.tokens[cur.pos].column
        rest = text[start:]
        delim = "^C" if rest.startswith("^C") else rest[0]
        self._ignore(text)
        block = RawBlock([text])
        (self.config.extra_tail if self._has_body() else self.config.extra_head).append(block)
        if delim in rest[len(delim):]:
            return
        self._raw = block
        self._banner_delim = delim
        self._banner_line_no = self._line_no
        self._mode = Mode.BANNER

    def _banner_line(self, raw: str) -> None:
        assert self._raw is not None
        self.ignored.append(IgnoredLine(self.source, self._line_no, raw))
        self._raw.lines.append(raw)
        if self._banner_delim in raw:
            self._mode = Mode.GLOBAL
            self._raw = None

    def _interface_command(self, cur: Cursor, neg: bool, text: str) -> None:
        if not cur.more():
            raise Incomplete()
        name_col = cur.column()
        raw_name = "".join(t.text for t in cur.tokens[cur.pos:])
        try:
            name = canonical_ios_ifname(raw_name)
        except InterfaceNameError:
            if neg:
                raise Invalid(name_col) from None
            raise Unknown() from None  # Vlan1, Serial0/0/0, subinterfaces: kept verbatim
        cfg = self.config
        if neg:
            if name.startswith("GigabitEthernet"):
                raise _Removal("% Removal of physical interfaces is not permitted")
            cfg.interfaces = [i for i in cfg.interfaces if i.name != name]
            return
        itf = cfg.interface(name)
        if itf is None:
            itf = cfg.add_interface(Interface(name))
        self._interface = itf
        self._mode = Mode.INTERFACE

    def _ip_route(self, cur: Cursor, neg: bool) -> None:
        if (cur.peek() or "").lower() in ("vrf", "static", "profile"):
            raise Unknown()
        addr_col = cur.column()
        addr, plen = cur.ipv4(), cur.mask()

        def network() -> IPv4Network:
            # IOS checks consistency once the whole command parsed (so a missing next
            # hop is `% Incomplete command.` first).
            try:
                return IPv4Network(f"{addr}/{plen}")
            except ValueError:
                raise Invalid(addr_col, "%Inconsistent address and mask") from None

        cfg = self.config
        if neg:
            prefix = network()
            nh: IPv4Address | None = None
            ifname: str | None = None
            if cur.more():
                nh, ifname = self._route_target(cur)
            cfg.static_routes = [
                r for r in cfg.static_routes
                if not (r.prefix == prefix
                        and (nh is None or r.next_hop == nh)
                        and (ifname is None or r.interface == ifname))
            ]
            return
        next_hop, interface = self._route_target(cur)
        route = StaticRoute(IPv4Network("0.0.0.0/0"), next_hop=next_hop, interface=interface)
        while cur.more():
            tok = cur.tokens[cur.pos]
            if tok.text.isdigit() and route.distance is None:
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
        # Replace a route to the same prefix via the same next hop (IOS updates it).
        cfg.static_routes = [
            r for r in cfg.static_routes
            if not (r.prefix == route.prefix and r.next_hop == route.next_hop
                    and r.interface == route.interface)
        ]
        cfg.static_routes.append(route)

    def _route_target(self, cur: Cursor) -> tuple[IPv4Address | None, str | None]:
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

    def _crypto(self, cur: Cursor, neg: bool) -> None:
        cfg = self.config
        kind = cur.choice("isakmp", "ipsec", unknown=True)
        if kind == "isakmp":
            sub = cur.choice("policy", "key", "keepalive", unknown=True)
            if sub == "policy":
                prio = cur.integer(1, 10000)
                cur.end()
                if neg:
                    cfg.isakmp_policies = [p for p in cfg.isakmp_policies if p.priority != prio]
                    return
                pol = cfg.isakmp_policy(prio)
                if pol is None:
                    pol = IsakmpPolicy(prio)
                    cfg.isakmp_policies.append(pol)
                    cfg.isakmp_policies.sort(key=lambda p: p.priority)
                self._policy = pol
                self._mode = Mode.ISAKMP
            elif sub == "key":
                self._isakmp_key(cur, neg)
            else:
                if neg:
                    cfg.isakmp_keepalive = None
                    return
                ka = IsakmpKeepalive(cur.integer(10, 3600))
                if cur.more() and (cur.peek() or "").isdigit():
                    ka.retry = cur.integer(2, 60)
                if cur.more():
                    ka.mode = cur.choice("periodic", "on-demand")  # type: ignore[assignment]
                cur.end()
                cfg.isakmp_keepalive = ka
        else:
            sub = cur.choice("transform-set", "profile", unknown=True)
            name = cur.word()
            if sub == "transform-set":
                if neg:
                    cfg.transform_sets = [t for t in cfg.transform_sets if t.name != name]
                    return
                transforms = self._transforms(cur)
                ts = cfg.transform_set(name)
                if ts is None:
                    ts = TransformSet(name, transforms)
                    cfg.transform_sets.append(ts)
                else:
                    ts.transforms = transforms
                self._tset = ts
                self._mode = Mode.TRANSFORM
            else:
                cur.end()
                if neg:
                    cfg.ipsec_profiles = [p for p in cfg.ipsec_profiles if p.name != name]
                    return
                prof = cfg.ipsec_profile(name)
                if prof is None:
                    prof = IpsecProfile(name)
                    cfg.ipsec_profiles.append(prof)
                self._profile = prof
                self._mode = Mode.IPSEC_PROFILE

    def _isakmp_key(self, cur: Cursor, neg: bool) -> None:
        cfg = self.config
        enc: int | None = None
        if (cur.peek() in ("0", "6") and len(cur.tokens) > cur.pos + 2
                and (cur.tokens[cur.pos + 2].text.lower() == "address")):
            enc = int(cur.next().text)
        key = cur.word()
        where = cur.choice("address", "hostname", unknown=True)
        if where == "hostname" or (cur.peek() or "").lower() == "ipv6":
            raise Unknown()
        addr = cur.ipv4()
        plen = 32
        if cur.more() and looks_like_address(cur.peek() or ""):
            plen = cur.mask()
        elif addr == IPv4Address("0.0.0.0"):
            plen = 0
        try:
            peer = IPv4Network(f"{addr}/{plen}")
        except ValueError:
            raise Invalid(cur.tokens[cur.pos - 1].column, "%Inconsistent address and mask") from None
        no_xauth = cur.accept("no-xauth")
        cur.end()
        cfg.isakmp_keys = [k for k in cfg.isakmp_keys if k.peer != peer]
        if not neg:
            cfg.isakmp_keys.append(IsakmpKey(key, peer, enc, no_xauth))

    def _transforms(self, cur: Cursor) -> list[str]:
        out: list[str] = []
        if not cur.more():
            raise Incomplete()
        while cur.more():
            tok = cur.next()
            name = tok.text.lower()
            if name not in _TRANSFORMS or len(out) == 3:
                raise Invalid(tok.column)
            if name in _TRANSFORMS_WITH_KEYSIZE and cur.peek() in ("128", "192", "256"):
                name += " " + cur.next().text
            out.append(name)
        return out

    def _router_command(self, cur: Cursor, neg: bool) -> None:
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
        cfg = self.config
        if neg:
            cfg.router_sections = [s for s in cfg.router_sections if s.header != header]
            return
        section = next((s for s in cfg.router_sections if s.header == header), None)
        if section is None:
            section = RouterSection(header)
            cfg.router_sections.append(section)
        self._router = section
        self._mode = Mode.ROUTER

    # -- interface mode ------------------------------------------------------------
    def _interface_line(self, cur: Cursor) -> None:
        itf = self._interface
        assert itf is not None
        neg = cur.accept("no")
        if not cur.more():
            raise Incomplete()
        tok = cur.next()
        word = tok.text.lower()
        if matches(word, "description", 4):
            itf.description = None if neg else cur.rest()
        elif matches(word, "shutdown", 4):
            cur.end()
            itf.shutdown = not neg
        elif word == "bandwidth":
            itf.bandwidth = None if neg else cur.integer(1, 10000000)
            cur.end()
        elif word == "ip":
            self._interface_ip(cur, neg, itf)
        elif word == "tunnel":
            self._interface_tunnel(cur, neg, itf)
        else:
            raise Unknown()

    def _interface_ip(self, cur: Cursor, neg: bool, itf: Interface) -> None:
        if not cur.more():
            raise Incomplete()
        word = cur.peek().lower()
        if matches(word, "address", 3):
            cur.next()
            if neg:
                if cur.more() and looks_like_address(cur.peek() or ""):
                    addr = IPv4Interface(f"{cur.ipv4()}/{cur.mask()}")
                    if cur.accept("secondary"):
                        itf.secondary_addresses = [a for a in itf.secondary_addresses if a != addr]
                        return
                itf.address = None
                itf.secondary_addresses = []
                return
            if cur.more() and not looks_like_address(cur.peek() or ""):
                raise Unknown()  # dhcp, negotiated, pool ...
            addr = IPv4Interface(f"{cur.ipv4()}/{cur.mask()}")
            self._check_host_address(cur, addr)
            if cur.accept("secondary"):
                cur.end()
                if addr not in itf.secondary_addresses:
                    itf.secondary_addresses.append(addr)
                return
            cur.end()
            itf.address = addr
        elif word == "mtu":
            cur.next()
            itf.ip_mtu = None if neg else cur.integer(68, 17912)
            cur.end()
        elif word == "tcp":
            cur.next()
            cur.choice("adjust-mss", unknown=True)
            itf.tcp_adjust_mss = None if neg else cur.integer(500, 1460)
            cur.end()
        elif word == "nhrp":
            cur.next()
            self._interface_nhrp(cur, neg, itf)
        elif word in ("ospf", "rip") or (
            word in _EIGRP_IF_WORDS and any(t.text.lower() == "eigrp" for t in cur.tokens)
        ):
            self._routing_line(cur, neg, itf)
        else:
            raise Unknown()

    @staticmethod
    def _check_host_address(cur: Cursor, addr: IPv4Interface) -> None:
        """IOS refuses a network or broadcast address as an interface address."""
        net = addr.network
        if net.prefixlen < 31 and addr.ip in (net.network_address, net.broadcast_address):
            mask_tok = cur.tokens[cur.pos - 1]
            raise Invalid(mask_tok.column, f"Bad mask /{net.prefixlen} for address {addr.ip}")

    @staticmethod
    def _routing_line(cur: Cursor, neg: bool, itf: Interface) -> None:
        """Interface routing lines, verbatim for FRR; `no` removes the positive form.

        EIGRP's split-horizon and next-hop-self are on by default, so their `no` form is
        itself the configuration that must be kept.
        """
        words = [t.text for t in cur.tokens[cur.pos:]]  # after `[no] ip`
        body = " ".join(["ip", *words])
        default_on = words[0].lower() in ("split-horizon", "next-hop-self")
        key_len = len(body.split()) if default_on else min(3, len(body.split()))
        key = body.split()[:key_len]

        def same(line: str) -> bool:
            parts = line.split()
            if parts[0] == "no":
                parts = parts[1:]
            return parts[:key_len] == key

        itf.routing_lines = [line for line in itf.routing_lines if not same(line)]
        if neg and default_on:
            itf.routing_lines.append("no " + body)
        elif not neg and not default_on:
            itf.routing_lines.append(body)

    def _interface_tunnel(self, cur: Cursor, neg: bool, itf: Interface) -> None:
        sub = cur.choice("source", "mode", "destination", "key", "protection", unknown=True)
        if sub == "source":
            if neg:
                itf.tunnel_source = None
                return
            tok = cur.next()
            if looks_like_address(tok.text):
                addr = parse_ipv4(tok.text)
                if addr is None:
                    raise Invalid(tok.column)
                itf.tunnel_source = addr
            else:
                name = tok.text
                if cur.more() and (cur.peek() or "").replace("/", "").isdigit():
                    name += cur.next().text
                try:
                    itf.tunnel_source = canonical_ios_ifname(name)
                except InterfaceNameError:
                    raise Invalid(tok.column) from None
            cur.end()
        elif sub == "mode":
            if neg:
                itf.tunnel_mode = None
                return
            cur.choice("gre", unknown=True)
            kind = cur.choice("multipoint", "ip", unknown=True)
            cur.end()
            itf.tunnel_mode = "gre multipoint" if kind == "multipoint" else "gre ip"
        elif sub == "destination":
            itf.tunnel_destination = None if neg else cur.ipv4()
            cur.end()
        elif sub == "key":
            itf.tunnel_key = None if neg else cur.integer(0, 4294967295)
            cur.end()
        else:
            cur.choice("ipsec", unknown=True)
            cur.choice("profile", unknown=True)
            if neg:
                itf.tunnel_protection = None
                return
            name = cur.word()
            shared = cur.accept("shared")
            cur.end()
            itf.tunnel_protection = TunnelProtection(name, shared)

    def _interface_nhrp(self, cur: Cursor, neg: bool, itf: Interface) -> None:
        nhrp = itf.nhrp
        if not cur.more():
            raise Incomplete()
        sub = cur.choice("network-id", "map", "nhs", "holdtime", "authentication", "redirect",
                         "shortcut", "registration", unknown=True)
        if sub == "network-id":
            nhrp.network_id = None if neg else cur.integer(1, 4294967295)
            cur.end()
        elif sub == "map":
            if cur.accept("multicast"):
                tok = cur.next()
                target: IPv4Address | str
                if tok.text.lower() == "dynamic":
                    target = "dynamic"
                else:
                    addr = parse_ipv4(tok.text)
                    if addr is None:
                        raise Invalid(tok.column)
                    target = addr
                cur.end()
                nhrp.multicast_maps = [m for m in nhrp.multicast_maps if m != target]
                if not neg:
                    nhrp.multicast_maps.append(target)  # type: ignore[arg-type]
                return
            if cur.more() and not looks_like_address(cur.peek() or ""):
                raise Unknown()  # `ip nhrp map group ...`
            address = cur.ipv4()
            if neg and not cur.more():
                nhrp.maps = [m for m in nhrp.maps if m.address != address]
                return
            nbma = cur.ipv4()
            cur.end()
            nhrp.maps = [m for m in nhrp.maps if m.address != address]
            if not neg:
                nhrp.maps.append(NhrpMap(address, nbma))
        elif sub == "nhs":
            self._nhrp_nhs(cur, neg, itf)
        elif sub == "holdtime":
            nhrp.holdtime = None if neg else cur.integer(1, 65535)
            cur.end()
        elif sub == "authentication":
            if neg:
                nhrp.authentication = None
                return
            tok = cur.next()
            if len(tok.text) > 8:
                raise Invalid(tok.column + 8)
            cur.end()
            nhrp.authentication = tok.text
        elif sub == "redirect":
            timeout = None
            if cur.accept("timeout"):
                timeout = None if neg else cur.integer(2, 30)
            cur.end()
            nhrp.redirect = not neg
            nhrp.redirect_timeout = timeout
        elif sub == "shortcut":
            cur.end()
            nhrp.shortcut = not neg
        else:
            what = cur.choice("no-unique", "timeout", unknown=True)
            if what == "no-unique":
                cur.end()
                nhrp.registration_no_unique = not neg
            else:
                nhrp.registration_timeout = None if neg else cur.integer(1, 65535)
                cur.end()

    def _nhrp_nhs(self, cur: Cursor, neg: bool, itf: Interface) -> None:
        nhrp = itf.nhrp
        if not cur.more():
            raise Incomplete()
        first = cur.peek().lower()
        if first == "dynamic":
            cur.next()
            if neg:
                nhrp.nhs = [n for n in nhrp.nhs if n.address is not None]
                return
            cur.choice("nbma")
            nhs = NhrpNhs(None, cur.ipv4())
            nhs.multicast = cur.accept("multicast")
            cur.end()
            nhrp.nhs = [n for n in nhrp.nhs if n.address is not None] + [nhs]
            return
        if not looks_like_address(first):
            raise Unknown()  # fallback, cluster-level options ...
        address = cur.ipv4()
        if neg:
            nhrp.nhs = [n for n in nhrp.nhs if n.address != address]
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
        nhrp.nhs = [n for n in nhrp.nhs if n.address != address] + [nhs]

    # -- crypto sub-modes ----------------------------------------------------------
    def _isakmp_line(self, cur: Cursor) -> None:
        pol = self._policy
        assert pol is not None
        neg = cur.accept("no")
        if not cur.more():
            raise Incomplete()
        defaults = IsakmpPolicy(pol.priority)
        tok = cur.next()
        word = tok.text.lower()
        if matches(word, "encryption", 4):
            if neg:
                pol.encryption = defaults.encryption
                return
            alg = cur.choice("des", "3des", "aes")
            if alg == "aes" and cur.more():
                alg += " " + str(cur.choice("128", "192", "256"))
            cur.end()
            pol.encryption = alg
        elif word == "hash":
            pol.hash = defaults.hash if neg else cur.choice("md5", "sha", "sha256", "sha384", "sha512")
            cur.end()
        elif matches(word, "authentication", 4):
            pol.authentication = (defaults.authentication if neg
                                  else cur.choice("pre-share", "rsa-sig", "rsa-encr"))
            cur.end()
        elif word == "group":
            if neg:
                pol.group = defaults.group
                return
            gtok = cur.next()
            if not gtok.text.isdigit() or int(gtok.text) not in _ISAKMP_GROUPS:
                raise Invalid(gtok.column)
            cur.end()
            pol.group = int(gtok.text)
        elif word == "lifetime":
            pol.lifetime = defaults.lifetime if neg else cur.integer(60, 86400)
            cur.end()
        else:
            raise Unknown()

    def _transform_line(self, cur: Cursor) -> None:
        ts = self._tset
        assert ts is not None
        neg = cur.accept("no")
        if not cur.accept("mode"):
            raise Unknown()
        if neg:
            ts.mode = "tunnel"
            return
        ts.mode = cur.choice("transport", "tunnel")  # type: ignore[assignment]
        cur.end()

    def _profile_line(self, cur: Cursor) -> None:
        prof = self._profile
        assert prof is not None
        neg = cur.accept("no")
        if not cur.accept("set"):
            raise Unknown()
        sub = cur.choice("transform-set", "pfs", "security-association", unknown=True)
        if sub == "transform-set":
            if neg:
                prof.transform_sets = []
                return
            names = [cur.word()] + [t.text for t in cur.tokens[cur.pos:]]
            if len(names) > 6:
                raise Invalid(cur.tokens[cur.pos + 5].column)
            prof.transform_sets = names
        elif sub == "pfs":
            if neg:
                prof.pfs = None
                return
            prof.pfs = cur.choice(*_PFS_GROUPS) if cur.more() else "group1"
            cur.end()
        else:
            cur.choice("lifetime", unknown=True)
            unit = cur.choice("seconds", "kilobytes", unknown=True)
            if unit == "seconds":
                prof.lifetime_seconds = None if neg else cur.integer(120, 2592000)
            else:
                prof.lifetime_kilobytes = None if neg else cur.integer(2560, 4294967295)
            cur.end()


def is_indented(text: str) -> bool:
    """Does this config indent its section bodies (a `show running-config` dump)?"""
    return any(line[:1] in (" ", "\t") and line.strip() and not line.strip().startswith("!")
               for line in text.splitlines())


def parse_config(text: str, source: str = "startup-config") -> ParseResult:
    """Read a whole IOS configuration; never raises for bad lines (see `ParseResult`)."""
    session = ConfigSession(source=source, indented_input=is_indented(text))
    session.apply_text(text)
    session.finish()
    return ParseResult(session.config, session.ignored, session.errors)


def load_config(text: str, source: str = "startup-config") -> RouterConfig:
    """Read a whole IOS configuration; raises `ConfigSyntaxError` listing every malformed line."""
    result = parse_config(text, source)
    if result.errors:
        raise ConfigSyntaxError(result.errors)
    return result.config
