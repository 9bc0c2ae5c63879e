"""The `dmvpnlab` console command.

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
    "dmvpnlab.agent_command",      # agent
    "dmvpnlab.analysis.commands",  # pcap
    "dmvpnlab.cli.commands",       # cli
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dmvpnlab", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
