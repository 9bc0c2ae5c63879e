"""`dmvpnlab import LABFILE [-o OUT.yaml]`: convert a CML/VIRL lab once, into a file to edit.

Prints what was converted (nodes by kind, hubs and spokes as their configs make them,
skipped nodes, the notes) and, with `-o`, writes the wired dmvpnlab format (OUT.yaml
plus OUT/<Node>.cfg per router) that `dmvpnlab up OUT.yaml` brings up. A broken file is
one paragraph on stderr and exit 2; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_LAB_FILE = 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="convert a CML 2 / VIRL lab file into a wired dmvpnlab lab file")
    p.add_argument("labfile", help="CML 2 YAML (lab versions 0.0.x-0.3.x) or VIRL 1 .virl file")
    p.add_argument("-o", "--output", metavar="OUT.yaml",
                   help="write the wired lab here (and router configs in OUT/); without it, only check and print")
    p.add_argument("--force", action="store_true", help="overwrite OUT.yaml and its configs if they exist")
    p.set_defaults(func=cmd_import)


def _fail(message: str, code: int) -> int:
    print(f"dmvpnlab: {message}", file=sys.stderr)
    return code


def cmd_import(args: argparse.Namespace) -> int:
    from dmvpnlab.lab.progress import Reporter

    reporter = Reporter.on_terminal()  # bars on a terminal: a big CML lab takes seconds to read
    try:
        return _import(args, reporter)
    finally:
        reporter.stop()


def _import(args: argparse.Namespace, reporter: Any) -> int:
    from dmvpnlab.lab.cml import dump_wired, load_lab_file
    from dmvpnlab.lab.topology.errors import TopologyError
    from dmvpnlab.lab.wired.model import WiredTopology

    reporter.phase(f"reading {Path(args.labfile).name}", 1)
    try:
        topo = load_lab_file(args.labfile)
    except TopologyError as e:
        return _fail(str(e), EXIT_LAB_FILE)
    reporter.tick()
    if not isinstance(topo, WiredTopology):
        return _fail(f"{args.labfile}: expected a CML or VIRL lab file, got a native dmvpnlab topology "
                     f"(`dmvpnlab up {args.labfile}` runs it as it is)", EXIT_LAB_FILE)
    print(summary(topo, args.labfile), end="")  # above the bar (rich redirects stdout while it shows)
    if not args.output:
        print("nothing written (give -o OUT.yaml to write the wired lab)")
        return 0
    out = Path(args.output)
    if out.suffix not in (".yaml", ".yml"):
        return _fail(f"{out}: expected an output file ending in .yaml", 1)
    if out.exists() and not args.force:
        return _fail(f"{out} exists; give --force to overwrite it", 1)
    reporter.phase(f"writing {out.name} and router configs", len(topo.routers) + 1)
    try:
        written = dump_wired(topo, out, tick=reporter.tick)
    except OSError as e:
        return _fail(f"cannot write {e.filename or out}: {e.strerror or e}", 1)
    reporter.stop()
    configs = len(written) - 1
    print(f"wrote {out} and {configs} router config{'s' * (configs != 1)} in {out.parent / out.stem}/ "
          f"(bring it up: dmvpnlab up {out})")
    return 0


def summary(topo: Any, source: str) -> str:
    """What an import gives, as lines: nodes by kind, roles, links, notes."""
    from dmvpnlab.lab.cml.mapping import SKIPPED_NOTE

    def names(items: list[Any]) -> str:
        return ", ".join(i.name for i in items) or "none"

    by_role = {role: [r for r in topo.routers if r.role == role] for role in ("hub", "spoke", "router")}
    skipped = sum(1 for n in topo.notes if SKIPPED_NOTE.search(n))
    conditioned = sum(1 for link in topo.links if link.conditioning)
    lines = [
        f"{source}: {topo.format} lab {topo.name!r}" + (f" ({topo.description})" if topo.description else ""),
        f"  routers: {len(topo.routers)} (hubs: {names(by_role['hub'])}; spokes: {names(by_role['spoke'])}; "
        f"other routers: {names(by_role['router'])})",
        f"  hosts:   {len(topo.hosts)} ({names(topo.hosts)})",
        f"  bridges: {len(topo.bridges)} ({names(topo.bridges)})",
        f"  links:   {len(topo.links)}" + (f" ({conditioned} with conditioning)" if conditioned else ""),
        f"  skipped: {skipped} node{'s' * (skipped != 1)}",
    ]
    if topo.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in topo.notes)
    return "\n".join(lines) + "\n"
