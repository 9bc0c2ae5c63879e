"""How a broken lab file reads: `LabFileError`, one paragraph naming the node, the field and what was expected.

A CML file is edited in CML's UI and exported, or written by hand from training material;
what goes wrong is a field of one node or link. So every problem names the file, the node
(its label *and* its id: labels are what users see, ids are what links refer to), the
field path as it is in the file (`nodes[2].interfaces[0].slot`), what was expected, what
was found, and the line when we know it. Stages raise `LabProblem` (no file, no line) and
the loader adds both, as the native topology loader does with its `TopologyProblem`.

`LabFileError` is a `TopologyError`, so every command that already prints a bad native
topology and exits 2 does the same for a bad lab file. Imports `lab.topology.errors` only.
"""

from __future__ import annotations

import re

from dmvpnlab.lab.topology.errors import FieldPath, TopologyError, format_path, show

_PLAIN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

__all__ = ["LabFileError", "LabProblem", "node_name", "format_path", "show", "FieldPath"]


def node_name(label: object, node_id: object) -> str:
    """`node 'Spoke1' (id n2)`: how a node is named in a problem (either part may be unknown)."""
    parts = []
    if isinstance(label, str) and label:
        parts.append(f"node {show(label)}")
    if isinstance(node_id, str) and node_id:
        ident = node_id if _PLAIN.fullmatch(node_id) else show(node_id)
        parts.append(f"(id {ident})" if parts else f"node id {ident}")
    return " ".join(parts)


class LabProblem(Exception):
    """A problem at a field path of a lab file, for a node (or none); the loader adds file and line."""

    def __init__(self, path: FieldPath, message: str, node: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.node = node


class LabFileError(TopologyError):
    """A lab file (CML YAML, VIRL XML, dmvpnlab-wired) that cannot become a lab; str() is one paragraph.

    e.g. ``labs/dmvpn.yaml: node 'Spoke1' (id n2): nodes[2].interfaces[1].slot: expected an
    integer (the interface's slot), got 'one' (line 41)``.
    """

    def __init__(self, file: str, field: str | None, message: str, line: int | None = None,
                 column: int | None = None, node: str = "") -> None:
        self.node = node
        super().__init__(file, field, message, line=line, column=column)

    def __str__(self) -> str:
        where = f"{self.node}: " if self.node else ""
        if self.field is None:
            at = f"line {self.line}, column {self.column}: " if self.line and self.column else \
                (f"line {self.line}: " if self.line else "")
            return f"{self.file}: {where}{at}{self.message}"
        line = f" (line {self.line})" if self.line else ""
        return f"{self.file}: {where}{self.field}: {self.message}{line}"


def problem_error(file: str, problem: LabProblem, lines: dict[FieldPath, int] | None = None) -> LabFileError:
    """The `LabFileError` of a stage's problem: its path formatted, the line of the nearest field we know."""
    line = None
    if lines:
        path = problem.path
        while path and path not in lines:
            path = path[:-1]
        line = lines.get(path) if path else None
    field = format_path(problem.path) if problem.path else None
    return LabFileError(file, field, problem.message, line=line, node=problem.node)
