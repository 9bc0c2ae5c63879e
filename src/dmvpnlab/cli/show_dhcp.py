"""`show ip dhcp binding` (the router's pools) and `show dhcp lease` (its clients), IOS layout.

The binding table is IOS 15's classic one (IP address, Client-ID/Hardware address, Lease
expiration as a wall-clock date, Type). ntc-templates' cisco_ios_show_ip_dhcp_binding
only reads one-word expirations ("Infinite"), so a real IOS table with dates does not
parse there either; the layout follows IOS, not the template. `show dhcp lease` follows
IOS's client block, which ntc-templates' cisco_ios_show_dhcp_lease parses.
"""

from __future__ import annotations

import time
from typing import Any

BINDING_HEADER = ("Bindings from all pools not associated with VRF:\n"
                  "IP address          Client-ID/              Lease expiration        Type\n"
                  "                    Hardware address/\n"
                  "                    User name\n")
_CLIENT_STATES = {"INIT": "0 Init", "SELECTING": "1 Selecting", "REQUESTING": "2 Requesting",
                  "BOUND": "5 Bound", "RENEWING": "6 Renewing", "REBINDING": "7 Rebinding"}


def dotted(data: bytes) -> str:
    """IOS's client-id form: hex in groups of four digits, `0152.5400.0000.aa`."""
    text = data.hex()
    return ".".join(text[i:i + 4] for i in range(0, len(text), 4))


def render_bindings(agent: Any) -> str:
    server = getattr(getattr(agent, "dhcp", None), "server", None)
    out = [BINDING_HEADER]
    if server is None:
        return "".join(out)
    now, wall = agent.clock(), time.time()
    for b in sorted(server.bindings.values(), key=lambda b: b.address):
        if b.state != "Active":
            continue
        expires = time.strftime("%b %d %Y %I:%M %p", time.localtime(wall + b.expires - now))
        out.append(f"{str(b.address):<20}{dotted(b.client_id):<24}{expires:<24}Automatic\n")
    return "".join(out)


def render_lease(agent: Any) -> str:
    dhcp = getattr(agent, "dhcp", None)
    if dhcp is None:
        return ""
    now = agent.clock()
    blocks = []
    for name, port in sorted(dhcp.clients.items()):
        client, lease = port.client, port.client.lease
        client_id = b"\x01" + client.mac
        if lease is None:
            blocks.append(f"Temp IP addr: 0.0.0.0  for peer on Interface: {name}\n"
                          f"   DHCP Lease server: 0.0.0.0, state: {_CLIENT_STATES.get(client.state, client.state)}\n"
                          f"   DHCP transaction id: {client.xid:X}\n")
            continue
        renewal, rebind = int(lease.t1 - lease.obtained), int(lease.t2 - lease.obtained)
        next_fire = lease.t1 if client.state == "BOUND" else lease.t2 if client.state == "RENEWING" else lease.expires
        remaining = max(0, int(next_fire - now))
        lines = [f"Temp IP addr: {lease.address.ip}  for peer on Interface: {name}",
                 f"Temp  sub net mask: {lease.address.netmask}",
                 f"   DHCP Lease server: {lease.server}, state: {_CLIENT_STATES.get(client.state, client.state)}",
                 f"   DHCP transaction id: {client.xid:X}",
                 f"   Lease: {lease.lease_seconds} secs,  Renewal: {renewal} secs,  Rebind: {rebind} secs"]
        if lease.routers:
            lines.append(f"Temp default-gateway addr: {lease.routers[0]}")
        lines += [f"   Next timer fires after: {remaining // 3600:02d}:{remaining % 3600 // 60:02d}:{remaining % 60:02d}",
                  f"   Retry count: 0   Client-ID: {dotted(client_id)}",
                  f"   Client-ID hex dump: {client_id.hex().upper()}"]
        if client.hostname:
            lines.append(f"   Hostname: {client.hostname}")
        blocks.append("\n".join(lines) + "\n")
    return "".join(blocks)
