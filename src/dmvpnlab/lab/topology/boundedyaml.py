"""A bounded YAML reader for topology files: PyYAML's SafeLoader with limits where YAML is dangerous.

Why not `yaml.safe_load`: "safe" only means no Python objects. A 360-byte file of nested
aliases still expands to millions of nodes, 2,000 nested `[` overflow the composer's
recursion, a 4,301-digit integer hits Python's int-conversion limit, `2020-13-45` or a
bare `!!int` raise whatever the constructor happens to raise. A topology needs none of
that, so this reader draws the lines at composition, before anything is expanded:

- document size (`MAX_DOCUMENT_CHARS`), nesting depth (`MAX_DEPTH`, counted through aliases);
- aliases are allowed (``<<: *defaults`` is handy) but the tree they expand to is counted
  bottom-up as it is composed, and refused past `MAX_NODES`; an alias into the node that
  contains it (a recursive structure) is refused;
- scalars: a topology has text, integers, floats, booleans and null. Timestamps are not
  resolved (``2020-01-01`` stays the text it looks like), the other YAML tags (``!!binary``,
  ``!!set``, ``!!timestamp``, local ``!tags``) are refused, explicit ``!!int``/``!!float``/
  ``!!bool`` must hold what they claim, numbers are at most `MAX_NUMBER_CHARS` long and any
  text at most `MAX_SCALAR_CHARS`;
- keys are text (a name), never a list, a mapping, a number or null.

Problems are `YamlProblem` with the field path being composed and the line and column,
so `yamlfile` can name the field. Imports PyYAML and `errors`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from dmvpnlab.lab.topology.errors import FieldPath, show

# default.yaml is 1.6 kB; some 700 written-out routers fit. PyYAML scans 100-200 kB/s of
# dense text in pure Python, so this also bounds the time a file can take to under a second.
MAX_DOCUMENT_CHARS = 64 * 1024
MAX_DEPTH = 32  # a topology is 6 levels deep (routers.x.lan.hosts[0].name); vars may nest a little
MAX_NODES = 100_000  # nodes after alias expansion
MAX_SCALAR_CHARS = 10_000
MAX_NUMBER_CHARS = 32  # any index, port or count fits; Python refuses to convert past 4,300 digits

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ, MERGE = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}merge"
# Implicit resolution a topology does not want: dates (kept as text), and PyYAML's `=` and
# `!`/`&`/`*` "yaml" tags, which only construct errors.
_UNRESOLVED = {f"{_TAG}timestamp", f"{_TAG}value", f"{_TAG}yaml"}
_CONSTRUCTOR = yaml.SafeLoader("")  # for PyYAML's own int/float/bool conversions


def _implicit_pattern(tag: str) -> re.Pattern[str]:
    """PyYAML's implicit-resolution pattern of `tag`, to check explicit ``!!int`` values with."""
    for resolvers in yaml.SafeLoader.yaml_implicit_resolvers.values():
        for resolved, pattern in resolvers:
            if resolved == tag:
                return pattern
    raise LookupError(tag)


_PATTERNS = {INT: _implicit_pattern(INT), FLOAT: _implicit_pattern(FLOAT)}


