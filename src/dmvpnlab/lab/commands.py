"""Lifecycle subcommands: up, down, status (uptime and agent health: health.py), exec, clean, demo.

Each command is a thin layer over `Lab` (lab.py), the records (records.py) and the
detached controller (controller.py), so the CLI, the tests and the controller share one
implementation. Errors a user can cause (bad topology file, lab already up, not root)
print one paragraph and exit non-zero; a topology error exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from dmvpnlab.lab.records import (
    RECORDS_NAME,
    LabRecords,
    all_records,
    clean_records,
    lab_dir,
    owner_alive,
    proc_start_time,
    remove_records,
)
from dmvpnlab.lab.labfile import LabTopology, file_errors, load_lab
from dmvpnlab.lab.table import STATUS_COLUMNS, build_table, render_text, with_pids

EXIT_TOPOLOGY = 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("up", help="bring a lab up (then a prompt; leaving it tears the lab down)")
    p.add_argument("topology", help="topology or CML/VIRL lab file, e.g. topologies/default.yaml, topologies/cml/phase1.yaml")
    p.add_argument("--detach", action="store_true", help="keep the lab running in a background controller")
    p.add_argument("--no-captures", action="store_true", help="do not capture the underlay links")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="template variable for every router, over the file's (e.g. --var phase=2 --var routing=ospf)")
    p.add_argument("--spokes", type=int, metavar="N", help="generate N spokes instead of the file's `spokes:` (1..1000)")
    p.set_defaults(func=cmd_up)

    p = subparsers.add_parser("down", help="tear a lab down (ask its controller; clean from records if it died)")
    p.add_argument("lab", nargs="?", help="lab name (default: the only lab that is up)")
    p.set_defaults(func=cmd_down)

    p = subparsers.add_parser("status", help="labs, uptime, agents healthy, nodes, roles, addresses, PIDs, state")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("exec", help="run a command in a node's namespace: dmvpnlab exec NODE -- CMD...")
    p.add_argument("--lab", help="lab name (default: the lab that has NODE)")
    p.add_argument("node")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD")
    p.set_defaults(func=cmd_exec)

    p = subparsers.add_parser("clean", help="remove every lab resource this project recorded, and only those")
    p.add_argument("--force", action="store_true",
                   help="also labs held by a live foreground process (e.g. a running `up` or pytest)")
    p.set_defaults(func=cmd_clean)

    p = subparsers.add_parser("demo", help="bring up, run the demo steps, tear down; exit 0 if all held")
    p.add_argument("topology", nargs="?", default="topologies/default.yaml")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="template variable for every router, over the file's (e.g. --var phase=2 --var routing=ospf)")
    p.set_defaults(func=cmd_demo)


def _fail(message: str, code: int = 1) -> int:
    print(f"dmvpnlab: {message}", file=sys.stderr)
    return code


def _load(path: str, assignments: list[str] | None = None, spokes: int | None = None) -> LabTopology:
    """The one place the commands read a lab file (native, CML, VIRL, wired: labfile.py)."""
    return load_lab(path, assignments or [], spokes=spokes)


def _print_table(rows: list[dict[str, Any]], title: str, columns: Any = None) -> None:
    """Rich table on a terminal; plain text at a fixed width otherwise (logs, CI, pipes)."""
    from dmvpnlab.lab.table import COLUMNS

    columns = columns or COLUMNS
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(build_table(rows, title, columns))
    else:
        print(render_text(rows, title, columns, width=160), end="", flush=True)


# ------------------------------------------------------------------------ up


def _load_as_root(path: str, assignments: list[str] | None = None, spokes: int | None = None) -> LabTopology | int:
    """The lab to bring up, or the exit code of why not (a bad file or --var: 2; not root)."""
    from dmvpnlab.lab.lab import LabError, require_root

    try:
        topo = _load(path, assignments, spokes)
        require_root()
    except file_errors() as e:
        return _fail(str(e), EXIT_TOPOLOGY)
    except LabError as e:
        return _fail(str(e))
    return topo


def cmd_up(args: argparse.Namespace) -> int:
    topo = _load_as_root(args.topology, args.var, args.spokes)
    if isinstance(topo, int):
        return topo
    if args.detach:
        return _up_detached(Path(args.topology), topo, args.var, args.spokes, captures=not args.no_captures)
    return _up_foreground(topo, captures=not args.no_captures)


def _up_foreground(topo: Any, captures: bool) -> int:
    from dmvpnlab.lab.agents import AgentError
    from dmvpnlab.lab.lab import Lab, LabError

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        lab = Lab.up(topo, captures=captures)
    except (LabError, AgentError) as e:  # an agent that refused its config: its words, no traceback
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted during bring-up; everything created so far was removed", 130)
    try:
        _print_table(lab.table_rows(), f"lab {lab.name}: up in {lab.timings['up']:.1f} s")
        if lab.captures:
            print(f"captures: {lab.captures.directory}/")
        _print_management(lab.management_info())
        from dmvpnlab.lab.prompt import prompt_hint  # Mininet's CLI module: only for a prompt

        print(prompt_hint(lab.topology))
        run_cli(lab)
    finally:
        print("tearing down ...", flush=True)
        lab.down()
        print(f"lab {lab.name} down ({lab.timings.get('down', 0):.1f} s)")
    return 0


def _print_management(info: dict[str, Any] | None) -> None:
    if info:
        print(f"management: {info['network']} (this machine {info['this_machine']}); "
              f"ssh {info['username']}@<Management address> (port {info['port']})")


def run_cli(lab: Any) -> None:
    """Mininet's CLI on the lab's network, with router CLI lines (see lab/prompt.py); Ctrl-C at
    the prompt leaves it (and tears down)."""
    from dmvpnlab.lab.prompt import run_prompt

    run_prompt(lab)


def _up_detached(path: Path, topo: Any, assignments: list[str] | None = None, spokes: int | None = None,
                 captures: bool = True) -> int:
    from dmvpnlab.lab import controller

    records_file = lab_dir(topo.name) / RECORDS_NAME
    if records_file.exists():
        try:
            owner = owner_alive(LabRecords.load(records_file))
        except (OSError, ValueError, KeyError):
            owner = None
        if owner is not None:
            return _fail(f"lab {topo.name!r} is already up (held by PID {owner.pid}); run `dmvpnlab down {topo.name}` first")
    print(f"bringing up lab {topo.name} in the background (log: {controller.log_path(topo.name)}) ...", flush=True)
    started = time.monotonic()
    popen = controller.spawn(path, topo.name, assignments, spokes, captures=captures)
    try:
        controller.wait_up(popen, topo.name)
    except RuntimeError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        os.kill(popen.pid, signal.SIGTERM)
        popen.wait(60)
        return _fail("interrupted; the controller tore the lab down", 130)
    records = LabRecords.load(records_file)
    rows = with_pids(records.data.get("table", []), {n["name"]: n["pid"] for n in records.data.get("nodes", [])})
    _print_table(rows, f"lab {topo.name}: up in {time.monotonic() - started:.1f} s "
                       f"(controller PID {popen.pid})", STATUS_COLUMNS)
    for line in records.data.get("notes") or []:
        print(line)
    if records.data.get("captures"):
        print(f"captures: {records.data['captures']}/")
    _print_management(records.data.get("management"))
    print(f"`dmvpnlab exec NODE -- CMD`, `dmvpnlab cli NODE`, `dmvpnlab status`, `dmvpnlab down {topo.name}`")
    return 0


# ------------------------------------------------------------------------ status


def lab_status(records: LabRecords, ping: Any = None) -> dict[str, Any]:
    """One lab for `status`: its state, how long it has been up, its agents' health, its nodes."""
    from dmvpnlab.lab.health import agent_health, ping_agent, uptime

    owner = owner_alive(records)
    state = records.state if owner is not None else "dead (controller gone; `dmvpnlab clean` removes it)"
    ctl = records.controller()
    return {
        "lab": records.lab,
        "state": state,
        "topology": records.data.get("topology"),
        "detached": bool(records.data.get("detached")),
        "controller_pid": ctl.pid if ctl else None,
        "captures": records.data.get("captures"),
        "management": records.data.get("management"),
        "nodes": records.data.get("nodes", []),
        "table": records.data.get("table", []),
        "processes": len(records.processes()),
        "up_seconds": uptime(records),
        "agents": agent_health(records, ping or ping_agent).as_json(),
    }


