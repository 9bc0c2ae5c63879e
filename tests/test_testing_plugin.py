"""The pytest plugin as a user's repository meets it, before any lab comes up.

Each case runs pytest in a subprocess on a tiny test directory of its own (no conftest of
ours, no rootdir of ours): the plugin must arrive through the package's entry point.
Bringing labs up is the scenarios' job (scenarios/test_plugin.py); here: options, the
marker, the messages when the topology is missing, the skip without root, and the
bookkeeping of a lab's verdicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from dmvpnlab.lab.inspect import NhrpEntry, Route, best_route
from dmvpnlab.lab.records import LabRecords, ProcessRecord
from dmvpnlab.testing.session import LabSession


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=directory,
                          capture_output=True, text=True, timeout=120)


def test_the_plugin_registers_through_the_entry_point(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "--help").stdout
    for option in ("--dmvpn-topology", "--dmvpn-keep-on-failure", "--dmvpn-report", "--dmvpn-captures",
                   "--dmvpn-scope"):
        assert option in out
    markers = run_pytest(tmp_path, "--markers").stdout
    assert "@pytest.mark.dmvpn_topology(path, vars=None)" in markers


def test_a_module_without_a_topology_is_told_how_to_name_one(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x(dmvpn_lab):\n    pass\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    assert "dmvpn_lab needs a topology: `pytestmark = pytest.mark.dmvpn_topology(PATH)`" in result.stdout


def test_a_missing_topology_file_names_where_it_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\npytestmark = pytest.mark.dmvpn_topology('labs/nowhere.yaml')\n"
        "def test_x(dmvpn_lab):\n    pass\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    assert "dmvpnlab: topology labs/nowhere.yaml not found" in result.stdout
    assert str(tmp_path / "labs") in result.stdout


def test_without_root_lab_tests_are_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import dmvpnlab.testing.plugin as plugin, dmvpnlab.testing.fixtures as fixtures\n"
        "plugin.is_root = fixtures.is_root = lambda: False\n")
    (tmp_path / "test_x.py").write_text(
        "import pytest\npytestmark = pytest.mark.dmvpn_topology('lab.yaml')\n"
        "def test_lab(dmvpn_lab):\n    pass\n"
        "def test_plain():\n    pass\n")
    result = run_pytest(tmp_path, "-rs")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "scenarios need root" in result.stdout


def _report(nodeid: str, when: str, outcome: str, text: str = "") -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, failed=outcome == "failed",
                           longreprtext=text, duration=0.5)


def test_a_session_keeps_each_tests_verdict_and_says_where_things_are(tmp_path: Path) -> None:
    lab = SimpleNamespace(name="ci", captures=SimpleNamespace(directory=tmp_path / "ci"), agents=[])
    session = LabSession(lab=lab, scope="tests/test_a.py", topology="lab.yaml")
    assert session.serves(SimpleNamespace(nodeid="tests/test_a.py::test_one"))
    assert not session.serves(SimpleNamespace(nodeid="tests/test_ab.py::test_one"))
    session.record(_report("tests/test_a.py::test_one", "setup", "passed"))
    session.record(_report("tests/test_a.py::test_one", "call", "passed"))
    session.record(_report("tests/test_a.py::test_two", "call", "failed", "E  AssertionError: h1 -> h2: expected ..."))
    assert [(v.name.split("::")[1], v.outcome) for v in session.verdicts] == [("test_one", "passed"),
                                                                              ("test_two", "failed")]
    assert session.verdicts[1].message == "E  AssertionError: h1 -> h2: expected ..."
    assert session.failed
    where = session.where()
    assert f"captures: {tmp_path / 'ci'}/" in where and f"report:   {tmp_path / 'ci' / 'report.html'}" in where


def test_a_setup_error_counts_as_an_error() -> None:
    session = LabSession(lab=SimpleNamespace(name="x", captures=None), scope="t.py", topology="x.yaml")
    session.record(_report("t.py::test_a", "setup", "failed", "boom"))
    assert session.verdicts[0].outcome == "error" and session.failed


def test_a_kept_labs_new_controller_replaces_the_owner_in_the_journal(tmp_path: Path) -> None:
    records = LabRecords.create("kept", "lab.yaml", root=tmp_path)
    records.add_process(ProcessRecord(pid=10, start_time=1, cmdline=["pytest"], kind="controller", kill_on_clean=False))
    records.add_process(ProcessRecord(pid=11, start_time=2, cmdline=["dmvpnlab", "agent"], kind="agent"))
    records.hand_over(ProcessRecord(pid=20, start_time=3, cmdline=["keeper"], kind="controller"))
    replayed = LabRecords.load(records.path)
    assert replayed.controller().pid == 20 and replayed.controller().kill_on_clean
    assert [p.pid for p in replayed.processes()] == [20, 11]


def test_routes_and_nhrp_entries_read_from_the_agents_answers() -> None:
    rows = [
        {"prefix": "0.0.0.0/0", "code": "S", "next_hop": "100.64.1.2", "interface": None, "distance": 1,
         "metric": 0, "override": False, "next_hops": [{"address": "100.64.1.2", "interface": None}]},
        {"prefix": "192.168.0.0/16", "code": "S", "next_hop": "10.0.0.1", "interface": None, "distance": 1,
         "metric": 0, "override": {"next_hop": "10.0.0.3", "interface": "Tunnel0"}, "next_hops": []},
        {"prefix": "192.168.2.0/24", "code": "H", "next_hop": "10.0.0.3", "interface": "Tunnel0",
         "distance": 250, "metric": 1, "override": False, "next_hops": []},
    ]
    routes = [Route.from_row(json.loads(json.dumps(r))) for r in rows]
    assert best_route(routes, "192.168.2.10").code == "H"
    assert best_route(routes, "192.168.3.1").overridden
    assert best_route(routes, "192.168.3.1").line() == "S  192.168.0.0/16 via 10.0.0.1 (% via 10.0.0.3)"
    assert best_route(routes, "8.8.8.8").prefix.prefixlen == 0
    entry = NhrpEntry.from_state("Tunnel0", {"prefix": "10.0.0.3/32", "next_hop": "10.0.0.3", "nbma": "100.64.2.1",
                                             "type": "dynamic", "flags": ["router", "used"], "expires_in": 280.0})
    assert (str(entry.nbma), entry.type, entry.flags) == ("100.64.2.1", "dynamic", ("router", "used"))


def test_our_scenarios_get_the_plugin_as_users_do_not_from_a_conftest_import() -> None:
    conftest = (Path(__file__).resolve().parents[1] / "scenarios" / "conftest.py").read_text()
    assert "import *" not in conftest and "testing.plugin" not in conftest and "pytest_plugins" not in conftest
