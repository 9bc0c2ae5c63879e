"""The exec-mode command tree: every command a user can type at `Router#`, with its help.

This file only says which words exist and which renderer answers them; the renderers
(show_*.py, debug.py) do the work and the interpreter (exec.py) does the parsing.
An action takes (session, args) and returns text or an `Output` whose `data` is the
`| json` twin of the same answer.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from dmvpnlab.cli import (
    show_crypto,
    show_crypto_config,
    show_crypto_ipsec,
    show_crypto_session,
    show_dmvpn,
    show_eigrp,
    show_interfaces,
    show_nhrp,
    show_route,
    show_running,
)
from dmvpnlab.cli import show_acl, show_nat
from dmvpnlab.cli import ping_run, routing_tree, show_dhcp
from dmvpnlab.cli.tree import Action, Node, integer, ipv4
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname

if TYPE_CHECKING:
    from dmvpnlab.cli.exec import ExecSession


class Output(NamedTuple):
    text: str
    data: Any = None


class Confirm(NamedTuple):
    """An action that asks first (`Reset ALL OSPF processes? [no]: `): the session shows
    `question` as the prompt and runs `on_yes` only if the next line is yes."""

    question: str
    on_yes: Callable[[], str]


class CliError(Exception):
    """A command that parsed but cannot be done; shown as `% message`."""


def interface_name(text: str) -> str:
    try:
        return canonical_ios_ifname(text)
    except InterfaceNameError:
        raise ValueError(text) from None


# --- actions ---------------------------------------------------------------------------


def _shown(collect: Callable[[Any], Any], render: Callable[[Any], str]) -> Action:
    """A show action: one snapshot of the agent, rendered; the `| json` twin is that same
    snapshot, so the text and the JSON can never disagree."""
    def action(s: "ExecSession", a: dict[str, Any]) -> Output:
        data = collect(s.agent)
        return Output(render(data), data)
    return action


_dmvpn = _shown(show_dmvpn.dmvpn_data, show_dmvpn.render_dmvpn)
_dmvpn_detail = _shown(show_dmvpn.dmvpn_data, show_dmvpn.render_dmvpn_detail)
_traffic = _shown(show_nhrp.traffic_data, show_nhrp.render_traffic)
_crypto_map = _shown(show_crypto_ipsec.map_data, show_crypto_ipsec.render_map)


def _dmvpn_interface(detail: bool) -> Action:
    """`show dmvpn [detail] interface TunnelN`: that tunnel's block only."""
    render = show_dmvpn.render_dmvpn_detail if detail else show_dmvpn.render_dmvpn

    def action(s: "ExecSession", a: dict[str, Any]) -> Output:
        name = a["ifname"]
        if s.agent.config.interface(name) is None:
            raise CliError(f"Interface {name} does not exist")
        data = show_dmvpn.dmvpn_data(s.agent, name)
        return Output(render(data), data)
    return action


def _nhrp(detail: bool):
    def action(s: "ExecSession", a: dict[str, Any]) -> Output:
        address = a.get("address")
        data = show_nhrp.nhrp_data(s.agent, str(address) if address else None)
        return Output(show_nhrp.render_nhrp(data, detail), data)
    return action


def _nhs(detail: bool) -> Action:
    return _shown(show_nhrp.nhs_data, lambda data: show_nhrp.render_nhs(data, detail))


def _route(protocol: str | None) -> Action:
    return _shown(lambda agent: show_route.route_data(agent, protocol), show_route.render_routes)


def _interfaces(s: "ExecSession", a: dict[str, Any]) -> str:
    name = a.get("ifname")
    if name is not None and s.agent.config.interface(name) is None:
        raise CliError(f"Interface {name} does not exist")
    return show_interfaces.render_interfaces(s.agent, name)


def _isakmp(detail: bool) -> Action:
    return _shown(show_crypto.isakmp_data, show_crypto.render_isakmp_detail if detail else show_crypto.render_isakmp)


def _ipsec_sa(detail: bool):
    def action(s: "ExecSession", a: dict[str, Any]) -> Output:
        data = show_crypto_ipsec.ipsec_data(s.agent, a.get("peer"))
        return Output(show_crypto_ipsec.render_ipsec(data, detail), data)
    return action


def _session(detail: bool) -> Action:
    return _shown(show_crypto_session.session_data, lambda data: show_crypto_session.render_session(data, detail))


def _eigrp(render: Callable[[Any], str]) -> Action:
    return _shown(show_eigrp.eigrp_data, render)


