"""The `dmvpnlab` console command (`python -m dmvpnlab` runs it too, see __main__.py).

Each area of the project owns its subcommands: a module listed in SUBCOMMAND_MODULES
exposes `register(subparsers)` and adds its own parsers with `set_defaults(func=...)`.
This file only stitches them together, so no area reaches into another's options.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = (
    "dmvpnlab.lab.commands",       # up, down, status, exec, clean
    "dmvpnlab.lab.fault_command",  # fault
    "dmvpnlab.lab.logs_command",   # logs
    "dmvpnlab.router",             # agent, agent-zygote
    "dmvpnlab.analysis.commands",  # pcap
    "dmvpnlab.cli.commands",       # cli
    "dmvpnlab.lab.cml.commands",   # import
    "dmvpnlab.agent.dhcp_host",    # dhcp-client (Linux hosts of wired labs)
)


# The agent starts once per router (hundreds in a scale lab): it imports only its own
# composition root, not the lab's modules (Mininet, rich), to start fast and stay small.
FAST_PATHS = {"agent": "dmvpnlab.router", "agent-zygote": "dmvpnlab.router", "dhcp-client": "dmvpnlab.agent.dhcp_host"}


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dmvpnlab", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fast = FAST_PATHS.get(argv[0]) if argv else None
    parser = build_parser((fast,) if fast else SUBCOMMAND_MODULES)
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
