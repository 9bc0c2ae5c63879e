"""The `dmvpnlab` console command (`python -m dmvpnlab` runs it too, see __main__.py).

Each area of the project owns its subcommands: a module listed in SUBCOMMAND_MODULES
exposes `register(subparsers)` and adds its own parsers with `set_defaults(func=...)`.
This file only stitches them together, so no area reaches into another's options.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys

SUBCOMMAND_MODULES = (
    "dmvpnlab.lab.commands",       # up, down, status, exec, clean
    "dmvpnlab.lab.fault_command",  # fault
    "dmvpnlab.lab.trace_command",  # trace
    "dmvpnlab.lab.logs_command",   # logs
    "dmvpnlab.router",             # agent, agent-zygote
    "dmvpnlab.analysis.commands",  # pcap
    "dmvpnlab.report.command",     # report
    "dmvpnlab.cli.commands",       # cli
    "dmvpnlab.lab.cml.commands",   # import
    "dmvpnlab.agent.dhcp_host",    # dhcp-client (Linux hosts of wired labs)
    "dmvpnlab.wireshark.commands", # wireshark-profile
    "dmvpnlab.completion",         # completion
    "dmvpnlab.loadgen.command",    # loadgen
)


# The agent starts once per router (hundreds in a scale lab): it imports only its own
# composition root, not the lab's modules (Mininet, rich), to start fast and stay small.
# Shell completion's node lister runs at every TAB, and is registered only here (hidden).
FAST_PATHS = {"agent": "dmvpnlab.router", "agent-zygote": "dmvpnlab.router", "dhcp-client": "dmvpnlab.agent.dhcp_host",
              "_complete-nodes": "dmvpnlab.lab.node_names"}


def installed_version() -> str:
    """The version pip installed (the package metadata, so a wheel and an editable install
    report what pyproject.toml said when they were built); the source's own when the
    package runs from a tree that was never installed."""
    try:
        return importlib.metadata.version("dmvpnlab")
    except importlib.metadata.PackageNotFoundError:
        from dmvpnlab import __version__
        return __version__


class _VersionAction(argparse.Action):
    """`--version`: looks the metadata up only when asked (the agent's parser, built at
    every router start, must not pay for a scan of the installed distributions)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=kwargs.get("help"))

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"dmvpnlab {installed_version()}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dmvpnlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_VersionAction, help="print the installed version and exit")
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
