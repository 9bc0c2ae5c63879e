"""The pipeline's glue: plain data or spec objects -> `resolve` -> `Topology`; problems -> `TopologyError`.

An input format hands over what it produced (plain data of the spec's shape, or spec
objects) with the file it came from and the line of each spec field path it knows, and
gets the model or one paragraph naming file, field and line, whatever the format.
Imports `spec`, `resolve`, `model` and `errors`; never an input format (formats import it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dmvpnlab.lab.topology.errors import FieldPath, TopologyError, TopologyProblem, format_path, show
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.topology.resolve import resolve
from dmvpnlab.lab.topology.spec import TopologySpec, parse_spec
from dmvpnlab.lab.topology.templates import template_dirs

Lines = dict[FieldPath, int]


def display_name(path: Path) -> str:
    """How a file is named in errors: relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # not below it; cwd gone; a symlink loop (3.11)
        return str(path)


@contextmanager
def reported_as(file: str) -> Iterator[None]:
    """The last guard of loading a topology: whatever still escapes becomes a TopologyError naming the file.

    Every known problem is reported at its field by the stage that finds it; this is for
    the unknown ones, so `dmvpnlab up` still prints one paragraph and exits 2 (and the
    original exception stays chained for whoever debugs it)."""
    try:
        yield
    except TopologyError:
        raise
    except Exception as e:  # noqa: BLE001 - the point: no traceback for a bad file, ever
        detail = " ".join(str(e).split())[:200]
        raise TopologyError(file, None, f"cannot load this topology: unexpected {type(e).__name__}"
                                        f"{': ' + detail if detail else ''} (a dmvpnlab bug; please report it "
                                        "with the file)") from e


def topology_from_data(
    data: Any, source: str | Path, nodes_dir: str | Path | None = None, lines: Lines | None = None
) -> Topology:
    """Validate plain data (a mapping, e.g. parsed YAML) and resolve it; `source` names the file in errors."""
    file = display_name(Path(source))
    if not isinstance(data, dict):
        raise TopologyError(file, None, f"expected a mapping with keys such as `hub:` and `spokes:`, got {show(data) if data is not None else 'an empty file'}")
    with reported_as(file):
        try:
            spec = parse_spec(data)
        except TopologyProblem as p:
            raise _error(file, lines or {}, p) from None
        return topology_from_spec(spec, source, nodes_dir, lines)


def topology_from_spec(
    spec: TopologySpec, source: str | Path, nodes_dir: str | Path | None = None, lines: Lines | None = None
) -> Topology:
    """Resolve spec objects from any input format. The lab is named after `source` (without
    .yaml/.yml) unless the spec names it; templates come from `nodes_dir` (default: the
    file's ../nodes and ./nodes), then from the package (topology/templates.py). Raises TopologyError, nothing else."""
    source = Path(source)
    file = display_name(source)
    with reported_as(file):
        dirs = template_dirs(source, Path(nodes_dir) if nodes_dir is not None else None)
        default_name = source.name.removesuffix(".yaml").removesuffix(".yml")
        try:
            return resolve(spec, default_name, source, dirs)
        except TopologyProblem as p:
            raise _error(file, lines or {}, p) from None


def _error(file: str, lines: Lines, problem: TopologyProblem) -> TopologyError:
    """A problem at a field path -> the user's paragraph, with the line of that field (or its nearest
    written ancestor; for a generated spoke, the `spokes: N` line)."""
    line = _line_for(lines, problem.path)
    if problem.path[:1] == ("routers",) and problem.path[:2] not in lines:
        line = lines.get(("spokes",))  # a generated spoke: point at `spokes: N`
    return TopologyError(file, format_path(problem.path), problem.message, line=line)


def _line_for(lines: Lines, path: FieldPath) -> int | None:
    """The line of `path`, or of its nearest ancestor that is in the file."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None
