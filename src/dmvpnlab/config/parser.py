"""IOS configuration text -> `RouterConfig`, one line at a time, in IOS's modes.

One engine serves both ways configs arrive:
- a whole file (startup-config, a pasted `show running-config` dump, lines copied from a
  guide): `parse_config(text)` / `load_config(text)`;
- `configure terminal` in the CLI: `ConfigSession.apply(line)` with per-line errors and
  the prompt suffix of the current mode.

This module is the mode machine: it reads a line, picks the current mode's command table
(built from the handler modules' `COMMANDS`, see modes.py) and runs the command, or keeps
the line. Like IOS, a line is first tried in the current sub-mode and, if it is no command
of that mode, in global mode (which leaves the sub-mode). Lines we do not model are kept
verbatim and reported as ignored; a malformed line of a modelled command is an IOS error.

Indentation matters only for lines we do not know: in an indented document (a `show
running-config` dump) an unindented unknown line is a new global line, an indented one
belongs to the section above it, and after the `!` that closes a section an unindented
line is a global line even when the section's mode knows it. In flat input (copied guide
lines, an interactive session) an unknown line stays in the current section, as IOS would
try it there first, and `!` is only a comment.

Every line is first made printable (config.text: a character that would break the line
and a lone surrogate become visible escapes), so what the model keeps always renders, and
renders to a line that reads back the same. Reading is linear in the size of the config: a line costs time
in its own length only (no backtracking regex over it), and handlers find entries
through the session's indexes (`entries`, see modes.Entries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from dmvpnlab.config import (acl_mode, crypto_mode, global_mode, interface_mode, keychain_mode, references,
                             router_mode, services_mode)
from dmvpnlab.config.errors import INCOMPLETE, INVALID_INPUT, ConfigError, ConfigSyntaxError, IgnoredLine
from dmvpnlab.config.model import RawBlock, RouterConfig
from dmvpnlab.config.modes import Command, Context, Entries, K, Mode, ModeSpec, V
from dmvpnlab.config.text import printable
from dmvpnlab.config.tokens import Cursor, Incomplete, Invalid, Refused, Unknown, is_number, matches

_PROMPT = re.compile(r"^\s*[A-Za-z0-9_.-]+\((?:config[a-z-]*|cfg-[a-z-]+|conf-[a-z-]+|ipsec-profile|dhcp-config)\)#\s?")


def _spellings(command: Command, abbreviated: bool) -> list[str]:
    """Every way a line may spell the first keyword of `command` (see tokens.matches)."""
    first = command.keywords[0]
    word = first.word
    shortest = len(word) if first.min_len is None or not abbreviated else min(first.min_len, len(word))
    return [word[:n] for n in range(shortest, len(word) + 1)]


def _by_first_word(commands: Sequence[Command], abbreviated: Callable[[Command], bool]) -> dict[str, list[Command]]:
    """Spelling of a first keyword -> the commands it may start, in table order."""
    out: dict[str, list[Command]] = {}
    for command in commands:
        for spelling in _spellings(command, abbreviated(command)):
            out.setdefault(spelling, []).append(command)
    return out


class CommandTable:
    """The commands of one mode, gathered from every handler module, and the mode's rules.

    A line is tried only against the commands its first word may start (looked up by
    spelling), not against the whole table: the cost of a line does not grow with the
    number of commands a mode has.
    """

    def __init__(self, spec: ModeSpec, commands: Sequence[Command]) -> None:
        self.spec = spec
        self.commands = tuple(commands)
        self._starting = _by_first_word(self.commands, lambda c: True)
        self._leading = _by_first_word(self.commands, lambda c: c.leaves_abbreviated)

    def run(self, ctx: Context, cur: Cursor) -> None:
        """Run the command the line is (first in table order).

        Raises Unknown when it is none of ours, Incomplete when the line stops inside a
        command's keywords (outside an open family, see `ModeSpec`).
        """
        neg = cur.accept("no")
        start = cur.pos
        stopped_inside: tuple[str, ...] | None = None
        if not cur.more():  # a bare `no`: it stops inside every command, before its first word
            stopped_inside = () if self.commands else None
        first = (cur.peek() or "").lower()
        if self.spec.leading_number is not None and is_number(first):
            self.spec.leading_number(ctx, cur, neg)
            return
        for command in self._starting.get(first, ()):
            cur.pos = start
            taken = command.take(cur)
            if taken == len(command.keywords):
                command.handler(ctx, cur, neg)
                return
            if not cur.more() and stopped_inside is None:
                stopped_inside = command.words[:taken]
        cur.pos = start
        if stopped_inside is not None and stopped_inside not in self.spec.open_families:
            raise Incomplete()
        raise Unknown()

    def names_command(self, text: str) -> bool:
        """Does the line start with one of this mode's commands (its words past any open family)?

        Only the leading keywords count, not whether the rest parses: `crypto pki ...` and
        `enable password` are global lines too.
        """
        cur = Cursor(text)  # tokenized once, however many commands are tried
        cur.accept("no")
        start = cur.pos
        for command in self._leading.get((cur.peek() or "").lower(), ()):
            cur.pos = start
            taken = command.take(cur, abbreviated=command.leaves_abbreviated)
            if any(command.words[:n] not in self.spec.open_families for n in range(1, taken + 1)):
                return True
        return False


def build_tables(commands: Sequence[Command], specs: Sequence[ModeSpec]) -> dict[Mode, CommandTable]:
    """One table per mode spec; a command of a mode no module specifies is a bug, said at import."""
    orphans = sorted({c.syntax for c in commands if c.mode not in {s.mode for s in specs}})
    if orphans:
        raise ValueError(f"commands of a mode without a ModeSpec: {orphans}")
    return {spec.mode: CommandTable(spec, [c for c in commands if c.mode is spec.mode]) for spec in specs}


# The handler modules; a new one joins here.
_TABLES = build_tables(
    [*global_mode.COMMANDS, *interface_mode.COMMANDS, *crypto_mode.COMMANDS, *router_mode.COMMANDS,
     *keychain_mode.COMMANDS, *acl_mode.COMMANDS, *services_mode.COMMANDS],
    [*global_mode.MODES, *interface_mode.MODES, *crypto_mode.MODES, *router_mode.MODES, *keychain_mode.MODES,
     *acl_mode.MODES, *services_mode.MODES],
)
_GLOBAL = _TABLES[Mode.GLOBAL]


@dataclass
class ParseResult:
    """What reading a whole config gave: the model, the ignored lines, the errors."""

    config: RouterConfig
    ignored: list[IgnoredLine] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def strip_prompt(line: str) -> str:
    """Drop a pasted IOS prompt such as `Hub(config-if)# ` from the start of a line."""
    return _PROMPT.sub("", line, count=1)


def strip_comment(line: str) -> str:
    """Drop a trailing `! comment` (IOS-style documentation in pasted configs).

    The comment starts at the first `!` that stands alone as a word after some white
    space; it goes with the white space before it. A scan for `!`, not a regex: the
    regex `\\s+!` retried every position of a long run of blanks (quadratic).
    """
    at = line.find("!", 1)
    while at != -1:
        if line[at - 1].isspace() and (at + 1 == len(line) or line[at + 1].isspace()):
            return line[:at].rstrip()
        at = line.find("!", at + 1)
    return line


def _body(line: str) -> str:
    """A section body line without the section's one-space indent (deeper indents kept)."""
    line = line.rstrip()
    return line[1:] if line[:1].isspace() else line


