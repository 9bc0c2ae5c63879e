"""The user-space delay line: packets leave `delay` ± `jitter` later, on the agent's loop."""

from __future__ import annotations

import asyncio
import random
import time

from dmvpnlab.tunnel.delay_line import DelayLine, impair, unwrapped
from dmvpnlab.tunnel.transport import GreTransport


class FakeSocket:
    """What GreTransport needs of a RawGreSocket, recording when each packet left."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.sendto = self._sendto

    def _sendto(self, data: bytes, address: object) -> int:
        self.sent.append((time.monotonic(), data))
        return len(data)

    def send(self, nbma: object, gre: bytes) -> bool:
        self.sendto(gre, (str(nbma), 0))
        return True

    def fileno(self) -> int:
        return -1


def run(coro):
    return asyncio.run(coro)


def test_an_idle_line_is_the_socket_itself():
    line = DelayLine(0, 0)
    sendto = FakeSocket().sendto
    assert line.wrap(sendto) is sendto


def test_packets_leave_after_the_delay_and_in_order_without_jitter():
    async def scenario():
        sock = FakeSocket()
        line = DelayLine(40, 0, asyncio.get_running_loop())
        send = line.wrap(sock.sendto)
        started = time.monotonic()
        for n in range(5):
            send(bytes([n]), ("192.0.2.1", 0))
        assert sock.sent == []  # held, not sent
        await asyncio.sleep(0.15)
        return started, sock, line

    started, sock, line = run(scenario())
    assert [d for _, d in sock.sent] == [bytes([n]) for n in range(5)]
    assert all(t - started >= 0.039 for t, _ in sock.sent)
    assert line.counters["delayed"] == line.counters["sent"] == 5


def test_jitter_spreads_delays_within_the_bounds():
    line = DelayLine(50, 10, asyncio.new_event_loop(), rng=random.Random(7))
    samples = [line.seconds() for _ in range(2000)]
    assert 0.040 <= min(samples) < 0.042 and 0.058 < max(samples) <= 0.060
    assert abs(sum(samples) / len(samples) - 0.050) < 0.001
    line.loop.close()


def test_a_send_that_fails_later_is_counted_not_raised():
    async def scenario():
        def unreachable(data, address):
            raise OSError(101, "Network is unreachable")

        line = DelayLine(1, 0, asyncio.get_running_loop())
        line.wrap(unreachable)(b"x", ("192.0.2.1", 0))
        await asyncio.sleep(0.05)
        return line

    assert run(scenario()).counters["send failed"] == 1


def test_impair_covers_both_send_paths_of_plain_gre_and_undoes():
    async def scenario():
        sock = FakeSocket()
        own = sock.sendto
        transport = GreTransport(key=None, sock=sock)  # type: ignore[arg-type]
        impair(transport, DelayLine(30, 0, asyncio.get_running_loop()))
        transport.send(0x0800, b"\x45" + b"\0" * 19, "192.0.2.1")  # NHRP/slow path
        transport.send_gre(b"fast", ("192.0.2.1", 0))  # the TAP fast path
        assert sock.sent == []
        await asyncio.sleep(0.1)
        assert len(sock.sent) == 2
        impair(transport, DelayLine(0, 0))
        assert unwrapped(sock.sendto) is own and sock.sendto is own and transport.send_gre is own

    run(scenario())
