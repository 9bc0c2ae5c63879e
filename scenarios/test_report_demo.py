"""The demo's lab, its story, and the report of it as a network engineer opens it.

Brings up topologies/default.yaml (the Phase 3 lab `make demo` uses), runs the demo's
steps (registrations, h1 -> h2 through the hub, the redirect and resolution, the
shortcut), tears the lab down, writes `dmvpnlab report` of captures/default/ and opens
it in headless Chromium: the topology, a ladder per exchange with the redirect's
resolution in it, the h1 -> h2 path changing from via-the-hub to spoke-to-spoke, no
console errors. The full-page screenshot stays in the capture directory (report.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dmvpnlab.lab.demo.steps import run_steps
from dmvpnlab.lab.lab import Lab
from dmvpnlab.report import write_report
from dmvpnlab.report.browser import chromium_missing, inspect
from dmvpnlab.report.collect import collect
from dmvpnlab.report.flows import flows

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

TOPOLOGY = Path(__file__).resolve().parent.parent / "topologies" / "default.yaml"


def test_the_demo_run_reads_as_a_report_with_the_shortcut_in_it():
    lines: list[str] = []
    lab = Lab.up(TOPOLOGY, quiet=True)
    try:
        held = run_steps(lab, out=lines.append, rich=False)
        directory = lab.captures.directory
    finally:
        lab.down()
    assert held, "\n".join(lines)
    assert (directory / "lab.json").is_file()
    page = write_report(directory)
    view = inspect(page, directory / "report.png")
    assert view.console_errors == []
    assert view.counts["svg.topology"] == 1 and view.counts["svg.topology .node"] == 7
    assert view.counts["svg.ladder"] == view.counts[".exchange"] >= 3
    assert view.panel_title.startswith("Registration")
    run = collect(directory)
    h1_h2 = next(f for f in flows(run.icmp, run.lab) if (f.src_name, f.dst_name) == ("h1", "h2"))
    assert "hub" in h1_h2.phases[0].hops
    assert "hub" not in h1_h2.phases[-1].hops and h1_h2.phases[-1].tunnelled
    html = page.read_text(encoding="utf-8")
    assert 'data-kind="redirect"' in html and "Resolution Reply" in html
    assert (directory / "report.png").stat().st_size > 50_000
