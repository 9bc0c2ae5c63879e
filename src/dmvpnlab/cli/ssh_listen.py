"""The SSH port of a router, bound at start-up, served from the first connection on.

A lab of a hundred routers logs in to a few of them. Binding the port at start-up
reports a clash at once, but importing paramiko and loading (or generating) the host
key costs each agent about 0.1 s of CPU and several MB: that waits until someone
actually connects. Until then the listening socket is just watched by the agent's loop.
`DeferredSshServer` has the shape of the agent's SSH server factory (agent/hooks.py);
the composition root (dmvpnlab.router) plugs it in.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from dmvpnlab.agent.hooks import SshOptions

BACKLOG = 16


def listen(address: str, port: int) -> socket.socket:
    """A listening TCP socket; OSError (address in use...) is the caller's start-up error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


class DeferredSshServer:
    """Holds the bound port; starts the real server (cli/ssh.py) when the first client knocks."""

    def __init__(self, agent: Any, options: SshOptions, state_dir: Path | None = None) -> None:
        self.agent, self.address = agent, options.address
        self.username, self.password = options.username, options.password
        self.state_dir = state_dir
        self.sock = listen(options.address, options.port)
        self.port = self.sock.getsockname()[1]
        self.server: Any = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._first_connection)

    def _first_connection(self) -> None:
        from dmvpnlab.cli.ssh import start_ssh_server

        self._loop.remove_reader(self.sock.fileno())
        self.server = start_ssh_server(self.agent, self.address, self.port, self.username, self.password,
                                       self.state_dir, sock=self.sock)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            return
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
