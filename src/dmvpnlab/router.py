"""The composition root of a router process: the agent with the CLI plugged in.

The agent package never imports the CLI; it owns small hooks (control operations, debug
sinks, an SSH server factory: agent/hooks.py) and the CLI provides them. This module is
the one place that knows both: it registers the `agent` and `agent-zygote` subcommands
(command.py lists it for both) and, when a router starts, hands `RouterAgent` the CLI's
control operations and SSH listener. It imports agent and cli, never the lab, Mininet
or rich, so an agent starts fast.
"""

from __future__ import annotations

import argparse
from typing import Callable

from dmvpnlab.agent import command as agent_command
from dmvpnlab.agent import zygote
from dmvpnlab.agent.hooks import Extensions
from dmvpnlab.command import main as command_main


def register(subparsers: argparse._SubParsersAction) -> None:
    agent_command.register(subparsers, run)
    zygote.register(subparsers, preload=load, main=command_main)


RunAgent = Callable[[argparse.Namespace, Extensions], int]


def load() -> tuple[RunAgent, Extensions]:
    """The router's runner and the CLI's extensions, imported on first use.

    Why here and not at the top: every `dmvpnlab` command builds a parser that holds the
    `agent` subcommand, and the router with the CLI costs about 0.3 s of imports (asyncio,
    pyroute2, the config parser, every show renderer) that `dmvpnlab status` must not
    pay. An agent pays it when it starts; the zygote pays it once for all its children.
    """
    from dmvpnlab.agent.main import run_agent
    from dmvpnlab.cli.control_ops import OPERATIONS
    from dmvpnlab.cli.ssh_listen import DeferredSshServer

    return run_agent, Extensions(operations=OPERATIONS, ssh_server=DeferredSshServer)


def run(args: argparse.Namespace) -> int:
    """`dmvpnlab agent ...`: run one router, with the CLI on its control socket and SSH."""
    run_agent, extensions = load()
    return run_agent(args, extensions)
