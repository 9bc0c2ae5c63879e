"""DHCP clients for the wired lab's Linux hosts that lease their address.

A CML `ubuntu`/`alpine` host without an address in its cloud-init asks DHCP, as it would
in CML; in the lab a router of the lab (`ip dhcp pool`) answers. The client is helper
l2's `python -m dmvpnlab dhcp-client IFNAME`, run in the host's namespace (Mininet's
`node.popen`), recorded as a "helper" process (PID + start time) before the lab relies
on it, and stopped by that PID: SIGTERM by `Lab.down`, or by the record-driven clean.
Where the command does not exist yet, each such host gets one line saying so.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from dmvpnlab.lab.records import record_process

SUBCOMMAND = "dhcp-client"
LOG_NAME = "dhcp-client-{ifname}.log"


def client_available() -> bool:
    """True if `dmvpnlab dhcp-client` is one of the console command's subcommands."""
    from dmvpnlab import command

    try:
        parser = command.build_parser()
    except Exception:  # an area that does not import: then no DHCP either
        return False
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    return sub is not None and SUBCOMMAND in sub.choices


def client_command(ifname: str) -> list[str]:
    return [sys.executable, "-m", "dmvpnlab", SUBCOMMAND, ifname]


def start(lab: Any, hosts: list[tuple[str, str]]) -> list[str]:
    """Start a client per (host, interface); returns the lines for the user (none when all started)."""
    if not hosts:
        return []
    if not client_available():
        return [f"host {host}: {ifname} asks DHCP, DHCP not available (no `dmvpnlab {SUBCOMMAND}` yet): "
                "it stays unaddressed" for host, ifname in hosts]
    for host, ifname in hosts:
        state_dir = lab.records.directory / host
        state_dir.mkdir(parents=True, exist_ok=True)
        with open(state_dir / LOG_NAME.format(ifname=ifname), "ab") as log:
            popen = lab.nodes[host].popen(client_command(ifname), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log)
        lab.helpers.append(popen)
        try:
            lab.records.add_process(record_process(popen.pid, "helper", node=host))
        except ProcessLookupError:
            pass  # exited at once: its log says why
    return []


def stop(popens: list[Any], timeout: float = 3.0) -> None:
    """SIGTERM every client we started (by its PID), then SIGKILL what is left."""
    for popen in popens:
        if popen.poll() is None:
            popen.terminate()
    for popen in popens:
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
