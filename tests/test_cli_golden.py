"""Golden outputs of every show command, hub and spokes, Phases 1/2/3, plus layout checks.

The goldens under tests/golden/cli were produced by the renderers from real NHRP state
(test_cli_fakes) and reviewed against real IOS 15 output; a change in layout shows up
here as a diff. `DMVPNLAB_UPDATE_GOLDEN=1 pytest tests/test_cli_golden.py` rewrites them
after a deliberate change. The layout tests below do not depend on the goldens: header
lines must be those of captured IOS output, byte for byte, and rows must sit in its
columns. That captured output is a file kept outside the repository (REFERENCE); where a
machine does not have it, those tests are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from test_cli_fakes import lab
from dmvpnlab.cli.exec import ExecSession

GOLDEN = Path(__file__).parent / "golden" / "cli"
REFERENCE = Path("/work/shared/reference/ios-show-outputs.md")

COMMANDS = [
    "show dmvpn", "show dmvpn detail", "show ip nhrp", "show ip nhrp detail", "show ip nhrp nhs",
    "show ip nhrp nhs detail", "show ip nhrp traffic", "show ip nhrp summary", "show ip route",
    "show ip route nhrp", "show ip route static", "show ip route connected", "show interfaces Tunnel0",
    "show ip interface brief", "show running-config", "show crypto isakmp sa", "show crypto ipsec sa",
    "show crypto session", "show dmvpn | json", "show ip nhrp | json", "show ip route | json",
]

_LABS: dict[int, dict] = {}


def agents(phase: int) -> dict:
    if phase not in _LABS:
        _LABS[phase] = lab(phase)
    return _LABS[phase]


def run(phase: int, node: str, command: str) -> str:
    result = ExecSession(agents(phase)[node]).handle(command)
    assert not result.error, result.output
    return result.output


@pytest.mark.parametrize("phase", [1, 2, 3])
@pytest.mark.parametrize("node", ["hub", "spoke1"])
@pytest.mark.parametrize("command", COMMANDS)
def test_show_output_matches_golden(phase: int, node: str, command: str) -> None:
    name = f"phase{phase}-{node}-{re.sub(r'[^a-z0-9]+', '_', command).strip('_')}.txt"
    path = GOLDEN / name
    output = run(phase, node, command)
    if os.environ.get("DMVPNLAB_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(output)
    assert path.exists(), f"missing golden {path}: run with DMVPNLAB_UPDATE_GOLDEN=1"
    assert output == path.read_text()


def _reference_block(title: str) -> list[str]:
    text = REFERENCE.read_text()
    start = text.index(f"## {title}")
    block = text[start:].split("```", 2)[1]
    return block.strip("\n").splitlines()


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not on this machine")
def test_show_dmvpn_legend_and_table_headers_are_the_references_byte_for_byte() -> None:
    reference = _reference_block("show dmvpn (spoke with hub and one shortcut peer)")
    ours = run(3, "spoke1", "show dmvpn").splitlines()
    legend_end = reference.index("=" * 74) + 1
    assert ours[:legend_end] == reference[:legend_end]
    for header in (" # Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb",
                   " ----- --------------- --------------- ----- -------- -----"):
        assert header in reference and header in ours
    assert "Interface: Tunnel0, IPv4 NHRP Details " in ours
    assert "Type:Spoke, NHRP Peers:2, " in ours


def _columns(line: str) -> list[tuple[int, int]]:
    """(start, end) of each dash run of a rule line."""
    return [(m.start(), m.end()) for m in re.finditer(r"-+", line)]


def test_show_dmvpn_rows_end_in_the_reference_columns() -> None:
    """Reference rows: count, NBMA and the rest right-aligned to the rule; NBMA left-aligned."""
    reference_rows = [
        "     1 10.200.0.3           10.253.0.1    UP 03:19:46     S",
        "     2 172.29.134.1       172.30.72.72    UP 00:29:40   DT2",
        "                          172.30.72.72    UP 00:29:40   DT1",
    ]
    rule = " ----- --------------- --------------- ----- -------- -----"
    cols = _columns(rule)
    lines = run(3, "spoke1", "show dmvpn").splitlines()
    ours = lines[lines.index(rule) + 1:]
    ours = [l for l in ours if l.strip()]
    assert len(ours) == 3  # hub (S), the shortcut peer's /32 (DT2) and its prefix (DT1)
    for row in reference_rows + ours:
        fields = [row[s:e] for s, e in cols]
        assert all(f == f.strip() or f.startswith(" ") for f in fields[2:]), row  # right-aligned
        assert len(row) == cols[-1][1], row
    assert ours[0].split()[-1] == "S" and ours[1].split()[-1] == "DT2" and ours[2].split()[-1] == "DT1"
    assert ours[2][:26].strip() == ""  # the second row of a peer has no count and no NBMA
    assert ours[1].split()[0] == "2"


def test_show_dmvpn_detail_rows_match_the_reference_row_layout() -> None:
    reference_row = "    1 2.2.2.2            172.16.123.2    UP 00:00:17     D    172.16.123.2/32"
    ours = [l for l in run(2, "hub", "show dmvpn detail").splitlines() if l.startswith("    1 ")]
    assert ours, "no peer rows"
    for row in ours:
        assert len(row) == len(reference_row)
        assert row[:6] == reference_row[:6]
        assert row.index("UP") + 2 == reference_row.index("UP") + 2


def test_hub_shows_one_dynamic_row_per_registered_spoke() -> None:
    rows = [l.split() for l in run(2, "hub", "show dmvpn").splitlines() if l.startswith("     1 ")]
    assert [(r[1], r[2], r[3], r[5]) for r in rows] == [
        ("100.64.1.1", "10.0.0.2", "UP", "D"), ("100.64.2.1", "10.0.0.3", "UP", "D")]
    assert "Type:Hub, NHRP Peers:2, " in run(2, "hub", "show dmvpn")


def test_show_ip_nhrp_entries_have_the_ios_four_line_shape() -> None:
    text = run(3, "spoke1", "show ip nhrp")
    assert "192.168.2.0/24 via 10.0.0.3\n   Tunnel0 created 00:00:42, expire 00:04:18\n" \
           "   Type: dynamic, Flags: router rib\n   NBMA address: 100.64.2.1 \n" in text  # an H route: no nho
    assert "10.0.0.1/32 via 10.0.0.1\n   Tunnel0 created 00:05:42, never expire\n" in text
    hub = run(2, "hub", "show ip nhrp detail")
    assert "   Type: dynamic, Flags: unique registered used nhop\n" in hub
    assert "   Preference: 255\n" in hub


def test_show_ip_route_shows_the_shortcut_as_H_with_distance_250_and_classful_headers() -> None:
    text = run(3, "spoke1", "show ip route")
    assert "H     192.168.2.0/24 [250/1] via 10.0.0.3, 00:00:42, Tunnel0\n" in text
    assert "Gateway of last resort is 100.64.1.2 to network 0.0.0.0\n" in text
    assert "S*    0.0.0.0/0 [1/0] via 100.64.1.2\n" in text
    assert "      10.0.0.0/8 is variably subnetted, 2 subnets, 2 masks\n" \
           "C        10.0.0.0/24 is directly connected, Tunnel0\n" \
           "L        10.0.0.2/32 is directly connected, Tunnel0\n" in text
    only_h = run(3, "spoke1", "show ip route nhrp")
    assert [l[0] for l in only_h.split("\n\n", 2)[2].splitlines() if l.strip()] == ["H"]


def test_show_ip_route_codes_start_like_the_reference() -> None:
    text = run(1, "hub", "show ip route").splitlines()
    assert text[0] == "Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP"
    assert text[1] == "       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area"
    assert "       H - NHRP, G - NHRP registered, g - NHRP registration summary" in text


def test_show_interfaces_tunnel_reports_mode_source_key_and_counters() -> None:
    text = run(1, "spoke1", "show interfaces Tunnel0")
    assert text.startswith("Tunnel0 is up, line protocol is up \n  Hardware is Tunnel\n")
    assert "  Tunnel source 100.64.1.1 (GigabitEthernet0/0), destination 203.0.113.1\n" in text
    assert "  Tunnel protocol/transport GRE/IP\n" in text
    assert "    Key 0x3039, sequencing disabled\n" in text
    assert "     118 packets input, 9912 bytes, 0 no buffer\n" in text
    hub = run(3, "hub", "show interfaces Tunnel0")
    assert "  Tunnel protocol/transport multi-GRE/IP\n" in hub


def test_show_ip_nhrp_traffic_counts_what_the_engine_sent_and_received() -> None:
    text = run(3, "hub", "show ip nhrp traffic")
    engine = agents(3)["hub"].tunnel.engine
    assert text.splitlines()[0] == "Tunnel0: Max-send limit:10000Pkts/10Sec, Usage:0%"
    assert f"   Sent: Total {sum(engine.sent.values())}\n" in text
    assert f"{engine.sent['Traffic Indication']} Traffic Indication" in text
    assert engine.sent["Traffic Indication"] > 0


def test_show_nhrp_nhs_legend_and_row() -> None:
    text = run(2, "spoke1", "show ip nhrp nhs")
    assert text == ("Legend: E=Expecting replies, R=Responding, W=Waiting, D=Dynamic\nTunnel0:\n"
                    "10.0.0.1  RE NBMA Address: 203.0.113.1 priority = 0 cluster = 0\n")


def test_show_version_is_honest_and_ios_shaped() -> None:
    text = run(1, "hub", "show version")
    assert text.startswith("dmvpnlab DMVPN router agent, Version 0.1.0\n")
    assert "hub uptime is 5 minutes\n" in text
    assert "Cisco IOS Software" not in text


def test_json_twin_has_the_same_peers_as_the_table() -> None:
    import json
    data = json.loads(run(3, "spoke1", "show dmvpn | json"))
    table = run(3, "spoke1", "show dmvpn")
    for peer in data["interfaces"][0]["peers"]:
        assert peer["nbma"] in table
        for row in peer["rows"]:
            assert f"{row['state']:>5} {row['updn']:>8} {row['attributes']:>5}" in table
