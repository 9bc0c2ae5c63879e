"""The demo's steps in order (`STEPS`), how an area adds one (`register_step`), and the runner.

The runner shows every item of every step and holds only if every check held; a step
that crashes is a failed step, never a crashed demo. Imports `items`, `printers` and the
step modules (`underlay_steps`, `nhrp_steps`, `ipsec_steps`) whose steps it lists. The
IPsec steps carry `when=has_protection_lab`: on a lab without `tunnel protection` they
are not there, and the demo is the one it always was.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from dmvpnlab.lab.demo.ipsec_steps import (
    has_protection_lab,
    step_first_sa,
    step_ike,
    step_spoke_to_spoke_sa,
    step_wan_only_esp,
)
from dmvpnlab.lab.demo.items import Check, Ladder, Step
from dmvpnlab.lab.demo.nhrp_steps import (
    step_direct_path,
    step_first_packets_via_hub,
    step_redirect_and_resolution,
    step_registrations,
    step_shortcuts,
)
from dmvpnlab.lab.demo.printers import PlainPrinter, RichPrinter
from dmvpnlab.lab.demo.underlay_steps import step_capture_summary, step_hosts_reach_router, step_routers_reach_hub

CAPTURES_TITLE = "Captures: one pcapng per link, and how to open them"

STEPS: list[Step] = [
    Step("Underlay: every router reaches the hub NBMA through the ISP", step_routers_reach_hub),
    Step("Underlay: every LAN host reaches its router", step_hosts_reach_router),
    Step("IPsec: IKE (Main Mode, Quick Mode) between the hub and every spoke", step_ike, when=has_protection_lab),
    Step("IPsec: the first SAs, hub to each spoke, with their keys exported", step_first_sa, when=has_protection_lab),
    Step("NHRP registration: every spoke registers with the hub", step_registrations),
    Step("Phase 3: the first packets h1 -> h2 go through the hub", step_first_packets_via_hub),
    Step("Phase 3: the hub redirects (Traffic Indication), the spokes resolve", step_redirect_and_resolution),
    Step("Phase 3: shortcut routes installed", step_shortcuts),
    Step("Phase 3: the direct path, spoke to spoke", step_direct_path),
    Step("IPsec: the spoke-to-spoke SA after the redirect carries the direct path", step_spoke_to_spoke_sa,
         when=has_protection_lab),
    Step("IPsec: the WAN carries only ISAKMP and ESP, and every ESP packet decrypts", step_wan_only_esp,
         when=has_protection_lab),
    Step(CAPTURES_TITLE, step_capture_summary),
]


def register_step(step: Step, before: str | None = None) -> None:
    """Add a step (at the end, or before the step titled `before`)."""
    if before is None:
        STEPS.append(step)
        return
    for i, s in enumerate(STEPS):
        if s.title == before:
            STEPS.insert(i, step)
            return
    STEPS.append(step)


def applicable(lab: Any, steps: list[Step]) -> list[Step]:
    """The steps this lab has (`Step.when`); a `when` that crashes keeps its step, whose run
    then reports what is wrong rather than silently dropping a chapter."""
    kept = []
    for step in steps:
        try:
            wanted = step.when is None or step.when(lab)
        except Exception:  # noqa: BLE001 - shown by the step itself
            wanted = True
        if wanted:
            kept.append(step)
    return kept


def run_steps(lab: Any, out: Callable[[str], None] = print, steps: list[Step] | None = None,
              rich: bool | None = None) -> bool:
    """Run the steps, printing what each showed and each check; True if all held (a crashing
    step is a failure). rich=None: rich on a terminal when printing to stdout, plain otherwise."""
    if rich is None:
        rich = out is print and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
    printer: PlainPrinter | RichPrinter = RichPrinter() if rich else PlainPrinter(out)
    all_ok = True
    for n, step in enumerate(applicable(lab, steps if steps is not None else STEPS), 1):
        printer.step(n, step.title)
        try:
            items = step.run(lab)
        except Exception as e:  # noqa: BLE001 - the demo reports, it does not crash
            items = [Check("step ran", False, f"{type(e).__name__}: {e}")]
        for item in items:
            if isinstance(item, Check):
                printer.check(item)
                all_ok &= item.ok
            elif isinstance(item, Ladder):
                printer.ladder(item)
            else:
                printer.output(item)
    return all_ok

