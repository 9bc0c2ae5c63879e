"""The dmvpnlab pytest plugin: DMVPN labs as fixtures, for our scenarios and users' own CI.

Installed with the package (`pip install dmvpnlab` registers it through the `pytest11`
entry point: nothing to import in a conftest). A test module names its topology and uses
the lab:

    import pytest

    pytestmark = pytest.mark.dmvpn_topology("lab/phase3.yaml", vars={"phase": 3})

    def test_shortcut(dmvpn_lab):
        dmvpn_lab.ping("h1", "h2", count=5)
        assert dmvpn_lab.path("h1", "h2") == ["spoke1", "spoke2"]

Fixtures (see fixtures.py): `dmvpn_lab` (one lab per module, or per test with
`--dmvpn-scope function`), `dmvpn_lab_factory` (labs from paths, in the test), `dmvpn_faults`
(fault injection, undone after each test), `dmvpn_topology` / `dmvpn_vars` (override to
compute the topology), `dmvpn_leak_guard`.

Options: `--dmvpn-topology PATH` (the topology of modules that name none),
`--dmvpn-keep-on-failure` (a lab a test failed on stays up after the run, and the summary
says how to reach it), `--dmvpn-report {failed,always,never}` (the HTML report of a lab's
captures, written when it goes down; default: when a test failed), `--dmvpn-captures DIR`
(where captures go, default ./captures: upload it as a CI artifact), `--dmvpn-scope`.
Without root, tests that use a lab are skipped with the reason.
"""

from __future__ import annotations

import pytest

from dmvpnlab.testing.fixtures import (  # noqa: F401 - fixtures are found by name in this module
    dmvpn_faults,
    dmvpn_lab,
    dmvpn_lab_factory,
    dmvpn_topology,
    dmvpn_vars,
)
from dmvpnlab.testing.leaks import ROOT_REASON, dmvpn_leak_guard, is_root  # noqa: F401
from dmvpnlab.testing.session import keep_kept_labs, sessions

LAB_FIXTURES = ("dmvpn_lab", "dmvpn_lab_factory")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dmvpnlab", "DMVPN labs (dmvpnlab)")
    group.addoption("--dmvpn-topology", metavar="PATH", default=None,
                    help="topology (or CML / wired lab file) of dmvpn_lab for modules without a dmvpn_topology marker")
    group.addoption("--dmvpn-keep-on-failure", action="store_true", default=False,
                    help="keep a lab a test failed on up after the run, for a look (dmvpnlab cli/exec/down)")
    group.addoption("--dmvpn-report", choices=("failed", "always", "never"), default="failed",
                    help="write the lab's HTML report (captures/<lab>/report.html) when it goes down: "
                         "if a test failed (default), always, or never")
    group.addoption("--dmvpn-captures", metavar="DIR", default=None,
                    help="root directory of the captures (default ./captures); captures/<lab>/ per lab")
    group.addoption("--dmvpn-scope", choices=("module", "function"), default="module",
                    help="one dmvpn_lab per test module (default) or per test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dmvpn_topology(path, vars=None): the topology file dmvpn_lab brings up "
                                       "for this module (relative to the rootdir or the test file), and template "
                                       "variables over the file's")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, every test that needs a lab is skipped with the one-line reason."""
    if is_root():
        return
    skip = pytest.mark.skip(reason=ROOT_REASON)
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in LAB_FIXTURES):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Each outcome goes to the labs the test used; a failure says where their captures are."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    for session in sessions(item.config):
        if not session.serves(item) or session.kept and report.when == "teardown":
            continue
        verdict = session.record(report)
        if verdict is not None and report.failed:
            report.sections.append(("dmvpnlab", session.where()))
            if session.captures is not None:
                item.user_properties.append(("dmvpn_captures", str(session.captures)))
                item.user_properties.append(("dmvpn_report", str(session.planned_report())))


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    """Where the reports are, and how to reach the labs kept up after a failure."""
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    for session in sessions(config):
        if session.report_path is not None:
            write(f"dmvpnlab: report of lab {session.lab.name!r}: {session.report_path}")
    kept = [s for s in sessions(config) if s.kept]
    for session in kept:
        write(session.how_to_reach())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Kept labs outlive the run: each is handed to a detached controller of its own."""
    for session, pid in keep_kept_labs(config):
        print(f"dmvpnlab: lab {session.lab.name!r} is held by controller PID {pid}; `dmvpnlab down {session.lab.name}` "
              "tears it down")
