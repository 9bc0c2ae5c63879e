"""`dmvpnlab fault KIND TARGET [k=v ...]` and `dmvpnlab fault list`: faults from the shell.

    dmvpnlab fault kill hub
    dmvpnlab fault flap spoke1 period=2 duration=30
    dmvpnlab fault loss all percent=5
    dmvpnlab fault clear
    dmvpnlab fault list [--json]

A fault needs the process that holds the lab (it owns the agents and the timed faults'
threads): a detached lab's controller (`up --detach`) is asked over its socket; at a
foreground lab's prompt the same words work as `mininet> fault kill hub`. `list` reads the
lab's record (faults.jsonl next to its captures, else in its run directory) directly, whoever holds the lab. Imports the lab's
records, controller and faults modules.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dmvpnlab.lab.faults import FAULTS_FILE, KINDS, FaultError, read_events
from dmvpnlab.lab.records import LabRecords, all_records


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("fault", help="inject a fault into a running lab, or list the faults so far",
                              description="kinds: " + ", ".join(KINDS) + "; `list` prints the fault record")
    p.add_argument("kind", help="a fault kind, or `list`")
    p.add_argument("target", nargs="?", default="", help="a router (or `all` for loss, `isp` for isp-down)")
    p.add_argument("params", nargs="*", metavar="NAME=VALUE", help="e.g. duration=5 period=2 percent=5 ms=50")
    p.add_argument("--lab", help="lab name (default: the only lab that is up)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_fault)


def parse_params(words: list[str]) -> dict[str, str]:
    """`name=value` words as a dict; FaultError naming the first word that is not one."""
    params: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name or not value:
            raise FaultError(f"expected NAME=VALUE, got {word!r}")
        params[name] = value
    return params


def _pick(name: str | None) -> LabRecords | str:
    labs = all_records()
    if name is not None:
        found = next((r for r in labs if r.lab == name), None)
        return found if found is not None else f"no lab {name!r} (up: {', '.join(r.lab for r in labs) or 'none'})"
    if len(labs) == 1:
        return labs[0]
    return "no lab is up" if not labs else f"several labs are up ({', '.join(r.lab for r in labs)}): pass --lab"


def cmd_fault(args: argparse.Namespace) -> int:
    records = _pick(args.lab)
    if isinstance(records, str):
        print(f"dmvpnlab: {records}", file=sys.stderr)
        return 1
    if args.kind == "list":
        captures = records.data.get("captures")
        path = Path(captures) / FAULTS_FILE if captures else records.directory / FAULTS_FILE
        events = list(read_events(path))
        if args.json:
            print(json.dumps([e.to_json() for e in events], indent=2))
        else:
            print("\n".join(e.line() for e in events) if events else f"no faults recorded in lab {records.lab}")
        return 0
    try:
        params = parse_params(args.params)
    except FaultError as error:
        print(f"dmvpnlab: {error}", file=sys.stderr)
        return 2
    if args.kind not in KINDS:
        print(f"dmvpnlab: expected a fault kind ({', '.join(KINDS)}) or `list`, got {args.kind!r}", file=sys.stderr)
        return 2
    if not records.data.get("detached"):
        print(f"dmvpnlab: lab {records.lab} is held by a foreground process: type `fault {args.kind} "
              f"{args.target}` at its mininet> prompt, or bring it up with `dmvpnlab up --detach`", file=sys.stderr)
        return 1
    from dmvpnlab.lab import controller

    try:
        answer = controller.request(records.lab, {"op": "fault", "kind": args.kind, "target": args.target,
                                                  "params": params}, timeout=120)
    except OSError as error:
        print(f"dmvpnlab: the controller of lab {records.lab} does not answer: {error}", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"dmvpnlab: {answer.get('error')}", file=sys.stderr)
        return 1
    print(json.dumps(answer["event"]) if args.json else answer["line"])
    return 0
