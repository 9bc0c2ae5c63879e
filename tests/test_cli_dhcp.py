"""`show dhcp lease`, `show ip dhcp binding`, Method DHCP: IOS layout from the state machines."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from types import SimpleNamespace

from ntc_templates.parse import parse_output

from dmvpnlab.cli import show_dhcp
from dmvpnlab.dhcp.client import DhcpClient
from dmvpnlab.dhcp.codec import decode, encode
from dmvpnlab.dhcp.server import DhcpServer, PoolSpec

MAC = bytes.fromhex("5254000000aa")
LOCAL = IPv4Interface("198.51.100.1/24")


def bound_pair(now: float = 100.0) -> tuple[DhcpClient, DhcpServer]:
    client = DhcpClient(MAC, hostname="Spoke1", rng=lambda: 0x1A2B)
    server = DhcpServer([PoolSpec("WAN", IPv4Network("198.51.100.0/24"), (LOCAL.ip,), (), 86400)])
    client.start(now)
    while client.outbox:
        reply = server.handle(decode(encode(client.outbox.pop(0).message)), "GigabitEthernet0/0", LOCAL, now)
        if reply is not None:
            client.receive(decode(encode(reply.message)), now)
    return client, server


def agent(client: DhcpClient, server: DhcpServer, now: float = 160.0) -> SimpleNamespace:
    dhcp = SimpleNamespace(clients={"GigabitEthernet0/1": SimpleNamespace(client=client)}, server=server)
    return SimpleNamespace(dhcp=dhcp, clock=lambda: now)


def test_show_dhcp_lease_parses_with_ntc_templates():
    client, server = bound_pair()
    text = show_dhcp.render_lease(agent(client, server))
    assert text.startswith("Temp IP addr: 198.51.100.2  for peer on Interface: GigabitEthernet0/1\n")
    [record] = parse_output(platform="cisco_ios", command="show dhcp lease", data=text)
    assert record["ip_address"] == "198.51.100.2" and record["netmask"] == "255.255.255.0"
    assert record["interface"] == "GigabitEthernet0/1" and record["server"] == "198.51.100.1"
    assert (record["state_id"], record["state"]) == ("5", "Bound")
    assert (record["time_lease"], record["time_renewal"], record["time_rebound"]) == ("86400", "43200", "75600")
    assert record["gateway"] == "198.51.100.1" and record["hostname"] == "Spoke1"
    assert record["time_next_fire"] == "11:59:00"  # T1 at 43200 s, 60 s later


def test_show_ip_dhcp_binding_lists_active_bindings_in_ios_columns():
    client, server = bound_pair()
    text = show_dhcp.render_bindings(agent(client, server))
    lines = text.splitlines()
    assert lines[0] == "Bindings from all pools not associated with VRF:"
    assert lines[1].startswith("IP address          Client-ID/              Lease expiration        Type")
    row = lines[4]
    assert row.startswith("198.51.100.2        0152.5400.0000.aa       ") and row.endswith("Automatic")
    assert show_dhcp.dotted(bytes.fromhex("0152540000")) == "0152.5400.00"


def test_nothing_to_show_without_dhcp():
    bare = SimpleNamespace(clock=lambda: 0.0)
    assert show_dhcp.render_lease(bare) == ""
    assert show_dhcp.render_bindings(bare).count("\n") == 4
    assert IPv4Address("0.0.0.0").is_unspecified
