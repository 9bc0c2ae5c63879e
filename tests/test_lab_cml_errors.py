"""A broken CML file is ONE paragraph: the file, the node (label and id), the field, what was expected, what was found.

The line is the line of the field in the file (computed here from the written text, so the
assertion is exact and still readable). `dmvpnlab import` prints it and exits 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cml_samples import DELETE, changed, write
from dmvpnlab.command import main
from dmvpnlab.lab.cml import LabFileError, load_lab_file
from dmvpnlab.lab.topology.errors import TopologyError


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors name the file as given, relative to here


def _error(tmp_path: Path, data: Any) -> tuple[str, str]:
    write(tmp_path, data)
    with pytest.raises(LabFileError) as e:
        load_lab_file("lab.yaml")
    return str(e.value), (tmp_path / "lab.yaml").read_text()


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth line that contains `needle`."""
    hits = [k + 1 for k, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


CASES = [
    ("a wrong type", dict(nodes__1__interfaces__1__slot="one"), ("slot: one", 1),
     "node 'Spoke1' (id n1): nodes[1].interfaces[1].slot: expected an integer, got 'one'"),
    ("a link naming a missing node", dict(links__1__n1="n9"), ("n1: n9", 1),
     "link 'l1': links[1].n1: expected the id of a node of this lab, got 'n9'"),
    ("a link naming a missing interface", dict(links__0__i2="i9"), ("i2: i9", 1),
     "link 'l0' to node 'SW' (id n3): links[0].i2: expected the id of an interface of that node (i0, i1, i2, i3), "
     "got 'i9'"),
    ("a duplicate label, in another case", dict(nodes__2__label="spoke1"), ("label: spoke1", 1),
     "node 'spoke1' (id n2): nodes[2].label: expected a label no other node has in any case (node names are typed "
     "in any case), got 'spoke1', which node 'Spoke1' (id n1) has"),
    ("a missing node_definition", dict(nodes__1__node_definition=DELETE), ("- id: n1", 1),
     "node 'Spoke1' (id n1): nodes[1].node_definition: expected the field 'node_definition', got nothing "
     "(it is required)"),
    ("an unsupported version", dict(lab__version="0.4.0"), ("version: 0.4.0", 1),
     "lab.version: expected a CML lab version 0.0.x, 0.1.x, 0.2.x or 0.3.x (written as text, e.g. '0.3.0'), "
     "got '0.4.0'"),
    ("an external connector", dict(nodes__3__node_definition="external_connector"),
     ("node_definition: external_connector", 1),
     "node 'SW' (id n3): nodes[3].node_definition: expected a node this lab can run, got 'external_connector': "
     "a lab here never reaches the outside network (remove the connector and its links, or use an unmanaged_switch)"),
    ("a link to a loopback", dict(links__0__i1="i0"), ("i1: i0", 1),
     "link 'l0' to node 'Hub' (id n0): links[0].i1: expected a physical interface, got the loopback 'i0' "
     "(loopbacks take no links)"),
    ("an interface on two links", dict(links__1__i2="i0"), ("i2: i0", 2),
     "link 'l1' to node 'SW' (id n3): links[1].i2: expected an interface no other link uses, got 'i0', which "
     "link 'l0' uses"),
    ("nodes not a list", dict(nodes={"a": 1}), ("nodes:", 1), "nodes: expected a list, got a mapping"),
    ("a malformed config line", dict(nodes__1__configuration="interface GigabitEthernet0/0\n ip address 10.0.0.1\n"),
     ("configuration:", 2),
     "node 'Spoke1' (id n1): nodes[1].configuration: expected an IOS config whose supported lines are well "
     "formed, got configuration line 2: ip address 10.0.0.1 % Incomplete command."),
    ("a duplicate node id", dict(nodes__2__id="n1"), ("- id: n1", 2),
     "node 'Spoke2' (id n1): nodes[2].id: expected an id no other node has, got 'n1', which nodes[1] has too"),
    ("an unknown interface type", dict(nodes__0__interfaces__1__type="serial"), ("type: serial", 1),
     "node 'Hub' (id n0): nodes[0].interfaces[1].type: expected 'physical' or 'loopback', got 'serial'"),
    ("a physical interface without a slot", dict(nodes__0__interfaces__1__slot=DELETE), ("- id: i1", 1),
     "node 'Hub' (id n0): nodes[0].interfaces[1].slot: expected the slot of a physical interface (an integer: "
     "it gives the interface its IOS name), got nothing"),
    ("a duplicate link id", dict(links__1__id="l0"), ("- id: l0", 2),
     "link 'l0': links[1].id: expected a link id no other link has, got 'l0'"),
    ("conditioning out of range", dict(links__0__conditioning={"loss": 150}), ("loss: 150", 1),
     "link 'l0': links[0].conditioning.loss: expected a number at most 100.0, got 150"),
    ("a label that is not text", dict(nodes__0__label=["x"]), ("label:", 1),
     "node id n0: nodes[0].label: expected text, got a list"),
]


@pytest.mark.parametrize("changes, where, paragraph", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_input_is_one_paragraph(tmp_path: Path, changes: dict[str, Any], where: tuple[str, int],
                                       paragraph: str) -> None:
    message, text = _error(tmp_path, changed(**changes))
    assert message == f"lab.yaml: {paragraph} (line {line_of(text, *where)})"
    assert "\n" not in message


def test_yaml_errors_of_a_cml_file_are_lab_file_errors(tmp_path: Path) -> None:
    assert _error(tmp_path, "lab:\n  version: 0.3.0\nnodes: [\n")[0] == \
        "lab.yaml: line 4, column 1: YAML syntax error: expected the node content, but found '<stream end>'"
    assert _error(tmp_path, "lab:\n  version: 0.3.0\n  version: 0.3.0\nnodes: []\n")[0] == \
        "lab.yaml: lab.version: expected each key once, got 'version' again (first at line 2) (line 3)"


def test_a_file_that_is_not_there_or_not_text(tmp_path: Path) -> None:
    with pytest.raises(LabFileError, match=r"^missing\.yaml: no such lab file$"):
        load_lab_file("missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"lab:\n  title: \xff\n")
    with pytest.raises(LabFileError, match=r"^bin\.yaml: cannot read the lab file: not UTF-8 text \(byte 14: "):
        load_lab_file("bin.yaml")


def test_a_lab_file_error_is_a_topology_error_so_every_command_exits_2() -> None:
    assert issubclass(LabFileError, TopologyError) and issubclass(LabFileError, ValueError)


def test_import_prints_the_paragraph_and_exits_2_writing_nothing(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, changed(links__1__n1="n9"))
    assert main(["import", "lab.yaml", "-o", "out.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dmvpnlab: lab.yaml: link 'l1': links[1].n1: expected the id of a node of this lab, "
                          "got 'n9' (line ") and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["lab.yaml"]
