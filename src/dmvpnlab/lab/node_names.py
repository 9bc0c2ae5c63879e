"""`dmvpnlab _complete-nodes [--lab LAB] [--routers | --labs]`: names for shell completion.

Why a helper of its own: bash completion runs it at every TAB, so it must answer in
tens of milliseconds. `command.FAST_PATHS` builds a parser with this module alone (no
Mininet, no rich) and it reads only the lab records (`/run/dmvpnlab/<lab>/records.jsonl`,
lab.records). Hidden: registered only on that fast path, it never shows in `--help`.
Only labs whose records say `up` count: a crashed lab's names would complete to errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dmvpnlab.lab.records import LabRecords, all_records

HELPER = "_complete-nodes"


def up_labs(root: Path | None = None) -> list[LabRecords]:
    """The labs whose records say they are up, by name."""
    return [records for records in all_records(root) if records.state == "up"]


def node_names(labs: list[LabRecords], *, lab: str | None = None, routers: bool = False) -> list[str]:
    """Node names of `labs` (only `lab`'s when given); `routers`: only nodes running an agent.

    Bridges are left out: they have no namespace to exec in and no CLI."""
    names: set[str] = set()
    for records in labs:
        if lab is not None and records.lab != lab:
            continue
        agents = {p.node for p in records.processes() if p.kind == "agent"}
        for entry in records.data.get("nodes", []):
            name = str(entry.get("name", ""))
            if not name or entry.get("role") == "bridge" or (routers and name not in agents):
                continue
            names.add(name)
    return sorted(names)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(HELPER)
    parser.add_argument("--lab")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--routers", action="store_true")
    kind.add_argument("--labs", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    labs = up_labs()
    names = [r.lab for r in labs] if args.labs else node_names(labs, lab=args.lab, routers=args.routers)
    for name in names:
        print(name)
    return 0
