"""DHCP client and server state machines against each other, on a fake clock."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.dhcp.client import DhcpClient, LeaseBound, LeaseLost
from dmvpnlab.dhcp.codec import ACK, NAK, OFFER, decode, encode
from dmvpnlab.dhcp.server import DhcpServer, PoolSpec

MAC = bytes.fromhex("5254000000aa")
LOCAL = IPv4Interface("10.9.0.1/24")
POOL = PoolSpec("P", IPv4Network("10.9.0.0/24"), (IPv4Address("10.9.0.1"),), (), 600)


def exchange(client: DhcpClient, server: DhcpServer, now: float) -> list[int]:
    """Carry every queued client message to the server and the replies back; reply kinds."""
    kinds = []
    while client.outbox:
        send = client.outbox.pop(0)
        reply = server.handle(decode(encode(send.message)), "eth0", LOCAL, now)
        if reply is not None:
            message = decode(encode(reply.message))
            kinds.append(message.message_type)
            client.receive(message, now, src_mac=b"\x02" * 6)
    return kinds


def test_dora_binds_the_first_free_address_and_the_default_router():
    client, server = DhcpClient(MAC), DhcpServer([POOL], [(IPv4Address("10.9.0.1"), IPv4Address("10.9.0.10"))])
    client.start(0.0)
    assert exchange(client, server, 0.0) == [OFFER, ACK]
    assert client.state == "BOUND"
    (event,) = client.events
    assert isinstance(event, LeaseBound)
    assert event.lease.address == IPv4Interface("10.9.0.11/24")
    assert event.lease.routers == (IPv4Address("10.9.0.1"),)
    assert server.bindings[b"\x01" + MAC].state == "Active"


def test_renews_at_t1_unicast_and_keeps_the_address():
    client, server = DhcpClient(MAC), DhcpServer([POOL])
    client.start(0.0)
    exchange(client, server, 0.0)
    client.events.clear()
    client.tick(299.0)
    assert not client.outbox
    client.tick(300.0)
    (send,) = client.outbox
    assert send.dst == LOCAL.ip and send.src == IPv4Address("10.9.0.2") and send.message.ciaddr == send.src
    assert exchange(client, server, 300.0) == [ACK]
    assert client.state == "BOUND" and client.events == []  # same values: nothing to change
    assert client.lease is not None and client.lease.expires == 900.0


def test_nak_on_renewal_drops_the_lease_and_starts_over():
    client, server = DhcpClient(MAC), DhcpServer([POOL])
    client.start(0.0)
    exchange(client, server, 0.0)
    server.reconfigure([PoolSpec("P", IPv4Network("10.9.0.0/25"))], [(IPv4Address("10.9.0.2"), IPv4Address("10.9.0.2"))])
    client.tick(300.0)
    assert exchange(client, server, 300.0) == [NAK]
    assert isinstance(client.events[-1], LeaseLost) and client.lease is None
    client.tick(303.0)
    assert exchange(client, server, 303.0) == [OFFER, ACK]
    assert client.lease is not None and client.lease.address.ip == IPv4Address("10.9.0.3")


def test_expiry_without_a_server_loses_the_lease():
    client, server = DhcpClient(MAC), DhcpServer([POOL])
    client.start(0.0)
    exchange(client, server, 0.0)
    for t in range(300, 601, 4):
        client.tick(float(t))
        client.outbox.clear()
    assert client.lease is None and client.state == "SELECTING"
    assert isinstance(client.events[-1], LeaseLost)


def test_release_frees_the_binding_and_excluded_addresses_are_never_given():
    server = DhcpServer([PoolSpec("P", IPv4Network("10.9.0.0/29"))], [(IPv4Address("10.9.0.2"), IPv4Address("10.9.0.5"))])
    macs = [bytes([2, 0, 0, 0, 0, i]) for i in range(4)]
    clients = [DhcpClient(m, rng=lambda i=i: i) for i, m in enumerate(macs)]
    for c in clients:
        c.start(0.0)
        exchange(c, server, 0.0)
    # .1 is the server itself, .2-.5 excluded, .7 is broadcast: only .6 is free
    assert [c.lease.address.ip if c.lease else None for c in clients] == [IPv4Address("10.9.0.6"), None, None, None]
    assert server.counters["pool_exhausted"] >= 3
    clients[0].release(1.0)
    exchange(clients[0], server, 1.0)
    assert server.bindings == {}


def test_request_for_another_server_is_ignored_and_offer_withdrawn():
    client, server = DhcpClient(MAC), DhcpServer([POOL])
    client.start(0.0)
    send = client.outbox.pop()
    server.handle(send.message, "eth0", LOCAL, 0.0)
    request = client
    request.receive(decode(encode(server.handle(send.message, "eth0", LOCAL, 0.0).message)), 0.0)
    message = request.outbox.pop().message
    message.options[54] = IPv4Address("10.9.0.99").packed
    assert server.handle(message, "eth0", LOCAL, 0.0) is None
    assert server.bindings == {}


def test_replies_from_other_transactions_are_counted_not_taken():
    client, server = DhcpClient(MAC, rng=lambda: 5), DhcpServer([POOL])
    client.start(0.0)
    reply = server.handle(client.outbox.pop().message, "eth0", LOCAL, 0.0)
    assert reply is not None
    reply.message.xid = 6
    client.receive(reply.message, 0.0)
    assert client.state == "SELECTING" and client.counters["not_ours"] == 1
