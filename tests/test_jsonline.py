"""The JSON-line protocol shared by the agent's control socket, the zygote and the lab controller."""

from __future__ import annotations

import socket
import threading
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dmvpnlab import jsonline


def _serve(operations, more=lambda: True):
    """A blocking server on one end of a socket pair, in a thread; the client's Channel."""
    server_end, client_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client_end.settimeout(5)
    thread = threading.Thread(target=lambda: (jsonline.serve_connection(server_end, operations, more),
                                              server_end.close()), daemon=True)
    thread.start()
    return jsonline.Channel(client_end, "the test server"), thread


def test_each_request_gets_one_answer_and_bad_ones_leave_the_connection_usable():
    def explode(request):
        raise FileNotFoundError("no such namespace")

    channel, thread = _serve({"echo": lambda r: {"ok": True, "said": r["text"]}, "explode": explode})
    with channel:
        assert channel.request({"op": "echo", "text": "hi"}) == {"ok": True, "said": "hi"}
        channel.sock.sendall(b"not json\n")
        assert channel.receive() == {"ok": False, "error": "bad request: b'not json'"}
        assert channel.request({"text": "no op"})["error"].startswith("bad request")
        assert channel.request({"op": "nope"}) == {"ok": False, "error": "unknown op 'nope'"}
        assert channel.request({"op": "explode"}) == {"ok": False, "error": "FileNotFoundError: no such namespace"}
        assert channel.request({"op": "echo", "text": "still here"})["said"] == "still here"
    thread.join(5)
    assert not thread.is_alive()


def test_the_server_stops_after_the_answer_once_more_says_so():
    channel, thread = _serve({"echo": lambda r: {"ok": True}}, more=lambda: False)
    with channel:
        assert channel.request({"op": "echo"}) == {"ok": True}
        thread.join(5)
        with pytest.raises(jsonline.ConnectionClosed, match="the test server closed the connection"):
            channel.receive()


def test_values_json_does_not_know_travel_as_text_and_lines_split_across_reads_are_joined():
    assert jsonline.encode({"address": IPv4Address("10.0.0.1"), "path": Path("/x")}) == \
        b'{"address": "10.0.0.1", "path": "/x"}\n'
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with jsonline.Channel(right) as channel, left:
        line = jsonline.encode({"ok": True, "n": 1}) + jsonline.encode({"ok": True, "n": 2})
        left.sendall(line[:5])
        left.sendall(line[5:])
        assert [channel.receive()["n"], channel.receive()["n"]] == [1, 2]


def test_request_opens_a_connection_for_one_answer(tmp_path: Path):
    path = tmp_path / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def accept_one() -> None:
        conn, _ = listener.accept()
        with conn:
            jsonline.serve_connection(conn, {"ping": lambda r: {"ok": True, "pong": 1}})

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    try:
        assert jsonline.request(path, {"op": "ping"}) == {"ok": True, "pong": 1}
    finally:
        thread.join(5)
        listener.close()
    with pytest.raises(OSError):
        jsonline.request(tmp_path / "nobody.sock", {"op": "ping"})
