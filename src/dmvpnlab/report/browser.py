"""Open a report in headless Chromium: console errors, what the page shows, a screenshot.

Why a real browser: the report is judged by what a browser makes of it (does the SVG
render, does a click open the side panel, does the script throw). The tests and the demo
scenario use this through Playwright for Python driving the system's Chromium
(`/usr/bin/chromium`, Debian package `chromium`); nothing is downloaded. The machine may
have no outside network, so Chromium is started without any of its background
networking, and with a fresh profile per run. Playwright is imported only here, only
when a page is opened (it is a test dependency, not a runtime one).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_missing() -> str | None:
    """Why the browser checks cannot run here (None: they can)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return "chromium is not installed (Debian package chromium; make setup installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@dataclass
class PageView:
    console_errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # CSS selector -> elements
    panel_title: str = ""  # the side panel's heading after clicking the first message
    panel_text: str = ""
    screenshot: Path | None = None


COUNTED = ("svg.topology", "svg.topology .node", "svg.topology .link", "svg.ladder", "svg.ladder .msg",
           "svg.flowpath", "svg.timeline", ".exchange", ".verdicts tr")


def inspect(html: Path, screenshot: Path | None = None, *, click_first_message: bool = True,
            width: int = 1600) -> PageView:
    """Load `html` (a file) in headless Chromium; count the report's parts, click the first
    NHRP message, read the side panel, and save a full-page PNG to `screenshot`."""
    from playwright.sync_api import sync_playwright

    view = PageView()
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with tempfile.TemporaryDirectory(prefix="dmvpnlab-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=executable, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": width, "height": 1000})
        try:
            page = context.new_page()
            page.on("console", lambda msg: view.console_errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: view.console_errors.append(f"page error: {exc}"))
            page.goto(html.resolve().as_uri(), wait_until="load")
            view.counts = {sel: page.locator(sel).count() for sel in COUNTED}
            if click_first_message and view.counts["svg.ladder .msg"]:
                page.locator("svg.ladder .msg").first.click()
                view.panel_title = page.locator("#panel h2").inner_text()
                view.panel_text = page.locator("#panel").inner_text()
            if screenshot is not None:
                page.evaluate("window.scrollTo(0, 0)")  # the click scrolled; the side panel sticks to the top
                page.screenshot(path=str(screenshot), full_page=True)
                view.screenshot = screenshot
        finally:
            context.close()
    return view


def evaluate(html: Path, script: str) -> Any:
    """The value of a JavaScript expression in the loaded page (for tests' finer questions)."""
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with tempfile.TemporaryDirectory(prefix="dmvpnlab-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=executable, headless=True,
                                                        args=CHROMIUM_ARGS)
        try:
            page = context.new_page()
            page.goto(html.resolve().as_uri(), wait_until="load")
            return page.evaluate(script)
        finally:
            context.close()
