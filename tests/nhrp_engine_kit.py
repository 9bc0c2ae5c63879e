"""What the NHRP engine tests share: the Cisco capture's lab, a NATed lab, and "shape".

The engine tests are split by topic (test_nhrp_engine_registration.py,
test_nhrp_engine_resolution.py, test_nhrp_engine_clear_nat.py, and test_nhrp_hostile.py
borrows the NATed lab); what they build and how they compare our packets with Cisco's
lives here once, on top of nhrp_sim.py's in-memory network. A "shape" is everything Cisco
decides about a packet except the addresses and the request ID, so a capture taken in
another address plan still judges ours.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from cisco_captures import capture, nhrp_packets
from dmvpnlab.nhrp.codec import Cie, ExtensionType, NhrpPacket, PacketType, decode, encode
from dmvpnlab.nhrp.config import NhrpEngineConfig, NhsConfig
from nhrp_sim import Net, hub_config, hub_table, lan, nbma_address, spoke_config, spoke_table, tunnel_address


A = IPv4Address
N = IPv4Network
SPOKE1, SPOKE2 = tunnel_address(1), tunnel_address(2)
SPOKE1_NBMA, SPOKE2_NBMA = nbma_address(1), nbma_address(2)
INTERVAL = 100.0  # holdtime 300 / 3


def _cisco(name: str) -> list[bytes]:
    return [data for _, data in nhrp_packets(capture(name))]


def _ext_codes(packet: NhrpPacket) -> list[int]:
    return [int(e.type) | (0x8000 if e.compulsory else 0) for e in packet.extensions]


def _cie_shape(cie: Cie) -> tuple:
    return (cie.code, cie.prefix_len, cie.mtu, cie.holdtime, cie.preference, cie.nbma is None, cie.proto is None)


def shape(packet: NhrpPacket) -> dict:
    """Everything Cisco decides about a packet except the addresses (and the request ID)."""
    extensions = []
    for ext in packet.extensions:
        code = int(ext.type) | (0x8000 if ext.compulsory else 0)
        if ext.type in (ExtensionType.RESPONDER_ADDRESS, ExtensionType.FORWARD_TRANSIT_NHS,
                        ExtensionType.REVERSE_TRANSIT_NHS, ExtensionType.CISCO_NAT):
            extensions.append((code, [_cie_shape(c) for c in ext.cies()]))
        else:
            extensions.append((code, ext.payload))
    return {
        "type": packet.type, "hop_count": packet.hop_count, "flags": packet.flags,
        "traffic_code": packet.traffic_code, "cies": [_cie_shape(c) for c in packet.cies],
        "extensions": extensions, "payload_len": len(packet.payload),
    }


def _with_request_id(data: bytes, request_id: int) -> bytes:
    packet = decode(data)
    packet.request_id = request_id
    return encode(packet)


def cisco_lab(spokes: int = 2) -> Net:
    """The capture's lab: NBMA 192.168.123.0/24, tunnel 172.16.123.0/24, holdtime 7200, "DMVPN"."""
    tunnel = N("172.16.123.0/24")
    hub_nbma, hub_proto = A("192.168.123.1"), A("172.16.123.1")
    net = Net()
    net.add("hub", NhrpEngineConfig("Tunnel0", IPv4Interface("172.16.123.1/24"), hub_nbma, holdtime=7200,
                              authentication=b"DMVPN", multicast_dynamic=True, redirect=True),
            [(tunnel, None, True)] + [(N(f"{i}.{i}.{i}.{i}/32"), A(f"172.16.123.{i}"), True) for i in range(2, spokes + 2)],
            {A("1.1.1.1")})
    for i in range(2, spokes + 2):
        net.add(f"spoke{i - 1}", NhrpEngineConfig("Tunnel0", IPv4Interface(f"172.16.123.{i}/24"), A(f"192.168.123.{i}"),
                                            holdtime=7200, authentication=b"DMVPN", shortcut=True,
                                            nhs=[NhsConfig(hub_proto, hub_nbma)]),
                [(tunnel, None, True), (N("0.0.0.0/0"), hub_proto, True)], {A(f"{i}.{i}.{i}.{i}")})
    return net


def _registered(net: Net, spoke: str) -> bool:
    node = net.nodes[spoke]
    entry = net.nodes["hub"].engine.cache.peer(node.config.tunnel_address.ip)
    return entry is not None and entry.nbma == node.public and "registered" in entry.flags


def _registration_times(net: Net, spoke: str, mark: int = 0) -> list[float]:
    return [w.time for w in net.since(mark, PacketType.REGISTRATION_REQUEST, src=spoke)]


def _natted_lab() -> Net:
    """spoke1's WAN is 172.16.1.1 behind a NAT whose outside address is spoke1's normal NBMA."""
    net = Net()
    net.add("hub", hub_config(), hub_table(2), {lan(0)[1]})
    spoke1 = net.add("spoke1", spoke_config(1, nbma_address=A("172.16.1.1")), spoke_table(1, 2, 2), {lan(1)[1]},
                     start=False)
    spoke1.seen_nbma = SPOKE1_NBMA
    spoke1.engine.start(net.now)
    net.flush()
    net.add("spoke2", spoke_config(2), spoke_table(2, 2, 2), {lan(2)[1]})
    return net
