"""The router CLI from the machine that runs the lab: SSH over the management network
(paramiko, netmiko's cisco_ios driver), `dmvpnlab status --json`, and the Mininet prompt.

Everything here runs in the test process, i.e. in the root namespace, as a user's SSH
client or automation would: the only way in is the management network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from crossings import wait_for

pytestmark = pytest.mark.dmvpn_topology("topologies/phase3.yaml")

REPO = Path(__file__).resolve().parents[1]
HUB_NBMA, SPOKE1_NBMA, SPOKE2_NBMA = "203.0.113.1", "100.64.1.1", "100.64.2.1"
HUB_TUNNEL, SPOKE1_TUNNEL, SPOKE2_TUNNEL = "10.0.0.1", "10.0.0.2", "10.0.0.3"
# ` # Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb` rows of `show dmvpn`
PEER_ROW = re.compile(r"^\s+(\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def peers(show_dmvpn: str) -> set[tuple[str, str, str, str]]:
    """(NBMA, tunnel address, state, attributes) of every peer row."""
    return {(m[2], m[3], m[4], m[6]) for line in show_dmvpn.splitlines() if (m := PEER_ROW.match(line))}


def ssh(lab, node: str, password: str = "admin") -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(lab.management_address(node), port=22, username="admin", password=password,
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10)
    return client


def ssh_exec(lab, node: str, command: str) -> str:
    client = ssh(lab, node)
    try:
        _, stdout, _ = client.exec_command(command, timeout=20)
        return stdout.read().decode()
    finally:
        client.close()


def test_hub_over_ssh_shows_both_spokes_up_as_dynamic_peers(lab):
    text = ssh_exec(lab, "hub", "show dmvpn")
    assert "Type:Hub, NHRP Peers:2," in text, text
    assert peers(text) == {(SPOKE1_NBMA, SPOKE1_TUNNEL, "UP", "D"), (SPOKE2_NBMA, SPOKE2_TUNNEL, "UP", "D")}, text


def test_spoke_over_ssh_shows_the_hub_as_its_static_nhs(lab):
    text = ssh_exec(lab, "spoke1", "show dmvpn")
    assert "Type:Spoke, NHRP Peers:1," in text, text
    assert peers(text) == {(HUB_NBMA, HUB_TUNNEL, "UP", "S")}, text


def test_ping_over_ssh_is_answered_while_the_agent_forwards(lab):
    """Exec `ping` over SSH: the hub's echoes cross its own user-space Tunnel0, so the
    agent's loop must keep forwarding while the SSH line waits for the answer."""
    text = ssh_exec(lab, "hub", f"ping {SPOKE1_TUNNEL} repeat 5").replace("\r\n", "\n")
    assert f"Sending 5, 100-byte ICMP Echos to {SPOKE1_TUNNEL}, timeout is 2 seconds:" in text, text
    assert "Success rate is 100 percent (5/5)" in text, text


def test_interactive_ssh_shell_gives_the_banner_and_the_ios_prompt(lab):
    client = ssh(lab, "spoke2")
    try:
        assert "spoke2" in (client.get_transport().get_banner() or b"").decode()
        shell = client.invoke_shell(width=200)
        shell.settimeout(10)
        received = ""

        def read_until(marker: str) -> bool:
            nonlocal received

            def more() -> bool:
                nonlocal received
                if shell.recv_ready():
                    received += shell.recv(65536).decode(errors="replace")
                return marker in received
            return wait_for(more, timeout=10, step=0.05)

        assert read_until("spoke2#"), received
        shell.send("terminal length 0\rshow ip nhrp nhs\r")
        assert read_until("show ip nhrp nhs"), received
        assert read_until(f"RE NBMA Address: {HUB_NBMA}"), received  # the NHS: R(esponding), E(xpecting)
        shell.send("exit\r")
        assert wait_for(lambda: shell.exit_status_ready() or shell.closed, timeout=5), "exit ends the session"
    finally:
        client.close()


def test_wrong_password_is_refused(lab):
    with pytest.raises(paramiko.AuthenticationException):
        ssh(lab, "hub", password="not-admin").close()


