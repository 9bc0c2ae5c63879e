"""Topology YAML files (`topologies/*.yaml`): one input format, producing plain data for `build`.

Reads a file into plain data of the spec's shape plus the line of every key, so a problem
found later (by the spec or the resolver) still points at its line; YAML's own errors
(syntax, duplicate keys) are reported here. The format is `spec.TopologySpec`'s.
Imports PyYAML, `build` and `errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dmvpnlab.lab.topology.build import Lines, display_name, topology_from_data
from dmvpnlab.lab.topology.errors import FieldPath, TopologyError, format_path
from dmvpnlab.lab.topology.model import Topology


def load_topology(path: str | Path, nodes_dir: str | Path | None = None) -> Topology:
    """Read, validate and address a topology file. Raises TopologyError, nothing else.

    `nodes_dir` is where templates are looked up (default: `build.default_nodes_dir(path)`).
    """
    path = Path(path)
    file = display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopologyError(file, None, "no such topology file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TopologyError(file, None, f"cannot read the file: {e}") from None
    data, lines = parse_yaml(text, file)
    return topology_from_data(data, path, nodes_dir, lines)


def iter_topology_files(directory: str | Path) -> Iterator[Path]:
    """The topology files of a directory, sorted."""
    d = Path(directory)
    yield from sorted([*d.glob("*.yaml"), *d.glob("*.yml")])


class _Loader(yaml.SafeLoader):
    pass


def parse_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """YAML -> plain data plus the line of every key, so errors can point at a line.

    Built from the composed node tree (not yaml.safe_load) so duplicate keys, which
    PyYAML silently overwrites, are reported instead of losing a router.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
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
    constructor = _Loader("")

    def build(node: yaml.Node, path: FieldPath, depth: int) -> Any:
        if depth > 50:
            raise TopologyError(file, format_path(path), "expected plain YAML, got nesting too deep (recursive alias?)")
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = constructor.construct_object(key_node, deep=True)
                if key in seen:
                    raise TopologyError(
                        file, format_path(path + (key,)) if path else str(key),
                        f"expected each key once, got {key!r} again (first at line {seen[key].start_mark.line + 1})",
                        line=key_node.start_mark.line + 1,
                    )
                seen[key] = key_node
            constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    try:
        data = None if root is None else build(root, (), 0)
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        raise TopologyError(
            file, None, f"YAML error: {e.problem}",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        ) from None
    except TypeError:  # unhashable key, e.g. a list used as a key
        raise TopologyError(file, None, "YAML error: a mapping key must be a plain value") from None
    return data, lines
