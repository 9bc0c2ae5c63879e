"""`dmvpnlab report`: one self-contained HTML page of a lab run, drawn from its captures.

Why: an engineer looking at a run would rather see the topology, the NHRP exchanges
and where the pings went than read pcap lines. The page is built from the capture
directory alone (captures/<lab>/: the pcapng files, `lab.json`, `faults.jsonl`,
`esp_sa`), so it works for a finished run, in CI, or on a copy sent by someone else.

Modules, one job each: `labinfo` (lab.json or file names), `collect` (reads the
captures), `exchanges` (NHRP messages into exchanges), `flows` (ICMP paths),
`topology_svg`, `ladder_svg`, `flow_svg`, `timeline`, `msgdetail` (side-panel fields),
`page` + `assets` (HTML), `command` (the subcommand). Imports `dmvpnlab.analysis`,
`dmvpnlab.nhrp` and `dmvpnlab.tunnel`; never `lab`, `cli` or `agent`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from dmvpnlab.report.collect import ReportError, collect
from dmvpnlab.report.exchanges import bound, group
from dmvpnlab.report.flows import flows as find_flows
from dmvpnlab.report.page import render
from dmvpnlab.report.timeline import events

REPORT_FILE = "report.html"
EXCHANGES_PER_KIND = 12  # ladders drawn per kind (registration, redirect, ...); the rest are counted
FLOWS_DRAWN = 12

__all__ = ["write_report", "ReportError", "REPORT_FILE"]


def write_report(capture_dir: Path, output: Path | None = None, *, verdicts: list[dict] | None = None,
                 title: str | None = None, progress: Callable | None = None) -> Path:
    """Write the report of the run whose captures are in `capture_dir`; return its path.

    `output` defaults to capture_dir/report.html. `verdicts`: [{"name": test id,
    "outcome": "passed"/"failed"/..., "message": str}], shown first. `progress(done,
    total, file name)` is called after each capture is read. ReportError (one line, names
    the file) when the directory is missing or holds no captures, or a capture is damaged."""
    capture_dir = Path(capture_dir)
    run = collect(capture_dir, progress)
    exchanges = group(run.nhrp)
    bounded = bound(exchanges, EXCHANGES_PER_KIND)
    paths = find_flows(run.icmp, run.lab)
    html = render(run, title=title or f"dmvpnlab report: lab {run.lab.name}", bounded=bounded, flows=paths,
                  timeline=events(run, paths), verdicts=verdicts, per_kind=EXCHANGES_PER_KIND, flow_limit=FLOWS_DRAWN)
    target = Path(output) if output is not None else capture_dir / REPORT_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{target}: cannot be written ({exc.strerror or exc})") from None
    return target
