"""The report page in headless Chromium: its drawings, clicking a message, no console errors.

Skipped (with the reason) where chromium or Playwright is missing; `make setup` installs
both, CI has them. The PNG each test writes is kept in pytest's tmp directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmvpnlab.report import write_report
from dmvpnlab.report.browser import chromium_missing, evaluate, inspect
from tests.report_captures import lab_json, phase3_run

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")


@pytest.fixture(scope="module")
def crafted_report(tmp_path_factory):
    directory = phase3_run(tmp_path_factory.mktemp("report") / "crafted")
    lab_json(directory)
    verdicts = [{"name": "scenarios/test_x.py::test_shortcut", "outcome": "failed", "message": "assert 1 == 2"}]
    page = write_report(directory, verdicts=verdicts)
    return page, inspect(page, directory / "report.png")


def test_the_page_has_the_topology_one_ladder_per_exchange_a_flow_and_a_timeline(crafted_report):
    _page, view = crafted_report
    assert view.console_errors == []
    assert view.counts["svg.topology"] == 1
    assert view.counts["svg.topology .node"] == 7  # hub spoke1 spoke2 isp h0 h1 h2
    assert view.counts["svg.topology .link"] == 6
    assert view.counts["svg.ladder"] == view.counts[".exchange"] == 3  # two registrations, one redirect
    assert view.counts["svg.ladder .msg"] == 8
    assert view.counts["svg.flowpath"] == 1 and view.counts["svg.timeline"] == 1
    assert view.counts[".verdicts tr"] == 2  # the heading and the one verdict


def test_clicking_a_message_shows_its_decoded_header_cies_and_extensions(crafted_report):
    _page, view = crafted_report
    assert view.panel_title == "Registration Request"
    for expected in ("FIXED HEADER", "MANDATORY PART", "CIES", "request id", "10.0.0.2", "spoke1-isp"):
        assert expected in view.panel_text


def test_a_full_page_screenshot_is_written(crafted_report):
    _page, view = crafted_report
    assert view.screenshot is not None
    data = view.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_page_is_self_contained(crafted_report):
    page, _view = crafted_report
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<link" not in html and "src=" not in html


def test_the_resolution_forwarded_by_the_hub_shows_hop_count_254(crafted_report):
    page, _view = crafted_report
    labels = evaluate(page, "Array.from(document.querySelectorAll('.exchange[data-kind=redirect] .mlabel'))"
                            ".map(e => e.textContent)")
    assert labels[:3] == ["Traffic Indication  hop=255  for 192.168.1.10 > 192.168.2.10",
                          "Resolution Request  id=7  hop=255", "Resolution Request  id=7  hop=254"]


CISCO = Path(os.environ.get("DMVPNLAB_CISCO_CAPTURES", "/work/shared/captures/cisco"))


@pytest.mark.skipif(not CISCO.is_dir(), reason="no Cisco captures ($DMVPNLAB_CISCO_CAPTURES)")
def test_a_directory_of_real_cisco_captures_renders_without_errors(tmp_path):
    for capture in sorted(CISCO.glob("*.pcap*"))[:6]:
        (tmp_path / f"cisco-{capture.name}").symlink_to(capture)
    view = inspect(write_report(tmp_path), tmp_path / "cisco.png")
    assert view.console_errors == []
    assert view.counts["svg.topology"] == 1 and view.counts["svg.ladder"] >= 1
