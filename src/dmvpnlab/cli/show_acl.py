"""`show access-lists [NAME]`, `show ip access-lists [NAME]`, `clear ip access-list counters`.

IOS prints each ACL under a `Standard|Extended IP access list NAME` header, one entry a
line with its sequence number, the addresses as IOS normalises them (`any`, `host A`,
`A WILDCARD`; a standard ACL's network as `A, wildcard bits W` and its `deny` padded to
the width of `permit`), well-known ports by
name (`eq isakmp`, `eq www`), and `(N matches)` once an entry matched. The counts are
the agent's nftables counters (agent/nat_node.py): every interface and NAT rule using
an ACL adds to its entries, as on IOS. ntc-templates' cisco_ios_show_access-list and
cisco_ios_show_ip_access-lists parse this output.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any

from dmvpnlab.cli.tree import Node
from dmvpnlab.config.model import AccessList, AccessListEntry

if TYPE_CHECKING:
    from dmvpnlab.cli.exec import ExecSession

ANY = IPv4Network("0.0.0.0/0")
TCP_PORTS = {21: "ftp", 23: "telnet", 25: "smtp", 53: "domain", 80: "www", 110: "pop3", 179: "bgp", 513: "login",
             514: "cmd"}
UDP_PORTS = {53: "domain", 67: "bootps", 68: "bootpc", 69: "tftp", 123: "ntp", 161: "snmp", 162: "snmptrap",
             500: "isakmp", 514: "syslog", 520: "rip", 4500: "non500-isakmp"}
ICMP_WORDS = ("echo-reply", "echo", "unreachable", "time-exceeded", "ttl-exceeded", "redirect", "parameter-problem",
              "source-quench", "packet-too-big", "port-unreachable", "administratively-prohibited")


def _wildcard(network: IPv4Network) -> str:
    return str(network.hostmask)


def _address(network: IPv4Network | None) -> str:
    if network is None or network == ANY:
        return "any"
    if network.prefixlen == 32:
        return f"host {network.network_address}"
    return f"{network.network_address} {_wildcard(network)}"


def _ports(protocol: str, ports: tuple[int, int] | None) -> str:
    if ports is None:
        return ""
    names = TCP_PORTS if protocol == "tcp" else UDP_PORTS
    low, high = ports
    if low == high:
        return f" eq {names.get(low, low)}"
    if high == 65535 and low > 0:
        return f" gt {names.get(low - 1, low - 1)}"
    if low == 0 and high < 65535:
        return f" lt {names.get(high + 1, high + 1)}"
    return f" range {names.get(low, low)} {names.get(high, high)}"


def entry_text(entry: AccessListEntry, standard: bool) -> str:
    """One entry after its sequence number, as `show access-lists` prints it."""
    if standard:
        source = entry.source
        if source == ANY:
            where = "any"
        elif source.prefixlen == 32:
            where = str(source.network_address)
        else:
            where = f"{source.network_address}, wildcard bits {_wildcard(source)}"
        action = "deny  " if entry.action == "deny" else entry.action  # IOS aligns a standard deny with permit
        return f"{action} {where}" + (" log" if entry.log else "")
    if entry.text.startswith(entry.action + " "):  # the parser keeps extended entries as IOS prints them
        return entry.text
    protocol = (entry.protocol or "ip").lower()
    text = (f"{entry.action} {protocol} {_address(entry.source)}{_ports(protocol, entry.source_ports)} "
            f"{_address(entry.destination)}{_ports(protocol, entry.destination_ports)}")
    if protocol == "tcp" and entry.established:
        text += " established"
    if protocol == "icmp":
        kind = next((w for w in entry.text.lower().split() if w in ICMP_WORDS), None)
        if kind is not None:
            text += f" {kind}"
    return text + (" log" if entry.log else "")


def acl_data(agent: Any, name: str | None = None) -> list[dict[str, Any]]:
    """Every ACL (or the one named) with its entries and their match counts."""
    nat = getattr(agent, "nat", None)
    counts = nat.counters() if nat is not None else {}
    out = []
    for acl in agent.config.access_lists:
        if name is not None and acl.name != name:
            continue
        out.append(_one(acl, counts))
    return out


def _one(acl: AccessList, counts: dict[tuple[str, int], int]) -> dict[str, Any]:
    standard = acl.kind == "standard"
    entries = []
    for index, entry in enumerate(acl.entries):
        sequence = entry.sequence or (index + 1) * 10
        entries.append({"sequence": sequence, "line": entry_text(entry, standard),
                        "matches": counts.get((acl.name, sequence), 0)})
    return {"name": acl.name, "type": acl.kind, "entries": entries}


def render_acls(data: list[dict[str, Any]]) -> str:
    out = []
    for acl in data:
        out.append(f"{acl['type'].capitalize()} IP access list {acl['name']}")
        for entry in acl["entries"]:
            matches = entry["matches"]
            count = f" ({matches} match{'es' if matches != 1 else ''})" if matches else ""
            out.append(f"    {entry['sequence']} {entry['line']}{count}")
    return "".join(line + "\n" for line in out)


def _show(s: "ExecSession", a: dict[str, Any]) -> Any:
    from dmvpnlab.cli.exec_tree import CliError, Output
    name = a.get("acl")
    data = acl_data(s.agent, name)
    if name is not None and not data:
        raise CliError(f"Access list {name} not found")  # IOS prints nothing; the JSON twin says why
    return Output(render_acls(data), data)


def _clear(s: "ExecSession", a: dict[str, Any]) -> str:
    nat = getattr(s.agent, "nat", None)
    if nat is not None:
        nat.clear_counters()
    return ""


def add_show(show: Node, ip: Node, clear_ip: Node | None = None) -> None:
    """`show access-lists [NAME]`, `show ip access-lists [NAME]`, `clear ip access-list counters`."""
    for parent, help in ((show, "List access lists"), (ip, "List IP access lists")):
        node = parent.kw("access-lists", help, _show)
        node.add(Node("WORD", "ACL name or number", _show, param="acl"))
    if clear_ip is not None:
        clear_ip.kw("access-list", "Clear IP access list").kw("counters", "Clear access list counters", _clear)


