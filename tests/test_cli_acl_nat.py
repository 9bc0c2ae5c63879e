"""`show access-lists`, `show ip access-lists` and `show ip nat translations` as IOS prints them.

Counts come from the agent's nftables counters and the translations from conntrack; the
tests hand the renderers those numbers through a stand-in for the agent's NAT part and
check the IOS text line by line and that ntc-templates reads the fields a user's
automation reads (sequence, action, protocol, addresses, ports, matches).
"""

from __future__ import annotations

from types import SimpleNamespace

from ntc_templates.parse import parse_output
from test_agent_filter_rules import E, lab_config

from dmvpnlab.agent.conntrack import parse_line
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.show_acl import acl_data, render_acls
from dmvpnlab.cli.show_nat import nat_data, render_nat
from dmvpnlab.config.model import AccessList

TCP = ("ipv4     2 tcp      6 431999 ESTABLISHED src=192.168.1.10 dst=203.0.113.9 sport=40000 dport=80 "
       "src=203.0.113.9 dst=198.51.100.2 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2")
ICMP = ("ipv4     2 icmp     1 29 src=203.0.113.9 dst=198.51.100.10 type=8 code=0 id=7 "
        "src=192.168.1.10 dst=203.0.113.9 type=0 code=0 id=7 mark=0 zone=0 use=2")


class FakeNat:
    def __init__(self, translations: list | None = None) -> None:
        self.cleared = 0
        self._translations = translations

    def counters(self) -> dict[tuple[str, int], int]:
        return {("101", 10): 5, ("101", 20): 1, ("1", 20): 3}

    def translations(self) -> list | None:
        return self._translations

    def clear_counters(self) -> None:
        self.cleared += 1


def agent(translations: list | None = None) -> SimpleNamespace:
    cfg = lab_config()
    cfg.access_lists.append(AccessList("PERMIT_LAN", "extended", [
        E("permit", "192.168.1.0/24", "tcp", "0.0.0.0/0", destination_ports=(80, 80), sequence=15),
        E("permit", "10.0.0.0/8", "udp", "0.0.0.0/0", source_ports=(1024, 65535))], numbered=False))
    return SimpleNamespace(config=cfg, nat=FakeNat(translations))


ACLS = """Standard IP access list 1
    10 deny   192.168.1.99
    20 permit 192.168.1.0, wildcard bits 0.0.0.255 (3 matches)
Extended IP access list 101
    10 permit gre any host 198.51.100.2 (5 matches)
    20 permit udp any any eq isakmp (1 match)
    30 permit esp any any
    40 permit tcp any any established
    50 permit icmp any any echo-reply
    60 deny ip any any log
Extended IP access list PERMIT_LAN
    15 permit tcp 192.168.1.0 0.0.0.255 any eq www
    20 permit udp 10.0.0.0 0.255.255.255 gt 1023 any
"""


def test_show_access_lists_is_ios_text_with_match_counts() -> None:
    text = render_acls(acl_data(agent()))
    assert text == ACLS
    assert render_acls(acl_data(agent(), "1")) == ACLS[:ACLS.index("Extended")]


def test_ntc_templates_read_it() -> None:
    rows = [r for r in parse_output(platform="cisco_ios", command="show ip access-lists", data=ACLS) if r["line_num"]]
    gre = rows[2]
    assert (gre["acl_name"], gre["line_num"], gre["action"], gre["protocol"], gre["src_any"], gre["dst_host"],
            gre["matches"]) == ("101", "10", "permit", "gre", "any", "198.51.100.2", "5")
    assert (rows[3]["dst_port_match"], rows[3]["dst_port"], rows[3]["matches"]) == ("eq", "isakmp", "1")
    assert (rows[1]["src_network"], rows[1]["src_wildcard"], rows[1]["matches"]) == ("192.168.1.0", "0.0.0.255", "3")
    assert rows[-1]["src_port_match"] == "gt" and rows[-1]["src_port"] == "1023"
    short = parse_output(platform="cisco_ios", command="show access-lists", data=ACLS)
    assert [(r["name"], r["sn"]) for r in short][:3] == [("1", "10"), ("1", "20"), ("101", "10")]


def test_show_ip_nat_translations_from_conntrack() -> None:
    data = nat_data(agent([parse_line(TCP), parse_line(ICMP)]))
    text = render_nat(data)
    assert text == (
        "Pro Inside global      Inside local       Outside local      Outside global\n"
        "--- 198.51.100.10      192.168.1.10       ---                ---\n"
        "tcp 198.51.100.2:40000 192.168.1.10:40000 203.0.113.9:80     203.0.113.9:80\n"
        "icmp 198.51.100.10:7    192.168.1.10:7     203.0.113.9:7      203.0.113.9:7\n")
    rows = parse_output(platform="cisco_ios", command="show ip nat translations", data=text)
    assert (rows[1]["protocol"], rows[1]["inside_global_ip"], rows[1]["inside_global_port"],
            rows[1]["inside_local_ip"], rows[1]["outside_global_ip"]) == \
        ("tcp", "198.51.100.2", "40000", "192.168.1.10", "203.0.113.9")
    assert rows[0]["inside_global_ip"] == "198.51.100.10" and rows[0]["outside_local_ip"] == "---"


def test_without_conntrack_the_command_says_so() -> None:
    text = render_nat(nat_data(agent(None)))
    assert text.endswith("% dynamic translations not shown: this kernel has no /proc/net/nf_conntrack\n")


def test_the_commands_in_the_exec_tree() -> None:
    a = agent([])
    a.config.hostname = "R1"
    session = ExecSession(a)
    assert session.handle("show access-lists").output == ACLS
    assert session.handle("sh ip access-lists 101").output.startswith("Extended IP access list 101\n")
    assert session.handle("show ip access-lists 7").output == "% Access list 7 not found\n"
    assert session.handle("show ip nat translations").output.startswith("Pro Inside global")
    assert '"inside_local": "192.168.1.10"' in session.handle("show ip nat translations | json").output
    session.handle("clear ip access-list counters")
    assert a.nat.cleared == 1
