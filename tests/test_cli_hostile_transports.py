"""Hostile input through the CLI's transports: the agent's control socket (JSON lines, the
real ControlServer with the fake agent, no lab), SSH (paramiko, 127.0.0.1) and the
`dmvpnlab cli` client printing whatever a router sends."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import socket
import socketserver
import threading
import time
from pathlib import Path

import pytest

from test_cli_fakes import lab
from test_cli_transports import _client, _read_until
from dmvpnlab.agent.control import LINE_LIMIT, ControlServer
from dmvpnlab.cli.client import CliClient
from dmvpnlab.cli.commands import one_shot, show, terminal_text
from dmvpnlab.cli.control_ops import OPERATIONS
from dmvpnlab.cli.ssh import from_wire, start_ssh_server, to_wire
from dmvpnlab.config.parser import load_config


@pytest.fixture
def control(tmp_path: Path):
    """spoke1's control server on a loop in a thread, with a startup file to write."""
    agent = lab(3)["spoke1"]
    agent.config_path = tmp_path / "startup-config"
    sock = tmp_path / "control.sock"
    loop = asyncio.new_event_loop()
    server = ControlServer(agent, sock, OPERATIONS)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    yield agent, sock
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


class _Raw:
    """A control connection that sends bytes exactly as given and reads answer lines."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.buffer = b""

    def ask(self, raw: bytes) -> dict:
        self.sock.sendall(raw)
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the agent closed the connection"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        assert line.isascii()
        return json.loads(line)

    def close(self) -> None:
        self.sock.close()


def test_issue_lone_surrogate_over_the_control_socket_then_show_and_write_in_a_new_session(control) -> None:
    agent, sock = control
    raw = _Raw(sock)
    for line in (b'"conf t"', b'"interface Tunnel0"', b'"description x\\ud800y"', b'"end"'):
        answer = raw.ask(b'{"op": "cli", "line": ' + line + b"}\n")
        assert answer["ok"] and not answer["error"], answer
    raw.close()
    with CliClient(sock) as client:  # a NEW session
        for command in ("show running-config", "write terminal"):
            answer = client.send(command)
            assert not answer["error"] and " description x\\ud800y\n" in answer["output"], answer["output"]
        assert client.send("write memory")["output"] == "Building configuration...\n[OK]\n"
    saved = agent.config_path.read_text(encoding="utf-8")
    assert " description x\\ud800y\n" in saved and load_config(saved) == agent.config


def test_a_line_past_the_limit_is_answered_and_the_connection_goes_on(control) -> None:
    _agent, sock = control
    raw = _Raw(sock)
    huge = b'{"op": "cli", "line": "' + b"x" * (3 * LINE_LIMIT) + b'"}\n'
    assert raw.ask(huge) == {"ok": False, "error": f"bad request: longer than {LINE_LIMIT} bytes"}
    assert raw.ask(b"[" * 100_000 + b"\n")["error"].startswith("bad request")  # RecursionError in json
    assert raw.ask(b'{"op": "cli", "line": "\xff"}\n')["error"].startswith("bad request")
    assert "Type:Spoke" in raw.ask(b'{"op": "cli", "line": "show dmvpn"}\n')["output"]
    raw.close()


def test_a_json_newline_inside_one_cli_line_stays_in_that_line(control) -> None:
    agent, sock = control
    with CliClient(sock) as client:
        for line in ("conf t", "interface Tunnel0", "description x\n tunnel key 99", "end"):
            assert not client.send(line)["error"]
        assert client.send("write memory")["output"].endswith("[OK]\n")
    assert agent.config.tunnels[0].tunnel_key == 12345
    assert "tunnel key 99" not in agent.config_path.read_text().replace(" description x\\x0a tunnel key 99", "")


def test_closed_connections_leave_no_session_behind(control) -> None:
    """Fuzz finding (slow full garbage collections): a session's debug writer held its
    connection's writer, the key of the weak table, so no session was ever freed."""
    from dmvpnlab.cli import control_ops

    _agent, sock = control
    before = len(control_ops._sessions)
    for _ in range(5):
        with CliClient(sock) as client:
            client.send("configure terminal")
    deadline = time.monotonic() + 5
    while len(control_ops._sessions) > before and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
    assert len(control_ops._sessions) <= before