def cmd_status(args: argparse.Namespace) -> int:
    labs = [lab_status(r) for r in all_records()]
    if args.json:
        print(json.dumps({"labs": labs}, indent=2))
        return 0
    if not labs:
        print("no labs")
        return 0
    from dmvpnlab.lab.health import summary_line

    for lab in labs:
        short_state = lab["state"].split(" (")[0]  # "dead", without the hint the title repeats
        print(summary_line(lab["lab"], short_state, lab["up_seconds"], lab["agents"]))
        pids = {n["name"]: n["pid"] for n in lab["nodes"]}
        title = (f"lab {lab['lab']}: {lab['state']} (controller PID {lab['controller_pid']}, "
                 f"{'detached' if lab['detached'] else 'foreground'}; {lab['topology']})")
        if lab["table"]:
            _print_table(with_pids(lab["table"], pids), title, STATUS_COLUMNS)
        else:
            print(title)
        others = [n for n in lab["nodes"] if n["name"] not in {r["name"] for r in lab["table"]}]
        if others:
            print("other nodes: " + ", ".join(f"{n['name']} ({n['role']}, PID {n['pid']})" for n in others))
        if lab["captures"]:
            print(f"captures: {lab['captures']}/")
    return 0


# ------------------------------------------------------------------------ exec


