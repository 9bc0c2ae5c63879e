"""A wired lab (what a CML import gives) comes up as native labs do, and goes away whole.

Three iosv routers on an unmanaged switch, built in Python (tests/wired_samples.py): the
lab gives the routers no address, their agents apply their whole configs. Checked: both
spokes register with the hub, an IOS `ping` from Spoke1's Loopback0 to Spoke2's
Loopback0 succeeds in the router CLI, every router link and tunnel has its capture
`<node>-<intf>.pcapng` and the echo crossed the hub's link, node names work in any case,
and (the leak guard, autouse) `down` leaves nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from ntc_templates.parse import parse_output
from scapy.all import GRE, ICMP, IP, rdpcap  # type: ignore[attr-defined]

from dmvpnlab.lab.wired.agents import agent_knows_interface_map
from tests.wired_samples import three_routers

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    from dmvpnlab.lab.lab import Lab

    instance = Lab.up(three_routers(wired=agent_knows_interface_map()), quiet=True)
    try:
        yield instance
    finally:
        instance.down()


def test_every_spoke_registered_with_the_hub(lab):
    out = lab.cli("hub", "show dmvpn")
    assert "198.51.100.2" in out and "198.51.100.3" in out, out
    for spoke in ("Spoke1", "spoke2"):
        nhs = lab.cli(spoke, "show ip nhrp nhs")
        assert re.search(r"^10\.0\.0\.1\s+RE?\b", nhs, re.M) and "R" in nhs.split("10.0.0.1")[1][:12], nhs


def test_ios_ping_loopback_to_loopback_through_the_hub(lab):
    out = lab.cli("Spoke1", "ping 192.168.3.1 source Loopback0 repeat 5")
    parsed = parse_output(platform="cisco_ios", command="ping", data=out)
    assert parsed and int(parsed[0]["success_pct"]) >= 80, out
    lab.flush_captures()
    hub_side = rdpcap(str(lab.captures.interface_path("Hub", lab.topology.router("Hub").interfaces[0].linux_name)))
    assert any(p.haslayer(GRE) for p in hub_side), "no GRE on the hub's link"


def test_captures_are_named_after_node_and_interface(lab):
    names = {p.name for p in lab.capture_files()}
    for router in lab.topology.routers:
        assert f"{router.name}-{router.interfaces[0].linux_name}.pcapng" in names, names
        assert f"{router.name}-Tunnel0.pcapng" in names, names
    tunnel = rdpcap(str(lab.captures.interface_path("Spoke2", "Tunnel0")))
    echoes = [p for p in tunnel if p.haslayer(ICMP) and p[IP].src == "192.168.2.1" and p[IP].dst == "192.168.3.1"]
    assert echoes, "the echo from Spoke1's loopback never reached Spoke2's Tunnel0"


def test_node_table_and_status_rows(lab):
    rows = {row["name"]: row for row in lab.table_rows()}
    assert rows["Hub"]["role"] == "hub" and rows["Hub"]["nbma"] == "198.51.100.1"
    assert rows["Spoke2"]["tunnel"] == "Tunnel0 10.0.0.3/24"
    assert rows["Spoke1"]["lan"] == "192.168.2.1/24"
    assert rows["SW1"]["role"] == "switch"
    assert rows["Hub"]["mgmt"] != "-"
    assert lab.exec("SPOKE1", ["ip", "-4", "addr", "show", "dev", "lo"]).stdout.count("192.168.2.1") == 1


def _lab_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dmvpnlab.command", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_status_exec_and_cli_take_the_labels_in_any_case(lab):
    status = json.loads(_lab_command("status", "--json").stdout)
    mine = next(entry for entry in status["labs"] if entry["lab"] == lab.name)
    assert {row["name"] for row in mine["table"]} >= {"Hub", "Spoke1", "Spoke2", "SW1"}
    done = _lab_command("exec", "spoke2", "--", "ip", "-4", "-o", "addr", "show", "dev", "lo")
    assert done.returncode == 0 and "192.168.3.1/24" in done.stdout, done.stderr
    done = _lab_command("cli", "HUB", "-c", "show ip interface brief")
    assert done.returncode == 0 and "Tunnel0" in done.stdout, done.stdout + done.stderr


def test_ssh_from_this_machine_to_a_router_by_its_label(lab):
    netmiko = pytest.importorskip("netmiko")
    device = netmiko.ConnectHandler(device_type="cisco_ios", host=lab.management_address("spoke1"),
                                    username="admin", password="admin", secret="admin", fast_cli=False,
                                    conn_timeout=10)
    try:
        device.enable()
        assert device.find_prompt() == "Spoke1#"
        assert "Tunnel0" in device.send_command("show ip interface brief")
    finally:
        device.disconnect()
