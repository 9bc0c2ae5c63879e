"""What the routing show commands ask FRR, and how FRR's words become IOS's.

Why one module: every OSPF/BGP/RIP show command and `show ip route` asks the router's
FRR (agent/frr_node.py: `agent.frr`, vtysh on the node's own sockets) for JSON and then
has to turn Linux interface names, FRR's durations and FRR's state words into the ones
IOS prints. A router without FRR (no `router ospf|bgp|rip`), or an FRR that does not
answer, gives None: the commands then print what IOS prints for a protocol that does not
run (nothing, or the kernel's view), never a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from dmvpnlab.cli.timefmt import duration
from dmvpnlab.cli.view import ios_name

log = logging.getLogger(__name__)

_HMS = re.compile(r"^(\d+):(\d\d):(\d\d)$")
_DHM = re.compile(r"^(\d+)d(\d\d)h(\d\d)m$")
_WDH = re.compile(r"^(\d+)w(\d)d(\d\d)h$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s$")


def frr_running(agent: Any) -> bool:
    frr = getattr(agent, "frr", None)
    return frr is not None and frr.supervisor is not None


def frr_daemons(agent: Any) -> set[str]:
    """The protocol daemons the router's config asks FRR to run (ospfd, bgpd, ripd)."""
    frr = getattr(agent, "frr", None)
    return set(frr.wanted.daemons) - {"zebra"} if frr is not None else set()


def frr_json(agent: Any, command: str) -> Any:
    """FRR's JSON answer to `command` (which ends in `json`), None without FRR."""
    frr = getattr(agent, "frr", None)
    if frr is None or frr.supervisor is None:
        return None
    try:
        return frr.vtysh_json(command)
    except Exception as error:  # FrrError, a timeout, JSON FRR did not finish: shown as absent
        log.warning("vtysh %r: %s", command, error)
        return None


def frr_command(agent: Any, command: str) -> str | None:
    """FRR's text answer to `command` (a clear command), None without FRR."""
    frr = getattr(agent, "frr", None)
    if frr is None or frr.supervisor is None:
        return None
    try:
        return frr.vtysh(command)
    except Exception as error:
        log.warning("vtysh %r: %s", command, error)
        return None


def frr_seconds(text: Any) -> float | None:
    """FRR's uptime words (`00:01:02`, `1d02h03m`, `01w2d03h`, `11.407s`) in seconds."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if m := _HMS.match(text):
        return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
    if m := _DHM.match(text):
        return int(m[1]) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60
    if m := _WDH.match(text):
        return int(m[1]) * 604800 + int(m[2]) * 86400 + int(m[3]) * 3600
    if m := _SECONDS.match(text):
        return float(m[1])
    return None


def ios_age(text: Any) -> str | None:
    """An FRR uptime as IOS prints ages (hh:mm:ss, 1d02h, 2w3d); None if unreadable."""
    seconds = frr_seconds(text)
    return None if seconds is None else duration(seconds)


def ios_ifname(agent: Any, linux: str | None) -> str | None:
    """The IOS name of a Linux interface FRR names (`r1-eth0:10.77.0.1` too)."""
    if not linux:
        return None
    return ios_name(agent, linux.split(":")[0])


def router_section(agent: Any, protocol: str) -> Any:
    """The first `router <protocol> ...` section of the running config, or None."""
    for section in agent.config.router_sections:
        words = section.header.split()
        if len(words) >= 2 and words[1] == protocol:
            return section
    return None


def process_id(agent: Any, protocol: str) -> str:
    """The IOS process tag (`ospf 1`'s 1, `bgp 65001`'s AS) as the config names it."""
    section = router_section(agent, protocol)
    words = section.header.split() if section is not None else []
    return words[2] if len(words) > 2 else ""
