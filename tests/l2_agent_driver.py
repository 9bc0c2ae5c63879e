"""Run one router agent whose RouterConfig comes from JSON (for the l2 live tests).

Why not a config file: the IOS parser for subinterfaces, `ip address dhcp` and `ip dhcp
pool` belongs to another part of issue 11; until it lands, the live tests describe the
router as the model's fields and run the same RouterAgent `dmvpnlab agent` runs (with the
CLI's control operations plugged in, so `show` commands answer on the control socket).
Usage (inside the router's namespace): python l2_agent_driver.py NODE STATE_DIR CONFIG.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from dmvpnlab.agent.core import RouterAgent, write_ready
from dmvpnlab.config.model import DhcpPool, Interface, RouterConfig
from dmvpnlab.router import load


def build(spec: dict) -> RouterConfig:
    interfaces = [Interface(name=i["name"], address=IPv4Interface(i["address"]) if i.get("address") else None,
                            dhcp=i.get("dhcp", False), dot1q_vlan=i.get("vlan"), dot1q_native=i.get("native", False))
                  for i in spec.get("interfaces", [])]
    pools = [DhcpPool(p["name"], IPv4Network(p["network"]), [IPv4Address(a) for a in p.get("routers", [])],
                      [IPv4Address(a) for a in p.get("dns", [])], p.get("lease"))
             for p in spec.get("pools", [])]
    excluded = [(IPv4Address(lo), IPv4Address(hi)) for lo, hi in spec.get("excluded", [])]
    return RouterConfig(hostname=spec.get("hostname", "Router"), interfaces=interfaces, dhcp_pools=pools,
                        dhcp_excluded=excluded)


def main() -> int:
    node, state_dir, config = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=state_dir / "agent.log", level=logging.DEBUG,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    _, extensions = load()
    agent = RouterAgent(node=node, config=build(json.loads(config.read_text())), state_dir=state_dir,
                        extensions=extensions)
    asyncio.run(agent.run(lambda: write_ready(state_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
