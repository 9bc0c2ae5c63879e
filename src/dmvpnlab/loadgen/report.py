"""The loadgen's report as a table a network engineer reads at a glance."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def hub_usage(samples: dict[str, dict[str, Any]], start: str, end: str) -> dict[str, float | None]:
    """Hub CPU share and memory between two phase samples."""
    a, b = samples.get(start, {}), samples.get(end, {})
    if not a or not b or a.get("cpu_s") is None or b.get("cpu_s") is None:
        return {"cpu_percent": None, "rss_mb": None, "pss_mb": None}
    wall = b["t"] - a["t"]
    return {"cpu_percent": 100 * (b["cpu_s"] - a["cpu_s"]) / wall if wall > 0 else None,
            "rss_mb": b.get("Rss", 0) / 1024, "pss_mb": b.get("Pss", 0) / 1024}


def render(report: dict[str, Any]) -> str:
    lines = [f"loadgen: {report['spokes']} emulated spokes -> {report['hub']} of lab {report['lab']} "
             f"(holdtime {report['holdtime']} s, refresh every {report['holdtime'] / 3:.0f} s)", ""]
    lines.append(f"{'phase':<9} {'sent':>7} {'answered':>8} {'per s':>8} {'p50 ms':>7} {'p90 ms':>7} "
                 f"{'p99 ms':>7} {'max ms':>7}")
    for name, p in report["phases"].items():
        lines.append(f"{name:<9} {p['sent']:>7} {p['answered']:>8} {_fmt(p['per_second'], 0):>8} "
                     f"{_fmt(p['p50_ms'], 2):>7} {_fmt(p['p90_ms'], 2):>7} {_fmt(p['p99_ms'], 2):>7} "
                     f"{_fmt(p['max_ms'], 1):>7}")
    samples = report.get("hub_samples", {})
    for label, (a, b) in {"burst": ("start", "registered"), "steady": ("registered", "steady")}.items():
        usage = hub_usage(samples, a, b)
        lines.append(f"hub during {label}: CPU {_fmt(usage['cpu_percent'], 0)} %, RSS {_fmt(usage['rss_mb'])} MB, "
                     f"PSS {_fmt(usage['pss_mb'])} MB")
    registered = samples.get("registered", {}).get("nhrp")
    if registered:
        lines.append(f"hub registrations after the burst: {registered[0]['registered']}; "
                     f"hub dropped: {registered[0]['traffic']['dropped'] or 'nothing'}")
    lines.append(f"registered: {report['registered']}/{report['spokes']}; generator dropped: "
                 f"{report['dropped'] or 'nothing'}; send errors: {report['send_errors']}")
    return "\n".join(lines) + "\n"
