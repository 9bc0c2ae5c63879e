"""SSH access to a router's CLI: a paramiko server inside the agent.

Engineers and automation reach real routers over SSH, so each router answers SSH the
way IOS does: a login banner, password authentication, an interactive shell with
character echo, `\\r\\n` line endings, `Hostname#` prompts, `?` help as soon as it is
typed, Ctrl-Z / Ctrl-C to leave configuration mode, and exec requests
(`ssh admin@hub show dmvpn`). That is what netmiko's cisco_ios driver expects (it sends
`terminal width 511` and `terminal length 0`, then waits for the `#` prompt and the
echo of each command).

Threads: one accept thread plus one per connection. When the server is started from the
agent's event loop, every CLI line runs on that loop (the agent's state is only touched
there); debug lines are sent from the loop to the channel. The host key is generated
once per node into its state directory (never committed).
"""

from __future__ import annotations

import asyncio
import codecs
import hmac
import logging
import os
import queue
import socket
import threading
from pathlib import Path
from typing import Any, Callable

import paramiko

from dmvpnlab.cli.exec import ExecSession, LineResult, PasswordPrompt
from dmvpnlab.config.secrets import login_users, verify
from dmvpnlab.cli.ssh_listen import listen

log = logging.getLogger(__name__)

HOST_KEY_FILE = "ssh_host_rsa_key"
DEFAULT_BANNER = ("\r\n{hostname}: dmvpnlab DMVPN router (emulated; not Cisco IOS).\r\n"
                  "Authorized lab users only.\r\n\r\n")
CTRL_C, CTRL_U, CTRL_Z, BACKSPACE, DELETE, ESC, TAB = "\x03", "\x15", "\x1a", "\x08", "\x7f", "\x1b", "\t"


