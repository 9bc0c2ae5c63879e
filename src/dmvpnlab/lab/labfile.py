"""Reading a lab file of any kind: the one call site `up`, the controller and the pytest plugin share.

A lab file is a native topology (`dmvpnlab.lab.topology`), a CML 2 / VIRL file or the
wired dmvpnlab format; helper cml's `dmvpnlab.lab.cml.load_lab_file` detects which and
returns a `Topology` or a `WiredTopology`. Until that package exists, every file is read
as a native topology. A wired lab is also planned here (`wired.plan`, pure), so a link
to a missing node or an unusable interface name is refused at load, exit 2, before
anything is built.

Template variables (`--var`, the marker's `vars`) belong to native topologies: a wired
file given some is refused with a sentence saying so.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Mapping, Sequence

from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.topology.overrides import parse_assignments
from dmvpnlab.lab.topology.yamlfile import load_topology
from dmvpnlab.lab.wired.model import WiredTopology
from dmvpnlab.lab.wired.plan import WiredPlanError, plan

CML_MODULE = "dmvpnlab.lab.cml"

LabTopology = Topology | WiredTopology


def _cml() -> Any:
    if importlib.util.find_spec(CML_MODULE) is None:
        return None
    module = importlib.import_module(CML_MODULE)
    return module if hasattr(module, "load_lab_file") else None


def file_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "this file cannot become a lab" (one paragraph, exit 2)."""
    errors: list[type[Exception]] = [TopologyError, WiredPlanError]
    cml = _cml()
    if cml is not None and hasattr(cml, "LabFileError"):
        errors.append(cml.LabFileError)
    return tuple(errors)


def load_lab(path: str | Path, assignments: Sequence[str] = (),
             variables: Mapping[str, Any] | None = None, spokes: int | None = None) -> LabTopology:
    """The lab `path` describes, with `--var` `assignments` or `variables` (and `--spokes`) for native files."""
    cml = _cml()
    if spokes is not None and cml is not None and not isinstance(cml.load_lab_file(path), Topology):
        raise WiredPlanError(f"{path}: --spokes applies to native topologies only (a CML/wired lab lists its routers)")
    if cml is None:
        if variables is None:
            try:
                variables = parse_assignments(list(assignments))
            except ValueError as e:
                raise TopologyError("--var", None, str(e)) from None
        return load_topology(path, variables=variables, spokes=spokes)
    if variables:
        found = cml.load_lab_file(path)
        if isinstance(found, Topology):
            return load_topology(path, variables=variables, spokes=spokes)
        raise WiredPlanError(f"{path}: template variables ({', '.join(sorted(variables))}) apply to native "
                             "topologies only; a CML/wired lab file takes its routers' configs as written")
    found = cml.load_lab_file(path, assignments)
    if isinstance(found, WiredTopology):
        plan(found)  # refuses a lab that cannot be built, before anything is
    return found
