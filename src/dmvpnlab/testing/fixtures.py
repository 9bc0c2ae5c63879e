"""The plugin's fixtures: labs from a marker, an option or a factory, and their faults.

Why a lab is module-scoped by default: scenarios assert many things about one lab and
bring-up is the slow part; `--dmvpn-scope function` gives each test a fresh lab instead
(slower, fully isolated), and `dmvpn_lab_factory` brings up labs a test names itself.
Every lab is torn down when its scope ends, also when tests fail or the run is
interrupted (or kept up for a look: `--dmvpn-keep-on-failure`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from dmvpnlab.testing.leaks import ROOT_REASON, is_root
from dmvpnlab.testing.session import LabSession, sessions

MARKER = "dmvpn_topology"


def find_topology(path: str | Path, request: pytest.FixtureRequest) -> Path:
    """A topology path as a user writes it: absolute, or relative to the rootdir, to the
    test file's directory, or to the working directory (the first that exists)."""
    given = Path(path)
    if given.is_absolute():
        return given
    test_file = getattr(request.node, "path", None) or Path(str(request.fspath))
    candidates = [request.config.rootpath / given, Path(test_file).parent / given, Path.cwd() / given]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    pytest.fail(f"dmvpnlab: topology {path} not found (looked in: {', '.join(str(c.parent) for c in candidates)})",
                pytrace=False)


@pytest.fixture(scope="module")
def dmvpn_topology(request: pytest.FixtureRequest) -> str:
    """The module's topology: its `dmvpn_topology` marker, else `--dmvpn-topology`
    (override this fixture to compute one)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        return str(marker.args[0])
    option = request.config.getoption("dmvpn_topology")
    if option:
        return str(option)
    pytest.fail("dmvpn_lab needs a topology: `pytestmark = pytest.mark.dmvpn_topology(PATH)` in the module, "
                "`--dmvpn-topology PATH`, or a `dmvpn_topology` fixture", pytrace=False)


@pytest.fixture(scope="module")
def dmvpn_vars(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Template variables over the topology file's: the marker's `vars` (override to compute them)."""
    marker = request.node.get_closest_marker(MARKER)
    return dict(marker.kwargs.get("vars") or {}) if marker is not None else {}


def bring_up(request: pytest.FixtureRequest, topology: str | Path, variables: dict[str, Any] | None = None,
             scope: str | None = None) -> LabSession:
    """Bring a lab up for `request`'s scope and register it with the run."""
    if not is_root():
        pytest.skip(ROOT_REASON)
    from dmvpnlab.lab.lab import Lab
    from dmvpnlab.lab.labfile import load_lab

    path = find_topology(topology, request)
    root = request.config.getoption("dmvpn_captures")
    lab = Lab.up(load_lab(path, variables=variables or {}), quiet=True,
                 captures_root=Path(root) if root else None)
    session = LabSession(lab=lab, scope=scope or request.node.nodeid, topology=str(path))
    sessions(request.config).append(session)
    return session


def _lab_scope(fixture_name: str, config: pytest.Config) -> str:
    return str(config.getoption("dmvpn_scope", "module"))


@pytest.fixture(scope=_lab_scope)  # type: ignore[arg-type]
def dmvpn_lab(request: pytest.FixtureRequest, dmvpn_leak_guard: None, dmvpn_topology: str,
              dmvpn_vars: dict[str, Any]) -> Iterator[Any]:
    """A running lab (`dmvpnlab.lab.lab.Lab`): ping, exec, cli, nhrp, routes, path, trace, fault."""
    session = bring_up(request, dmvpn_topology, dmvpn_vars)
    try:
        yield session.lab
    finally:
        session.finish(request.config)


@pytest.fixture
def dmvpn_lab_factory(request: pytest.FixtureRequest, dmvpn_leak_guard: None) -> Iterator[Callable[..., Any]]:
    """Bring up labs inside a test: `lab = dmvpn_lab_factory("lab.yaml", vars={"phase": 2})`.
    Each is torn down (or kept, or reported) when the test ends, in reverse order."""
    made: list[LabSession] = []

    def make(topology: str | Path, vars: dict[str, Any] | None = None) -> Any:
        session = bring_up(request, topology, vars, scope=request.node.nodeid)
        made.append(session)
        return session.lab

    try:
        yield make
    finally:
        for session in reversed(made):
            session.finish(request.config)


@contextmanager
def undone_faults(lab: Any) -> Iterator[Any]:
    """`lab`'s `FaultInjector`; on leaving, every fault is undone (also after a failure)."""
    injector = lab.fault_injector
    try:
        yield injector
    finally:
        injector.fault("clear", "all")


@pytest.fixture
def dmvpn_faults(dmvpn_lab: Any) -> Iterator[Any]:
    """The lab's `FaultInjector` for one test; every fault is undone afterwards (links up,
    loss and delay off, killed agents started), also when the test fails:

        def test_hub_loss(dmvpn_lab, dmvpn_faults):
            kill = dmvpn_faults.fault("kill", "hub")
            ... assert from the captures, timed from kill.time ...
    """
    with undone_faults(dmvpn_lab) as injector:
        yield injector