def _eigrp_words(ip: Node) -> None:
    """`show ip eigrp neighbors|topology|interfaces|traffic` (cli/show_eigrp.py)."""
    eigrp = ip.kw("eigrp", "IP-EIGRP show commands")
    neighbors = eigrp.kw("neighbors", "IP-EIGRP neighbors", _eigrp(show_eigrp.render_neighbors))
    neighbors.kw("detail", "Show detailed peer information",
                 _eigrp(lambda d: show_eigrp.render_neighbors(d, detail=True)))
    topology = eigrp.kw("topology", "IP-EIGRP topology table", _eigrp(show_eigrp.render_topology))
    topology.kw("all-links", "Show all links in topology table",
                _eigrp(lambda d: show_eigrp.render_topology(d, all_links=True)))
    interfaces = eigrp.kw("interfaces", "IP-EIGRP interfaces", _eigrp(show_eigrp.render_interfaces))
    interfaces.kw("detail", "Show detailed peer information",
                  _eigrp(lambda d: show_eigrp.render_interfaces(d, detail=True)))
    eigrp.kw("traffic", "IP-EIGRP traffic statistics", _eigrp(show_eigrp.render_traffic))


def _clear_eigrp(s: "ExecSession", a: dict[str, Any]) -> str:
    return show_eigrp.clear_neighbors(s.agent, a.get("address"))


def _clear_nhrp(s: "ExecSession", a: dict[str, Any]) -> str:
    """`clear ip nhrp [A]`: every tunnel's cache (`interface TunnelN`: that one's)."""
    address: IPv4Address | None = a.get("address")
    name = a.get("ifname")
    if name is not None:
        if s.agent.config.interface(name) is None:
            raise CliError(f"Interface {name} does not exist")
        s.agent.clear_nhrp(address, name)
    else:
        s.agent.clear_nhrp(address)
    return ""


def _write(s: "ExecSession", a: dict[str, Any]) -> str:
    try:
        return show_running.write_memory(s.agent)
    except show_running.SaveError as error:
        raise CliError(str(error)) from None


def _debug(*categories: str):
    def action(s: "ExecSession", a: dict[str, Any]) -> str:
        return s.debug.enable(set(categories))
    return action


def _undebug(*categories: str):
    def action(s: "ExecSession", a: dict[str, Any]) -> str:
        return s.debug.disable(set(categories) if categories else None)
    return action


def _terminal(setting: str):
    def action(s: "ExecSession", a: dict[str, Any]) -> str:
        setattr(s, setting, a["value"])
        return ""
    return action


def _clock(s: "ExecSession", a: dict[str, Any]) -> str:
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"*{now.strftime('%H:%M:%S')}.{now.microsecond // 1000:03d} UTC {now.strftime('%a %b')} {now.day} {now.year}\n"


# --- the tree --------------------------------------------------------------------------


def _debug_words(parent: Node, action_factory) -> None:
    nhrp = parent.kw("nhrp", "NHRP protocol", action_factory("general"))
    nhrp.kw("packet", "NHRP activity", action_factory("packet"))
    nhrp.kw("cache", "NHRP cache operations", action_factory("cache"))
    nhrp.kw("extension", "NHRP extension processing", action_factory("extension"))
    crypto = parent.kw("crypto", "Cryptographic subsystem")
    crypto.kw("isakmp", "Crypto ISAKMP debug messages", action_factory("isakmp"))
    crypto.kw("ipsec", "Crypto IPSEC debug messages", action_factory("ipsec"))
    parent.kw("eigrp", "EIGRP Protocol information").kw("packets", "EIGRP packets",
                                                         action_factory("eigrp-packets"))
    dmvpn = parent.kw("dmvpn", "DMVPN debug information")
    all_ = dmvpn.kw("all", "Enable all level debugging", action_factory("all"))
    for level in ("all", "detail", "error", "packet"):
        all_.kw(level, f"Enable {level} level debugging", action_factory("all"))


