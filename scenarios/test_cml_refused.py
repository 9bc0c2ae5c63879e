"""CML lab files that must not come up: `dmvpnlab up FILE` exits 2 with one paragraph and builds nothing.

- topologies/cml/external.yaml has an `external_connector` (a lab never reaches the
  outside): refused, the paragraph names the node and its definition.
- A broken copy of topologies/cml/phase1.yaml (generated here, one field made wrong):
  the paragraph names the node, the field and what was expected.

Each run is the real command in a subprocess, as root; "nothing built" is checked on the
machine: no new named namespace, no new lab records, nothing new under the run root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from cml_checks import CML, REPO
from dmvpnlab.lab.pytest_plugin import named_namespaces
from dmvpnlab.lab.records import all_records
from dmvpnlab.rundir import run_root


def _snapshot() -> tuple[set[str], set[str], set[str]]:
    root = run_root()
    entries = {p.name for p in root.iterdir()} if root.is_dir() else set()
    return named_namespaces(), {str(r.directory) for r in all_records()}, entries


def _up(path: Path) -> subprocess.CompletedProcess[str]:
    before = _snapshot()
    done = subprocess.run([sys.executable, "-m", "dmvpnlab", "up", str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert _snapshot() == before, "a refused lab must build nothing"
    return done


def _one_paragraph(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    text = (done.stderr + done.stdout).strip()
    assert text and "\n\n" not in text, f"one paragraph, not:\n{text}"
    assert "Traceback" not in text, text
    return text


def test_an_external_connector_is_refused():
    text = _one_paragraph(_up(CML / "external.yaml"))
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
    text = _one_paragraph(_up(path))
    assert node in text and field in text, text
    assert any(w in text.lower() for w in ("expected", "must", "should", "needs")), f"says what was expected: {text}"
