"""`load_lab_file`: any lab file -> the model `up` builds (a native `Topology` or a `WiredTopology`).

Which format a file is, is decided by its content, not its name (`source.sniff`): VIRL
XML (`<topology`), the wired dmvpnlab format (`format: dmvpnlab-wired/1`), CML YAML
(`nodes:` with `node_definition`), else a native topology. `--var` assignments are
template variables of native topologies; a wired or CML lab has whole configs and no
templates, so assignments with one are an error that says so. Every problem is a
`TopologyError` (a `LabFileError` for the lab formats): one paragraph, exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

from dmvpnlab.lab.cml.errors import LabFileError, LabProblem, problem_error
from dmvpnlab.lab.cml.source import parse_yaml, read_text, sniff
from dmvpnlab.lab.topology.build import display_name
from dmvpnlab.lab.wired.model import WiredTopology

if TYPE_CHECKING:
    from dmvpnlab.lab.topology.model import Topology

AnyTopology = Union["Topology", WiredTopology]


def load_lab_file(path: str | Path, assignments: Sequence[str] = ()) -> AnyTopology:
    """The lab a file describes, whatever its format; TopologyError (LabFileError) for a bad file."""
    path = Path(path)
    file = display_name(path)
    text = read_text(path, file)
    data = None
    kind = sniff(text, None)
    if kind != "virl":
        try:
            data, _ = parse_yaml(text, file)
        except LabFileError:
            if kind == "native":  # the native loader reports its own file's YAML errors
                return _native(path, assignments)
            raise
        kind = sniff(text, data)
    if kind == "native":
        return _native(path, assignments)
    if assignments:
        raise LabFileError("--var", None, f"expected no --var with {file}: template variables apply to native "
                           f"topologies, and this is a {_FORMAT_WORDS[kind]} whose router configs are used as "
                           "written")
    if kind == "virl":
        return load_virl_text(text, path, file)
    if kind == "wired":
        from dmvpnlab.lab.cml.wiredfile import load_wired_text

        return load_wired_text(text, path, file)
    return load_cml_text(text, path, file)


_FORMAT_WORDS = {"virl": "VIRL lab", "wired": "wired dmvpnlab lab", "cml": "CML lab"}


def _native(path: Path, assignments: Sequence[str]) -> "Topology":
    from dmvpnlab.lab.topology.errors import TopologyError
    from dmvpnlab.lab.topology.overrides import parse_assignments
    from dmvpnlab.lab.topology.yamlfile import load_topology

    try:
        variables = parse_assignments(list(assignments))
    except ValueError as e:
        raise TopologyError("--var", None, str(e)) from None
    return load_topology(path, variables=variables)


def load_cml(path: str | Path) -> WiredTopology:
    """A CML 2 YAML lab file as a wired lab; LabFileError."""
    path = Path(path)
    file = display_name(path)
    return load_cml_text(read_text(path, file), path, file)


def load_cml_text(text: str, path: Path, file: str) -> WiredTopology:
    from dmvpnlab.lab.cml import schema
    from dmvpnlab.lab.cml.mapping import to_wired

    data, lines = parse_yaml(text, file)
    try:
        lab = schema.validate(data)
        return to_wired(lab, path, f"cml {lab.version}")
    except LabProblem as p:
        raise problem_error(file, p, lines) from None


def load_virl(path: str | Path) -> WiredTopology:
    """A VIRL 1 `.virl` XML topology as a wired lab; LabFileError."""
    path = Path(path)
    file = display_name(path)
    return load_virl_text(read_text(path, file), path, file)


def load_virl_text(text: str, path: Path, file: str) -> WiredTopology:
    from dmvpnlab.lab.cml.mapping import to_wired
    from dmvpnlab.lab.cml.virl import virl_to_cml, xml_field

    try:
        lab = virl_to_cml(text)
        return to_wired(lab, path, "virl 1")
    except LabProblem as p:  # no line numbers: ElementTree keeps none
        raise LabFileError(file, xml_field(p.path), p.message, node=p.node) from None
