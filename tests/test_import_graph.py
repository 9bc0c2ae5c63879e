"""The package structure holds: no import cycle between packages, protocol code stays pure.

The graph is built from the source with `ast`, so it sees every import: module level,
inside functions, under TYPE_CHECKING, and `importlib.import_module("dmvpnlab....")` /
`__import__` calls with a literal name. A node is a subpackage of dmvpnlab (`agent`,
`cli`, `config`, `nhrp`, ...) or a top-level module (`dmvpnlab.command`), so a cycle
through a top-level module is caught too. Protocol packages are sans-I/O cores: they may
not reach the lab, the CLI or the router process.

"Small modules with one job each" holds for every Python file of the repository, not only
for src/: a test module, a scenario or a benchmark that grows past the limit is as hard to
read as a package module, so the line check walks everything git tracks (and new files not
yet added, so the rule bites before the commit, not after).
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "dmvpnlab"
PROTOCOL_PACKAGES = {"nhrp", "tunnel", "ipsec", "routing.eigrp", "l2", "dhcp"}
NOT_FOR_PROTOCOLS = {"lab", "cli", "agent"}
MAX_MODULE_LINES = 600
#: Where the repository keeps Python; without git (an unpacked tarball) these are walked.
PYTHON_TREES = ("src", "tests", "scenarios", "fuzz", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def node_of(module: str) -> str | None:
    """The graph node a dmvpnlab module belongs to: its subpackage, or itself if top-level."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) == 1:
        return None
    top = parts[1]
    if (SRC / PACKAGE / top).is_dir():
        return top
    return module


def imported_modules(path: Path) -> set[str]:
    """Every dmvpnlab module `path` imports, wherever in the file the import stands."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if (SRC / Path(*f"{target}.{alias.name}".split("."))).is_dir()
                         or (SRC / Path(*f"{target}.{alias.name}".split("."))).with_suffix(".py").is_file())
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return {m for m in found if m.split(".")[0] == PACKAGE}


def source_files() -> list[Path]:
    return sorted((SRC / PACKAGE).rglob("*.py"))


def repository_python_files() -> list[Path]:
    """Every .py file git tracks, plus untracked ones it does not ignore (a file being written).

    Without git, or outside a checkout, the PYTHON_TREES and the top level are walked instead
    (skipping virtualenvs and caches), so the check never silently checks nothing.
    """
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard", "--", "*.py"],
                                capture_output=True, check=True, timeout=30).stdout
        paths = {ROOT / name for name in listed.decode().split("\0") if name}
    except (OSError, subprocess.SubprocessError):
        paths = set(ROOT.glob("*.py"))
        for tree in PYTHON_TREES:
            paths.update(p for p in (ROOT / tree).rglob("*.py")
                         if not {".venv", "__pycache__", "site-packages"} & set(p.parts))
    return sorted(p for p in paths if p.is_file())  # a tracked file deleted in the work tree is gone


def package_graph() -> dict[str, dict[str, set[str]]]:
    """node -> imported node -> the files that make the arrow (for the failure message)."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in source_files():
        mine = node_of(module_name(path))
        if mine is None:
            continue
        arrows = graph.setdefault(mine, {})
        for module in imported_modules(path):
            theirs = node_of(module)
            if theirs is not None and theirs != mine:
                arrows.setdefault(theirs, set()).add(str(path.relative_to(SRC)))
    return graph


def find_cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def describe(graph: dict[str, dict[str, set[str]]], members: list[str]) -> str:
    lines = []
    for a in members:
        for b, files in sorted(graph.get(a, {}).items()):
            if b in members:
                lines.append(f"  {a} -> {b}: {', '.join(sorted(files))}")
    return "\n".join(lines)


def test_the_graph_sees_the_packages_it_guards():
    graph = package_graph()
    for expected in ("agent", "cli", "config", "nhrp", "tunnel", "routing", "lab", "analysis"):
        assert expected in graph, f"package {expected} not found under {SRC / PACKAGE}"


def test_no_import_cycle_between_packages():
    graph = package_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


def test_protocol_packages_import_no_lab_cli_or_agent():
    offences = []
    for path in source_files():
        module = module_name(path)
        inner = module.split(".")[1:]
        if not any(".".join(inner[: len(p.split("."))]) == p for p in PROTOCOL_PACKAGES):
            continue
        for imported in imported_modules(path):
            target = imported.split(".")[1:2]
            if target and target[0] in NOT_FOR_PROTOCOLS:
                offences.append(f"{path.relative_to(SRC)} imports {imported}")
    assert offences == []


@pytest.mark.parametrize("path", repository_python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_a_room_not_a_hall(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_MODULE_LINES})"


def test_the_line_check_covers_every_python_tree_of_the_repository():
    checked = {p.relative_to(ROOT).parts[0] for p in repository_python_files()}
    assert set(PYTHON_TREES) <= checked
    assert set(source_files()) <= set(repository_python_files())
    assert Path(__file__).resolve() in repository_python_files()


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": {"x"}}, "b": {"c": {"y"}}, "c": {"a": {"z"}}, "d": {"a": {"w"}}}
    assert find_cycles(graph) == [["a", "b", "c"]]
