"""Small CML labs of our own for the importer's tests: built as data, written as YAML files.

`lab()` is a Phase 3 hub and two spokes (iosv) on an unmanaged switch, loopbacks as LANs,
in the 0.3.0 format; tests change one field of it and read what the importer says.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

HUB = """hostname Hub
!
interface Loopback0
 ip address 10.0.0.1 255.255.255.0
!
interface Tunnel0
 ip address 172.20.0.1 255.255.255.0
 ip nhrp network-id 1
 ip nhrp map multicast dynamic
 ip nhrp redirect
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
interface GigabitEthernet0/0
 ip address 172.16.0.1 255.255.255.0
 no shutdown
!
service timestamps debug datetime msec
line vty 0 4
 login local
!
end
"""


def spoke(n: int) -> str:
    return f"""hostname Spoke{n}
!
interface Loopback0
 ip address 10.0.{n}.1 255.255.255.0
!
interface Tunnel0
 ip address 172.20.0.{n + 1} 255.255.255.0
 ip nhrp network-id 1
 ip nhrp nhs 172.20.0.1 nbma 172.16.0.1 multicast
 ip nhrp shortcut
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
interface GigabitEthernet0/0
 ip address 172.16.0.{n + 1} 255.255.255.0
 no shutdown
!
end
"""


def router(node_id: str, label: str, config: Any, slots: int = 2, definition: str = "iosv") -> dict[str, Any]:
    interfaces: list[dict[str, Any]] = [{"id": "i0", "label": "Loopback0", "type": "loopback"}]
    interfaces += [{"id": f"i{s + 1}", "label": f"GigabitEthernet0/{s}", "slot": s, "type": "physical"}
                   for s in range(slots)]
    return {"id": node_id, "label": label, "node_definition": definition, "x": 0, "y": 0, "tags": [],
            "configuration": config, "interfaces": interfaces}


def switch(node_id: str, label: str, ports: int = 4) -> dict[str, Any]:
    return {"id": node_id, "label": label, "node_definition": "unmanaged_switch", "x": 0, "y": 0,
            "interfaces": [{"id": f"i{p}", "label": f"port{p}", "slot": p, "type": "physical"} for p in range(ports)]}


def link(link_id: str, n1: str, i1: str, n2: str, i2: str, **extra: Any) -> dict[str, Any]:
    return {"id": link_id, "n1": n1, "i1": i1, "n2": n2, "i2": i2, "label": f"{n1}-{n2}", **extra}


def lab(version: str = "0.3.0") -> dict[str, Any]:
    """Hub, Spoke1, Spoke2 on SW (port0..2): Gi0/0 of each router to the switch."""
    return {
        "lab": {"title": "Phase 3", "description": "hub and two spokes", "notes": "", "version": version},
        "nodes": [
            router("n0", "Hub", [{"name": "ios_config.txt", "content": HUB}]),
            router("n1", "Spoke1", [{"name": "ios_config.txt", "content": spoke(1)}]),
            router("n2", "Spoke2", spoke(2)),
            switch("n3", "SW"),
        ],
        "links": [link("l0", "n0", "i1", "n3", "i0"), link("l1", "n1", "i1", "n3", "i1"),
                  link("l2", "n2", "i1", "n3", "i2")],
    }


def write(tmp_path: Path, data: Any, name: str = "lab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def changed(**changes: Any) -> dict[str, Any]:
    """lab() with `path=value` changes, path as 'nodes.1.label' (numbers index lists)."""
    data = copy.deepcopy(lab())
    for dotted, value in changes.items():
        parts = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        target = data
        for part in parts[:-1]:
            target = target[part]
        if value is DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return data


DELETE = object()
