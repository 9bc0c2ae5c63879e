"""`dmvpnlab logs NODE [-f] [--lab L] [-n N]`: a router agent's log, as `docker logs` shows a container's.

Each agent writes `<run root>/<lab>/<router>/agent.log` (lab/agents.py starts it with its
stdout and stderr there). Users should not need to know that path, nor which lab a router
is in: the node is found in the records of the labs that are up, and a name that is in
none of them gets an error that lists the names that are. `-f` follows the file until
Ctrl-C, and stops by itself when the lab goes down, so a script that follows a log does
not hang on a lab that is gone.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from dmvpnlab.lab.records import LabRecords, all_records, owner_alive
from dmvpnlab.rundir import AGENT_LOG

DEFAULT_LINES = 50
FOLLOW_INTERVAL = 0.2  # seconds between reads while following
LIVENESS_EVERY = 5  # follow polls between two checks that the lab is still up


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("logs", help="a router agent's log: dmvpnlab logs NODE [-f] [-n N]")
    p.add_argument("node", help="router name, e.g. hub")
    p.add_argument("--lab", help="lab name (default: the lab that has NODE)")
    p.add_argument("-n", "--lines", type=int, default=DEFAULT_LINES, metavar="N",
                   help=f"how many of the last lines to print (default {DEFAULT_LINES}; 0: all)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new lines until Ctrl-C or until the lab goes down")
    p.set_defaults(func=cmd_logs)


@dataclass(frozen=True)
class NodeLog:
    """Where one router's agent log is, and the records of its lab (to see whether it is up)."""

    lab: str
    node: str
    path: Path
    records: LabRecords


def find_log(node: str, lab: str | None, labs: list[LabRecords]) -> NodeLog:
    """The log of `node` (in `lab`, or the only lab that has it); LookupError that names
    the nodes there are otherwise, so a typo is fixed without a `status` round trip."""
    hits: list[NodeLog] = []
    known: list[str] = []
    for records in labs:
        if lab is not None and records.lab != lab:
            continue
        for entry in records.data.get("nodes", []):
            name = str(entry["name"])
            known.append(f"{name} ({records.lab})")
            if name.lower() == node.lower():
                hits.append(NodeLog(records.lab, name, records.directory / name / AGENT_LOG, records))
    if not hits:
        where = f"lab {lab!r}" if lab is not None else "any lab that is up"
        if lab is not None and all(r.lab != lab for r in labs):
            up = ", ".join(r.lab for r in labs) or "none"
            raise LookupError(f"no lab {lab!r} is up (labs up: {up})")
        listing = ", ".join(known) if known else "no lab is up"
        raise LookupError(f"no node {node!r} in {where}; nodes: {listing}")
    if len(hits) > 1:
        raise LookupError(f"node {node!r} is in several labs ({', '.join(h.lab for h in hits)}); use --lab")
    found = hits[0]
    if not found.path.is_file():
        raise LookupError(f"node {found.node} of lab {found.lab} has no agent log ({found.path}): "
                          f"it runs no router agent (a host or switch), or its agent has not started")
    return found


def last_lines(path: Path, count: int) -> tuple[bytes, int]:
    """The last `count` lines of the file (all of it for 0) and the offset its end was at,
    where following resumes; reads from the end in blocks, so a long log costs little."""
    with open(path, "rb") as f:
        end = f.seek(0, 2)
        if count <= 0:
            f.seek(0)
            return f.read(end), end
        block, data, position = 8192, b"", end
        while position > 0 and data.count(b"\n") <= count:
            step = min(block, position)
            position -= step
            f.seek(position)
            data = f.read(step) + data
        lines = data.splitlines(keepends=True)
        return b"".join(lines[-count:]), end


def follow(path: Path, offset: int, out: IO[bytes], lab_up: Callable[[], bool],
           interval: float = FOLLOW_INTERVAL, sleep: Callable[[float], None] = time.sleep) -> None:
    """Copy what is appended to `path` after `offset` to `out` until `lab_up()` says no
    (after printing what the lab wrote before it went). A file that shrinks (recreated by
    a restarted lab) is read again from its start."""
    polls = 0
    while True:
        offset = _copy_new(path, offset, out)
        polls += 1
        if polls % LIVENESS_EVERY == 0 and not lab_up():
            _copy_new(path, offset, out)
            return
        sleep(interval)


def _copy_new(path: Path, offset: int, out: IO[bytes]) -> int:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < offset:
                offset = 0
            f.seek(offset)
            chunk = f.read(size - offset)
    except FileNotFoundError:
        return offset
    if chunk:
        out.write(chunk)
        out.flush()
    return offset + len(chunk)


def lab_is_up(records: LabRecords) -> bool:
    """The lab still has its records and a live owner (controller or foreground process)."""
    if not records.path.exists():
        return False
    try:
        return owner_alive(LabRecords.load(records.path)) is not None
    except (OSError, ValueError, KeyError):
        return False


def cmd_logs(args: argparse.Namespace) -> int:
    try:
        log = find_log(args.node, args.lab, all_records())
    except LookupError as e:
        print(f"dmvpnlab: {e}", file=sys.stderr)
        return 1
    text, end = last_lines(log.path, args.lines)
    out = sys.stdout.buffer
    out.write(text)
    out.flush()
    if not args.follow:
        return 0
    try:
        follow(log.path, end, out, lambda: lab_is_up(log.records))
    except KeyboardInterrupt:
        return 0
    print(f"dmvpnlab: lab {log.lab} went down; stopped following {log.node}", file=sys.stderr)
    return 0
