"""An IOS-style command tree: keywords, parameters, abbreviations, `?` help, IOS errors.

Why a tree: IOS accepts any unique prefix of each word (`sh ip nh`), tells apart
"ambiguous", "incomplete" and "invalid at this column", and answers `?` with the next
words. All of that falls out of walking one tree of words, so every command gets the
same behaviour for free and a command is added by adding nodes, not by parsing text.
The words and verdicts (tokens, Invalid/Incomplete/Ambiguous) are the ones configuration
mode uses, from config.tokens. Pure data and functions: no agent, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, Callable, Iterator

from dmvpnlab.config.tokens import Ambiguous, Incomplete, Invalid, Token, parse_integer, tokenize

Action = Callable[..., Any]


@dataclass
class Node:
    """One word of a command. `param` nodes accept values (`check`), keywords accept prefixes."""

    word: str
    help: str = ""
    action: Action | None = None
    children: list["Node"] = field(default_factory=list)
    param: str | None = None  # the argument name a parameter fills, None for keywords
    check: Callable[[str], Any] | None = None  # value parser: returns the value or raises ValueError
    rest: bool = False  # LINE: takes the rest of the line verbatim
    two_tokens: bool = False  # interface names may be typed as `tunnel 0`

    def add(self, *nodes: "Node") -> "Node":
        self.children.extend(nodes)
        return self

    def kw(self, word: str, help: str, action: Action | None = None) -> "Node":
        """Add (or reuse) a keyword child and return it, for building trees fluently."""
        for child in self.children:
            if child.param is None and child.word == word:
                if action is not None:
                    child.action = action
                return child
        node = Node(word, help, action)
        self.children.append(node)
        return node


@dataclass
class Match:
    node: Node
    args: dict[str, Any]
    words: list[str]  # the full keywords taken, for messages


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _step(node: Node, tokens: list[Token], i: int, line: str) -> tuple[Node, Any, int]:
    """Match tokens[i] (or two tokens) against node's children: (child, value, tokens used)."""
    token = tokens[i]
    low = token.text.lower()
    keywords = [c for c in node.children if c.param is None]
    exact = [c for c in keywords if c.word.lower() == low]
    if exact:
        return exact[0], exact[0].word, 1
    prefixed = [c for c in keywords if c.word.lower().startswith(low)]
    if len(prefixed) == 1:
        return prefixed[0], prefixed[0].word, 1
    if len(prefixed) > 1:
        raise Ambiguous(token.column + len(token.text))
    for child in node.children:
        if child.param is None:
            continue
        if child.rest:
            return child, line[token.column:].rstrip(), len(tokens) - i
        try:
            return child, child.check(token.text) if child.check else token.text, 1
        except ValueError:
            pass
        if child.two_tokens and i + 1 < len(tokens):
            try:
                return child, child.check(token.text + tokens[i + 1].text) if child.check else token.text, 2
            except ValueError:
                pass
    best = max((_common_prefix(low, c.word.lower()) for c in keywords), default=0)
    if any(c.param is not None for c in node.children):
        best = 0
    raise Invalid(token.column + min(best, len(token.text) - 1))


def parse(root: Node, line: str) -> Match:
    """Walk `line` down the tree; Invalid/Incomplete/Ambiguous say why it is not a command."""
    tokens = tokenize(line)
    node, args, words, i = root, {}, [], 0
    while i < len(tokens):
        child, value, used = _step(node, tokens, i, line)
        if child.param is not None:
            args[child.param] = value
        words.append(value if child.param is None else str(value))
        node, i = child, i + used
    if node is root or node.action is None:
        raise Incomplete()
    return Match(node, args, words)


def help_lines(root: Node, line: str) -> list[str]:
    """IOS `?` help for `line` (the text before the question mark)."""
    partial = line and not line[-1].isspace()
    tokens = tokenize(line)
    done = tokens[:-1] if partial else tokens
    node = root
    i = 0
    while i < len(done):
        node, _value, used = _step(node, done, i, " ".join(t.text for t in done))
        i += used
    if partial:
        low = tokens[-1].text.lower()
        words = sorted(c.word for c in node.children if c.param is None and c.word.lower().startswith(low))
        if not words:
            raise Invalid(tokens[-1].column)
        return _columns(words)
    entries = sorted(((c.word, c.help) for c in node.children), key=lambda e: (e[0][:1] in "<A", e[0]))
    if node is not root and node.action is not None:
        entries.append(("<cr>", ""))
    if not entries:
        return ["  <cr>"]
    width = max(len(w) for w, _ in entries)
    return [f"  {w:<{width}}  {h}".rstrip() for w, h in entries]


def _columns(words: list[str], width: int = 80) -> list[str]:
    """Partial-word help is a packed list, as IOS prints it."""
    cell = max(len(w) for w in words) + 2
    per_line = max(1, width // cell)
    rows = [words[k:k + per_line] for k in range(0, len(words), per_line)]
    return ["".join(f"{w:<{cell}}" for w in row).rstrip() for row in rows]


# --- parameter checks ------------------------------------------------------------------


def ipv4(text: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError as error:
        raise ValueError(str(error)) from None


def integer(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        value = parse_integer(text, low, high)
        if value is None:
            raise ValueError(text)
        return value
    return check


def walk(node: Node, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Node]]:
    """Every (words, node) with an action: for tests and for listing commands."""
    for child in node.children:
        words = prefix + (child.word,)
        if child.action is not None:
            yield words, child
        yield from walk(child, words)
