"""Topology YAML files (`topologies/*.yaml`): one input format, producing plain data for `build`.

Reads a file into plain data of the spec's shape plus the line of every key, so a problem
found later (by the spec or the resolver) still points at its line; YAML's own errors
(syntax, duplicate keys, what `boundedyaml` refuses) are reported here, at their field
when there is one. The format is `spec.TopologySpec`'s. Imports PyYAML, `boundedyaml`,
`build` and `errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from dmvpnlab.lab.topology import boundedyaml
from dmvpnlab.lab.topology.boundedyaml import MAX_DOCUMENT_CHARS
from dmvpnlab.lab.topology.build import Lines, display_name, reported_as, topology_from_data
from dmvpnlab.lab.topology.errors import FieldPath, TopologyError, format_path, show
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.topology.overrides import with_vars


def load_topology(path: str | Path, nodes_dir: str | Path | None = None,
                  variables: Mapping[str, Any] | None = None, spokes: int | None = None) -> Topology:
    """Read, validate and address a topology file. Raises TopologyError, nothing else.

    `nodes_dir` is where templates are looked up (default: the file's ../nodes and ./nodes), then the package's (topology/templates.py).
    `variables` are template variables for this run, over the file's (see `overrides`).
    `spokes` replaces the file's `spokes: N` for this run (`dmvpnlab up FILE --spokes N`),
    so one scale file serves every size; it is checked like the file's own value.
    """
    path = Path(path)
    file = display_name(path)
    with reported_as(file):
        text = read_text(path, file)
        data, lines = parse_yaml(text, file)
        if spokes is not None and isinstance(data, dict):
            data = {**data, "spokes": spokes}
        return with_vars(topology_from_data(data, path, nodes_dir, lines), variables)


def read_text(path: Path, file: str) -> str:
    """The file's text, read with a bound (a pipe such as `<(cat x.yaml)` works, /dev/zero does not hang)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_DOCUMENT_CHARS * 4 + 1)  # UTF-8: at most 4 bytes a character
    except FileNotFoundError:
        raise TopologyError(file, None, "no such topology file") from None
    except OSError as e:
        raise TopologyError(file, None, f"cannot read the file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TopologyError(file, None, f"cannot read the file: not UTF-8 text (byte {e.start}: {e.reason})") from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise TopologyError(file, None, f"expected a topology of at most {MAX_DOCUMENT_CHARS:,} characters, got more")
    return text


def iter_topology_files(directory: str | Path) -> Iterator[Path]:
    """The topology files of a directory, sorted."""
    d = Path(directory)
    yield from sorted([*d.glob("*.yaml"), *d.glob("*.yml")])


def parse_yaml(text: str, file: str, max_chars: int = MAX_DOCUMENT_CHARS,
               max_scalar: int = boundedyaml.MAX_SCALAR_CHARS) -> tuple[Any, Lines]:
    """YAML -> plain data plus the line of every key, so errors can point at a line.

    Composed by `boundedyaml` (limits on size, depth and alias expansion) and built here
    from the node tree, not yaml.safe_load, so duplicate keys, which PyYAML silently
    overwrites, are reported instead of losing a router, and every scalar problem names
    its field.
    """
    try:
        root = boundedyaml.compose(text, max_chars)
    except boundedyaml.YamlProblem as p:
        raise _yaml_error(file, p) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        raise TopologyError(
            file, None, f"YAML syntax error: {problem}",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as e:
        raise TopologyError(file, None, f"YAML syntax error: {e}") from None
    lines: Lines = {}
    try:
        data = None if root is None else _build(root, (), lines, max_scalar)
    except boundedyaml.YamlProblem as p:
        raise _yaml_error(file, p) from None
    return data, lines


def _build(node: yaml.Node, path: FieldPath, lines: Lines, max_scalar: int = boundedyaml.MAX_SCALAR_CHARS) -> Any:
    """Plain data from a composed (bounded) node tree; YamlProblem at the field of anything refused."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        return _checked(lambda n: boundedyaml.scalar(n, max_scalar), node, path)
    tag_problem = boundedyaml.collection_tag_problem(node)
    if tag_problem:
        raise boundedyaml.YamlProblem(tag_problem, path, node.start_mark)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, max_scalar) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    seen: dict[str, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == boundedyaml.MERGE:
            continue
        key = _checked(boundedyaml.key, key_node, path)
        if key in seen:
            raise boundedyaml.YamlProblem(
                f"expected each key once, got {show(key)} again (first at line {seen[key].start_mark.line + 1})",
                path + (key,), key_node.start_mark,
            )
        seen[key] = key_node
    result: dict[str, Any] = {}
    for key_node, value_node in _merged_pairs(node, path):
        key = _checked(boundedyaml.key, key_node, path)
        lines[path + (key,)] = key_node.start_mark.line + 1
        result[key] = _build(value_node, path + (key,), lines, max_scalar)
    return result


def _merged_pairs(node: yaml.MappingNode, path: FieldPath) -> list[tuple[yaml.Node, yaml.Node]]:
    """The mapping's pairs with merge keys (``<<: *defaults``) applied, in the order that lets a
    later pair win: merged mappings first (of ``<<: [*a, *b]``, `a` wins over `b`), own keys last.

    Not PyYAML's flatten_mapping: that rewrites the node in place, and a node reached again
    through an alias would then show merged keys as duplicates of its own."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != boundedyaml.MERGE:
            own.append((key_node, value_node))
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise boundedyaml.YamlProblem("expected a mapping or a list of mappings after `<<:` (a merge key), "
                                              f"got {'a list' if isinstance(source, yaml.SequenceNode) else 'a value'}",
                                              path, source.start_mark)
            merged.extend(_merged_pairs(source, path))
    return merged + own


def _checked(convert: Callable[[Any], Any], node: yaml.Node, path: FieldPath) -> Any:
    """`convert(node)`, its ValueError as a YamlProblem at `path` and the node's line."""
    try:
        return convert(node)
    except ValueError as e:
        raise boundedyaml.YamlProblem(str(e), path, node.start_mark) from None


def _yaml_error(file: str, p: boundedyaml.YamlProblem) -> TopologyError:
    if not p.path:
        return TopologyError(file, None, f"YAML error: {p.message}", line=p.line, column=p.column)
    field = format_path(p.path[:_SHOWN_DEPTH]) + ("..." if len(p.path) > _SHOWN_DEPTH else "")
    return TopologyError(file, field, p.message, line=p.line)


_SHOWN_DEPTH = 8  # a path 30 levels deep is not read by anyone: its start says where
