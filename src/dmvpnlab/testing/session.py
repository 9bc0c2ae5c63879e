"""One lab a test run brought up: who used it, how they did, and what happens at its end.

The plugin's fixtures bring labs up; this module decides what a lab's end looks like:
the verdicts of every test that used it go into its HTML report (written when a test
failed, or always with `--dmvpn-report always`), and a lab a test failed on is kept up
for a look with `--dmvpn-keep-on-failure` (handed to a detached controller when the run
ends) instead of being torn down. Failure messages get a `dmvpnlab` section saying where
the captures and the report are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

log = logging.getLogger(__name__)

SESSIONS = pytest.StashKey[list]()  # the LabSessions of this run, in bring-up order


@dataclass
class Verdict:
    """A test's outcome, as the report shows it."""

    name: str
    outcome: str  # passed, failed, skipped, error
    message: str = ""
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "message": self.message, "duration": self.duration}


@dataclass
class LabSession:
    """A lab and the tests it serves: the tests of a module (`scope` the module's node id),
    or one test (a function-scoped lab, a factory's lab)."""

    lab: Any
    scope: str  # node id of the module or test the lab belongs to
    topology: str
    verdicts: list[Verdict] = field(default_factory=list)
    report_path: Path | None = None
    kept: bool = False

    @property
    def failed(self) -> bool:
        return any(v.outcome in ("failed", "error") for v in self.verdicts)

    @property
    def captures(self) -> Path | None:
        captures = getattr(self.lab, "captures", None)
        return captures.directory if captures is not None else None

    def serves(self, item: pytest.Item) -> bool:
        return item.nodeid == self.scope or item.nodeid.startswith(self.scope + "::")

    def record(self, report: pytest.TestReport) -> Verdict | None:
        """Note a test's outcome (a failure in set-up or tear-down counts as an error)."""
        if report.when == "call" or report.outcome != "passed":
            outcome = report.outcome if report.when == "call" else ("error" if report.failed else report.outcome)
            message = report.longreprtext.strip().splitlines()[-1][:400] if report.failed and report.longreprtext else ""
            verdict = Verdict(report.nodeid, outcome, message, round(report.duration, 3))
            self.verdicts.append(verdict)
            return verdict
        return None

    def where(self) -> str:
        """The lines a failure message gets: the lab, its captures, its report, how to reach it."""
        lines = [f"lab {self.lab.name!r} from {self.topology}"]
        if self.captures is not None:
            lines.append(f"captures: {self.captures}/ (open in Wireshark: WIRESHARK_CONFIG_DIR={self.captures} wireshark FILE)")
            lines.append(f"report:   {self.planned_report()} (written when the lab goes down)")
        return "\n".join(lines)

    def planned_report(self) -> Path:
        assert self.captures is not None
        return self.captures / "report.html"

    def finish(self, config: pytest.Config) -> None:
        """The lab's end: its report, then tear-down, or keeping it up if it failed and the
        user asked to look. Never raises for the report: a test's verdict must not be lost
        to a drawing error (the error is logged and said in the terminal summary)."""
        when = config.getoption("dmvpn_report")
        keep = self.failed and config.getoption("dmvpn_keep_on_failure")
        if keep:
            self.lab.flush_captures()
            self.report_path = write_report(self, when)
            from dmvpnlab.testing.leaks import kept_labs

            kept_labs(config).add(self.lab.name)
            self.kept = True
            return
        try:
            self.lab.down()
        finally:
            self.report_path = write_report(self, when)

    def how_to_reach(self) -> str:
        """What the terminal summary says about a kept lab."""
        name = self.lab.name
        routers = [h.node for h in getattr(self.lab, "agents", [])]
        first = routers[1] if len(routers) > 1 else (routers[0] if routers else "NODE")
        lines = [f"lab {name!r} kept up (a test failed; --dmvpn-keep-on-failure):",
                 "  dmvpnlab status",
                 f"  dmvpnlab cli {first}            (IOS CLI: show dmvpn, show ip nhrp, show ip route)",
                 f"  dmvpnlab exec {first} -- ip route",
                 f"  dmvpnlab down {name}           (when you are done)"]
        if self.captures is not None:
            lines.append(f"  captures: {self.captures}/")
        if self.report_path is not None:
            lines.append(f"  report:   {self.report_path}")
        return "\n".join(lines)


def write_report(session: LabSession, when: str) -> Path | None:
    """The lab's HTML report, when `when` (--dmvpn-report) asks for one."""
    if when == "never" or session.captures is None or (when == "failed" and not session.failed):
        return None
    try:
        from dmvpnlab.report import write_report as write_html

        return write_html(session.captures, verdicts=[v.as_dict() for v in session.verdicts],
                          title=f"{session.lab.name}: {session.scope}")
    except Exception as error:  # noqa: BLE001 - see LabSession.finish
        log.error("dmvpnlab: the report of lab %s could not be written: %s", session.lab.name, error)
        return None


def sessions(config: pytest.Config) -> list[LabSession]:
    return config.stash.setdefault(SESSIONS, [])


def keep_kept_labs(config: pytest.Config) -> list[tuple[LabSession, int]]:
    """Hand every kept lab to a detached controller (at the end of the run); (session, PID)."""
    from dmvpnlab.lab.controller import keep

    handed = []
    for session in sessions(config):
        if session.kept:
            handed.append((session, keep(session.lab)))
    return handed
