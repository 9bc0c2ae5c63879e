"""The small commands a user reaches for, on a real detached lab kept outside this repository.

The topology lives in a tmp directory with `template: hub.j2` / `spoke.j2` and no nodes/
of its own: it comes up with the templates shipped in the package. Then `dmvpnlab status`
says how long it has been up and that its three agents are healthy (PID alive and control
socket answering), and says so no longer for an agent that was killed; `dmvpnlab logs`
prints a router's agent log, names the nodes for a typo, and `-f` ends by itself when
the lab goes down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cml_checks import REPO

LAB = "detools"
TOPOLOGY = "vars: {phase: 3}\nhub: {template: hub.j2}\nspokes: 2\nspoke_defaults: {template: spoke.j2}\n"


def dmvpnlab(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A subcommand as a user runs it (its own process, from this repository)."""
    return subprocess.run([sys.executable, "-m", "dmvpnlab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def lab_json() -> dict:
    done = dmvpnlab("status", "--json")
    assert done.returncode == 0, done.stderr
    return next(lab for lab in json.loads(done.stdout)["labs"] if lab["lab"] == LAB)


def test_status_and_logs_on_a_lab_from_a_directory_outside_the_repository(tmp_path: Path):
    topology = tmp_path / "elsewhere" / f"{LAB}.yaml"
    topology.parent.mkdir()
    topology.write_text(TOPOLOGY)
    up = dmvpnlab("up", str(topology), "--detach", "--no-captures")
    assert up.returncode == 0, up.stdout + up.stderr
    follower = None
    try:
        status = dmvpnlab("status")
        line = next(l for l in status.stdout.splitlines() if l.startswith(f"{LAB}  "))
        assert line.startswith(f"{LAB}  up ") and line.endswith("agents 3/3 healthy"), line
        info = lab_json()
        assert info["agents"] == {"healthy": 3, "total": 3, "unhealthy": {}}
        assert 0 <= info["up_seconds"] < 600

        logs = dmvpnlab("logs", "HUB", "-n", "5")  # any case, as exec takes it
        assert logs.returncode == 0 and 0 < len(logs.stdout.splitlines()) <= 5, logs.stdout + logs.stderr
        assert "dmvpnlab.agent" in logs.stdout
        typo = dmvpnlab("logs", "hbu")
        assert typo.returncode == 1 and "no node 'hbu'" in typo.stderr and "spoke2 (detools)" in typo.stderr

        follower = subprocess.Popen([sys.executable, "-m", "dmvpnlab", "logs", "spoke1", "-f", "-n", "1"], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        from dmvpnlab.lab.health import latest_agents
        from dmvpnlab.lab.records import RECORDS_NAME, LabRecords, lab_dir

        spoke2 = latest_agents(LabRecords.load(lab_dir(LAB) / RECORDS_NAME))["spoke2"]
        os.kill(spoke2.pid, signal.SIGKILL)  # an agent this lab started
        deadline = time.monotonic() + 10
        while spoke2.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = lab_json()
        assert (info["agents"]["healthy"], info["agents"]["total"]) == (2, 3)
        assert info["agents"]["unhealthy"] == {"spoke2": f"PID {spoke2.pid} gone"}
    finally:
        down = dmvpnlab("down", LAB)
    assert down.returncode == 0, down.stdout + down.stderr
    assert follower is not None
    out, err = follower.communicate(timeout=20)  # ends by itself: the lab is gone
    assert follower.returncode == 0 and f"lab {LAB} went down" in err, (out, err)
