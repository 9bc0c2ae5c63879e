"""The seam between the configuration session and the modules that handle each mode's lines.

A handler module (global_mode, interface_mode, crypto_mode, router_mode) states what it
handles as data: `COMMANDS`, each a `Command` of one `Mode` with its keywords and its
handler, and `MODES`, a `ModeSpec` for each mode it owns (what that mode does with lines
none of its commands take). The session (parser.py) builds one table per mode from all
modules and dispatches every line through it, so a command is added beside its handler,
in one module, even into a mode another module owns (`ip ospf` under an interface lives
with routing). A new mode is a `Mode` member here plus its spec and commands in its module
(a new module also joins the list in parser.py). Handlers reach the session only through
`Context`, and share `open_section` (a section header line) and the `setting`/`flag`
handlers of plain settings.

A handler that looks an entry up in a model list (a section by name, a route, an NHRP map)
does it through `Context.entries`, the session's index of that list (`Entries`), never by
scanning or rebuilding the list: a config of 10,000 interfaces, routes or maps is then
read in 10,000 steps, not 10,000². A handler changes the model only once the whole line
has parsed, so a refused line leaves it as it was (IOS refuses a line as a whole).
Imports config.model, config.tokens and ifnames.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from ipaddress import IPv4Address
from typing import Any, Callable, Generic, Hashable, Protocol, TypeVar

from dmvpnlab.config.model import RawBlock, RouterConfig
from dmvpnlab.config.tokens import Cursor, Invalid, is_number, looks_like_address, parse_ipv4
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname


class Mode(enum.Enum):
    """IOS configuration modes, valued by their prompt suffix."""

    GLOBAL = "(config)"
    INTERFACE = "(config-if)"
    ISAKMP = "(config-isakmp)"
    TRANSFORM = "(cfg-crypto-trans)"
    IPSEC_PROFILE = "(ipsec-profile)"
    KEYRING = "(conf-keyring)"
    KEYCHAIN = "(config-keychain)"
    KEYCHAIN_KEY = "(config-keychain-key)"
    ROUTER = "(config-router)"
    ACL_STANDARD = "(config-std-nacl)"
    ACL_EXTENDED = "(config-ext-nacl)"
    DHCP_POOL = "(dhcp-config)"
    RAW = "(config-raw)"  # inside a section we keep verbatim (line vty, policy-map, ...)
    BANNER = "(config-banner)"  # collecting banner text up to the delimiter


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Entries(Generic[K, V]):
    """One model list seen through a key: find, add and replace in O(1), remove in O(n).

    The list stays the model's own (the renderer, the agent and the CLI read it as it is);
    this is an index into it. A replaced entry keeps its place (as IOS updates a route or a
    map where it is); a new one goes last or, with `order` (of an entry), where the sorted
    list puts it, found by bisection over the entries' order values, kept beside the list:
    a new section never re-sorts the list nor recomputes an order. A list handed in out of
    order is sorted once. The index is valid while only its methods change the list;
    `fresh` notices a change of length behind its back.
    """

    def __init__(self, items: list[V], key: Callable[[V], K], order: Callable[[V], Any] | None = None) -> None:
        self.items = items
        self.key = key
        self.order = order
        if order is not None and any(order(a) > order(b) for a, b in pairwise(items)):
            items.sort(key=order)
        self._reindex()

    def _reindex(self) -> None:
        self._entry: dict[K, V] = {self.key(v): v for v in self.items}
        # Positions only for an unordered list: it grows at its end, so they stay valid.
        self._at: dict[K, int] = {} if self.order else {self.key(v): i for i, v in enumerate(self.items)}
        self._orders: list[Any] = [self.order(v) for v in self.items] if self.order else []
        self._count = len(self.items)

    def fresh(self) -> bool:
        return len(self.items) == self._count

    def get(self, key: K) -> V | None:
        return self._entry.get(key)

    def put(self, entry: V) -> None:
        """Replace the entry with the same key where it stands, or add `entry`."""
        k = self.key(entry)
        if self.order is None:
            at = self._at.get(k)
            if at is None:
                self._at[k] = len(self.items)
                self.items.append(entry)
            else:
                self.items[at] = entry
        else:
            rank = self.order(entry)
            if k in self._entry:
                at = bisect_left(self._orders, rank)
                self.items[at] = entry
            else:
                at = bisect_right(self._orders, rank)
                self.items.insert(at, entry)
                self._orders.insert(at, rank)
        self._entry[k] = entry
        self._count = len(self.items)

    def drop(self, key: K) -> None:
        """Remove the entries with this key (nothing to do, in O(1), when there is none)."""
        if key in self._entry:
            self.drop_where(lambda v: self.key(v) == key)

    def drop_where(self, doomed: Callable[[V], bool]) -> None:
        self.items[:] = [v for v in self.items if not doomed(v)]
        self._reindex()


class Context(Protocol):
    """What a handler may do to the session it runs in."""

    config: RouterConfig

    @property
    def target(self) -> Any:
        """The section object of the current sub-mode (an Interface, an IsakmpPolicy, ...)."""

    def enter(self, mode: Mode, target: object) -> None:
        """Make `mode` the current mode, editing `target`."""

    def keep_block(self, text: str) -> RawBlock:
        """Keep an unmodelled global line as a block of its own (an ignored-line warning)."""

    def collect_banner(self, block: RawBlock, delimiter: str) -> None:
        """Add the following lines to `block` up to the one holding `delimiter`."""

    def entries(self, items: list[V], key: Callable[[V], K],
                order: Callable[[V], Any] | None = None) -> Entries[K, V]:
        """The session's index of the model list `items` by `key` (see `Entries`).

        The session keeps it from line to line, so `key` must be the same function each
        time (a module-level one, not a lambda made per line).
        """

    def refer(self, kind: str, name: str) -> None:
        """This line names a section of `kind` (see config.references) that must exist.

        A file lists crypto before interfaces but may name a section before defining it,
        so a whole config is checked at its end and the error names this line; typed at
        a prompt, IOS refuses the line at once (Refused). Call it before the model changes.
        """


Handler = Callable[[Context, Cursor, bool], None]
"""Runs one command: the cursor stands after its keywords; the flag says `no` came first."""


@dataclass(frozen=True)
class Keyword:
    word: str
    min_len: int | None  # the shortest abbreviation IOS accepts; None: only the whole word


def _keywords(syntax: str) -> tuple[Keyword, ...]:
    """`ip add[ress]` -> `ip` (whole word only), `address` (accepted from `add`)."""
    out = []
    for part in syntax.split():
        head, bracket, tail = part.partition("[")
        out.append(Keyword(head + tail.rstrip("]"), len(head) if bracket else None))
    return tuple(out)


@dataclass(frozen=True)
class Command:
    """One modelled command of one mode: its leading keywords and the handler for the rest.

    `syntax` spells the keywords as IOS documentation does, with the part an abbreviation
    may leave out in brackets: `int[erface]` is `interface`, accepted from `int`.
    """

    mode: Mode
    syntax: str
    handler: Handler
    # In flat input a sub-mode line starting with a global command leaves the sub-mode
    # (parser.py); its keywords count only typed in full, unless this is set.
    leaves_abbreviated: bool = False
    keywords: tuple[Keyword, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", _keywords(self.syntax))

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(k.word for k in self.keywords)

    def take(self, cur: Cursor, *, abbreviated: bool = True) -> int:
        """Consume the keywords the next tokens spell; returns how many (all: it is this command)."""
        taken = 0
        for kw in self.keywords:
            if not cur.accept(kw.word, kw.min_len if abbreviated else None):
                break
            taken += 1
        return taken


def _extra_lines(section: Any) -> list[str]:
    return section.extra_lines  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ModeSpec:
    """How one mode treats the lines none of its commands take."""

    mode: Mode
    # Keyword prefixes of a family we model only part of: typed alone such a prefix is a
    # line we keep, not `% Incomplete command.`, and in global mode a line names one of our
    # commands only with the words after it (global `ip`: only `ip route` is ours). The
    # empty prefix stands for a bare `no`.
    open_families: tuple[tuple[str, ...], ...] = ()
    # Families whose every form we model (`ip nhrp`, `tunnel`): typed at a prompt, a line
    # of them that no command took is a typo, refused with a caret after the family words.
    complete_families: tuple[tuple[str, ...], ...] = ()
    # Where a sub-mode keeps the lines no command takes, on its section object.
    body: Callable[[Any], list[str]] = _extra_lines
    # The body is the section's own text for another program (a router section for FRR):
    # its lines are no warnings, and only a global command we model ends the section.
    verbatim: bool = False
    # How a body line joins the body (default: appended); a router section merges lines
    # as IOS does (`no network ...` removes the network, a new router-id replaces the old).
    merge: Callable[[list[str], str], None] | None = None
    # A line whose first word (after `no`) is a number goes to this handler, the cursor
    # on the number: a named access list's `15 permit ...` and `no 15`.
    leading_number: Handler | None = None


S = TypeVar("S")


def open_section(
    ctx: Context,
    neg: bool,
    mode: Mode,
    sections: list[S],
    key: Callable[[S], Any],
    value: object,
    create: Callable[[], S],
    *,
    order: Callable[[S], Any] | None = None,
) -> S | None:
    """A section header line: `no` removes the section whose `key` is `value`; otherwise
    the section is found, or added, and becomes the current sub-mode (and is returned).

    IOS re-enters an existing section (`interface Tunnel0` twice edits one interface). A
    new section goes where the running-config lists it (sorted by `order`), or last.
    `key` and `order` are module-level functions (see `Context.entries`).
    """
    index = ctx.entries(sections, key, order)
    if neg:
        index.drop(value)
        return None
    section = index.get(value)
    if section is None:
        section = create()
        index.put(section)
    ctx.enter(mode, section)
    return section


# -- handlers for the common shapes of sub-mode lines ------------------------------------


def _itself(section: Any) -> Any:
    return section


def setting(attr: str, read: Callable[[Cursor], object], of: Callable[[Any], Any] = _itself, *,
            check_no: bool = True) -> Handler:
    """`<keywords> VALUE` sets `attr` of the section (or of `of(section)`); `no ...` clears it.

    `read` takes the value from the cursor (raising IOS verdicts); nothing may follow it.
    Like IOS, the `no` form may repeat the value (`no tunnel key 5`), checked, then dropped;
    with `check_no=False` the `no` form clears without reading what follows it.
    """
    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        if neg and not check_no:
            setattr(of(ctx.target), attr, None)
            return
        value = read(cur) if not neg or cur.more() else None
        cur.end()
        setattr(of(ctx.target), attr, None if neg else value)
    return handler


def flag(attr: str, of: Callable[[Any], Any] = _itself) -> Handler:
    """`<keywords>` alone sets the boolean `attr`; `no <keywords>` unsets it."""
    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        cur.end()
        setattr(of(ctx.target), attr, not neg)
    return handler


def number(lo: int, hi: int) -> Callable[[Cursor], int]:
    """A `setting` reader: a decimal number in [lo, hi]."""
    return lambda cur: cur.integer(lo, hi)


def address_or_interface(cur: Cursor) -> IPv4Address | str:
    """A reader for lines that name a local end either way (`tunnel source`, a keyring's
    `local-address`): a dotted address, or an interface, returned by its canonical IOS name.

    One reader, so both lines take the same spellings (`Gi0/0`, `GigabitEthernet 0/0` typed
    with a space) and refuse the same ones, under the same caret.
    """
    tok = cur.next()
    if looks_like_address(tok.text):
        addr = parse_ipv4(tok.text)
        if addr is None:
            raise Invalid(tok.column)
        return addr
    name = tok.text
    if cur.more() and is_number((cur.peek() or "").replace("/", "")):
        name += cur.next().text  # `GigabitEthernet 0/0` typed with a space
    try:
        return canonical_ios_ifname(name)
    except InterfaceNameError:
        raise Invalid(tok.column) from None
