"""`python -m fuzz.run`: the long fuzz run behind `make fuzz`.

Splits a time budget over the targets, prints executions and findings per target,
writes the numbers as JSON under fuzz/results/ and exits 1 when anything was found
(each finding is saved under fuzz/crashes/<target>/ with its traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fuzz.harness import FUZZ_DIR, run_target
from fuzz.targets import all_targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="total budget, split evenly (default 600)")
    parser.add_argument("--target", action="append", help="only this target (repeatable)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="RNG seed (printed, for replay)")
    args = parser.parse_args(argv)

    targets = [t for t in all_targets() if not args.target or t.name in args.target]
    if not targets:
        print(f"fuzz: no target named {args.target}", file=sys.stderr)
        return 2
    share = args.seconds / len(targets)
    print(f"fuzz: {len(targets)} targets, {share:.0f} s each, seed {args.seed}")
    rows = []
    for target in targets:
        result = run_target(target, seconds=share, rng_seed=args.seed)
        rate = result.executions / result.seconds if result.seconds else 0.0
        print(f"  {result.target:<22} {result.executions:>10,} execs {rate:>9,.0f}/s "
              f"{result.crashes:>3} crashes {result.stalls:>3} stalls", flush=True)
        for finding in result.findings:
            print(f"    {finding.kind}: {finding.path}  {finding.error.strip().splitlines()[-1][:160]}")
        rows.append({"target": result.target, "executions": result.executions, "seconds": round(result.seconds, 1),
                     "crashes": result.crashes, "stalls": result.stalls})
    total = sum(r["executions"] for r in rows)
    found = sum(r["crashes"] + r["stalls"] for r in rows)
    print(f"fuzz: {total:,} executions, {found} findings")
    out = FUZZ_DIR / "results"
    out.mkdir(exist_ok=True)
    (out / f"fuzz-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"seed": args.seed, "seconds": args.seconds, "targets": rows}, indent=2) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
