"""Where a topology's router templates are found: its own nodes/ first, then the package's.

A topology kept in the user's own directory (`/some/dir/lab.yaml`, `template: hub.j2`)
must work with the templates dmvpnlab ships, which live inside the package
(src/dmvpnlab/templates/, package data, so `pip install dmvpnlab` has them; the
repository's nodes/ is a link to that one copy). A lab's own nodes/ (next to the file,
or one level up as in this repository's topologies/ and nodes/) comes first, so a user
overrides a shipped template by writing one of the same name. Errors list every
directory looked in, so a typo or a misplaced file is found without reading code.
"""

from __future__ import annotations

from pathlib import Path

import dmvpnlab

PACKAGE_TEMPLATES = Path(dmvpnlab.__file__).resolve().parent / "templates"


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: keep it as given, the lookup reports it
        return path.absolute()


def template_dirs(source: Path, nodes_dir: Path | None = None) -> tuple[Path, ...]:
    """The lookup order for the topology file `source`: `nodes_dir` if given, else its
    ../nodes and ./nodes; then the package's templates. Each directory once."""
    source_dir = _resolved(source).parent
    own = [Path(nodes_dir)] if nodes_dir is not None else [source_dir.parent / "nodes", source_dir / "nodes"]
    out: list[Path] = []
    seen: set[Path] = set()
    for directory in (*own, PACKAGE_TEMPLATES):
        key = _resolved(directory)
        if key not in seen:
            seen.add(key)
            out.append(directory)
    return tuple(out)


def find_template(dirs: tuple[Path, ...], name: str) -> Path | None:
    """The first `dir/name` that is a file; OSError if a directory cannot be searched."""
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def looked_in(dirs: tuple[Path, ...]) -> str:
    """`a/nodes, b/nodes, <package>/templates` for an error message."""
    return ", ".join(str(d) for d in dirs)
