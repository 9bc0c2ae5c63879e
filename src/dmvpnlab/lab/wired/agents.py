"""Starting a wired lab's agents: each router with its whole config and its interface map.

As `dmvpnlab.lab.agents` does for templated routers (same Launcher, zygote, records,
ready wait), except that nothing is rendered: `<state dir>/startup-config` is the file's
config as written, and `<state dir>/interface-map.json` (IOS name -> Linux name, from
`WiredRouter.interface_map`) is handed to the agent with `--interface-map`, so the agent
finds `GigabitEthernet0/0` as `Gi0-0`. An agent that does not know the flag yet (before
helper config's branch) gets no map and uses its native names; the lab says so.

Hubs first, as in native labs: a spoke's first Registration Request must find the hub's
GRE socket open.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.agent.hooks import SshOptions
from dmvpnlab.lab.agents import CONFIG_FILE, AgentHandle, Launcher, wait_ready
from dmvpnlab.lab.records import LabRecords
from dmvpnlab.lab.wired.model import WiredRouter, WiredTopology

INTERFACE_MAP_FILE = "interface-map.json"
INTERFACE_MAP_FLAG = "--interface-map"


def agent_knows_interface_map() -> bool:
    """True if the agent's command line has `--interface-map` (helper config's flag)."""
    from dmvpnlab.agent import command

    subparsers = argparse.ArgumentParser().add_subparsers()
    command.register(subparsers, lambda args: 0)
    agent = subparsers.choices["agent"]
    return any(INTERFACE_MAP_FLAG in action.option_strings for action in agent._actions)


def ssh_login(topology: WiredTopology, router: WiredRouter) -> SshOptions | None:
    """The router's SSH endpoint on the management network (None without one)."""
    m = topology.management
    if m is None:
        return None
    return SshOptions(str(m.address(router).ip), m.port, m.username, m.password)


def write_router_files(router: WiredRouter, state_dir: Path) -> tuple[Path, Path]:
    """`startup-config` (the config as the file gives it) and `interface-map.json`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    config = state_dir / CONFIG_FILE
    text = router.config if router.config.endswith("\n") else router.config + "\n"
    config.write_text(text)
    mapping = state_dir / INTERFACE_MAP_FILE
    mapping.write_text(json.dumps(router.interface_map, indent=2, sort_keys=True) + "\n")
    return config, mapping


def start_agents(topology: WiredTopology, nodes: dict[str, Any], run_dir: Path, records: LabRecords | None,
                 launcher: Launcher, note: Callable[[str], None] = print) -> list[AgentHandle]:
    """One agent per router, hubs first (and ready) before the others; handles not yet ready."""
    with_map = agent_knows_interface_map()
    if not with_map and topology.routers:
        note("agents: this agent has no --interface-map yet; routers use native interface names")
    handles: list[AgentHandle] = []
    hubs = [r for r in topology.routers if r.role == "hub"]
    for wave in (hubs, [r for r in topology.routers if r.role != "hub"]):
        started = []
        for router in wave:
            state_dir = run_dir / router.name
            config, mapping = write_router_files(router, state_dir)
            extra = (INTERFACE_MAP_FLAG, str(mapping)) if with_map else ()
            started.append(launcher.launch(nodes[router.name], router.name, config, state_dir,
                                           ssh_login(topology, router), extra))
        handles += started
        if wave is hubs:
            wait_ready(started)
    return handles
