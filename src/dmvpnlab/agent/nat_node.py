"""The agent's nftables table `ip dmvpnlab`: ACL filters and NAT, applied, counted, removed.

filter_rules.py says what the table is; this module makes it so in the router's own
namespace: `nft -f -` replaces the table in one transaction on every apply (or deletes it
when the config has nothing for it), reads the per-entry counters back for `show
access-lists`, owns the static-NAT global addresses it puts on outside interfaces, and
deletes the table when the agent exits. Only this table is touched: whatever else a lab
puts in the namespace's nftables (link loss rules) stays. No `nft` binary: every part of
the config that needs it is listed as not applied, nothing else breaks.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from dmvpnlab.agent.conntrack import Connection, read_connections
from dmvpnlab.agent.filter_rules import TABLE, Ruleset, build_ruleset
from dmvpnlab.config.model import RouterConfig
from dmvpnlab.ifnames import InterfaceNameError, linux_ifname

log = logging.getLogger("dmvpnlab.agent")

NFT_TIMEOUT = 10.0


def run_nft(script: str | None, *args: str) -> str:
    """`nft [-j] ...` with `script` on stdin; RuntimeError with nft's message if it fails."""
    command = ["nft", *args] if script is None else ["nft", "-f", "-"]
    done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=NFT_TIMEOUT)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError("; ".join(lines[:3]) or f"nft exit {done.returncode}")
    return done.stdout


@dataclass
class NatNode:
    """The table this agent installed, its counter map and the NAT aliases it added."""

    node: str
    kernel: Any
    ruleset: Ruleset | None = None
    installed: bool = False
    aliases: set[tuple[str, IPv4Address]] = field(default_factory=set)
    not_applied: list[str] = field(default_factory=list)
    _started: bool = False  # the first apply also removes a table a killed agent left
    _baseline: dict[tuple[str, int], int] = field(default_factory=dict)  # counts at the last clear
    _carried: dict[tuple[str, int], int] = field(default_factory=dict)  # counts of replaced tables

    def _resolve(self, ios: str) -> str | None:
        try:
            ifname = linux_ifname(self.node, ios)
        except InterfaceNameError:
            return None
        return ifname if self.kernel.ifindex(ifname) is not None else None

    def apply(self, config: RouterConfig) -> None:
        ruleset = build_ruleset(config, self._resolve)
        self.not_applied = list(ruleset.not_applied)
        for line in ruleset.not_applied:
            log.warning("%s", line)
        first, self._started = not self._started, True
        if not ruleset.text and not self.installed and not (first and self._left_over()):
            self.ruleset = ruleset
            self._aliases(ruleset)
            return
        if shutil.which("nft") is None:
            self.not_applied.append("access-group / ip nat lines: not applied (no nft binary on this host)")
            return
        if self.installed:  # a new table starts its counters at 0: keep what they said
            self._carried = self.counters()
            self._baseline = {}
        script = f"add table ip {TABLE}\ndelete table ip {TABLE}\n" + ruleset.text
        try:
            run_nft(script)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            self.not_applied.append(f"access-group / ip nat lines: not applied (nft: {error})")
            log.warning("nftables table %s not applied: %s\n%s", TABLE, error, ruleset.text)
            return
        self.installed = bool(ruleset.text)
        self.ruleset = ruleset
        self._aliases(ruleset)

    def _left_over(self) -> bool:
        """Is there a table of ours that a killed agent left (read only: nothing changes
        in a namespace whose config has no ACL or NAT)?"""
        if shutil.which("nft") is None:
            return False
        try:
            run_nft(None, "list", "table", "ip", TABLE)
        except (RuntimeError, OSError, subprocess.SubprocessError):
            return False
        return True

    def _aliases(self, ruleset: Ruleset) -> None:
        wanted = set(ruleset.aliases)
        for ifname, address in sorted(self.aliases - wanted, key=str):
            try:
                self.kernel.remove_address(ifname, IPv4Interface(f"{address}/32"))
            except Exception as error:
                log.warning("NAT alias %s on %s: not removed: %s", address, ifname, error)
            self.aliases.discard((ifname, address))
        for ifname, address in sorted(wanted - self.aliases, key=str):
            alias = IPv4Interface(f"{address}/32")
            try:
                if alias in self.kernel.addresses(ifname):
                    continue  # not ours: never removed later
                self.kernel.ensure_address(ifname, alias)
                self.aliases.add((ifname, address))
            except Exception as error:
                self.not_applied.append(f"NAT alias {address} on {ifname}: not added ({error})")

    def clear_counters(self) -> None:
        """`clear ip access-list counters`: today's counts become the zero."""
        self._carried = {}
        self._baseline = self._totals()

    def counters(self) -> dict[tuple[str, int], int]:
        """(ACL name, entry sequence number) -> packets matched, summed over every use of the ACL,
        since the last clear; counts survive the table's replacement by a config change."""
        totals = self._totals()
        for key, value in self._carried.items():
            totals[key] = totals.get(key, 0) + value
        return {k: v - self._baseline.get(k, 0) for k, v in totals.items()}

    def _totals(self) -> dict[tuple[str, int], int]:
        if not self.installed or self.ruleset is None:
            return {}
        try:
            data = json.loads(run_nft(None, "-j", "list", "table", "ip", TABLE))
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
            log.warning("nft counters unreadable: %s", error)
            return {}
        out: dict[tuple[str, int], int] = {}
        for item in data.get("nftables", []):
            rule = item.get("rule") if isinstance(item, dict) else None
            if not isinstance(rule, dict):
                continue
            key = self.ruleset.counters.get(str(rule.get("comment", "")))
            if key is None:
                continue
            for expr in rule.get("expr", []):
                counter = expr.get("counter") if isinstance(expr, dict) else None
                if isinstance(counter, dict):
                    out[key] = out.get(key, 0) + int(counter.get("packets", 0))
        return out

    def translations(self) -> list[Connection] | None:
        """Tracked connections the kernel translated (None: conntrack not readable here)."""
        connections = read_connections()
        if connections is None:
            return None
        return [c for c in connections if c.snat or c.dnat]

    def close(self) -> None:
        """Agent exit: the table and the aliases go with it."""
        if self.installed:
            try:
                run_nft(f"delete table ip {TABLE}\n")
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                log.warning("nftables table %s not deleted: %s", TABLE, error)
            self.installed = False
        for ifname, address in list(self.aliases):
            try:
                self.kernel.remove_address(ifname, IPv4Interface(f"{address}/32"))
            except Exception:
                pass
        self.aliases.clear()