def _has_body(c: RouterConfig) -> bool:
    """Are there sections that print between the kept head and tail blocks?

    Decided from the model (not from what lines came before) so that reading the
    running-config back puts every kept block on the same side.
    """
    return bool(c.interfaces or c.router_sections or c.static_routes or c.isakmp_policies
                or c.isakmp_keys or c.isakmp_keepalive or c.transform_sets or c.ipsec_profiles
                or c.keyrings or c.key_chains or c.isakmp_nat_keepalive is not None
                or c.ipsec_lifetime_seconds is not None or c.ipsec_lifetime_kilobytes is not None
                or c.access_lists or c.nat_rules or c.default_gateway is not None)


def _refuse_typo_in_family(families: tuple[tuple[str, ...], ...], cur: Cursor) -> None:
    """Raise Invalid at the first word after a fully modelled family prefix."""
    words = [t.text.lower() for t in cur.tokens]
    for family in families:
        if tuple(words[: len(family)]) == family:
            at = min(len(family), len(cur.tokens) - 1)
            raise Invalid(cur.tokens[at].column)


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
        immediate_references: bool = False,
    ) -> None:
        self.config = config if config is not None else RouterConfig()
        self.source = printable(source)  # a file name may hold undecodable bytes too
        self.indented_input = indented_input
        self.strict_unknown = strict_unknown
        # Typed at a prompt, a line of a family we model completely (`ip nhrp ...`,
        # `tunnel ...` under an interface) that no handler took is a typo: IOS refuses it.
        self.strict_families = strict_families
        # At a prompt a line naming an undefined transform set or profile is refused at
        # once; in a file the whole config is checked at its end (`finish`).
        self.immediate_references = immediate_references
        self._references: dict[tuple[str, str], tuple[int, str]] = {}  # (kind, name) -> last line naming it
        self._line_text = ""
        self.errors: list[ConfigError] = []
        self.ignored: list[IgnoredLine] = []
        self.ended = False
        self._mode = Mode.GLOBAL
        self._target: Any = None  # the section the sub-mode edits; the block RAW/BANNER collect
        self._line_no = 0
        self._banner_delim = ""
        self._banner_line_no = 0
        self._closed = False  # a dump's `!` closed the current section (see the module docstring)
        self._indexes: dict[int, Entries[Any, Any]] = {}  # id(model list) -> its index

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
        raw = printable(line.rstrip("\r\n").rstrip())
        self._line_text = raw
        if self._mode is Mode.BANNER:
            self._banner_line(raw)
            return []
        text = strip_comment(strip_prompt(raw)).rstrip()
        stripped = text.strip()
        if not stripped or stripped.startswith("!"):
            if stripped.startswith("!") and not text[:1].isspace():
                if self._mode is Mode.RAW:
                    self._mode = Mode.GLOBAL  # the block still takes indented lines (`_global`)
                elif self.indented_input and self._mode is not Mode.GLOBAL:
                    self._closed = True  # ... and so does the section, but no unindented line
            return []
        if _is_header(stripped):
            return []
        try:
            self._dispatch(text)
        except Invalid as exc:
            return self._error(text, exc.message or INVALID_INPUT, exc.column)
        except Incomplete:
            return self._error(text, INCOMPLETE, None)
        except Refused as exc:
            return self._error(text, str(exc), None)
        if self.config.extra_tail and not _has_body(self.config):
            # The last section went (`no interface ...`): with nothing between them, the
            # kept blocks after the sections print, and so read back, as blocks before them.
            self.config.extra_head += self.config.extra_tail
            self.config.extra_tail.clear()
        return []

    def finish(self) -> list[ConfigError]:
        """End of input: names that no section defines, and an unended banner.

        A transform set or IPsec profile named but never defined is an IOS error on the
        (last) line that named it (config.references). A banner still waiting for its
        delimiter swallowed the rest: its first line is refused, and so the banner leaves
        the model (a refused line changes nothing): kept, it would render a banner that
        swallows `end` again.
        """
        errors: list[ConfigError] = []
        for kind, name in references.undefined(self.config):
            line_no, text = self._references.get((kind, name), (0, ""))
            errors.append(ConfigError(self.source, line_no, text, references.message(kind, name)))
        self.errors += errors
        return errors + self._finish_banner()

    def _finish_banner(self) -> list[ConfigError]:
        if self._mode is Mode.BANNER:
            block = self._target
            first = block.lines[0]
            self._line_no = self._banner_line_no
            self._enter_global()
            for blocks in (self.config.extra_head, self.config.extra_tail):
                blocks[:] = [b for b in blocks if b is not block]
            return self._error(first, f"% Banner text never ended: no closing delimiter "
                                      f"{self._banner_delim!r} after this line", None)
        return []

    def apply_text(self, text: str) -> list[ConfigError]:
        """Apply several lines (numbered from 1); all their errors."""
        errors: list[ConfigError] = []
        for n, line in enumerate(text.splitlines(), start=1):
            errors += self.apply(line, n)
        return errors

    # -- what handlers may do (modes.Context) ---------------------------------------
    @property
    def target(self) -> Any:
        return self._target

    def enter(self, mode: Mode, target: object) -> None:
        self._mode = mode
        self._target = target
        self._closed = False

    def keep_block(self, text: str) -> RawBlock:
        if not global_mode.is_motd_header(text):  # the motd takes effect (banner_motd): no warning
            self._ignore(text)
        block = RawBlock([text])
        (self.config.extra_tail if _has_body(self.config) else self.config.extra_head).append(block)
        return block

    def collect_banner(self, block: RawBlock, delimiter: str) -> None:
        self.enter(Mode.BANNER, block)
        self._banner_delim = delimiter
        self._banner_line_no = self._line_no

    def entries(self, items: list[V], key: Callable[[V], K],
                order: Callable[[V], Any] | None = None) -> Entries[K, V]:
        """The index of a model list, kept from line to line (see modes.Context.entries)."""
        # The index holds `items`, so no other list can take its id while it is cached.
        known = self._indexes.get(id(items))
        if known is None or known.items is not items or known.key is not key or not known.fresh():
            known = self._indexes[id(items)] = Entries(items, key, order)
        return known

    def refer(self, kind: str, name: str) -> None:
        if self.immediate_references and not references.defined(self.config, kind, name):
            raise Refused(references.message(kind, name))
        self._references[(kind, name)] = (self._line_no, self._line_text)

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

    def _enter_global(self) -> None:
        self.enter(Mode.GLOBAL, None)

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
        if self._mode is Mode.RAW:
            if indented:
                self._ignore(text)
                self._target.lines.append(text)
                return
            self._enter_global()
        elif self._mode is not Mode.GLOBAL:
            if not (self._closed and not indented) and self._submode_line(cur, indented, first):
                return
            self._enter_global()
        self._global(cur, indented)

    def _submode_line(self, cur: Cursor, indented: bool, first: str) -> bool:
        """Take the line in the current sub-mode; False when it leaves for global mode."""
        table = _TABLES[self._mode]
        spec = table.spec
        text = cur.line
        try:
            cur.pos = 0
            table.run(self, cur)
            return True
        except Unknown:
            pass
        leaves = not indented and (
            self.indented_input
            or (not spec.verbatim and first.lower() in global_mode.GLOBAL_ONLY)
            or _GLOBAL.names_command(text)
        )
        if leaves:
            return False
        if self.strict_families:
            _refuse_typo_in_family(spec.complete_families, cur)
        if not spec.verbatim:
            self._ignore(text)
        body = spec.body(self._target)
        if spec.merge is not None:
            spec.merge(body, _body(text))
        else:
            body.append(_body(text))
        return True

    def _global(self, cur: Cursor, indented: bool) -> None:
        text = cur.line
        if indented and self._target is not None:  # a kept block that a `!` closed
            self._ignore(text)
            self._target.lines.append(text)
            return
        if indented:
            # A stray indented line (its section header was refused or missing) is read,
            # and kept, unindented: from the running-config it must not join the block above.
            text = text.lstrip()
            cur = Cursor(text)
        self._target = None  # a new global line ends the kept block above it
        cur.pos = 0
        try:
            _GLOBAL.run(self, cur)
        except Unknown:
            block = self.keep_block(text)
            if self.indented_input:
                self.enter(Mode.RAW, block)  # its indented lines follow it

    def _banner_line(self, raw: str) -> None:
        block = self._target
        motd = global_mode.is_motd_header(block.lines[0])
        if not motd:
            self.ignored.append(IgnoredLine(self.source, self._line_no, raw))
        block.lines.append(raw)
        if self._banner_delim in raw:
            if motd:
                self.config.banner_motd = global_mode.banner_text(block.lines, self._banner_delim)
            self._enter_global()


def _is_header(stripped: str) -> bool:
    """The lines `show running-config` prints before the configuration proper."""
    return stripped == "Building configuration..." or stripped.startswith("Current configuration :")


def is_indented(text: str) -> bool:
    """Is this config a `show running-config` dump (section bodies indented), not flat lines?

    Indented body lines say so. So does a start like every IOS running- and startup-config
    (the `show running-config` header, or `version` first), which our own renderer's
    output has too, even when no section has a body to indent: read back, it must be read
    as the dump it is.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("!")]
    if lines and (_is_header(lines[0].strip()) or lines[0].startswith("version ")):
        return True
    return any(line[:1] in (" ", "\t") for line in lines)


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
