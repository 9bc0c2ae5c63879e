"""`show running-config`, `show startup-config`, `show version`, `write memory`.

The running config is the agent's live model rendered by config.render (which keeps the
lines we do not model where the user had them); `write memory` stores that same text as
the node's startup file so a restarted agent comes back with what the user configured.
`show version` says honestly what answers (the dmvpnlab agent) in the shape IOS uses.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import dmvpnlab
from dmvpnlab.cli.timefmt import uptime_words
from dmvpnlab.config.parser import parse_config
from dmvpnlab.config.render import render_config_body, render_running_config


class SaveError(Exception):
    """The startup file cannot be written (no path, permissions)."""


def running_config(agent: Any) -> str:
    return render_running_config(agent.config)


def startup_config(agent: Any) -> str:
    """The startup file as stored: bytes that are not UTF-8 (a file edited elsewhere) show
    as `\\xNN`, the escape the CLI uses for them everywhere (cli/printable.py)."""
    path: Path | None = agent.config_path
    if path is None or not Path(path).exists():
        return "startup-config is not present\n"
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        return f"% Cannot read {path}: {error.strerror}\n"
    return f"Using {len(raw)} out of 262136 bytes\n" + raw.decode("utf-8", "backslashreplace")


def write_memory(agent: Any) -> str:
    """Save the running config as the startup file, only if the agent could boot from it.

    The agent refuses to start on a config line it cannot parse, so a startup file that
    does not load back would turn a saved config into a router that does not come up:
    the text is parsed before it replaces the old file, which is kept otherwise.
    """
    path: Path | None = agent.config_path
    if path is None:
        raise SaveError("this router has no startup file")
    text = "\n".join(render_config_body(agent.config)) + "\n"
    reparsed = parse_config(text)
    if not reparsed.ok:
        first = reparsed.errors[0]
        raise SaveError(f"Not saved: line {first.line_no} of the running-config would not load back "
                        f"({first.text.strip()!r}: {first.message.lstrip('% ')}); the startup-config is unchanged")
    tmp = Path(f"{path}.tmp")
    try:
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, path)
    except OSError as error:
        raise SaveError(f"cannot write {path}: {error.strerror}") from None
    return "Building configuration...\n[OK]\n"


def _memory_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def render_version(agent: Any) -> str:
    itfs = agent.config.interfaces
    ethernets = sum(1 for i in itfs if i.name.startswith("GigabitEthernet"))
    tunnels = sum(1 for i in itfs if i.is_tunnel)
    version = dmvpnlab.__version__
    return "\n".join([
        f"dmvpnlab DMVPN router agent, Version {version}",
        "Not Cisco IOS: a user-space mGRE/NHRP router emulated by dmvpnlab.",
        "",
        f"ROM: none (Linux network namespace, Python {platform.python_version()})",
        "",
        f"{agent.hostname} uptime is {uptime_words(agent.clock() - agent.started)}",
        "System returned to ROM by agent start",
        'System image file is "dmvpnlab agent"',
        "Last reload reason: agent start",
        "",
        f"dmvpnlab (Python {platform.python_version()}) processor with {_memory_kb()}K bytes of memory.",
        f"Processor board ID {agent.node}",
        f"{ethernets} Gigabit Ethernet interface{'s' if ethernets != 1 else ''}",
        f"{tunnels} Tunnel interface{'s' if tunnels != 1 else ''}",
        "",
        "Configuration register is 0x2102",
        "",
    ])
