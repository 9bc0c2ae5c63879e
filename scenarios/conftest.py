"""Our scenarios use the dmvpnlab pytest plugin like any user's CI does (it is registered
by the package's `pytest11` entry point; nothing is imported from it here), plus three
things of our own: the short fixture names the specs read with (`lab`, `lab_faults`), the
leak guard on every module (also on those that build labs themselves), and the skip of
every scenario without root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from dmvpnlab.testing.fixtures import undone_faults
from dmvpnlab.testing.leaks import ROOT_REASON, is_root


@pytest.fixture(scope="module", autouse=True)
def no_leftovers(dmvpn_leak_guard: None) -> Iterator[None]:
    """Every scenario module, lab fixture or not, leaves no namespace or lab process behind."""
    yield


@pytest.fixture(scope="module")
def lab(dmvpn_lab: Any) -> Any:
    """The module's lab (its `dmvpn_topology` marker)."""
    return dmvpn_lab


@pytest.fixture
def lab_faults(lab: Any) -> Iterator[Any]:
    """The module's lab's fault injector for one test, every fault undone afterwards. From
    `lab`, not `dmvpn_faults`: some modules bring their lab up with a `lab` fixture of their own."""
    with undone_faults(lab) as injector:
        yield injector


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, every scenario is skipped with the one-line reason."""
    if is_root():
        return
    skip = pytest.mark.skip(reason=ROOT_REASON)
    for item in items:
        if "scenarios" in Path(str(item.fspath)).parts:
            item.add_marker(skip)
