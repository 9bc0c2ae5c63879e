"""`dmvpnlab loadgen` against a real hub agent: 200 emulated spokes register, refresh, resolve, purge.

The emulated spokes live in spoke1 (no agent) of topologies/hub-load.yaml; the hub is the
real agent with the real hub template. What the hub itself says is the judge: its
`show dmvpn` lists every emulated spoke while they are registered and none after the
purge, and the ISP's route to the emulated NBMA block is gone after the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dmvpn_topology("topologies/hub-load.yaml")
REPO = Path(__file__).resolve().parent.parent
SPOKES = 200


def loadgen(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "dmvpnlab", "loadgen", "--lab", "hub-load", "--spokes", str(SPOKES),
                           "--json", *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def emulated_peers(lab) -> list[str]:
    return re.findall(r"^\s+1\s+(100\.100\.\d+\.\d+)\s+10\.0\.\d+\.\d+\s+UP", lab.cli("hub", "show dmvpn"), re.M)


def test_every_emulated_spoke_registers_and_the_hub_answers_refreshes_and_resolutions(lab):
    report = loadgen("--no-purge", "--duration", "4", "--holdtime", "6", "--resolutions", "25")
    phases = report["phases"]
    assert report["registered"] == SPOKES and phases["burst"]["answered"] == SPOKES
    assert phases["refresh"]["answered"] == phases["refresh"]["sent"] > SPOKES // 2  # every 2 s, first spread
    assert phases["resolve"]["answered"] == phases["resolve"]["sent"] >= 50
    assert report["received"]["resolution_request"] == phases["resolve"]["sent"]  # forwarded to the owner
    assert not report["dropped"] and report["send_errors"] == 0
    assert report["hub_samples"]["registered"]["nhrp"][0]["registered"] == SPOKES
    assert len(emulated_peers(lab)) == SPOKES


def test_a_purge_run_leaves_the_hub_and_the_isp_as_they_were(lab):
    report = loadgen("--duration", "1")
    assert report["phases"]["purge"]["answered"] == SPOKES
    assert emulated_peers(lab) == []
    assert "100.100.0.0/16" not in lab.exec("isp", ["ip", "route"]).stdout
    assert "100.100.0.0/16" not in lab.exec("spoke1", ["ip", "route", "show", "table", "local"]).stdout
