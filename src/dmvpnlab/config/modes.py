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
handlers of plain settings. Imports config.model and config.tokens.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypeVar

from dmvpnlab.config.model import RawBlock, RouterConfig
from dmvpnlab.config.tokens import Cursor


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


S = TypeVar("S")


def open_section(
    ctx: Context,
    neg: bool,
    mode: Mode,
    sections: list[S],
    key: Callable[[S], object],
    value: object,
    create: Callable[[], S],
    *,
    order: Callable[[S], Any] | None = None,
) -> S | None:
    """A section header line: `no` removes the section whose `key` is `value`; otherwise
    the section is found, or added, and becomes the current sub-mode (and is returned).

    IOS re-enters an existing section (`interface Tunnel0` twice edits one interface). A
    new section goes where the running-config lists it (sorted by `order`), or last.
    """
    if neg:
        sections[:] = [s for s in sections if key(s) != value]
        return None
    section = next((s for s in sections if key(s) == value), None)
    if section is None:
        section = create()
        sections.append(section)
        if order is not None:
            sections.sort(key=order)
    ctx.enter(mode, section)
    return section


# -- handlers for the common shapes of sub-mode lines ------------------------------------


def _itself(section: Any) -> Any:
    return section


def setting(attr: str, read: Callable[[Cursor], object], of: Callable[[Any], Any] = _itself) -> Handler:
    """`<keywords> VALUE` sets `attr` of the section (or of `of(section)`); `no ...` clears it.

    `read` takes the value from the cursor (raising IOS verdicts); nothing may follow it.
    """
    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        setattr(of(ctx.target), attr, None if neg else read(cur))
        cur.end()
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
