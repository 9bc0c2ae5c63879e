"""The topology loader: any text is a `Topology` or a `TopologyError` (one paragraph naming the file), quickly.

Seeded from the shipped topologies/*.yaml plus a few hand-made files that reach the parts
the shipped ones do not (NAT boxes, segments, merge keys and aliases, explicit tags). The
run goes through `load_topology` on a real file, as `dmvpnlab up` does. Findings: any other
exception, a stall (the alias bomb must be refused in milliseconds), an error that is not
one line naming the file, an error from the last guard (`build.reported_as`: it means a
check is missing at its own depth), and a loaded lab that breaks the model's promises.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from dmvpnlab.lab.topology.build import display_name
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.topology.rules import MAX_NODE_NAME
from dmvpnlab.lab.topology.yamlfile import load_topology
from fuzz.harness import Target
from fuzz.targets.seeds import REPO_ROOT

LAST_GUARD = "cannot load this topology: unexpected"
EXTRA_SEEDS = (
    "hub: {template: hub.j2}\nspokes: 3\nrouters:\n  spoke2: {nat: nat1}\n  spoke3: {nat: nat3}\n"
    "nat_boxes:\n  - nat1\n  - {name: nat3, inside: 172.16.3.2/30, outside: 100.64.3.1/30}\n",
    "hub:\nspokes: 2\nsegments:\n  wan: {network: 198.51.100.0/24, members: [hub, spoke1, spoke2]}\n"
    "management: {network: 172.31.254.0/24, username: admin, password: 'a b', port: 2222}\n",
    "spoke_defaults: &d {template: spoke.j2, vars: {phase: 3}}\nhub: {template: hub.j2}\nrouters:\n"
    "  branch7: {<<: *d, role: spoke, index: 7, wan: {address: 100.64.7.1/30, gateway: 100.64.7.2},\n"
    "            lan: {network: 10.7.0.0/24, hosts: [{name: srv7, address: 10.7.0.20}, web7]}}\n",
    "name: !!str lab-1\nhub: {vars: {k: !!int '7', f: !!float '1.5', b: !!bool yes, n: !!null ''}}\n"
    "spokes: 1\ntunnel: {network: 10.1.0.0/29}\nspoke_defaults: {lan: {hosts: 3, ios_name: Gi0/2}}\n",
)


@lru_cache(maxsize=1)
def _workdir() -> Path:
    """topologies/ and nodes/ (stub templates) in a private temporary directory, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix=f"dmvpnlab-fuzz-topology-{os.getpid()}-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "topologies").mkdir()
    (root / "nodes").mkdir()
    for template in ("hub.j2", "spoke.j2"):
        (root / "nodes" / template).write_text("! stub\n")
    return root


def seeds() -> list[bytes]:
    shipped = [p.read_bytes() for p in sorted((REPO_ROOT / "topologies").glob("*.yaml"))]
    return shipped + [s.encode() for s in EXTRA_SEEDS]


def load(data: bytes) -> None:
    """Load `data` as topologies/fuzz.yaml; a TopologyError is a refusal, if it reads right."""
    root = _workdir()
    path = root / "topologies" / "fuzz.yaml"
    path.write_bytes(data)
    try:
        topo = load_topology(path, root / "nodes")
    except TopologyError as e:
        message = str(e)
        assert "\n" not in message, f"an error is one paragraph: {message!r}"
        assert message.startswith(display_name(path)), f"the error names the file: {message!r}"
        assert LAST_GUARD not in message, f"reached the last guard (a check is missing): {message} <- {e.__cause__!r}"
        return
    check_model(topo)


def check_model(topo: Topology) -> None:
    """What the builder relies on: unique short node names, every address inside its network."""
    names = [r.name for r in topo.routers] + [b.name for b in topo.nat_boxes] + [h.name for h in topo.hosts]
    assert len(names) == len(set(names)), f"node names repeat: {names}"
    assert all(0 < len(n) <= MAX_NODE_NAME and n.isascii() and n.isidentifier() for n in names), names
    assert "\n" not in topo.name and len(topo.name) <= 64, topo.name
    for r in topo.routers:
        assert r.tunnel_address.network == topo.tunnel_network, (r.name, r.tunnel_address)
        assert r.wan.gateway in r.wan.address.network and r.wan.gateway != r.wan.address.ip, (r.name, r.wan)
        if r.lan:
            assert r.lan.router_address.ip in r.lan.network, (r.name, r.lan)
            assert all(h.address.ip in r.lan.network and h.gateway == r.lan.router_address.ip for h in r.lan.hosts)
    if topo.management is not None:
        for r in topo.managed_routers:
            assert topo.management.address(r).ip in topo.management.network, r.name


TARGETS = [Target("topology-loader", seeds, load, text=True)]