def build_tree() -> Node:
    root = Node("")
    show = root.kw("show", "Show running system information")
    dmvpn = show.kw("dmvpn", "DMVPN information", _dmvpn)
    detail = dmvpn.kw("detail", "Detailed information of DMVPN sessions", _dmvpn_detail)
    for parent, is_detail in ((dmvpn, False), (detail, True)):
        parent.kw("interface", "Interface").add(Node("IFNAME", "Tunnel interface (Tunnel0, Tu1)",
                                                     _dmvpn_interface(is_detail), param="ifname",
                                                     check=interface_name, two_tokens=True))

    ip = show.kw("ip", "IP information")
    nhrp = ip.kw("nhrp", "NHRP information", _nhrp(False))
    nhrp.kw("detail", "Detailed NHRP cache information", _nhrp(True))
    nhs = nhrp.kw("nhs", "NHRP Next Hop Server information", _nhs(False))
    nhs.kw("detail", "Detailed NHS information", _nhs(True))
    nhrp.kw("traffic", "NHRP traffic statistics", _traffic)
    nhrp.kw("summary", "Summarize NHRP mappings", lambda s, a: show_nhrp.render_summary(s.agent))
    nhrp.add(Node("A.B.C.D", "IP address", _nhrp(False), param="address", check=ipv4))
    route = ip.kw("route", "IP routing table", _route(None))
    routing_tree.add_show(ip, route, _shown)
    for proto, help in (("nhrp", "NHRP routes"), ("static", "Static routes"), ("connected", "Connected networks"),
                        ("ospf", "Open Shortest Path First (OSPF)"), ("eigrp", "Enhanced Interior Gateway Routing Protocol (EIGRP)"),
                        ("bgp", "Border Gateway Protocol (BGP)"), ("rip", "Routing Information Protocol (RIP)")):
        route.kw(proto, help, _route(proto))
    _eigrp_words(ip)
    ip.kw("dhcp", "Show items in the DHCP database").kw(
        "binding", "DHCP address bindings", lambda s, a: show_dhcp.render_bindings(s.agent))
    show.kw("dhcp", "Dynamic Host Configuration Protocol status").kw(
        "lease", "Show DHCP Addresses leased from a server", lambda s, a: show_dhcp.render_lease(s.agent))
    ip.kw("interface", "IP interface status and configuration").kw(
        "brief", "Brief summary of IP status and configuration", lambda s, a: show_interfaces.render_brief(s.agent))

    interfaces = show.kw("interfaces", "Interface status and configuration", _interfaces)
    interfaces.add(Node("IFNAME", "Interface name (Tunnel0, GigabitEthernet0/0, Gi0/1, Loopback0)", _interfaces,
                        param="ifname", check=interface_name, two_tokens=True))
    show.kw("running-config", "Current operating configuration", lambda s, a: show_running.running_config(s.agent))
    show.kw("startup-config", "Contents of startup configuration", lambda s, a: show_running.startup_config(s.agent))
    show.kw("version", "System hardware and software status", lambda s, a: show_running.render_version(s.agent))
    show.kw("debugging", "State of each debugging option", lambda s, a: s.debug.show())
    show.kw("clock", "Display the system clock", _clock)
    crypto = show.kw("crypto", "Encryption module")
    isakmp_sa = crypto.kw("isakmp", "Show ISAKMP").kw("sa", "Show ISAKMP Security Associations", _isakmp(False))
    isakmp_sa.kw("detail", "Show ISAKMP SA Detail", _isakmp(True))
    crypto.kw("isakmp", "Show ISAKMP").kw("policy", "Show ISAKMP protection suite policy",
                                          lambda s, a: show_crypto_config.render_isakmp_policy(s.agent.config))
    ipsec = crypto.kw("ipsec", "Show IPSEC info")
    ipsec.kw("transform-set", "Crypto transform sets",
             lambda s, a: show_crypto_config.render_transform_sets(s.agent.config))
    ipsec.kw("profile", "Show ipsec profile information",
             lambda s, a: show_crypto_config.render_profiles(s.agent.config))
    ipsec_sa = ipsec.kw("sa", "IPSEC SA table", _ipsec_sa(False))
    ipsec_sa.kw("detail", "detailed error counters", _ipsec_sa(True))
    by_peer = ipsec_sa.kw("peer", "Show SAs for a specific peer").add(
        Node("A.B.C.D", "IPv4 address of the peer", _ipsec_sa(False), param="peer", check=ipv4))
    by_peer.children[-1].kw("detail", "detailed error counters", _ipsec_sa(True))
    session = crypto.kw("session", "Show crypto sessions (tunnels)", _session(False))
    session.kw("detail", "Show detailed information", _session(True))
    crypto.kw("map", "Crypto maps", _crypto_map)

    _debug_words(root.kw("debug", "Debugging functions (see also 'undebug')"), _debug)
    undebug = root.kw("undebug", "Disable debugging functions (see also 'debug')")
    undebug.kw("all", "Disable all debugging", _undebug())
    _debug_words(undebug, _undebug)
    no = root.kw("no", "Disable debugging functions")
    no_debug = no.kw("debug", "Disable debugging functions (see also 'undebug')")
    no_debug.kw("all", "Disable all debugging", _undebug())
    _debug_words(no_debug, _undebug)

    clear = root.kw("clear", "Reset functions")
    clear_ip = clear.kw("ip", "IP")
    clear_nhrp = clear_ip.kw("nhrp", "Clear NHRP cache", _clear_nhrp)
    clear_eigrp = clear_ip.kw("eigrp", "Clear IP-EIGRP").kw("neighbors", "Clear IP-EIGRP neighbors", _clear_eigrp)
    clear_eigrp.add(Node("A.B.C.D", "IP-EIGRP neighbor address", _clear_eigrp, param="address", check=ipv4))
    clear_nhrp.add(Node("A.B.C.D", "Protocol address", _clear_nhrp, param="address", check=ipv4))
    clear_nhrp.kw("interface", "Interface").add(Node("IFNAME", "Tunnel interface (Tunnel0, Tu1)", _clear_nhrp,
                                                     param="ifname", check=interface_name, two_tokens=True))
    routing_tree.add_clear(clear.kw("ip", "IP"), Confirm)
    show_acl.add_show(show, ip, clear.kw("ip", "IP"))
    show_nat.add_show(ip)
    clear_crypto = clear.kw("crypto", "Clear crypto")
    clear_session = clear_crypto.kw("session", "Clear crypto sessions (tunnels)",
                                    lambda s, a: show_crypto.clear_session(s.agent, None))
    clear_session.kw("remote", "Remote endpoint").add(
        Node("A.B.C.D", "IP address of remote endpoint",
             lambda s, a: show_crypto.clear_session(s.agent, a["peer"]), param="peer", check=ipv4))
    clear_sa = clear_crypto.kw("sa", "Clear all crypto SAs", lambda s, a: show_crypto.clear_sa(s.agent, None))
    clear_sa.kw("peer", "Clear all crypto SAs for a given crypto peer").add(
        Node("A.B.C.D", "IP address of crypto peer",
             lambda s, a: show_crypto.clear_sa(s.agent, a["peer"]), param="peer", check=ipv4))

    for word, help, action in (("ping", "Send echo messages", ping_run.ping_action),
                               ("traceroute", "Trace route to destination", ping_run.traceroute_action)):
        target = Node("A.B.C.D", f"{help.split()[0]} destination address", action, param="target", check=ipv4)
        target.add(Node("LINE", "source, repeat, size, df-bit, timeout" if word == "ping" else "source, numeric",
                        action, param="options", rest=True))
        root.kw(word, help).add(target)

    configure = root.kw("configure", "Enter configuration mode", lambda s, a: s.enter_config())
    configure.kw("terminal", "Configure from the terminal", lambda s, a: s.enter_config())
    write = root.kw("write", "Write running configuration to memory, network, or terminal", _write)
    write.kw("memory", "Write to NV memory", _write)
    write.kw("terminal", "Write to terminal", lambda s, a: show_running.running_config(s.agent))
    root.kw("copy", "Copy from one file to another").kw("running-config", "Copy from current system configuration").kw(
        "startup-config", "Copy to startup configuration", _write)

    terminal = root.kw("terminal", "Set terminal line parameters")
    terminal.kw("length", "Set number of lines on a screen").add(
        Node("<0-512>", "Number of lines on screen (0 for no pausing)", _terminal("length"), param="value",
             check=integer(0, 512)))
    terminal.kw("width", "Set width of the display terminal").add(
        Node("<0-512>", "Number of characters on a screen line", _terminal("width"), param="value",
             check=integer(0, 512)))
    terminal.kw("monitor", "Copy debug output to the current terminal line", lambda s, a: "")
    terminal.kw("no", "Negate a command or set its defaults").kw("monitor", "Copy debug output to the current terminal line",
                                                                  lambda s, a: "")

    root.kw("enable", "Turn on privileged commands", lambda s, a: s.set_privileged(True))
    root.kw("disable", "Turn off privileged commands", lambda s, a: s.set_privileged(False))
    root.kw("end", "Exit configuration mode", lambda s, a: "")
    for word, help in (("exit", "Exit from the EXEC"), ("logout", "Exit from the EXEC"), ("quit", "Exit from the EXEC")):
        root.kw(word, help, lambda s, a: s.close_session())
    return root


PIPE_OPTIONS = (
    ("begin", "Begin with the line that matches"),
    ("count", "Count number of lines which match regexp"),
    ("exclude", "Exclude lines that match"),
    ("include", "Include lines that match"),
    ("json", "Structured output (dmvpnlab): the same data as JSON"),
    ("section", "Filter a section of output"),
)


def build_pipe_tree() -> Node:
    root = Node("")
    for word, help in PIPE_OPTIONS:
        node = root.kw(word, help, (lambda s, a: "") if word in ("count", "json") else None)
        node.add(Node("LINE", "Regular Expression", lambda s, a: "", param="regex", rest=True))
    return root
