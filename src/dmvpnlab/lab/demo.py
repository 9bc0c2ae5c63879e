"""`dmvpnlab demo`: bring a lab up, run the demo steps, print what happened, tear down.

Why steps as data: the demo is the project's story told on a live lab, and each area adds
its chapter (the underlay here; registration, redirect and shortcut later) by appending a
`Step` to `STEPS` or calling `register_step`. A step returns a list of `Check`s; the
demo exits 0 only if every check of every step held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from scapy.utils import PcapNgReader

from dmvpnlab.lab.topology import ISP_NAME


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Step:
    title: str
    run: Callable[[Any], list[Check]]


def step_routers_reach_hub(lab: Any) -> list[Check]:
    """Every router reaches the hub's NBMA address through the ISP (NAT boxes included)."""
    hub = lab.topology.hub
    checks = []
    for r in lab.topology.routers:
        res = lab.ping(r.name, str(hub.nbma_address), count=2)
        checks.append(Check(f"{r.name} -> hub NBMA {hub.nbma_address}", res.ok, _ping_summary(res)))
    return checks


def step_hosts_reach_router(lab: Any) -> list[Check]:
    """Every LAN host reaches its router's LAN address."""
    checks = []
    for r in lab.topology.routers:
        if not r.lan:
            continue
        for h in r.lan.hosts:
            res = lab.ping(h.name, str(r.lan.router_address.ip), count=2)
            checks.append(Check(f"{h.name} -> {r.name} {r.lan.router_address.ip}", res.ok, _ping_summary(res)))
    return checks


def step_capture_summary(lab: Any) -> list[Check]:
    """Every underlay capture file is a readable pcapng; lists its packet count."""
    lab.flush_captures()
    checks = []
    for path in sorted(lab.capture_files()):
        try:
            with PcapNgReader(str(path)) as reader:
                count = sum(1 for _ in reader)
            checks.append(Check(f"capture {path.name}", True, f"{count} packets"))
        except Exception as e:  # noqa: BLE001 - any unreadable file is a failed check
            checks.append(Check(f"capture {path.name}", False, f"unreadable: {e}"))
    hub_isp = lab.capture_path(lab.topology.hub.name, ISP_NAME) if lab.captures else None
    if hub_isp is not None:
        checks.append(Check("hub-isp capture saw the pings", hub_isp.exists() and hub_isp.stat().st_size > 300,
                            str(hub_isp)))
    return checks


STEPS: list[Step] = [
    Step("Underlay: every router reaches the hub NBMA through the ISP", step_routers_reach_hub),
    Step("Underlay: every LAN host reaches its router", step_hosts_reach_router),
    Step("Captures: one pcapng per underlay link", step_capture_summary),
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


def run_steps(lab: Any, out: Callable[[str], None] = print, steps: list[Step] | None = None) -> bool:
    """Run the steps, printing each check; True if all held (a crashing step is a failure)."""
    all_ok = True
    for n, step in enumerate(steps if steps is not None else STEPS, 1):
        out(f"\n[{n}] {step.title}")
        try:
            checks = step.run(lab)
        except Exception as e:  # noqa: BLE001 - the demo reports, it does not crash
            checks = [Check("step ran", False, f"{type(e).__name__}: {e}")]
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            out(f"    {mark} {c.what}" + (f"  ({c.detail})" if c.detail else ""))
            all_ok &= c.ok
    return all_ok


def _ping_summary(res: Any) -> str:
    for line in res.stdout.splitlines():
        if "packets transmitted" in line:
            return line.strip()
    return (res.stderr or res.stdout).strip().splitlines()[-1] if (res.stderr or res.stdout).strip() else f"rc {res.rc}"
