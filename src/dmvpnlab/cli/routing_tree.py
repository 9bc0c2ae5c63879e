"""The routing words of the exec tree: `show ip ospf|bgp|rip|protocols|route A.B.C.D`, clears.

Why apart from exec_tree.py: that file is shared by every helper's commands and is kept
to which-word-calls-what; the routing protocols bring a dozen words. The renderers are
show_route, show_ospf, show_bgp, show_rip and show_protocols; the clears go to FRR
(`clear ip ospf process` after IOS's question, `clear ip bgp *`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from dmvpnlab.cli import show_bgp, show_ospf, show_protocols, show_rip, show_route
from dmvpnlab.cli.frr_view import frr_command, frr_daemons
from dmvpnlab.cli.tree import Node, ipv4

if TYPE_CHECKING:
    from dmvpnlab.cli.exec import ExecSession

Shown = Callable[[Callable[[Any], Any], Callable[[Any], str]], Any]


def _entry(s: "ExecSession", a: dict[str, Any]) -> Any:
    from dmvpnlab.cli.exec_tree import Output
    data = show_route.entry_data(s.agent, a["address"])
    return Output(show_route.render_entry(data), data)


def add_show(ip: Node, route: Node, shown: Shown) -> None:
    """Under `show ip`: ospf, bgp, rip, protocols; under `show ip route`: A.B.C.D."""
    route.add(Node("A.B.C.D", "Network to display information about or host", _entry, param="address", check=ipv4))
    ospf = ip.kw("ospf", "OSPF information")
    ospf.kw("neighbor", "Neighbor list", shown(show_ospf.neighbor_data, show_ospf.render_neighbors))
    interface = ospf.kw("interface", "Interface information",
                        shown(show_ospf.interface_data, show_ospf.render_interfaces))
    interface.kw("brief", "Brief summary of OSPF interface information",
                 shown(show_ospf.interface_data, show_ospf.render_interface_brief))
    ospf.kw("database", "Database summary", shown(show_ospf.database_data, show_ospf.render_database))
    bgp = ip.kw("bgp", "BGP information", shown(show_bgp.table_data, show_bgp.render_table))
    bgp.kw("summary", "Summary of BGP neighbor status", shown(show_bgp.summary_data, show_bgp.render_summary))
    ip.kw("rip", "IP RIP show commands").kw("database", "IP RIP database",
                                             shown(show_rip.database_data, show_rip.render_database))
    ip.kw("protocols", "IP routing protocol process parameters and statistics",
          lambda s, a: show_protocols.render_protocols(s.agent))


def _clear(command: str, daemon: str) -> Callable[[Any], str]:
    def run(agent: Any) -> str:
        if daemon in frr_daemons(agent):
            frr_command(agent, command)
        return ""
    return run


def add_clear(clear_ip: Node, confirm: Callable[[str, Callable[[], str]], Any]) -> None:
    """Under `clear ip`: `ospf process` (asks first, as IOS) and `bgp *`."""
    reset_ospf = _clear("clear ip ospf process", "ospfd")

    def ospf_process(s: "ExecSession", a: dict[str, Any]) -> Any:
        return confirm("Reset ALL OSPF processes? [no]: ", lambda: reset_ospf(s.agent))

    clear_ip.kw("ospf", "OSPF clear commands").kw("process", "Reset OSPF process", ospf_process)
    reset_bgp = _clear("clear ip bgp *", "bgpd")
    clear_ip.kw("bgp", "Clear BGP connections").kw("*", "Clear all peers", lambda s, a: reset_bgp(s.agent))
