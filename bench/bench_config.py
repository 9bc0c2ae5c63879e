"""How the IOS config parser scales with what a hostile or generated config holds.

    .venv/bin/python bench/bench_config.py [--sizes 1000 10000] [--tree DIR ...]

A router's startup config is parsed before the agent starts and again on every
`configure terminal` line batch and `write memory`, so a parser that is quadratic in the
number of interfaces, routes or NHRP maps, or in the blanks inside one line, stalls the
router (the "hostile input" issue measured 79 s for 10,000 interfaces). For each size
this times parse_config on N interfaces, N static routes and N NHRP maps, and one line
holding N*20 blanks, best of `--repeat` (3). `--tree` runs the same inputs against another checkout
of the repository (e.g. a `git worktree` of the commit before a change) in a child
process, so the baseline is measured in the same run on the same busy machine. Prints
a table and writes bench/results/config.json (not committed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "config.json"


def inputs(n: int) -> dict[str, str]:
    """The four inputs of size `n`, as config text."""
    interfaces = "".join(f"interface Loopback{i}\n ip address 10.{i // 65536}.{i // 256 % 256}.{i % 256} "
                         "255.255.255.255\n" for i in range(n))
    routes = "".join(f"ip route 10.{i // 256 % 256}.{i % 256}.0 255.255.255.0 192.0.2.1\n" for i in range(n))
    maps = "interface Tunnel0\n" + "".join(
        f" ip nhrp map 10.0.{i // 256 % 256}.{i % 256} 192.0.{i // 256 % 256}.{i % 256}\n" for i in range(n))
    blanks = "hostname" + " " * (n * 20) + "R1\n"
    return {"interfaces": interfaces, "routes": routes, "nhrp maps": maps, "blanks in a line": blanks}


def measure(sizes: list[int], repeat: int = 3) -> dict[str, dict[str, float]]:
    """Seconds per parse (best of `repeat`) by input name and size, with this process's parser."""
    from dmvpnlab.config.parser import parse_config

    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        for name, text in inputs(n).items():
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                parse_config(text)
                best = min(best, time.perf_counter() - started)
            out.setdefault(name, {})[str(n)] = best
    return out


def measure_tree(tree: Path, sizes: list[int], repeat: int) -> dict[str, dict[str, float]]:
    """`measure` run by a child Python whose `dmvpnlab` is the one under `tree`/src."""
    code = (f"import sys, json; sys.path.insert(0, {str(tree / 'src')!r}); sys.path.insert(0, {str(REPO / 'bench')!r});"
            f"import bench_config; print(json.dumps(bench_config.measure({sizes!r}, {repeat!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many parses")
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to compare")
    args = parser.parse_args()
    runs = {"this tree": measure_tree(REPO, args.sizes, args.repeat)}
    for tree in args.tree:
        runs[str(tree)] = measure_tree(tree.resolve(), args.sizes, args.repeat)
    print(f"{'input':<18}{'size':>8}" + "".join(f"{name[-22:]:>24}" for name in runs))
    for name in inputs(1):
        for n in args.sizes:
            print(f"{name:<18}{n:>8}" + "".join(f"{run[name][str(n)]:>22.3f} s" for run in runs.values()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"sizes": args.sizes, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
