"""`show running-config` lines of the router-wide services: DHCP, domain, `no ip routing`,
`ip default-gateway`, NAT, access lists, in the places IOS prints them.

IOS 15 prints, in this order: `ip dhcp excluded-address` and `ip dhcp pool` blocks and
`ip domain name` in the head (after `enable secret`, before the usernames); `no ip
routing` just before them; `ip default-gateway` after the routing sections; then `ip nat
inside source ...` lines, the static routes (render.py), named access lists as
`ip access-list standard|extended NAME` blocks of ` permit ...` entries, and numbered
ones as `access-list N ...` lines, by number. Sequence numbers are not printed (IOS
numbers entries 10, 20 ... when it reads them back), except where an entry's number is
not the one reading would give it, so that the running-config reads back the same.
`deny` is padded to the width of `permit` (`deny   ip any any`), as IOS prints it.
Imports config.model only.
"""

from __future__ import annotations

from dmvpnlab.config.model import AccessList, DhcpPool, NatRule, RouterConfig

SEQUENCE_STEP = 10


def head_lines(config: RouterConfig) -> list[str]:
    """`no ip routing`, the DHCP server, `ip domain name`: each group closed by `!`."""
    out: list[str] = []
    if not config.ip_routing:
        out += ["no ip routing", "!"]
    if config.dhcp_excluded:
        out += [f"ip dhcp excluded-address {low}" + ("" if high == low else f" {high}")
                for low, high in config.dhcp_excluded] + ["!"]
    for pool in config.dhcp_pools:
        out += _pool_lines(pool) + ["!"]
    if config.domain_name is not None:
        out += [f"ip domain name {config.domain_name}", "!"]
    return out


def _lease_words(seconds: int) -> str:
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if minutes:
        return f"{days} {hours} {minutes}"
    return f"{days} {hours}" if hours else f"{days}"


def _pool_lines(pool: DhcpPool) -> list[str]:
    out = [f"ip dhcp pool {pool.name}"]
    if pool.network is not None:
        out.append(f" network {pool.network.network_address} {pool.network.netmask}")
    if pool.default_routers:  # IOS ends these two lines with a blank
        out.append(" default-router " + "".join(f"{a} " for a in pool.default_routers))
    if pool.dns_servers:
        out.append(" dns-server " + "".join(f"{a} " for a in pool.dns_servers))
    if pool.lease_seconds is not None:
        out.append(f" lease {_lease_words(pool.lease_seconds)}")
    return out + [f" {line}" for line in pool.extra_lines]


def gateway_lines(config: RouterConfig) -> list[str]:
    return [] if config.default_gateway is None else [f"ip default-gateway {config.default_gateway}", "!"]


def nat_line(rule: NatRule) -> str:
    if rule.kind == "static":
        return f"ip nat inside source static {rule.local} {rule.global_address}"
    return (f"ip nat inside source list {rule.access_list} interface {rule.interface}"
            + (" overload" if rule.overload else ""))


def _entries(acl: AccessList, prefix: str, block: bool = False) -> list[str]:
    out: list[str] = []
    for at, entry in enumerate(acl.entries):
        out += [prefix + remark for remark in entry.remarks]
        numbered = entry.sequence is not None and entry.sequence != (at + 1) * SEQUENCE_STEP
        out.append(prefix + (f"{entry.sequence} " if numbered and block else "") + _padded(entry.text))
    return out + [prefix + line for line in acl.extra_lines]


def _padded(text: str) -> str:
    """IOS pads `deny` to the width of `permit` in the running-config: `deny   ip any any`."""
    return "deny   " + text[5:] if text.startswith("deny ") else text


def _as_lines(acl: AccessList) -> bool:
    """Can a numbered list print as `access-list N ...` lines and read back the same?

    Not when it is empty, holds lines of its sub-mode other than remarks, or numbers its
    entries otherwise than 10, 20 ... (edited as `ip access-list extended 101`): then it
    prints as a block, which reads back as the same numbered list.
    """
    return (bool(acl.entries) and all(line.startswith("remark ") for line in acl.extra_lines)
            and all(e.sequence == (at + 1) * SEQUENCE_STEP for at, e in enumerate(acl.entries)))


def access_list_lines(config: RouterConfig) -> list[str]:
    """Named lists as blocks, then numbered lists as lines (by number), each group closed by `!`."""
    out: list[str] = []
    numbered = sorted((a for a in config.access_lists if a.numbered), key=lambda a: int(a.name))
    for acl in [a for a in config.access_lists if not a.numbered] + [a for a in numbered if not _as_lines(a)]:
        out += [f"ip access-list {acl.kind} {acl.name}", *_entries(acl, " ", block=True), "!"]
    lines = [line for acl in numbered if _as_lines(acl) for line in _entries(acl, f"access-list {acl.name} ")]
    return out + lines + ["!"] if lines else out