def find_node(node: str, lab: str | None = None) -> tuple[LabRecords, dict[str, Any]]:
    """The records and node entry of `node` (in `lab`, or the only lab that has it)."""
    hits = []
    for records in all_records():
        if lab is not None and records.lab != lab:
            continue
        for entry in records.data.get("nodes", []):
            if entry["name"].lower() == node.lower():  # wired labs' labels: any case
                hits.append((records, entry))
    if not hits:
        labs = ", ".join(r.lab for r in all_records()) or "none is up"
        raise LookupError(f"no node {node!r} in any lab ({labs})")
    if len(hits) > 1:
        raise LookupError(f"node {node!r} is in several labs ({', '.join(h[0].lab for h in hits)}); use --lab")
    return hits[0]


def cmd_exec(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        return _fail("usage: dmvpnlab exec NODE -- CMD [ARGS...]")
    try:
        records, entry = find_node(args.node, args.lab)
    except LookupError as e:
        return _fail(str(e))
    shell = next((p for p in records.processes() if p.kind == "node" and p.node == entry["name"]), None)
    if shell is None or proc_start_time(shell.pid) != shell.start_time:
        return _fail(f"node {args.node} of lab {records.lab} is not running (its shell PID {entry['pid']} is gone)")
    sys.stdout.flush()
    # exec: the command gets our terminal, and its exit code is ours.
    os.execvp("mnexec", ["mnexec", "-a", str(shell.pid), *argv])
    return 127  # not reached


# ------------------------------------------------------------------------ down / clean


def _pick_lab(name: str | None) -> LabRecords | None:
    labs = all_records()
    if name is not None:
        return next((r for r in labs if r.lab == name), None)
    return labs[0] if len(labs) == 1 else None


def cmd_down(args: argparse.Namespace) -> int:
    from dmvpnlab.lab import controller

    records = _pick_lab(args.lab)
    if records is None:
        labs = [r.lab for r in all_records()]
        if args.lab:
            return _fail(f"no lab {args.lab!r} (up: {', '.join(labs) or 'none'})")
        if not labs:
            print("no lab is up")
            return 0
        return _fail(f"several labs are up ({', '.join(labs)}); name one: dmvpnlab down LAB")
    owner = owner_alive(records)
    if owner is not None and not owner.kill_on_clean:
        return _fail(f"lab {records.lab} is held by a foreground process (PID {owner.pid}: "
                     f"{' '.join(owner.cmdline)[:80]}); leave its prompt, or `dmvpnlab clean --force`")
    if owner is not None:
        print(f"asking the controller of lab {records.lab} (PID {owner.pid}) to tear down ...", flush=True)
        error = _ask_down_with_progress(records)
        if error is not None:
            print(f"controller did not answer ({error}); cleaning from the records")
        deadline = time.monotonic() + 60
        while owner.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not owner.alive():
            print(f"lab {records.lab} down")
            controller.log_path(records.lab).unlink(missing_ok=True)
            # The controller removed its records; anything left is cleaned below.
            if not records.path.exists():
                return 0
    report = clean_records(records)
    remove_records(records)
    controller.log_path(records.lab).unlink(missing_ok=True)
    print(f"lab {records.lab}: cleaned from records ({report.summary()})")
    return 0


def _ask_down_with_progress(records: LabRecords) -> Exception | None:
    """Ask the controller to tear down (it answers once the lab is gone) and, meanwhile, show
    on a terminal a bar of the lab's processes that are gone. The error if it did not answer."""
    import threading

    from dmvpnlab.lab import controller
    from dmvpnlab.lab.progress import Reporter, wait_all_gone

    failed: list[Exception] = []

    def ask() -> None:
        try:
            controller.request(records.lab, {"op": "down"}, timeout=300)
        except (OSError, ValueError) as e:
            failed.append(e)

    processes = [p for p in records.processes() if p.kind in ("agent", "capture", "node") and p.alive()]
    asking = threading.Thread(target=ask, name="dmvpnlab-down", daemon=True)
    asking.start()
    reporter = Reporter.on_terminal()
    try:
        wait_all_gone(processes, lambda: not asking.is_alive(), reporter, timeout=310)
    finally:
        reporter.stop()
    asking.join(1.0)
    return failed[0] if failed else None


def cmd_clean(args: argparse.Namespace) -> int:
    from dmvpnlab.lab.controller import log_path as controller_log

    labs = all_records()
    if not labs:
        print("nothing to clean")
        return 0
    code = 0
    for records in labs:
        owner = owner_alive(records)
        if owner is not None and not owner.kill_on_clean and not args.force:
            print(f"lab {records.lab}: left alone, held by live process {owner.pid} "
                  f"({' '.join(owner.cmdline)[:60]}); use --force")
            continue
        report = clean_records(records, force=args.force)
        remove_records(records)
        controller_log(records.lab).unlink(missing_ok=True)
        print(f"lab {records.lab}: {report.summary()}")
    return code


# ------------------------------------------------------------------------ demo


def _demo_report(lab: Any) -> None:
    """The run's HTML report (`dmvpnlab report`), from the captures the lab left behind."""
    from dmvpnlab.report import ReportError, write_report

    if lab.captures is None:
        return
    try:
        print(f"Report of this run: {write_report(lab.captures.directory)}")
    except ReportError as e:
        print(f"dmvpnlab: no report: {e}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    from dmvpnlab.lab.agents import AgentError
    from dmvpnlab.lab.demo.steps import run_steps
    from dmvpnlab.lab.lab import Lab, LabError

    topo = _load_as_root(args.topology, args.var)
    if isinstance(topo, int):
        return topo
    try:
        lab = Lab.up(topo)
    except (LabError, AgentError) as e:  # as `up`: a refused config in the agent's words
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted during bring-up; everything created so far was removed", 130)
    try:
        _print_table(lab.table_rows(), f"lab {lab.name}: up in {lab.timings['up']:.1f} s")
        ok = run_steps(lab)
    finally:
        lab.down()
    print(f"\nlab {lab.name} down. Demo {'held: every step passed' if ok else 'FAILED: see FAIL lines above'}.")
    _demo_report(lab)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Only the lab subcommands (`python -m dmvpnlab.lab.commands ...`), independent of the
    other areas' subcommands: used by the lifecycle scenarios and usable for debugging."""
    parser = argparse.ArgumentParser(prog="dmvpnlab")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
