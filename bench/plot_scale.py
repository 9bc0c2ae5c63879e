"""Draw bench/scale.png from bench/results/scale.json (bench_scale.py) and hub.json (bench_hub.py).

Three panels: (a) bring-up time until every spoke is registered against spokes, (b) PSS
per agent (median spoke, hub) and the total PSS of all agents against spokes, (c) hub
registrations/s against emulated spokes from bench_hub.py's results. A missing or
unreadable hub file leaves panel (c) empty with a note instead of failing: the two
benchmarks are run separately.

    .venv/bin/python bench/plot_scale.py [--scale FILE] [--hub FILE] [-o bench/scale.png]

Needs matplotlib (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

BENCH = Path(__file__).resolve().parent


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def hub_points(data: Any) -> list[tuple[int, float]]:
    """(emulated spokes, registrations/s) from bench_hub.py's JSON, whatever its exact nesting.

    Accepted: {"table"|"runs": [{"spokes"|"emulated_spokes": N, "registrations_per_s"|...: R}]} or a
    bare list of such rows.
    """
    rows = (data.get("table") or data.get("runs") or data.get("results") or []) if isinstance(data, dict) else data
    points = []
    for row in rows or []:
        if not isinstance(row, dict):
            continue
        n = row.get("emulated_spokes", row.get("spokes"))
        rate = next((row[k] for k in ("registrations_per_s", "registrations_per_second", "reg_per_s", "rate")
                     if isinstance(row.get(k), (int, float))), None)
        if isinstance(n, int) and rate is not None:
            points.append((n, float(rate)))
    return sorted(points)


def plot(scale: Any, hub: Any, output: Path, hub_name: str) -> None:
    runs = [r for r in (scale or {}).get("runs", []) if "error" not in r]
    n = [r["spokes"] for r in runs]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.5))
    a.plot(n, [r["all_registered_s"] for r in runs], "o-", label="all spokes registered")
    a.plot(n, [r["down_s"] for r in runs], "s--", label="tear-down")
    a.axhline(30, color="grey", linestyle=":", label="aim at 500: 30 s")
    a.set(title="(a) bring-up, full agents", xlabel="spokes", ylabel="seconds")
    a.legend()
    b.plot(n, [r["memory"]["spoke_pss_median_mb"] for r in runs], "o-", label="PSS per spoke (median)")
    b.plot(n, [r["memory"]["hub_pss_mb"] for r in runs], "^-", label="PSS hub")
    b.plot(n, [r["memory"]["spoke_rss_median_mb"] for r in runs], "x:", label="RSS per spoke (median)")
    b.axhline(15, color="grey", linestyle=":", label="aim: 15 MB PSS")
    b.set(title="(b) memory per agent", xlabel="spokes", ylabel="MB")
    total = b.twinx()
    total.plot(n, [r["memory"]["total_pss_mb"] / 1024 for r in runs], "d-", color="tab:red", label="total PSS (GB)")
    total.set_ylabel("total PSS of all agents, GB", color="tab:red")
    b.legend(loc="center right")
    points = hub_points(hub) if hub is not None else []
    c.set(title="(c) hub registrations/s (emulated spokes)", xlabel="emulated spokes", ylabel="registrations/s")
    if points:
        c.plot([p[0] for p in points], [p[1] for p in points], "o-")
        c.axhline(5000, linestyle=":", color="grey", label="aim: 5,000/s")
        c.set_ylim(bottom=0)
        c.legend()
        c.set_xscale("log")
    else:
        c.text(0.5, 0.5, f"no hub results yet\n({hub_name}: bench/bench_hub.py)", ha="center", va="center",
               transform=c.transAxes, color="grey")
    fig.tight_layout()
    fig.savefig(output, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=Path, default=BENCH / "results" / "scale.json")
    parser.add_argument("--hub", type=Path, default=BENCH / "results" / "hub.json")
    parser.add_argument("-o", "--output", type=Path, default=BENCH / "scale.png")
    args = parser.parse_args(argv)
    scale = read_json(args.scale)
    if scale is None:
        print(f"plot_scale.py: cannot read {args.scale} (run bench/bench_scale.py first)", file=sys.stderr)
        return 1
    plot(scale, read_json(args.hub), args.output, str(args.hub))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
