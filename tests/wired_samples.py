"""A small wired lab built in Python (what helper cml's importer makes from a CML file):
a hub and two spokes (iosv) on an unmanaged switch, Loopback0 as each router's LAN,
static routes through the hub (Phase 1), and optionally a Linux host on the hub.

`linux_name` follows the contract's wired names (`Gi0-0`) when the agent knows
`--interface-map` (helper config's flag); before that the agent only knows native names
(`<node>-eth0`), so the sample uses those and the lab still runs end to end.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from dmvpnlab import ifnames
from dmvpnlab.lab.wired.model import (
    Conditioning,
    Endpoint,
    WiredBridge,
    WiredHost,
    WiredInterface,
    WiredLink,
    WiredManagement,
    WiredRouter,
    WiredTopology,
)

HUB_CONFIG = """\
hostname Hub
!
interface Loopback0
 ip address 192.168.1.1 255.255.255.0
!
interface GigabitEthernet0/0
 ip address 198.51.100.1 255.255.255.0
 no shutdown
!
interface GigabitEthernet0/1
 ip address 192.168.11.1 255.255.255.0
 no shutdown
!
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp network-id 1
 ip nhrp map multicast dynamic
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
ip route 192.168.2.0 255.255.255.0 10.0.0.2
ip route 192.168.3.0 255.255.255.0 10.0.0.3
!
end
"""

SPOKE_CONFIG = """\
hostname {name}
!
interface Loopback0
 ip address 192.168.{n}.1 255.255.255.0
!
interface GigabitEthernet0/0
 ip address 198.51.100.{n} 255.255.255.0
 no shutdown
!
interface Tunnel0
 ip address 10.0.0.{n} 255.255.255.0
 ip nhrp network-id 1
 ip nhrp nhs 10.0.0.1
 ip nhrp map 10.0.0.1 198.51.100.1
 ip nhrp map multicast 198.51.100.1
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
ip route 0.0.0.0 0.0.0.0 10.0.0.1
!
end
"""


def linux_name(node: str, ios: str, wired: bool) -> str:
    if wired and hasattr(ifnames, "wired_linux_name"):
        return ifnames.wired_linux_name(ios)  # type: ignore[attr-defined]
    return ifnames.linux_ifname(node, ios)


def gi(node: str, slot: int, wired: bool) -> WiredInterface:
    ios = f"GigabitEthernet0/{slot}"
    return WiredInterface(label=ios, slot=slot, ios_name=ios, linux_name=linux_name(node, ios, wired))


def three_routers(wired: bool = True, host: bool = False, conditioning: Conditioning | None = None,
                  management: bool = True, name: str = "wiredt",
                  host_conditioning: Conditioning | None = None) -> WiredTopology:
    """Hub, Spoke1, Spoke2 on switch SW1 (links l1-l3; `conditioning` on l2, Spoke1's);
    with `host`, PC1 on the hub's GigabitEthernet0/1 (link l4, `host_conditioning`)."""
    routers = [WiredRouter(name="Hub", definition="iosv", index=0, role="hub", config=HUB_CONFIG,
                           interfaces=[gi("Hub", 0, wired), gi("Hub", 1, wired)])]
    for n in (2, 3):
        spoke = f"Spoke{n - 1}"
        routers.append(WiredRouter(name=spoke, definition="iosv", index=n - 1, role="spoke",
                                   config=SPOKE_CONFIG.format(name=spoke, n=n),
                                   interfaces=[gi(spoke, 0, wired)]))
    switch = WiredBridge(name="SW1", definition="unmanaged_switch",
                         interfaces=[WiredInterface(label=f"port{i}", slot=i - 1, ios_name=f"port{i}",
                                                    linux_name=f"p{i}") for i in (1, 2, 3)])
    links = [WiredLink(id=f"l{i}", a=Endpoint(node=r.name, interface=r.interfaces[0].linux_name),
                       b=Endpoint(node="SW1", interface=f"p{i}"), conditioning=conditioning if i == 2 else None)
             for i, r in enumerate(routers, start=1)]
    hosts = []
    if host:
        hosts.append(WiredHost(name="PC1", definition="ubuntu",
                               interfaces=[WiredInterface(label="ens2", slot=0, ios_name="ens2", linux_name="ens2")],
                               addresses={"ens2": [IPv4Interface("192.168.11.10/24")]},
                               gateway=IPv4Address("192.168.11.1"),
                               routes=[(IPv4Network("10.0.0.0/24"), IPv4Address("192.168.11.1"))]))
        links.append(WiredLink(id="l4", a=Endpoint(node="Hub", interface=routers[0].interfaces[1].linux_name),
                               b=Endpoint(node="PC1", interface="ens2"), conditioning=host_conditioning))
    mgmt = WiredManagement(network=IPv4Network("172.31.255.0/24")) if management else None
    return WiredTopology(name=name, source=Path("wired-sample.yaml"), format="python", routers=routers,
                         hosts=hosts, bridges=[switch], links=links, management=mgmt,
                         notes=["node XR1: node_definition iosxrv9000 is not handled; skipped"])
