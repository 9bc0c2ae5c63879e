"""`lab.json` in the capture directory: what the lab was, for readers of its captures.

Why a file of its own: the captures outlive the lab (captures/<lab>/ stays after `down`),
and a report drawn from them later needs the topology the packets crossed: which node
is a hub, which address is whose, which capture file is which link. The lab's records
(run directory) are removed at tear-down, so the description is written next to the
captures at the end of bring-up. Readers (`dmvpnlab.report`) read it as plain JSON and
fall back to the capture file names when it is missing (older capture directories).

Format (version 1): {"version", "lab", "topology" (source file), "kind" (native|wired),
"up_at" (wall clock, seconds since the epoch), "up_iso", "nodes": [{"name", "role",
"addresses": {linux interface: "a.b.c.d/n"}, "tunnel": "a.b.c.d/n" | null, "nbma": str |
null, "lan": str | null, "behind": nat box | null}], "links": [{"stem" (capture file name
without .pcapng, owner-peer), "owner", "peer", "interfaces": {node: linux interface}}]}.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DESCRIPTION_FILE = "lab.json"
VERSION = 1


def write_description(lab: Any) -> Path | None:
    """Write `lab.json` into `lab`'s capture directory (a `dmvpnlab.lab.lab.Lab` just up).

    A lab without captures has nowhere to write it: None. Never fails the bring-up: an
    unwritable directory only loses the description (the report then reads file names)."""
    if lab.captures is None:
        return None
    path = Path(lab.captures.directory) / DESCRIPTION_FILE
    try:
        path.write_text(json.dumps(describe(lab), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:
        return None
    return path


def describe(lab: Any) -> dict[str, Any]:
    """The description of a lab as a JSON-safe dict (see the module docstring for the format)."""
    now = time.time()
    topo = lab.topology
    routers = _router_facts(topo)
    nodes = []
    for name in lab.nodes:
        facts = routers.get(name, {})
        nodes.append({"name": name, "role": facts.get("role") or lab.roles.get(name, "?"),
                      "addresses": dict(lab.addresses.get(name, {})),
                      "tunnel": facts.get("tunnel"), "nbma": facts.get("nbma"),
                      "lan": facts.get("lan"), "behind": facts.get("behind")})
    links = []
    far_ends = _far_ends(topo)
    for capture in lab.captures.captures.values():
        peer = far_ends.get((capture.owner, capture.ifname), capture.peer)
        links.append({"stem": f"{capture.owner}-{capture.peer}", "owner": capture.owner, "peer": peer,
                      "interfaces": {capture.owner: capture.ifname}})
    return {"version": VERSION, "lab": lab.name, "topology": str(topo.source) if topo.source else "",
            "kind": "wired" if hasattr(topo, "links") else "native", "description": getattr(topo, "description", ""),
            "up_at": now, "up_iso": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
            "nodes": nodes, "links": sorted(links, key=lambda item: item["stem"])}


def _router_facts(topo: Any) -> dict[str, dict[str, Any]]:
    """Role, tunnel, NBMA, LAN and NAT box of each router the topology models itself.

    A wired (CML) topology keeps those in the routers' own configs; its nodes carry only
    their role and the addresses the bring-up recorded."""
    out: dict[str, dict[str, Any]] = {}
    for router in getattr(topo, "routers", []):
        entry: dict[str, Any] = {"role": router.role}
        tunnel = getattr(router, "tunnel_address", None)
        if tunnel is not None:
            entry["tunnel"] = tunnel.with_prefixlen
            entry["nbma"] = str(router.nbma_address)
            entry["lan"] = str(router.lan.network) if router.lan else None
            entry["behind"] = router.nat
        out[router.name] = entry
    return out


def _far_ends(topo: Any) -> dict[tuple[str, str], str]:
    """(node, Linux interface) -> the node at the link's other end, for a wired topology
    (whose captures are named after the interface, `Spoke1-Gi0-1`, not after the peer)."""
    out: dict[tuple[str, str], str] = {}
    for link in getattr(topo, "links", []):
        out[(link.a.node, link.a.interface)] = link.b.node
        out[(link.b.node, link.b.interface)] = link.a.node
    return out