def test_netmiko_cisco_ios_driver_reads_show_dmvpn(lab):
    netmiko = pytest.importorskip("netmiko")
    device = netmiko.ConnectHandler(device_type="cisco_ios", host=lab.management_address("hub"),
                                    username="admin", password="admin", secret="admin", fast_cli=False,
                                    conn_timeout=10)
    try:
        device.enable()
        assert device.find_prompt() == "hub#"
        text = device.send_command("show dmvpn")
        assert {(SPOKE1_NBMA, SPOKE1_TUNNEL, "UP", "D"), (SPOKE2_NBMA, SPOKE2_TUNNEL, "UP", "D")} <= peers(text), text
    finally:
        device.disconnect()


def test_management_addresses_are_in_status_json_and_node_info(lab):
    done = subprocess.run([sys.executable, "-m", "dmvpnlab.lab.commands", "status", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [mine] = [entry for entry in json.loads(done.stdout)["labs"] if entry["lab"] == lab.name]
    expected = {name: lab.management_address(name) for name in ("hub", "spoke1", "spoke2")}
    assert mine["management"]["routers"] == expected
    assert mine["management"]["this_machine"] == lab.topology.management.root_address.ip.exploded
    nodes = {n["name"]: n for n in mine["nodes"]}
    assert {name: nodes[name]["management"] for name in expected} == expected
    rows = {row["name"]: row for row in mine["table"]}
    assert rows["spoke2"]["mgmt"] == expected["spoke2"]


def test_management_network_carries_no_lab_traffic(lab):
    this_machine = str(lab.topology.management.root_address.ip)
    assert not lab.ping("h1", this_machine, timeout=1).ok, "a LAN host must not reach this machine"
    spoke2 = lab.management_address("spoke2")
    isolated = lab.exec("spoke1", ["ping", "-n", "-c", "1", "-W", "1", "-I", lab.management_address("spoke1"), spoke2])
    assert not isolated.ok, "routers must not reach each other over the management bridge"
    assert lab.topology.management.network.exploded not in lab.exec("hub", ["ip", "route", "show"]).stdout
    assert this_machine not in ssh_exec(lab, "hub", "show ip route")


def test_host_key_survives_an_agent_restart(lab):
    def fingerprint() -> bytes:
        client = ssh(lab, "spoke1")
        try:
            return client.get_transport().get_remote_server_key().get_fingerprint()
        finally:
            client.close()

    before = fingerprint()
    assert (lab.records.directory / "spoke1" / "ssh_host_rsa_key").exists()
    lab.restart_agent("spoke1")
    assert fingerprint() == before
    assert wait_for(lambda: (HUB_NBMA, HUB_TUNNEL, "UP", "S") in peers(ssh_exec(lab, "spoke1", "show dmvpn")),
                    timeout=15)


def test_mininet_prompt_runs_router_lines_on_the_router_and_the_rest_in_linux(lab, tmp_path):
    import logging
    from io import StringIO

    from mininet.log import lg

    from dmvpnlab.lab.prompt import LabPrompt, router_state_dirs

    script = tmp_path / "prompt.txt"
    script.write_text("spoke1 show dmvpn\nhub sh ip nhrp bogus\nspoke1 ip -br addr show dev Tunnel0\n")
    out, linux = StringIO(), StringIO()
    handler = logging.StreamHandler(linux)  # Mininet prints a node's command output through its logger
    lg.addHandler(handler)
    try:
        with open("/dev/null") as null:
            LabPrompt(lab.net, router_state_dirs(lab), stdin=null, stdout=out, script=str(script))
    finally:
        lg.removeHandler(handler)
    text = out.getvalue()
    assert (HUB_NBMA, HUB_TUNNEL, "UP", "S") in peers(text), text
    assert "% Invalid input detected at '^' marker." in text
    assert f"{SPOKE1_TUNNEL}/24" in linux.getvalue(), "Linux commands still run in the node"
    assert f"{SPOKE1_TUNNEL}/24" not in text


def test_foreground_up_prompt_answers_router_lines_and_removes_the_root_link(tmp_path):
    """`dmvpnlab up` as a user types it: the banner names the router CLI, `spoke1 show dmvpn` works."""
    from dmvpnlab.lab.management import root_ifname

    done = subprocess.run([sys.executable, "-m", "dmvpnlab.lab.commands", "up", "topologies/phase1.yaml",
                           "--no-captures"], cwd=REPO, input="spoke1 show dmvpn\n",
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "spoke1 show dmvpn" in done.stdout and "Management" in done.stdout
    assert (HUB_NBMA, HUB_TUNNEL, "UP", "S") in peers(done.stdout), done.stdout
    assert not Path("/sys/class/net", root_ifname("phase1")).exists()
