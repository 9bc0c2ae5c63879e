"""CML lab files that must not come up: `dmvpnlab up FILE` exits 2 with one paragraph and builds nothing.

- topologies/cml/external.yaml has an `external_connector` (a lab never reaches the
  outside): refused, the paragraph names the node and its definition.
- A broken copy of topologies/cml/phase1.yaml (generated here, one field made wrong):
  the paragraph names the node, the field and what was expected.

Each run is the real command in a subprocess, as root, with a run directory of its own
(DMVPNLAB_RUN_DIR): "nothing built" is that directory still empty and no process naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from cml_checks import CML, REPO
from dmvpnlab.lab.records import list_pids, proc_cmdline
from dmvpnlab.rundir import RUN_ROOT_ENV


def _built(run_dir: Path) -> list[str]:
    """What a lab run with this run directory left: files under it, processes naming it."""
    left = [str(p.relative_to(run_dir)) for p in run_dir.rglob("*")]
    for pid in list_pids():
        if str(run_dir) in " ".join(proc_cmdline(pid)):
            left.append(f"PID {pid}")
    return left


def _up(path: Path, run_dir: Path) -> subprocess.CompletedProcess[str]:
    """`dmvpnlab up PATH` with a run directory of its own (a lab's records, namespaces pins and
    agent state all live under it), so "nothing built" is exact even while others run labs."""
    run_dir.mkdir()
    env = {**os.environ, RUN_ROOT_ENV: str(run_dir)}
    done = subprocess.run([sys.executable, "-m", "dmvpnlab", "up", str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert _built(run_dir) == [], "a refused lab must build nothing"
    return done


def _one_paragraph(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    text = (done.stderr + done.stdout).strip()
    assert text and "\n\n" not in text, f"one paragraph, not:\n{text}"
    assert "Traceback" not in text, text
    return text


def test_an_external_connector_is_refused(tmp_path: Path):
    text = _one_paragraph(_up(CML / "external.yaml", tmp_path / "run"))
    assert "Internet" in text and "external_connector" in text, text


def _break_slot(lab: dict[str, Any]) -> tuple[str, str]:
    spoke2 = next(n for n in lab["nodes"] if n["label"] == "Spoke2")
    next(i for i in spoke2["interfaces"] if i.get("slot") == 0)["slot"] = "zero"
    return "Spoke2", "slot"


def _drop_definition(lab: dict[str, Any]) -> tuple[str, str]:
    spoke1 = next(n for n in lab["nodes"] if n["label"] == "Spoke1")
    del spoke1["node_definition"]
    return "Spoke1", "node_definition"


def _unknown_interface(lab: dict[str, Any]) -> tuple[str, str]:
    spoke2 = next(n for n in lab["nodes"] if n["label"] == "Spoke2")
    link = next(l for l in lab["links"] if l["n1"] == spoke2["id"])
    link["i1"] = "i99"
    return "Spoke2", "i99"


@pytest.mark.parametrize("breaker", [_break_slot, _drop_definition, _unknown_interface],
                         ids=["slot-not-a-number", "no-node-definition", "link-to-unknown-interface"])
def test_a_broken_field_gives_one_paragraph_naming_node_and_field(tmp_path: Path, breaker: Callable[..., Any]):
    lab = yaml.safe_load((CML / "phase1.yaml").read_text())
    node, field = breaker(lab)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(lab, sort_keys=False))
    text = _one_paragraph(_up(path, tmp_path / "run"))
    assert node in text and field in text, text
    assert any(w in text.lower() for w in ("expected", "must", "should", "needs")), f"says what was expected: {text}"
