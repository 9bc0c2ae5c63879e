"""DHCP (RFC 2131/2132) for `ip address dhcp` and `ip dhcp pool`, sans-I/O.

`codec` reads and writes BOOTP/DHCP messages, `frames` wraps them in Ethernet/IPv4/UDP
(the client speaks before it has an address, so the agent sends whole frames on an
AF_PACKET socket), `client` and `server` are state machines that take messages and the
time and return messages to send. The agent (agent/dhcp_node.py) owns sockets and kernel.
"""
