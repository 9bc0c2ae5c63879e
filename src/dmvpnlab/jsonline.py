"""JSON lines over a unix stream socket: the one wire format of every local control channel.

The agent's control socket, the agent zygote and the detached lab controller all speak
it, and `dmvpnlab cli`, the lab, scenarios and benchmarks are its clients. A request is
one JSON object with an `"op"` on one line; each request gets one answer object on one
line, `{"ok": true, ...}` or `{"ok": false, "error": "..."}`. A server may send other
lines before the answer (the CLI's `{"debug": ...}` lines). A bad request is answered,
never fatal: the connection stays usable, so no client can take a server down.

Clients use `request` (one request on a fresh connection) or a `Channel` (a session);
servers find the operation of a line with `parse_request` (the agent's asyncio server)
or let `serve_connection` answer a blocking connection (the zygote, the controller).
Standard library only, so the agent, the CLI and the lab may all import it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

Message = dict[str, Any]
Operation = TypeVar("Operation")
ECHO_LIMIT = 200  # how much of an unreadable line a "bad request" answer quotes
RECV_SIZE = 65536


def encode(message: Mapping[str, Any]) -> bytes:
    """One line; values JSON has no type for (addresses, paths) travel as their text."""
    return json.dumps(message, default=str).encode() + b"\n"


def error(text: str) -> Message:
    return {"ok": False, "error": text}


def failure(exc: BaseException) -> Message:
    """The answer to a request whose operation raised: the exception's type and text."""
    return error(f"{type(exc).__name__}: {exc}")


class ConnectionClosed(ConnectionError):
    """The other side closed the connection before a whole line arrived."""


class BadRequest(ValueError):
    """A line that names no operation of this server; `answer` is what to reply."""

    def __init__(self, answer: Message) -> None:
        super().__init__(answer["error"])
        self.answer = answer


class Channel:
    """A connected stream socket that sends and receives whole JSON lines (blocking).

    `peer` names the other side in errors ("the router closed the connection").
    """

    def __init__(self, sock: socket.socket, peer: str = "the peer") -> None:
        self.sock = sock
        self.peer = peer
        self._buffer = b""

    @classmethod
    def connect(cls, path: Path | str, timeout: float | None, peer: str | None = None) -> "Channel":
        """Connect to the unix socket `path`; OSError (no such socket, refused...) as is."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(str(path))
        except BaseException:
            sock.close()
            raise
        return cls(sock, peer or str(path))

    def send(self, message: Mapping[str, Any]) -> None:
        self.sock.sendall(encode(message))

    def read_line(self) -> bytes | None:
        """The next line without its newline; None once the other side has closed."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def receive(self) -> Message:
        """The next message; ConnectionClosed if the other side closed first."""
        line = self.read_line()
        if line is None:
            raise ConnectionClosed(f"{self.peer} closed the connection")
        return json.loads(line)

    def request(self, message: Mapping[str, Any]) -> Message:
        """Send one request and return the next line that comes back."""
        self.send(message)
        return self.receive()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(path: Path | str, payload: Mapping[str, Any], timeout: float = 5.0) -> Message:
    """One request on a fresh connection to `path`, its answer (whatever its "ok" says).

    For scripts, tests and the lab; OSError if the server is not there or goes away.
    """
    with Channel.connect(path, timeout) as channel:
        return channel.request(payload)


def parse_request(line: bytes, operations: Mapping[str, Operation]) -> tuple[Operation, Message]:
    """The request on `line` and the operation that answers it; BadRequest otherwise."""
    try:
        message = json.loads(line)
        op = message["op"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nesting too deep
        raise BadRequest(error(f"bad request: {line[:ECHO_LIMIT]!r}")) from None
    if not isinstance(op, str) or op not in operations:
        raise BadRequest(error(f"unknown op {op!r}"))
    return operations[op], message


def serve_connection(conn: socket.socket, operations: Mapping[str, Callable[[Message], Message]],
                     more: Callable[[], bool] = lambda: True) -> None:
    """Answer the requests on a blocking connection until the client closes it or, after
    an answer, `more()` says to stop. An operation that raises is answered with the error
    and the next request is read as usual."""
    channel = Channel(conn, "the client")
    while (line := channel.read_line()) is not None:
        try:
            operation, message = parse_request(line, operations)
            answer = operation(message)
        except BadRequest as bad:
            answer = bad.answer
        except Exception as exc:  # a request never takes the server down
            answer = failure(exc)
        channel.send(answer)
        if not more():
            return