class YamlProblem(Exception):
    """A YAML-level problem at a field path (possibly empty) and a 1-based line and column."""

    def __init__(self, message: str, path: FieldPath = (), mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None


def short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:timestamp' -> '!!timestamp' (how it was written)."""
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and expanded size and knows the field path."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in _UNRESOLVED]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path: list[str | int] = []  # the field being composed (keys of keys add no part)
        self.depth = 0  # nodes open around the one being composed, keys included
        # id(node) -> (nodes, height) of the tree it expands to; set when the node is complete.
        self._expanded: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        part = index.value if isinstance(index, yaml.ScalarNode) else index if isinstance(index, int) else None
        if part is not None:
            self.path.append(part)
        self.depth += 1
        try:
            if isinstance(event, yaml.AliasEvent):
                return self._alias(parent, index, event)
            if self.depth > MAX_DEPTH:
                raise YamlProblem(f"expected at most {MAX_DEPTH} levels of nesting, got more", self._where(), event.start_mark)
            node = super().compose_node(parent, index)
            self._count(node)
            return node
        finally:
            self.depth -= 1
            if part is not None:
                self.path.pop()

    def _alias(self, parent: yaml.Node | None, index: Any, event: yaml.AliasEvent) -> yaml.Node:
        node = super().compose_node(parent, index)  # undefined alias: PyYAML's ComposerError
        size = self._expanded.get(id(node))
        if size is None:  # its node is still being composed: the alias is inside it
            raise YamlProblem(f"expected an alias to a finished node, got *{event.anchor} inside the node it names "
                              "(a recursive structure)", self._where(), event.start_mark)
        if self.depth + size[1] - 1 > MAX_DEPTH:
            raise YamlProblem(f"expected at most {MAX_DEPTH} levels of nesting, got more through the alias "
                              f"*{event.anchor}", self._where(), event.start_mark)
        return node

    def _count(self, node: yaml.Node) -> None:
        """Expanded size and height of a just-composed node, from its children's (aliases included)."""
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        sizes = [self._expanded[id(child)] for child in children]
        nodes = 1 + sum(s[0] for s in sizes)
        if nodes > MAX_NODES:
            raise YamlProblem(f"expected a document of at most {MAX_NODES:,} nodes, got one that expands to more "
                              "(aliases repeated inside aliases?)", self._where(), node.start_mark)
        self._expanded[id(node)] = (nodes, 1 + max((s[1] for s in sizes), default=0))

    def _where(self) -> FieldPath:
        return tuple(self.path)


def compose(text: str, max_chars: int = MAX_DOCUMENT_CHARS) -> yaml.Node | None:
    """The node tree of one YAML document, within the limits; YamlProblem or PyYAML's YAMLError.

    `max_chars` is the document bound: a CML lab carries whole router configs and gets more."""
    if len(text) > max_chars:
        raise YamlProblem(f"expected a topology of at most {max_chars:,} characters, got {len(text):,}")
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:  # found here so line and column count characters (PyYAML's ReaderError has an offset)
        line = text.count("\n", 0, bad.start())
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1)
        raise YamlProblem(f"expected text YAML allows, got the character {bad.group()!r}",
                          mark=yaml.Mark("", bad.start(), line, column, None, None))
    loader = BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def scalar(node: yaml.ScalarNode, max_chars: int = MAX_SCALAR_CHARS) -> Any:
    """The value of a scalar node: text, int, float, bool or None; ValueError in our words otherwise.

    `max_chars` bounds text (a CML router config is one scalar of many kilobytes)."""
    value: str = node.value
    tag = node.tag
    if tag in (INT, FLOAT):
        what = "an integer" if tag == INT else "a number"
        if len(value) > MAX_NUMBER_CHARS:
            raise ValueError(f"expected {what} of at most {MAX_NUMBER_CHARS} characters, got one of {len(value):,}")
        if not _PATTERNS[tag].fullmatch(value):
            raise ValueError(f"expected {what} after {short_tag(tag)}, got {show(value)}")
        try:  # the pattern still lets through digit-less forms such as '0b_'
            return _CONSTRUCTOR.construct_yaml_int(node) if tag == INT else _CONSTRUCTOR.construct_yaml_float(node)
        except ValueError:
            raise ValueError(f"expected {what}, got {show(value)}") from None
    if tag == BOOL:
        if value.lower() not in _CONSTRUCTOR.bool_values:
            raise ValueError(f"expected true or false after !!bool, got {show(value)}")
        return _CONSTRUCTOR.bool_values[value.lower()]
    if tag == NULL:
        return None
    if tag != STR:
        raise ValueError(f"expected plain YAML, got the tag {short_tag(tag)} (topology files use none: write the value as text)")
    if len(value) > max_chars:
        raise ValueError(f"expected a value of at most {max_chars:,} characters, got {len(value):,}")
    return value


def key(node: yaml.Node) -> str:
    """A mapping key: text only (names, field names); ValueError in our words otherwise."""
    if not isinstance(node, yaml.ScalarNode):
        raise ValueError(f"expected a key of text (a name), got {'a list' if isinstance(node, yaml.SequenceNode) else 'a mapping'}")
    value = scalar(node)
    if not isinstance(value, str):
        raise ValueError(f"expected a key of text (a name), got {show(value)} (quote it if it is a name: {show(node.value)})")
    return value


def collection_tag_problem(node: yaml.Node) -> str | None:
    """Why a mapping or list node's explicit tag (``!!set``, ``!!omap``, ``!foo``) is refused, or None."""
    expected = MAP if isinstance(node, yaml.MappingNode) else SEQ
    if node.tag == expected:
        return None
    return f"expected plain YAML, got the tag {short_tag(node.tag)} (topology files use none)"
