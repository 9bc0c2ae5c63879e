"""CML node definitions: what each becomes here, and how CML names an interface by its slot.

    routers (an agent with the node's whole IOS config):
      iosv        GigabitEthernet0/{slot}
      csr1000v    GigabitEthernet{slot+1}        (cat8000v the same)
      iol-xe      Ethernet{slot//4}/{slot%4}
      iosvl2      GigabitEthernet{slot//4}/{slot%4}   switchports join a bridge `<Name>-sw`
      ioll2-xe    Ethernet{slot//4}/{slot%4}          switchports as iosvl2's
    bridges:   unmanaged_switch (ports keep their labels, port0, port1...)
    hosts:     ubuntu, alpine, desktop, server (addresses from cloud-init, else DHCP)
    refused:   external_connector (a lab never reaches the outside)
    skipped:   anything else, with one note naming the node and its definition

Imports nothing from dmvpnlab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

Kind = Literal["router", "host", "bridge", "refused"]


@dataclass(frozen=True)
class Definition:
    kind: Kind
    ios_name: Callable[[int], str] | None = None  # routers: slot -> IOS interface name
    switch: bool = False  # an L2 switch image: ports without `no switchport` are bridged


def _gi_slash(slot: int) -> str:
    return f"GigabitEthernet0/{slot}"


def _gi_plain(slot: int) -> str:
    return f"GigabitEthernet{slot + 1}"


def _eth_quad(slot: int) -> str:
    return f"Ethernet{slot // 4}/{slot % 4}"


def _gi_quad(slot: int) -> str:
    return f"GigabitEthernet{slot // 4}/{slot % 4}"


DEFINITIONS: dict[str, Definition] = {
    "iosv": Definition("router", _gi_slash),
    "csr1000v": Definition("router", _gi_plain),
    "cat8000v": Definition("router", _gi_plain),
    "iol-xe": Definition("router", _eth_quad),
    "iosvl2": Definition("router", _gi_quad, switch=True),
    "ioll2-xe": Definition("router", _eth_quad, switch=True),
    "unmanaged_switch": Definition("bridge"),
    "ubuntu": Definition("host"),
    "alpine": Definition("host"),
    "desktop": Definition("host"),
    "server": Definition("host"),
    "external_connector": Definition("refused"),
}

ROUTERS = tuple(k for k, d in DEFINITIONS.items() if d.kind == "router")
HOSTS = tuple(k for k, d in DEFINITIONS.items() if d.kind == "host")


def definition(name: str) -> Definition | None:
    """The definition called `name` (CML's ids are lower case; any case is accepted), or None."""
    return DEFINITIONS.get(name.lower())
