"""Is this process in the machine's own network namespace? Then kernel-changing commands refuse.

The router agent and `dmvpnlab dhcp-client` rewrite the kernel of the namespace they run
in (addresses, default routes, sysctls, nftables, DHCP on the wire); they belong inside
a lab's namespaces. Started by hand in the root namespace of a shared machine they would
rewire it, so both ask `in_root_namespace()` before touching anything.
"""

from __future__ import annotations

import logging
import os

from dmvpnlab.routing.kernel import try_set_sysctl

log = logging.getLogger("dmvpnlab.agent")

ROOT_NAMESPACE_REFUSAL = ("refusing to run in this machine's root network namespace; start it inside a lab "
                          "namespace (`ip netns exec NS ...`, `dmvpnlab exec NODE ...`, or a lab)")


def set_router_sysctl(key: str, value: str) -> bool:
    """`try_set_sysctl` for a router-wide setting, never in the machine's own namespace.

    Why: unit tests build agent parts in-process (in whatever namespace pytest runs in),
    and an agent part's sysctls (`ip_forward`, `ignore_routes_with_linkdown`, ...) are the
    router's, not the machine's. Checked at each call, not cached: the agent zygote forks
    into a lab namespace after it was loaded."""
    if in_root_namespace():
        log.info("sysctl %s=%s not set: this is the machine's own network namespace", key, value)
        return False
    return try_set_sysctl(key, value)


def in_root_namespace(proc: str = "/proc", pid: int | None = None) -> bool:
    """True if this process shares the machine's network namespace: PID 1's, or where PID 1's
    cannot be read (a sandbox's init), that of our earliest ancestor whose namespace we can read.

    Why: a whole-router config removes addresses it did not ask for, sets sysctls, adds a
    default route and an nftables table; in the root namespace that would rewire the
    machine. Every launcher (the lab's zygote, Mininet's mnexec, `ip netns exec`, a shell
    in a node) has the machine's namespace further up the process tree. No readable
    ancestor other than ourselves (reparented, not root) is not a refusal."""
    me = pid if pid is not None else os.getpid()
    ours = _netns(proc, me)
    if ours is None:
        return False
    machine = _netns(proc, 1)
    if machine is None:
        chain, current = [], me
        for _ in range(256):  # a loop guard: parent links always end at 0
            parent = _parent(proc, current)
            if parent is None or parent <= 0:
                break
            chain.append(parent)
            current = parent
        readable = [n for n in (_netns(proc, p) for p in chain) if n is not None]
        machine = readable[-1] if readable else None
    return machine is not None and ours == machine


def _netns(proc: str, pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"{proc}/{pid}/ns/net")
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _parent(proc: str, pid: int) -> int | None:
    try:
        stat = open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace").read()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
