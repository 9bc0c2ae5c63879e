"""Template variables given for one run (`dmvpnlab up FILE --var phase=2`, a scenario's marker).

Why: one topology file per protocol (topologies/ospf.yaml...) should serve every phase and
variant, so the phase or a variant is picked when the lab is brought up instead of copying
the file. An override wins over everything the file says (top-level `vars`,
`spoke_defaults.vars`, a router's own `vars`) and is set on every router that renders a
config; a template ignores variables it does not use. Values are read as YAML scalars
(`2` is a number, `true` a boolean, anything else text), as they would be in the file.
Imports the model and `boundedyaml` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from dmvpnlab.lab.topology import boundedyaml
from dmvpnlab.lab.topology.model import Topology

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def parse_assignment(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` -> (NAME, value as a YAML scalar); ValueError naming what is wrong."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    if not _NAME.match(name):
        raise ValueError(f"expected a variable name (letters, digits, _), got {name!r}")
    try:
        node = boundedyaml.compose(raw) if raw.strip() else None
    except (boundedyaml.YamlProblem, yaml.YAMLError):
        return name, raw
    if node is None:
        return name, raw if raw else None
    if not isinstance(node, yaml.ScalarNode):
        return name, raw  # `a: b` or `[x]`: meant as text, the template decides
    try:
        return name, boundedyaml.scalar(node)
    except ValueError:
        return name, raw


def parse_assignments(texts: Iterable[str]) -> dict[str, Any]:
    """Several `NAME=VALUE`; a later one wins."""
    return dict(parse_assignment(t) for t in texts)


def with_vars(topology: Topology, variables: Mapping[str, Any] | None) -> Topology:
    """A copy of `topology` whose templated routers have `variables` over their own vars."""
    if not variables:
        return topology
    routers = [r.model_copy(update={"vars": {**r.vars, **variables}}) if r.template else r
               for r in topology.routers]
    copy = topology.model_copy(update={"routers": routers})
    copy._by_name = {}  # the name cache of the original points at its routers
    return copy
