"""IOS words and verdicts shared by configuration mode and the exec command tree.

A line is split into `Token`s that remember their column, because every IOS error puts a
caret under the word it refuses. The verdicts are the exceptions a parser raises for a
line that is not a runnable command: `Invalid` (`% Invalid input detected at '^'
marker.`, or another IOS message, at a column), `Incomplete`, `Ambiguous`, plus `Refused`
(an IOS message without a caret) and `Unknown` (not a command we model: the config
session keeps the line verbatim and warns). `Cursor` walks one config line; its methods
(`integer`, `ipv4`, `choice`, `end`, ...) return typed values or raise those verdicts, so
config handlers read like the IOS command syntax.

Numbers are read in one place (`is_number`, `parse_integer`): ASCII digits only, because
`str.isdigit()` also takes `²` and `٣`, which `int()` then refuses; and never more
significant digits than the upper bound has, because `int()` refuses more than 4300 and
would be slow long before. Every handler reads its numbers through them. Pure functions
and data: imports nothing of dmvpnlab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Callable, TypeVar

_DOTTED = re.compile(r"^[0-9.]+$")


class Invalid(Exception):
    """`% Invalid input detected at '^' marker.` (or another IOS message) at a column."""

    def __init__(self, column: int, message: str | None = None) -> None:
        super().__init__(message or "invalid input")
        self.column = column
        self.message = message


class Incomplete(Exception):
    """`% Incomplete command.`"""


class Ambiguous(Exception):
    """`% Ambiguous command:`: the word ending at column `upto` abbreviates several keywords."""

    def __init__(self, upto: int) -> None:
        super().__init__(upto)
        self.upto = upto


class Refused(Exception):
    """A line IOS refuses with a message of its own and no caret (the message is `str()`)."""


class Unknown(Exception):
    """Not a command we model: the caller keeps the line verbatim and warns."""


@dataclass(frozen=True)
class Token:
    text: str
    column: int  # index of the first character in the line as typed


_WORD = re.compile(r"\S+")


def tokenize(line: str) -> list[Token]:
    """The words of a line with their columns (one linear scan)."""
    return [Token(m.group(0), m.start()) for m in _WORD.finditer(line)]


def matches(token: str, word: str, min_len: int | None = None) -> bool:
    """IOS keyword abbreviation: `token` is a prefix of `word`, at least `min_len` long."""
    t = token.lower()
    need = len(word) if min_len is None else min_len
    return len(t) >= min(need, len(word)) and word.startswith(t)


def looks_like_address(text: str) -> bool:
    """True for tokens a user meant as a dotted address (so a bad one is an error, not a name)."""
    return bool(_DOTTED.match(text)) and any(c.isdigit() for c in text)


def is_number(text: str) -> bool:
    """Is `text` a decimal number as IOS reads one: ASCII digits only (no sign, no `²`)?"""
    return text.isascii() and text.isdigit()


def parse_integer(text: str, lo: int, hi: int) -> int | None:
    """A decimal number in [lo, hi], or None (IOS has no signs, no other bases).

    Leading zeros are allowed; past them, a number with more digits than `hi` is out of
    range without being converted (so a 5000-digit token costs one scan, not an int()).
    """
    if not is_number(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > len(str(hi)):
        return None
    value = int(significant or "0")
    return value if lo <= value <= hi else None


def parse_ipv4(text: str) -> IPv4Address | None:
    """A dotted quad as IOS reads it in configs (leading zeros allowed), or None."""
    parts = text.split(".")
    if len(parts) != 4 or any(len(p) > 3 for p in parts):
        return None
    value = 0
    for part in parts:
        octet = parse_integer(part, 0, 255)
        if octet is None:
            return None
        value = value << 8 | octet
    return IPv4Address(value)


def mask_to_prefixlen(mask: IPv4Address) -> int | None:
    """Prefix length of a contiguous netmask, None for a non-contiguous one."""
    value = int(mask)
    inverted = (~value) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


def _parse_mask(text: str) -> int | None:
    addr = parse_ipv4(text)
    return mask_to_prefixlen(addr) if addr is not None else None


T = TypeVar("T")


class Cursor:
    """Walks the tokens of one config line."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.tokens = tokenize(line)
        self.pos = 0

    # -- inspection ----------------------------------------------------------------
    def more(self) -> bool:
        return self.pos < len(self.tokens)

    def peek(self) -> str | None:
        return self.tokens[self.pos].text if self.more() else None

    def column(self) -> int:
        """Column of the next token (or the end of the line)."""
        return self.tokens[self.pos].column if self.more() else len(self.line.rstrip())

    # -- consumption ---------------------------------------------------------------
    def next(self) -> Token:
        if not self.more():
            raise Incomplete()
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def accept(self, word: str, min_len: int | None = None) -> bool:
        """Consume the next token if it abbreviates `word` (at least `min_len` characters)."""
        if self.more() and matches(self.tokens[self.pos].text, word, min_len):
            self.pos += 1
            return True
        return False

    def choice(self, *words: str, unknown: bool = False) -> str:
        """The next token as one of `words`; otherwise Invalid (or Unknown if `unknown`)."""
        tok = self.next()
        for w in words:
            if tok.text.lower() == w:
                return w
        if unknown:
            raise Unknown()
        raise Invalid(tok.column)

    def word(self) -> str:
        return self.next().text

    def integer(self, lo: int, hi: int) -> int:
        """A number in [lo, hi] (see `parse_integer`); Invalid under the token otherwise."""
        return self.value(lambda text: parse_integer(text, lo, hi))

    def ipv4(self) -> IPv4Address:
        return self.value(parse_ipv4)

    def mask(self) -> int:
        """A dotted netmask, returned as a prefix length."""
        return self.value(_parse_mask)

    def value(self, parse: Callable[[str], T | None]) -> T:
        """The next token through `parse`; Invalid under it when `parse` says None."""
        tok = self.next()
        value = parse(tok.text)
        if value is None:
            raise Invalid(tok.column)
        return value

    def rest(self) -> str:
        """The remaining text of the line as typed (internal spacing kept)."""
        if not self.more():
            raise Incomplete()
        text = self.line[self.tokens[self.pos].column :].rstrip()
        self.pos = len(self.tokens)
        return text

    def end(self) -> None:
        if self.more():
            raise Invalid(self.tokens[self.pos].column)
