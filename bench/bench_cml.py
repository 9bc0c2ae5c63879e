"""A CML lab of 1 hub + N spokes brought up and registered, next to the native topology of the same size.

Issue 11 lets engineers run their CML/VIRL DMVPN labs unchanged; this measures what that
costs against our native topology format. Both labs are Phase 3 with EIGRP 100 over
Tunnel0 and the hub summarising the LANs, 1 hub + `--spokes` spokes (default 20):

- cml: a CML 2 (0.3.0) lab generated in a temporary directory in the style of
  topologies/cml/phase3.yaml (iosv routers, whole IOS configs, Loopback0 as LAN,
  GigabitEthernet0/0 on one unmanaged switch 172.16.0.0/24), loaded with
  `labfile.load_lab` and brought up with `Lab.up`, as `dmvpnlab up FILE` does;
- native: the same size from nodes/hub.j2 + spoke.j2 (`phase: 3`, `routing: eigrp`), the
  topology format of topologies/scale.yaml (ISP router underlay, LAN hosts).

Measured per run, wall clock from the call to `Lab.up`: when `Lab.up` returns, and when
the hub's NHRP cache (its agent's state, polled every 20 ms) holds every spoke as
registered; then `Lab.down`. Runs alternate cml/native `--repeat` times; the table shows
medians, the JSON every run.

    sudo .venv/bin/python bench/bench_cml.py [--spokes 20] [--repeat 3] [--captures]

Writes bench/results/cml.json. Lab traffic stays in the labs' namespaces; only the labs
this script brings up are torn down, in `finally`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_lab import REPO, RESULTS, BenchError, registered_entries, rnd, state  # noqa: E402

from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402

REGISTER_TIMEOUT = 120.0
POLL_SECONDS = 0.020
MASK24 = "255.255.255.0"


# ----------------------------------------------------------------------------- the generated CML lab

def _router_config(index: int) -> str:
    """IOSv config of router `index` (0 = Hub), in the style of topologies/cml/phase3.yaml."""
    hub = index == 0
    name = "Hub" if hub else f"Spoke{index}"
    lines = ["!", "version 15.9", "service timestamps debug datetime msec", "no service password-encryption", "!",
             f"hostname {name}", "!", "no aaa new-model", "no ip domain lookup", "ip domain name dmvpn.lab", "ip cef",
             "!", "username cisco privilege 15 password 0 cisco", "!",
             "interface Loopback0", " description LAN", f" ip address 10.0.{index}.1 {MASK24}", "!",
             "interface Tunnel0", f" description DMVPN Phase 3 {'hub' if hub else 'spoke'}", " bandwidth 1000",
             f" ip address 192.168.0.{index + 1} {MASK24}", " no ip redirects", " ip mtu 1400"]
    if hub:
        lines += [" no ip split-horizon eigrp 100", " ip nhrp authentication DMVPN",
                  " ip nhrp map multicast dynamic", " ip nhrp network-id 1", " ip nhrp holdtime 300",
                  " ip nhrp redirect", " ip tcp adjust-mss 1360",
                  " ip summary-address eigrp 100 10.0.0.0 255.255.0.0"]
    else:
        lines += [" ip nhrp authentication DMVPN", " ip nhrp network-id 1", " ip nhrp holdtime 300",
                  " ip nhrp nhs 192.168.0.1 nbma 172.16.0.1 multicast", " ip nhrp shortcut",
                  " ip tcp adjust-mss 1360"]
    lines += [" delay 1000", " tunnel source GigabitEthernet0/0", " tunnel mode gre multipoint", " tunnel key 100",
              "!", "interface GigabitEthernet0/0", " description WAN (underlay switch)",
              f" ip address 172.16.0.{index + 1} {MASK24}", " duplex auto", " speed auto", " media-type rj45", "!",
              "router eigrp 100", " network 10.0.0.0 0.0.255.255", " network 192.168.0.0 0.0.0.255"]
    if not hub:
        lines.append(" eigrp stub connected")
    lines += ["!", "ip forward-protocol nd", "no ip http server", "!", "control-plane", "!",
              "line con 0", "line vty 0 4", " login local", " transport input ssh", "!", "end"]
    return "\n".join(lines) + "\n"


def cml_lab(spokes: int) -> dict[str, Any]:
    """The CML 2 (0.3.0) lab as data: Hub + Spoke1..N, Gi0/0 of each on one unmanaged switch."""
    if spokes > 253:
        raise ValueError("one /24 underlay: at most 253 spokes")
    nodes: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    switch_id = f"n{spokes + 1}"
    for index in range(spokes + 1):
        name = "Hub" if index == 0 else f"Spoke{index}"
        nodes.append({
            "id": f"n{index}", "label": name, "node_definition": "iosv", "x": 80 * index, "y": 0 if index else -200,
            "configuration": [{"name": "ios_config.txt", "content": _router_config(index)}],
            "image_definition": None, "tags": [], "parameters": {},
            "interfaces": [{"id": "i0", "label": "Loopback0", "type": "loopback"},
                           {"id": "i1", "label": "GigabitEthernet0/0", "slot": 0, "type": "physical"}]})
        links.append({"id": f"l{index}", "n1": f"n{index}", "i1": "i1", "n2": switch_id, "i2": f"i{index}",
                      "conditioning": {}, "label": f"{name}-GigabitEthernet0/0<->SW-WAN-port{index}"})
    nodes.append({"id": switch_id, "label": "SW-WAN", "node_definition": "unmanaged_switch", "x": 0, "y": -100,
                  "configuration": [], "image_definition": None, "tags": [], "parameters": {},
                  "interfaces": [{"id": f"i{p}", "label": f"port{p}", "slot": p, "type": "physical"}
                                 for p in range(spokes + 1)]})
    return {"annotations": [], "lab": {"title": f"bench-cml-{spokes}", "description": "bench_cml: Phase 3, EIGRP",
                                       "notes": "", "version": "0.3.0"},
            "links": links, "nodes": nodes}


def write_cml_lab(directory: Path, spokes: int) -> Path:
    path = directory / f"bench-cml-{spokes}.yaml"
    path.write_text(yaml.safe_dump(cml_lab(spokes), sort_keys=False))
    return path


def native_topology(spokes: int) -> Any:
    name = f"bench-native-{spokes}"
    data = {"name": name, "description": f"bench_cml: native Phase 3, EIGRP, {spokes} spokes",
            "vars": {"phase": 3, "routing": "eigrp"},
            "hub": {"template": "hub.j2"}, "spokes": spokes, "spoke_defaults": {"template": "spoke.j2"}}
    return topology_from_data(data, REPO / "bench" / f"{name}.yaml", nodes_dir=REPO / "nodes")


# ----------------------------------------------------------------------------- one run

def hub_name(lab: Lab) -> str:
    """The hub's node name: `hub` in native labs, the CML label (`Hub`) in wired ones."""
    names = [h.node for h in lab.agents]
    return next((n for n in names if n.lower() == "hub"), names[0])


