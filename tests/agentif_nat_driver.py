"""Runs inside a router namespace for test_agent_nat_live: the agent's interface and NAT parts.

Why a driver and not the agent: the test must not depend on the IOS parser knowing the NAT
and ACL lines, so the RouterConfig is built here as the parser builds it, and the agent's
own parts (InterfacesNode, NatNode) and IOS renderers run on it in this namespace. Line
protocol on stdin/stdout, one JSON answer per line: `ready`, `show ...`, `close`, `quit`.
"""

from __future__ import annotations

import json
import sys
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from types import SimpleNamespace

from dmvpnlab.agent.interfaces_node import InterfacesNode
from dmvpnlab.agent.nat_node import NatNode
from dmvpnlab.cli.show_acl import acl_data, render_acls
from dmvpnlab.cli.show_nat import nat_data, render_nat
from dmvpnlab.config.model import AccessList, AccessListEntry, Interface, NatRule, RouterConfig
from dmvpnlab.ifnames import install_interface_map
from dmvpnlab.routing.kernel import Kernel, try_set_sysctl

ANY = IPv4Network("0.0.0.0/0")


def config() -> RouterConfig:
    return RouterConfig(
        hostname="R1",
        interfaces=[
            Interface("GigabitEthernet0/0", address=IPv4Interface("198.51.100.2/24"), nat="outside",
                      access_group_in="101"),
            Interface("GigabitEthernet0/1", address=IPv4Interface("192.168.1.1/24"), nat="inside"),
        ],
        access_lists=[
            AccessList("1", "standard", [AccessListEntry("permit", IPv4Network("192.168.1.0/24"), sequence=10)]),
            AccessList("101", "extended", [
                AccessListEntry("permit", ANY, "icmp", ANY, sequence=10, text="permit icmp any any"),
                AccessListEntry("deny", ANY, "ip", ANY, sequence=20, text="deny ip any any")]),
        ],
        nat_rules=[NatRule("list", access_list="1", interface="GigabitEthernet0/0", overload=True),
                   NatRule("static", local=IPv4Address("192.168.1.10"), global_address=IPv4Address("198.51.100.10"))],
    )


def main() -> None:
    install_interface_map({"GigabitEthernet0/0": "Gi0-0", "GigabitEthernet0/1": "Gi0-1"})
    try_set_sysctl("net/ipv4/ip_forward", "1")
    kernel = Kernel()
    agent = SimpleNamespace(config=config(), nat=NatNode("R1", kernel))
    InterfacesNode("R1", kernel).apply(agent.config)
    agent.nat.apply(agent.config)
    for line in sys.stdin:
        command = line.strip()
        if command == "ready":
            answer = "ok" if not agent.nat.not_applied else "; ".join(agent.nat.not_applied)
        elif command == "show ip nat translations":
            answer = render_nat(nat_data(agent))
        elif command == "show access-lists":
            answer = render_acls(acl_data(agent))
        elif command == "close":
            agent.nat.close()
            answer = "ok"
        else:
            agent.nat.close()
            print(json.dumps("bye"), flush=True)
            break
        print(json.dumps(answer), flush=True)
    kernel.close()


if __name__ == "__main__":
    main()
