"""Logging in as the router's config says: `username ... secret`, `enable secret`, `banner motd`.

A lab's IOS config names its users; over SSH they log in with their own secret beside the
lab's management login (which labs and tests keep using). A privilege-15 user lands at
`hub#`; others at `hub>`, and `enable` asks for the `enable secret` (not echoed; three
tries, then `% Bad secrets`). The secrets are checked as IOS stores them: type 0 text,
type 7, MD5-crypt (5), PBKDF2 (8) and scrypt (9); types that cannot be checked refuse.
The motd banner is shown when a shell starts, and on `dmvpnlab cli NODE`'s first line.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import paramiko
import pytest
from test_cli_fakes import lab
from test_cli_transports import _read_until

from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.ssh import start_ssh_server
from dmvpnlab.config.model import Username
from dmvpnlab.config.secrets import Secret, cisco_hash, decode_type7, login_users, md5_crypt, parse_secret, verify

# hashcat's published example hashes (modes 9200 and 9300) of the password "hashcat"
TYPE8 = "$8$TnGX/fE4KGHOVU$pEhnEvxrvaynpi8j4f.EMHr6M.FzU8xnZnBr/tJdFWk"
TYPE9 = "$9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6"


def test_every_checkable_secret_type() -> None:
    assert verify(Secret(0, "cisco"), "cisco") and not verify(Secret(0, "cisco"), "Cisco")
    assert decode_type7("0822455D0A16") == "cisco" and verify(Secret(7, "0822455D0A16"), "cisco")
    type5 = md5_crypt(b"cisco", b"abcd")
    assert verify(Secret(5, type5), "cisco") and not verify(Secret(5, type5), "cisco1")
    assert cisco_hash(8, b"hashcat", "TnGX/fE4KGHOVU") == TYPE8 and verify(Secret(8, TYPE8), "hashcat")
    assert cisco_hash(9, b"hashcat", "2MJBozw/9R3UsU") == TYPE9 and verify(Secret(9, TYPE9), "hashcat")
    assert not verify(Secret(9, TYPE9), "hashcat ")
    assert Secret(6, "x").unverifiable and Secret(4, "x").unverifiable and not verify(Secret(6, "x"), "x")
    for bad in ("", "zz", "0822455D0A1", "$1$", "$1$a$b$c"):
        assert not verify(Secret(7, bad), "cisco") and not verify(Secret(5, bad), "cisco")


def test_md5_crypt_agrees_with_the_system_crypt() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    for password, salt in ((b"cisco", b"abcd"), (b"a much longer password, 1234567890!", b"saltsalt"), (b"", b"x")):
        assert md5_crypt(password, salt) == crypt.crypt(password.decode(), f"$1${salt.decode()}$")


def test_username_lines() -> None:
    from dmvpnlab.config.model import RouterConfig
    cfg = RouterConfig(usernames=[Username("admin2", "privilege 15 secret 9 " + TYPE9),
                                  Username("ops", "password 7 0822455D0A16"), Username("nobody", "nopassword")])
    users = login_users(cfg)
    assert set(users) == {"admin2", "ops"}
    assert users["admin2"].privilege == 15 and users["admin2"].secret == Secret(9, TYPE9)
    assert users["ops"].privilege == 1 and users["ops"].secret == Secret(7, "0822455D0A16")
    assert parse_secret(["my", "pass"]) == Secret(0, "my pass")


def test_enable_asks_for_the_enable_secret() -> None:
    agent = lab(3)["hub"]
    agent.config.enable_secret = "5 " + md5_crypt(b"letmein", b"salt")
    session = ExecSession(agent)
    session.privileged, session.vty = False, True
    assert session.prompt == "hub>"
    assert "needs privileged mode" in session.handle("configure terminal").output
    assert session.handle("enable").prompt == "Password: "
    assert session.handle("wrong").prompt == "Password: "
    assert session.handle("letmein").prompt == "hub#"
    session.handle("disable")
    session.handle("enable")
    session.handle("a")
    session.handle("b")
    result = session.handle("c")
    assert result.output == "% Bad secrets\n\n" and result.prompt == "hub>"
    agent.config.enable_secret = None
    assert session.handle("enable").output == "% No password set\n"


@pytest.fixture
def ssh(tmp_path: Path):
    agent = lab(3)["hub"]
    agent.config.usernames = [Username("netops", "privilege 15 secret 9 " + TYPE9),
                              Username("viewer", "password 7 0822455D0A16")]
    agent.config.enable_secret = "8 " + TYPE8
    agent.config.banner_motd = "\n*** Lab router: authorised users only ***\n"
    server = start_ssh_server(agent, "127.0.0.1", 0, "admin", "s3cret", state_dir=tmp_path)
    yield agent, server
    server.stop()


def _login(port: int, username: str, password: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username=username, password=password, look_for_keys=False,
                   allow_agent=False, timeout=5)
    return client


def test_config_users_log_in_over_ssh_beside_the_management_login(ssh) -> None:
    _agent, server = ssh
    for username, password, prompt in (("admin", "s3cret", "hub#"), ("netops", "hashcat", "hub#"),
                                       ("viewer", "cisco", "hub>")):
        client = _login(server.port, username, password)
        try:
            channel = client.invoke_shell()
            text = _read_until(channel, prompt)
            assert text == "\r\n*** Lab router: authorised users only ***\r\n\r\n" + prompt
            if prompt == "hub>":
                channel.send("enable\r")
                _read_until(channel, "Password: ")
                channel.send("hashcat\r")
                assert _read_until(channel, "hub#") == "\r\nhub#"  # the password was not echoed
            channel.send("exit\r")
            time.sleep(0.1)
        finally:
            client.close()
    for username, password in (("netops", "wrong"), ("viewer", "hashcat"), ("ghost", "cisco")):
        with pytest.raises(paramiko.AuthenticationException):
            _login(server.port, username, password)


def test_the_control_socket_gives_the_motd_with_a_sessions_first_answer(tmp_path: Path) -> None:
    import asyncio
    import threading

    from dmvpnlab.agent.control import ControlServer
    from dmvpnlab.cli.client import CliClient
    from dmvpnlab.cli.control_ops import OPERATIONS

    agent = lab(3)["hub"]
    agent.config.banner_motd = "*** Lab router ***"
    loop = asyncio.new_event_loop()
    server = ControlServer(agent, tmp_path / "control.sock", OPERATIONS)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
        with CliClient(tmp_path / "control.sock") as client:
            first = client.send("")
            assert first["banner"] == "*** Lab router ***\n" and first["prompt"] == "hub#"
            assert "banner" not in client.send("show clock")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