def test_one_shot_prints_argv_bytes_and_escapes_without_raising(control, capsys) -> None:
    agent, sock = control
    # Python hands undecodable argv bytes over as surrogate escapes.
    code = one_shot(sock, ["conf t", "interface Tunnel0", "description \udcff\x1b[2J", "end",
                           "show running-config | include description", "show bogus \udcff"])
    assert code == 1
    out = capsys.readouterr().out
    assert " description \\xff\\x1b[2J\n" in out
    assert "spoke1#show bogus \\xff\n" in out  # the echo of the refused command, escaped here too
    assert agent.config.tunnels[0].description == "\\xff\\x1b[2J"


def test_the_client_shows_what_a_hostile_server_sends_as_escapes(tmp_path: Path, capsys) -> None:
    """The client does not rely on the router being ours: lone surrogates, ESC sequences."""
    class Evil(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while self.rfile.readline():
                self.wfile.write(b'{"debug": "\\udcff\\u001b]0;owned\\u0007"}\n'
                                 b'{"ok": true, "output": "x\\ud800\\u001b[2J\\n", "prompt": "r\\ud800#", '
                                 b'"error": false, "closed": false}\n')

    path = tmp_path / "evil.sock"
    with socketserver.UnixStreamServer(str(path), Evil) as server:
        threading.Thread(target=server.handle_request, daemon=True).start()
        assert one_shot(path, ["show x"]) == 0
    out = capsys.readouterr().out
    assert out == "\\xff\\x1b]0;owned\\x07\n\\xff\\x1b]0;owned\\x07\nx\\ud800\\x1b[2J\n"


def test_terminal_text_fits_any_terminal_encoding() -> None:
    ascii_terminal = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    show("caf\u00e9 \ud800 \x1b[2J\n", ascii_terminal)
    assert ascii_terminal.buffer.getvalue() == b"caf\\xe9 \\ud800 \\x1b[2J\n"
    assert terminal_text("ok\tline\n", ascii_terminal) == "ok\tline\n"


# --- SSH -----------------------------------------------------------------------------


@pytest.fixture
def ssh(tmp_path: Path):
    agent = lab(3)["hub"]
    agent.config_path = tmp_path / "startup-config"
    server = start_ssh_server(agent, "127.0.0.1", 0, "admin", "s3cret", state_dir=tmp_path)
    yield agent, server
    server.stop()


def test_ssh_exec_with_bytes_that_are_not_utf8(ssh) -> None:
    agent, server = ssh
    client = _client(server.port)
    try:
        _stdin, stdout, _stderr = client.exec_command(
            b"conf t; interface Tunnel0; description caf\xe9 \xff\x1b[2J; end; show running-config | include desc")
        text = stdout.read()
        assert stdout.channel.recv_exit_status() == 0
        assert b" description caf\\xe9 \\xff\\x1b[2J\r\n" in text
        assert agent.config.tunnels[0].description == "caf\\xe9 \\xff\\x1b[2J"
    finally:
        client.close()


def test_ssh_shell_joins_a_character_split_across_reads(ssh) -> None:
    agent, server = ssh
    client = _client(server.port)
    try:
        channel = client.invoke_shell()
        _read_until(channel, "hub#")
        for data in (b"conf t\r", b"interface Tunnel0\r", b"description caf\xc3", b"\xa9 \xff\x01ok\r", b"end\r"):
            channel.send(data)
            time.sleep(0.05)
        _read_until(channel, "hub#")
        assert agent.config.tunnels[0].description == "caf\u00e9 ok"  # the bad byte and ^A are no keys
        channel.send(b"write memory\r")
        assert "[OK]" in _read_until(channel, "hub#")
        channel.send(b"exit\r")
    finally:
        client.close()
    assert load_config(agent.config_path.read_text(encoding="utf-8")) == agent.config


def test_ssh_wire_encoding_never_raises() -> None:
    """Whatever text reaches the SSH writer goes out (escaped) instead of ending the channel."""
    assert to_wire("a\ud800\n") == b"a\\ud800\r\n"
    assert from_wire(b"caf\xc3\xa9 \xff") == "caf\u00e9 \udcff"
