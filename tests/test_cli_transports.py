"""The CLI over its transports: the agent's control socket (dmvpnlab cli, run_cli) and SSH.

Both run in-process against the fake agent: the control server on an asyncio loop in a
thread (as in the agent), the SSH server on 127.0.0.1 with an ephemeral port, logged in
with paramiko's client and, where installed, netmiko's cisco_ios driver.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import paramiko
import pytest

from test_cli_fakes import lab
from dmvpnlab.agent.control import ControlServer
from dmvpnlab.cli.client import CliClient, NodeNotFound, resolve, run_cli
from dmvpnlab.cli.commands import one_shot
from dmvpnlab.cli.control_ops import OPERATIONS
from dmvpnlab.cli.ssh import start_ssh_server


@pytest.fixture
def control(tmp_path: Path):
    """A control server for spoke1 of a Phase 3 lab, on a loop in a thread."""
    agent = lab(3)["spoke1"]
    state = tmp_path / "lab" / "spoke1"
    state.mkdir(parents=True)
    loop = asyncio.new_event_loop()
    server = ControlServer(agent, state / "control.sock", OPERATIONS)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    yield agent, state, loop
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_resolve_finds_a_node_by_name_lab_and_path(control, tmp_path: Path) -> None:
    _agent, state, _loop = control
    sock = state / "control.sock"
    assert resolve("spoke1", root=tmp_path) == sock
    assert resolve("lab/spoke1", root=tmp_path) == sock
    assert resolve(state) == sock and resolve(sock) == sock
    with pytest.raises(NodeNotFound):
        resolve("spoke9", root=tmp_path)


def test_cli_operation_answers_with_output_and_prompt(control) -> None:
    _agent, state, _loop = control
    with CliClient(state / "control.sock") as client:
        first = client.send("")
        assert first["prompt"] == "spoke1#" and first["output"] == ""
        answer = client.send("sh dm")
        assert "Type:Spoke, NHRP Peers:2, " in answer["output"] and not answer["error"]
        assert client.send("conf t")["prompt"] == "spoke1(config)#"  # the session keeps its mode
        assert client.send("end")["prompt"] == "spoke1#"
        assert client.send("sh foo")["error"]
    assert "10.0.0.3/32 via 10.0.0.3" in run_cli(state, "show ip nhrp")


def test_debug_lines_stream_to_the_connection_that_asked(control) -> None:
    agent, state, loop = control
    seen: list[str] = []
    with CliClient(state / "control.sock", on_debug=seen.append) as client:
        client.send("debug nhrp cache")
        assert len(agent.debug_sinks) == 1
        loop.call_soon_threadsafe(agent.debug_sinks[0].write, "NHRP: Adding cache entry for 192.168.2.0/24")
        time.sleep(0.1)
        client.send("show debugging")
        assert seen and seen[0].endswith("NHRP: Adding cache entry for 192.168.2.0/24")
    time.sleep(0.1)
    sink = agent.debug_sinks[0]

    async def write_after_disconnect() -> None:
        sink.write("NHRP: late line")

    with pytest.raises(ConnectionError):  # so the agent drops the sink of a closed connection
        asyncio.run_coroutine_threadsafe(write_after_disconnect(), loop).result(5)


def test_one_shot_exit_code_is_non_zero_when_a_command_fails(control, capsys) -> None:
    _agent, state, _loop = control
    assert one_shot(state / "control.sock", ["show dmvpn", "show ip nhrp summary"]) == 0
    assert "IP NHRP cache 3 entries" in capsys.readouterr().out
    assert one_shot(state / "control.sock", ["show dmvpn", "show bogus"]) == 1
    out = capsys.readouterr().out
    assert "spoke1#show bogus\n" in out and "% Invalid input detected at '^' marker." in out


# --- SSH -----------------------------------------------------------------------------


@pytest.fixture
def ssh(tmp_path: Path):
    agent = lab(3)["hub"]
    server = start_ssh_server(agent, "127.0.0.1", 0, "admin", "s3cret", state_dir=tmp_path)
    yield agent, server, tmp_path
    server.stop()


def _read_until(channel: paramiko.Channel, marker: str, timeout: float = 5.0) -> str:
    data = ""
    deadline = time.monotonic() + timeout
    while not data.endswith(marker):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} in {data!r}")
        if channel.recv_ready():
            data += channel.recv(65536).decode()
        else:
            time.sleep(0.01)
    return data


def _client(port: int, password: str = "s3cret") -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username="admin", password=password, look_for_keys=False,
                   allow_agent=False, timeout=5)
    return client


def test_ssh_shell_logs_in_runs_show_dmvpn_and_echoes(ssh) -> None:
    _agent, server, state_dir = ssh
    assert (state_dir / "ssh_host_rsa_key").exists()
    client = _client(server.port)
    try:
        banner = client.get_transport().get_banner()
        assert banner and b"dmvpnlab" in banner
        channel = client.invoke_shell()
        _read_until(channel, "hub#")
        channel.send("terminal length 0\r")
        assert _read_until(channel, "hub#") == "terminal length 0\r\nhub#"
        channel.send("show dmvpn\r")
        output = _read_until(channel, "hub#")
        assert output.startswith("show dmvpn\r\nLegend: Attrb")
        assert "\r\n     1 100.64.1.1             10.0.0.2    UP" in output
        assert "\n" not in output.replace("\r\n", "")
        channel.send("sh ip nh?")
        assert "nhrp" in _read_until(channel, "hub#sh ip nh")
        channel.send("\x15exit\r")
        time.sleep(0.2)
    finally:
        client.close()


def test_ssh_exec_request_runs_one_command(ssh) -> None:
    _agent, server, _ = ssh
    client = _client(server.port)
    try:
        _stdin, stdout, _stderr = client.exec_command("show ip nhrp")
        text = stdout.read().decode()
        assert "10.0.0.2/32 via 10.0.0.2\r\n" in text
        assert stdout.channel.recv_exit_status() == 0
        _stdin, stdout, _stderr = client.exec_command("show nonsense")
        stdout.read()
        assert stdout.channel.recv_exit_status() == 1
    finally:
        client.close()


def test_ssh_wrong_password_is_refused(ssh) -> None:
    _agent, server, _ = ssh
    with pytest.raises(paramiko.AuthenticationException):
        _client(server.port, password="wrong")


def test_netmiko_cisco_ios_driver_works_against_the_router(ssh) -> None:
    netmiko = pytest.importorskip("netmiko")
    _agent, server, _ = ssh
    conn = netmiko.ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=server.port,
                                  username="admin", password="s3cret", fast_cli=False, timeout=10)
    try:
        assert conn.find_prompt() == "hub#"
        output = conn.send_command("show dmvpn")
        assert "Type:Hub, NHRP Peers:2," in output
        config = conn.send_config_set(["interface Tunnel0", "ip nhrp holdtime 600"])
        assert "Invalid" not in config
        assert "ip nhrp holdtime 600" in conn.send_command("show running-config | include holdtime")
    finally:
        conn.disconnect()
