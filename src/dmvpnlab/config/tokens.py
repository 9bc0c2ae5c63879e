"""A token cursor over one IOS config line, raising IOS-style parse failures.

Every `expect_*` method either returns a typed value or raises `Invalid` (with the column
of the token IOS would put its caret under) or `Incomplete` (the line ended too early).
The command handlers in `parser.py` read like the IOS command syntax because of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

_DOTTED = re.compile(r"^[0-9.]+$")


class Invalid(Exception):
    """`% Invalid input detected at '^' marker.` (or another IOS message) at a column."""

    def __init__(self, column: int, message: str | None = None) -> None:
        super().__init__(message or "invalid input")
        self.column = column
        self.message = message


class Incomplete(Exception):
    """`% Incomplete command.`"""


class Unknown(Exception):
    """Not a command we model: the caller keeps the line verbatim and warns."""


@dataclass(frozen=True)
class Token:
    text: str
    column: int


def tokenize(line: str) -> list[Token]:
    return [Token(m.group(0), m.start()) for m in re.finditer(r"\S+", line)]


def looks_like_address(text: str) -> bool:
    """True for tokens a user meant as a dotted address (so a bad one is an error, not a name)."""
    return bool(_DOTTED.match(text)) and any(c.isdigit() for c in text)


def parse_ipv4(text: str) -> IPv4Address | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    return IPv4Address(".".join(str(int(p)) for p in parts))


def mask_to_prefixlen(mask: IPv4Address) -> int | None:
    """Prefix length of a contiguous netmask, None for a non-contiguous one."""
    value = int(mask)
    inverted = (~value) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


class Cursor:
    """Walks the tokens of one line."""

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
        tok = self.next()
        if not tok.text.isdigit() or not lo <= int(tok.text) <= hi:
            raise Invalid(tok.column)
        return int(tok.text)

    def ipv4(self) -> IPv4Address:
        tok = self.next()
        addr = parse_ipv4(tok.text)
        if addr is None:
            raise Invalid(tok.column)
        return addr

    def mask(self) -> int:
        """A dotted netmask, returned as a prefix length."""
        tok = self.next()
        addr = parse_ipv4(tok.text)
        plen = mask_to_prefixlen(addr) if addr is not None else None
        if plen is None:
            raise Invalid(tok.column)
        return plen

    def network(self) -> IPv4Network:
        """`ADDRESS MASK` with no host bits set (IOS: `%Inconsistent address and mask`)."""
        addr = self.ipv4()
        plen = self.mask()
        try:
            return IPv4Network(f"{addr}/{plen}")
        except ValueError:
            raise Invalid(self.tokens[self.pos - 2].column, "%Inconsistent address and mask") from None

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


def matches(token: str, word: str, min_len: int | None = None) -> bool:
    """IOS keyword abbreviation: `token` is a prefix of `word`, at least `min_len` long."""
    t = token.lower()
    need = len(word) if min_len is None else min_len
    return len(t) >= min(need, len(word)) and word.startswith(t)
