"""The demo's underlay steps: every router reaches the hub through the ISP, every host its router,
and the captures are readable (with the commands to open them).

Live steps: they ping through the Lab API and read the capture files. Imports `items`,
`dmvpnlab.lab.topology.model` and scapy's pcapng reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scapy.utils import PcapNgReader

from dmvpnlab.lab.demo.items import Check, Item, Output
from dmvpnlab.lab.topology.model import ISP_NAME


def step_routers_reach_hub(lab: Any) -> list[Item]:
    """Every router reaches the hub's NBMA address through the ISP (NAT boxes included)."""
    hub = lab.topology.hub
    checks: list[Item] = []
    for r in lab.topology.routers:
        res = lab.ping(r.name, str(hub.nbma_address), count=2)
        checks.append(Check(f"{r.name} -> hub NBMA {hub.nbma_address}", res.ok, ping_summary(res)))
    return checks


def step_hosts_reach_router(lab: Any) -> list[Item]:
    """Every LAN host reaches its router's LAN address."""
    checks: list[Item] = []
    for r in lab.topology.routers:
        if not r.lan:
            continue
        for h in r.lan.hosts:
            res = lab.ping(h.name, str(r.lan.router_address.ip), count=2)
            checks.append(Check(f"{h.name} -> {r.name} {r.lan.router_address.ip}", res.ok, ping_summary(res)))
    return checks


def step_capture_summary(lab: Any) -> list[Item]:
    """Every capture file is a readable pcapng; lists its packet count and how to open it."""
    lab.flush_captures()
    items: list[Item] = []
    for path in sorted(lab.capture_files()):
        try:
            with PcapNgReader(str(path)) as reader:
                count = sum(1 for _ in reader)
            items.append(Check(f"capture {path.name}", True, f"{count} packets"))
        except Exception as e:  # noqa: BLE001 - any unreadable file is a failed check
            items.append(Check(f"capture {path.name}", False, f"unreadable: {e}"))
    hub_isp = lab.capture_path(lab.topology.hub.name, ISP_NAME) if lab.captures else None
    if hub_isp is not None:
        items.append(Check("hub-isp capture saw the pings", hub_isp.exists() and hub_isp.stat().st_size > 300,
                           str(hub_isp)))
        items.append(Output("Open the captures (they stay after the lab is down)",
                            open_commands(lab.captures.directory, hub_isp)))
    return items


def open_commands(directory: Path, example: Path, cwd: Path | None = None) -> str:
    """Where the captures are and the one-line commands to open one (paths as the user types them)."""
    directory, example = _short_path(directory, cwd), _short_path(example, cwd)
    return (f"captures:  {directory}/\n"
            f"Wireshark: wireshark {example}\n"
            f"NHRP ladder in the terminal: dmvpnlab pcap {example}")


def _short_path(path: Path, cwd: Path | None = None) -> Path:
    """Relative to the current directory when it is below it (what `make demo` users type)."""
    try:
        return path.relative_to(cwd or Path.cwd())
    except ValueError:
        return path


def ping_summary(res: Any) -> str:
    for line in res.stdout.splitlines():
        if "packets transmitted" in line:
            return line.strip()
    return (res.stderr or res.stdout).strip().splitlines()[-1] if (res.stderr or res.stdout).strip() else f"rc {res.rc}"