def load_host_key(state_dir: Path) -> paramiko.PKey:
    """The node's RSA host key, created on first use (RSA: every SSH client accepts it)."""
    path = Path(state_dir) / HOST_KEY_FILE
    if path.exists():
        return paramiko.RSAKey.from_private_key_file(str(path))
    key = paramiko.RSAKey.generate(2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        key.write_private_key(handle)
    return key


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def to_wire(text: str) -> bytes:
    """What we send to the SSH client: `\\r\\n` lines in UTF-8. The session's output is
    printable already (cli/printable.py); anything that still is not UTF-8 goes as its
    backslash escape rather than ending the connection with an encoding error."""
    return crlf(text).encode("utf-8", "backslashreplace")


def from_wire(data: bytes) -> str:
    """What an SSH client sent, as text for the session. Bytes that are not UTF-8 travel as
    surrogate escapes, which the session shows as `\\xNN` (the byte IOS would have kept)."""
    return data.decode("utf-8", "surrogateescape")


class _Auth(paramiko.ServerInterface):
    def __init__(self, server: "SshServer") -> None:
        self.server = server
        # (channel, exec command or None for a shell), one per session request
        self.requests: "queue.Queue[tuple[paramiko.Channel, str | None]]" = queue.Queue()
        self.privileged = True  # the lab's management login, or a config user of privilege 15

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        """The lab's management login (what labs and tests use), or a `username` of the
        router's config with its secret (config/secrets.py says which types are checked)."""
        ok = hmac.compare_digest(username.encode(), self.server.username.encode()) and \
            hmac.compare_digest(password.encode(), self.server.password.encode())
        if ok:
            self.privileged = True
            return paramiko.AUTH_SUCCESSFUL
        user = login_users(self.server.agent.config).get(username)
        if user is None:
            return paramiko.AUTH_FAILED
        if user.secret.unverifiable:
            log.warning("ssh login of %s refused: %s", username, user.secret.unverifiable)
            return paramiko.AUTH_FAILED
        if not verify(user.secret, password):
            return paramiko.AUTH_FAILED
        self.privileged = user.privilege >= 15
        return paramiko.AUTH_SUCCESSFUL

    def get_banner(self) -> tuple[str, str]:
        return self.server.banner(), "en-US"

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_window_change_request(self, *args: Any) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.requests.put((channel, None))
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.requests.put((channel, from_wire(command)))
        return True


class SshServer:
    """Listens on (address, port); `port` is the real one (useful with port 0)."""

    def __init__(self, agent: Any, address: str, port: int, username: str, password: str,
                 host_key: paramiko.PKey, loop: asyncio.AbstractEventLoop | None = None,
                 sock: socket.socket | None = None) -> None:
        self.agent = agent
        self.username = username
        self.password = password
        self.host_key = host_key
        self.loop = loop
        self._stop = threading.Event()
        self.sock = sock if sock is not None else listen(address, port)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, name=f"ssh-{port}", daemon=True)

    def banner(self) -> str:
        return DEFAULT_BANNER.format(hostname=self.agent.config.hostname)

    def start(self) -> "SshServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()

    # --- running CLI lines where the agent lives --------------------------------------

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func` on the agent's loop; a coroutine it returns (handle_async: a ping)
        is awaited there, so the loop keeps forwarding while this thread waits."""
        if self.loop is None or not self.loop.is_running():
            result = func(*args)
            return asyncio.run(result) if asyncio.iscoroutine(result) else result

        async def run() -> Any:
            result = func(*args)
            return (await result) if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=600)

    # --- connections ------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), name=f"ssh-{peer[0]}", daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        try:
            transport.add_server_key(self.host_key)
            auth = _Auth(self)
            transport.start_server(server=auth)
            while transport.is_active() and not self._stop.is_set():
                try:
                    channel, command = auth.requests.get(timeout=0.5)
                except queue.Empty:
                    continue
                threading.Thread(target=self._channel, args=(channel, command, auth.privileged),
                                 daemon=True).start()
        except (paramiko.SSHException, EOFError, OSError) as error:
            log.info("ssh connection ended: %s", error)
        except Exception:
            log.exception("ssh connection failed")
        finally:
            transport.close()

    def _channel(self, channel: paramiko.Channel, command: str | None, privileged: bool = True) -> None:
        try:
            if command is not None:
                self._exec(channel, command, privileged)
            else:
                _Shell(self, channel, privileged).run()
        except (paramiko.SSHException, EOFError, OSError) as error:
            log.info("ssh channel ended: %s", error)
        except Exception:
            log.exception("ssh channel failed")

    def _exec(self, channel: paramiko.Channel, command: str, privileged: bool = True) -> None:
        session = self.call(ExecSession, self.agent)
        session.vty, session.privileged = True, privileged
        failed = False
        for line in command.split(";") if command.strip() else []:
            result: LineResult = self.call(session.handle_async, line.strip())
            channel.sendall(to_wire(result.output))
            failed = failed or result.error
        self.call(session.close)
        channel.send_exit_status(1 if failed else 0)
        channel.close()


class _Shell:
    """An interactive session: echo, line editing, `?`, prompts; IOS-like."""

    def __init__(self, server: SshServer, channel: paramiko.Channel, privileged: bool = True) -> None:
        self.server = server
        self.channel = channel
        self.session: ExecSession = server.call(ExecSession, server.agent, self._debug)
        self.session.vty, self.session.privileged = True, privileged
        self.buffer = ""

    def _send(self, text: str) -> None:
        self.channel.sendall(to_wire(text))

    def _debug(self, line: str) -> None:
        if self.channel.closed:
            raise ConnectionError("ssh channel closed")
        self._send(line + "\n")

    def _run_line(self, line: str) -> LineResult:
        return self.server.call(self.session.handle_async, line)

    def run(self) -> None:
        try:
            motd = self.server.agent.config.banner_motd
            self._send(("\n" + motd.strip("\n") + "\n" if motd else "") + "\n" + self.session.prompt)
            pending_cr = False
            # Incremental: a character whose UTF-8 bytes arrive in two reads is still one.
            decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
            while not self.channel.closed:
                data = self.channel.recv(4096)
                if not data:
                    break
                text = decoder.decode(data)
                i = 0
                while i < len(text):
                    ch = text[i]
                    i += 1
                    if ch == "\n" and pending_cr:
                        pending_cr = False
                        continue
                    pending_cr = ch == "\r"
                    if ch == ESC:  # arrow keys and friends: ignore the sequence
                        while i < len(text) and not text[i].isalpha() and text[i] != "~":
                            i += 1
                        i += 1
                        continue
                    if not self._key(ch):
                        return
        finally:
            self.server.call(self.session.close)
            self.channel.close()

    def _key(self, ch: str) -> bool:
        """Handle one typed character; False when the session is over."""
        if ch in ("\r", "\n"):
            line, self.buffer = self.buffer, ""
            self._send("\n")
            result = self._run_line(line)
            self._send(result.output)
            if result.closed:
                return False
            self._send(result.prompt)
        elif ch == "?":
            self._send("?\n")
            result = self._run_line(self.buffer + "?")
            self._send(result.output)
            self.buffer = result.retype if result.retype is not None else self.buffer
            self._send(result.prompt + self.buffer)
        elif ch in (BACKSPACE, DELETE):
            if self.buffer:
                self.buffer = self.buffer[:-1]
                self._send("\b \b")
        elif ch in (CTRL_C, CTRL_Z):
            self._send(("^C" if ch == CTRL_C else "^Z") + "\n")
            self.buffer = ""
            result = self._run_line(CTRL_Z)
            self._send(result.prompt)
        elif ch == CTRL_U:
            self._send("\b \b" * len(self.buffer))
            self.buffer = ""
        elif ch == TAB:
            pass
        elif ch.isprintable():
            self.buffer += ch
            if not isinstance(self.session.pending, PasswordPrompt):  # a password is not echoed
                self._send(ch)
        return True


def start_ssh_server(agent: Any, address: str = "0.0.0.0", port: int = 22, username: str = "admin",
                     password: str = "admin", state_dir: Path | None = None,
                     sock: socket.socket | None = None) -> SshServer:
    """Start the router's SSH server in a thread (call it from the agent's loop if it has one).

    `sock` is an already listening socket (the agent binds it at start-up and hands it
    over on the first connection, see ssh_listen.py)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = load_host_key(Path(state_dir or agent.state_dir))
    return SshServer(agent, address, port, username, password, key, loop, sock).start()
