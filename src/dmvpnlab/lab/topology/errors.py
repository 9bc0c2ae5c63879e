"""How a bad topology reads: `TopologyError` (what the user sees) and `TopologyProblem` (what stages raise).

Every stage (an input format, the spec, the resolver) reports a problem at a *field path*
of the spec, such as ``routers.spoke1.role``, without knowing the file or its lines; the
glue in `build` adds both, so a problem reads the same whatever format the lab came from.
Imports nothing from dmvpnlab.
"""

from __future__ import annotations

import re
from typing import Any

FieldPath = tuple[str | int, ...]


class TopologyError(ValueError):
    """A topology file that cannot become a lab; str() is one paragraph for the user.

    e.g. ``topologies/x.yaml: routers.spoke1.role: expected 'hub' or 'spoke', got 'spok' (line 7)``.
    """

    def __init__(
        self,
        file: str,
        field: str | None,
        message: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.message = " ".join(message.split())
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.field is None:
            where = f"line {self.line}, column {self.column}: " if self.line and self.column else ""
            return f"{self.file}: {where}{self.message}"
        line = f" (line {self.line})" if self.line else ""
        return f"{self.file}: {self.field}: {self.message}{line}"


class TopologyProblem(Exception):
    """A problem at a field path of the spec; `build` turns it into a TopologyError with file and line."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
MAX_SHOWN = 60  # characters of a found value quoted in an error; the rest is counted


def format_path(path: FieldPath) -> str:
    """('routers', 'spoke1', 'lan', 'hosts', 0) -> 'routers.spoke1.lan.hosts[0]'.

    A key that is not a plain word (a space, a newline, a control character: what a bad
    file may hold) is quoted, routers['spoke1\\n'], so the path stays on one line and says
    exactly which key it is."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part) and len(part) <= MAX_SHOWN:
            out += ("." if out else "") + part
        else:
            out += f"[{show(part)}]"
    return out or "(top level)"


def show(value: Any) -> str:
    """How a found value reads in an error: YAML words, not Python reprs of containers."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)"
    return repr(value)
