"""`dmvpnlab trace SRC DST [--lab NAME] [--json]`: one probe through a running lab, explained.

The lab may be detached (`dmvpnlab up --detach`): everything the trace needs is in its records
under /run/dmvpnlab (nodes with their shell PIDs and addresses, the router table), the
routers' CLI sockets next to them and the captures in captures/<lab>/, so no controller op
is needed: the probe runs in SRC's namespace by `mnexec -a PID`, as `dmvpnlab exec` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dmvpnlab.lab.flows import LabView


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("trace", help="send one probe SRC -> DST and explain its path hop by hop")
    p.add_argument("src", help="node that sends the probe (host or router)")
    p.add_argument("dst", help="destination node (host, router: its NBMA) or address")
    p.add_argument("--lab", help="lab name (needed when several labs are up)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=cmd_trace)


def detached_target(lab: str | None) -> Any:
    """A TraceTarget for a running lab known only by its records."""
    from dmvpnlab.cli.client import CliClient, resolve
    from dmvpnlab.lab.lab import exec_in
    from dmvpnlab.lab.records import one_lab
    from dmvpnlab.lab.trace import TraceTarget

    records = one_lab(lab)
    view = LabView.of(records)

    def cli(router: str, line: str) -> str:
        with CliClient(resolve(records.directory / (view.canonical(router) or router)), 15.0) as client:
            client.send("")
            return str(client.send(line)["output"])

    return TraceTarget(view, lambda node, argv: exec_in(view.pid(node), argv, timeout=10), cli)


def cmd_trace(args: argparse.Namespace) -> int:
    from dmvpnlab.lab.trace import run_trace

    try:
        target = detached_target(args.lab)
        if target.view.canonical(args.src) is None:
            raise LookupError(f"no node {args.src!r} in lab {target.view.name}")
        result = run_trace(target, args.src, args.dst)
    except (LookupError, ValueError, OSError) as error:
        print(f"dmvpnlab trace: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        sys.stdout.write(result.render())
    return 0 if result.arrived else 1