def wait_all_registered(lab: Lab, hub: str, spokes: int) -> float:
    """Poll the hub's agent until `spokes` registered entries; the wall time it saw them."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    while True:
        entries = registered_entries(state(lab, hub))
        if len(entries) >= spokes:
            return time.time()
        if time.monotonic() > deadline:
            raise BenchError(f"only {len(entries)} of {spokes} spokes registered after {REGISTER_TIMEOUT:.0f} s")
        time.sleep(POLL_SECONDS)


def run_once(kind: str, spokes: int, captures: bool, workdir: Path) -> dict[str, Any]:
    if kind == "cml":
        from dmvpnlab.lab.labfile import load_lab

        loaded = time.time()
        topology = load_lab(write_cml_lab(workdir, spokes))
        load_s = time.time() - loaded
    else:
        loaded = time.time()
        topology = native_topology(spokes)
        load_s = time.time() - loaded
    print(f"[cml] {kind}, {spokes} spokes: bringing the lab up", flush=True)
    t0 = time.time()
    lab = Lab.up(topology, captures=captures, quiet=True)
    result: dict[str, Any] = {"kind": kind, "spokes": spokes, "load_s": rnd(load_s)}
    try:
        t_up = time.time()
        registered = wait_all_registered(lab, hub_name(lab), spokes)
        result.update({"lab_up_s": rnd(t_up - t0), "registered_s": rnd(registered - t0),
                       "loadavg_1min": round(os.getloadavg()[0], 2)})
    finally:
        t_down = time.time()
        lab.down()
        result["down_s"] = rnd(time.time() - t_down)
    print(f"[cml] {kind}: up {result.get('lab_up_s')} s, all registered {result.get('registered_s')} s", flush=True)
    return result


# ----------------------------------------------------------------------------- report

def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for kind in ("cml", "native"):
        ok = [r for r in runs if r["kind"] == kind and "error" not in r]
        errors = [r["error"] for r in runs if r["kind"] == kind and "error" in r]
        row: dict[str, Any] = {"kind": kind, "runs": len(ok), "errors": errors}
        for key in ("load_s", "lab_up_s", "registered_s", "down_s"):
            values = [r[key] for r in ok if r.get(key) is not None]
            row[key] = rnd(statistics.median(values)) if values else None
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]], spokes: int) -> str:
    headers = ["lab", "spokes", "runs", "load s", "Lab.up s", "all registered s", "down s", "errors"]
    body = [[r["kind"], spokes, r["runs"], r["load_s"], r["lab_up_s"], r["registered_s"], r["down_s"],
             "; ".join(r["errors"])[:60] or "-"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--captures", action="store_true", help="capture every link (off by default, as at scale)")
    parser.add_argument("--only", choices=("cml", "native"), help="run one kind only")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_cml: needs root (it builds labs)", file=sys.stderr)
        return 2
    kinds = [args.only] if args.only else ["cml", "native"]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cml-") as tmp:
        for _ in range(args.repeat):
            for kind in kinds:
                try:
                    runs.append(run_once(kind, args.spokes, args.captures, Path(tmp)))
                except (BenchError, ImportError) as error:
                    runs.append({"kind": kind, "spokes": args.spokes, "error": str(error)})
    rows = [r for r in summarise(runs) if r["kind"] in kinds]
    print(table(rows, args.spokes))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "cml.json"
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "spokes": args.spokes,
                               "captures": args.captures, "summary": rows, "runs": runs}, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
