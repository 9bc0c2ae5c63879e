"""The pytest plugin on a real lab, as a user's repository runs it: a failing test says
where its captures and report are, and `--dmvpn-keep-on-failure` leaves the lab up for a
look, reachable with the usual commands, until `dmvpnlab down`.

The user's run is a pytest subprocess in a directory of its own (a copy of examples/ci
with another lab name), with nothing of ours but the installed plugin.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from dmvpnlab.lab.records import all_records

REPO = Path(__file__).resolve().parents[1]
LAB = "plugin-keep"
USER_TEST = '''
import pytest

pytestmark = pytest.mark.dmvpn_topology("topologies/dmvpn.yaml")


def test_branches_reach_each_other(dmvpn_lab):
    assert dmvpn_lab.ping("h1", "h2", count=2).ok


def test_the_hub_knows_no_spoke(dmvpn_lab):
    registered = [str(e.next_hop) for e in dmvpn_lab.nhrp("hub") if e.type == "dynamic"]
    assert registered == [], "the hub has registrations"
'''


def dmvpnlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dmvpnlab", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    repo = tmp_path_factory.mktemp("user-repo")
    shutil.copytree(REPO / "examples" / "ci" / "topologies", repo / "topologies")
    shutil.copytree(REPO / "examples" / "ci" / "nodes", repo / "nodes")
    topology = repo / "topologies" / "dmvpn.yaml"
    topology.write_text(topology.read_text().replace("name: ci-example", f"name: {LAB}"))
    (repo / "test_user.py").write_text(USER_TEST)
    # Output to a file, not a pipe: the kept lab's processes (agents, captures) hold the
    # run's stdout open after pytest exits, so a pipe would never reach its end.
    log = repo / "pytest.log"
    try:
        with open(log, "w") as out:
            code = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--dmvpn-keep-on-failure",
                                   "--dmvpn-captures=caps", "--junitxml=junit.xml", "test_user.py"],
                                  cwd=repo, stdout=out, stderr=subprocess.STDOUT, timeout=300).returncode
        yield subprocess.CompletedProcess([], code, log.read_text(), ""), repo
    finally:
        if LAB in [r.lab for r in all_records()]:
            dmvpnlab("down", LAB, timeout=300)


def test_the_failure_says_where_the_captures_and_the_report_are(user_run) -> None:
    run, repo = user_run
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout
    assert "AssertionError: the hub has registrations" in run.stdout
    captures = repo / "caps" / LAB
    assert f"captures: {captures}/" in run.stdout
    assert f"report:   {captures / 'report.html'}" in run.stdout
    assert (captures / "report.html").stat().st_size > 10_000
    assert "hub-isp.pcapng" in {p.name for p in captures.iterdir()}
    assert f'name="dmvpn_report" value="{captures / "report.html"}"' in (repo / "junit.xml").read_text()


def test_the_failed_lab_is_kept_up_and_the_summary_says_how_to_reach_it(user_run) -> None:
    run, _ = user_run
    assert f"lab '{LAB}' kept up (a test failed; --dmvpn-keep-on-failure)" in run.stdout
    assert f"dmvpnlab down {LAB}" in run.stdout
    status = dmvpnlab("status")
    assert LAB in status.stdout, status.stdout + status.stderr
    ping = dmvpnlab("exec", "--lab", LAB, "h1", "--", "ping", "-c", "1", "-W", "2", "192.168.2.10")
    assert ping.returncode == 0 and "1 received" in ping.stdout, ping.stdout + ping.stderr


def test_down_tears_the_kept_lab_down(user_run) -> None:
    down = dmvpnlab("down", LAB, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert LAB not in [r.lab for r in all_records()]
