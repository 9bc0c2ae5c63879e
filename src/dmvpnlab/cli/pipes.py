"""`| include/exclude/begin/section/count REGEX`: IOS output filters that cannot stall the router.

Why this is more than `re.search`: a CLI line runs on the agent's event loop, the same
loop that moves the tunnel's packets and runs NHRP. Python's `re` backtracks without
limit and cannot be interrupted (it holds the GIL, so a thread does not help either):
`show running-config | include (a+)+$` on a description of 24 `a` and a `!` took a
second, doubling per character, and froze the router meanwhile. So:

- matching uses the `regex` module, whose searches take a `timeout`; one command gets
  REGEX_BUDGET seconds for all its lines together, then answers
  `% Regular expression too complex` (TooComplex) and the session goes on;
- the pattern is IOS's regex language, translated (`ios_pattern`), not Python's: IOS has
  no counted repeats (`{` and `}` are plain characters, matched by `_`), and the `regex`
  module's compile time and memory grow with a repeat count (`.{4294967294}` ran out of
  memory after seconds, before any timeout applies). The translation also keeps out the
  `regex` extensions (`(?...)` groups, `\\p{}`, fuzzy matching) and bounds the pattern's
  length and nesting, so compiling is cheap too.

IOS regex: `.` `*` `+` `?` `^` `$` `|` `(...)` `[...]` `[^...]` with ranges, `\\c` for a
literal c, `\\1`..`\\9` recall, and `_` for a comma, brace, parenthesis, space, or the
start or end of the line. dmvpnlab adds `\\d \\D \\s \\S \\w \\W \\b \\B` with their usual
meaning (IOS would read a literal letter, which nobody types a backslash for). A pattern
IOS would refuse gives `% Invalid regular expression` (BadRegex). Every error is a
PipeError whose text is the IOS message without its `% `.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Callable

REGEX_BUDGET = 0.1  # seconds of matching one command's output may take (all lines together)
MAX_REGEX_LENGTH = 255  # characters; an IOS filter is a short pattern typed on one line
MAX_NESTING = 16  # parentheses inside parentheses

_SPECIAL = set(".*+?^$|")
_CLASSES = set("dDsSwWbB")
_QUANTIFIERS = set("*+?")
_IOS_DELIMITER = r"(?:^|$|[ ,{}()])"  # IOS's `_`


class PipeError(Exception):
    """A filter that cannot run; `str()` is the IOS message without the leading `% `."""


class BadRegex(PipeError):
    """`% Invalid regular expression`: the pattern is not one IOS would take."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid regular expression: {detail}")


class TooComplex(PipeError):
    """`% Regular expression too complex`: it ran out of its time budget (or is too big)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Regular expression too complex: {detail}")


def _set(text: str, start: int, escape: Callable[[str], str]) -> tuple[str, int]:
    """The IOS bracket expression opening at text[start] as a `regex` set, and where it ends."""
    i = start + 1
    out = ["["]
    if i < len(text) and text[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(text):
        ch = text[i]
        if ch == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\" + nxt if nxt in _CLASSES - {"b", "B"} else escape(nxt))
            i += 2
        else:
            out.append("-" if ch == "-" else escape(ch))
            i += 1
        first = False
    raise BadRegex("missing ] (a bracket expression is not closed)")


def ios_pattern(text: str) -> str:
    """The `regex` (VERSION0) pattern that matches what the IOS regex `text` matches."""
    import regex

    if len(text) > MAX_REGEX_LENGTH:
        raise TooComplex(f"longer than {MAX_REGEX_LENGTH} characters")
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 == len(text):
                raise BadRegex("a backslash at the end (it quotes the next character)")
            nxt = text[i + 1]
            if nxt in "123456789":
                out.append(f"(?:\\{nxt})")  # recall; the group keeps `\12` from meaning group 12
            elif nxt in _CLASSES:
                out.append("\\" + nxt)
            else:
                out.append(regex.escape(nxt))
            i += 2
            continue
        if ch == "[":
            piece, i = _set(text, i, regex.escape)
            out.append(piece)
            continue
        if ch == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise TooComplex(f"parentheses nested more than {MAX_NESTING} deep")
            if i + 1 < len(text) and text[i + 1] in _QUANTIFIERS:
                raise BadRegex(f"nothing to repeat before {text[i + 1]!r}")
            out.append("(")
        elif ch == ")":
            depth -= 1
            out.append(")")
        elif ch == "_":
            out.append(_IOS_DELIMITER)
        elif ch in _SPECIAL:
            out.append(ch)
        else:
            out.append(regex.escape(ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=128)
def compile_filter(text: str) -> Any:
    """The compiled filter of an IOS regex (cached: automation repeats the same filters)."""
    import regex

    pattern = ios_pattern(text)
    try:
        return regex.compile(pattern, regex.VERSION0)
    except regex.error as error:
        raise BadRegex(getattr(error, "msg", str(error))) from None


class _Search:
    """`search(line)` under one deadline shared by all the lines of one command's output."""

    def __init__(self, pattern: Any, budget: float) -> None:
        self.pattern = pattern
        self.budget = budget
        self.deadline = time.monotonic() + budget

    def __call__(self, line: str) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._gave_up()
        try:
            return self.pattern.search(line, timeout=left) is not None
        except TimeoutError:
            raise self._gave_up() from None

    def _gave_up(self) -> TooComplex:
        return TooComplex(f"no answer within {self.budget:g} s of matching")


def apply_pipe(text: str, option: str, regex_text: str, budget: float = REGEX_BUDGET) -> str:
    """`| include/exclude/begin/section/count REGEX` on a command's output; PipeError if it
    cannot (a bad pattern, or one that ran out of `budget` seconds)."""
    search = _Search(compile_filter(regex_text), budget) if regex_text else (lambda line: True)
    lines = text.splitlines()
    if option == "include":
        kept = [line for line in lines if search(line)]
    elif option == "exclude":
        kept = [line for line in lines if not search(line)]
    elif option == "begin":
        start = next((i for i, line in enumerate(lines) if search(line)), len(lines))
        kept = lines[start:]
    elif option == "section":
        kept = _section(lines, search)
    elif option == "count":
        return f"Number of lines which match regexp = {sum(1 for line in lines if search(line))}\n"
    else:
        kept = lines
    return "".join(line + "\n" for line in kept)


def _section(lines: list[str], search: Callable[[str], Any]) -> list[str]:
    """A matching unindented line brings its indented body; a matching body line comes alone."""
    out: list[str] = []
    taking = False
    for line in lines:
        indented = line[:1].isspace()
        if not indented:
            taking = bool(search(line))
            if taking:
                out.append(line)
        elif taking or search(line):
            out.append(line)
    return out
