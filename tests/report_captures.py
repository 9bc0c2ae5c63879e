"""A crafted Phase 3 run as a capture directory, for the report's tests.

Built with the project's codecs (NHRP `codec.encode`, GRE `encode_gre`) into classic
pcap files named like a lab's (`spoke1-isp.pcap` ...): spoke1 and spoke2 register with
the hub; h1 pings h2 through the hub; the hub sends spoke1 a Traffic Indication; spoke1
resolves h2's network (hub forwards with hop count 254, spoke2 answers directly); later
pings go spoke1 -> spoke2. Every packet is written on every link it crosses, with the
small delays a real underlay shows, so the report sees what a lab's captures show.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from ipaddress import IPv4Address
from pathlib import Path

from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.codec import Cie, NhrpPacket, PacketType
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre

T0 = 1_800_000_000.0
HUB, SPOKE1, SPOKE2 = "203.0.113.1", "100.64.1.1", "100.64.2.1"
TUN = {"hub": "10.0.0.1", "spoke1": "10.0.0.2", "spoke2": "10.0.0.3"}
H1, H2 = "192.168.1.10", "192.168.2.10"
KEY = 12345
WAN = {"hub": "hub-isp", "spoke1": "spoke1-isp", "spoke2": "spoke2-isp"}
NBMA = {"hub": HUB, "spoke1": SPOKE1, "spoke2": SPOKE2}


def ipv4(src: str, dst: str, proto: int, body: bytes, ttl: int = 64) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, ttl, proto, 0,
                         IPv4Address(src).packed, IPv4Address(dst).packed)
    return header + body


def ether(ip: bytes) -> bytes:
    return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip


def echo(src: str, dst: str, seq: int, reply: bool = False) -> bytes:
    return ipv4(src, dst, 1, struct.pack("!BBHHH", 0 if reply else 8, 0, 0, 0x77, seq) + b"x" * 16)


def gre(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return ipv4(src, dst, 47, encode_gre(proto, payload, key=KEY))


def nhrp(src: str, dst: str, pkt: NhrpPacket) -> bytes:
    return gre(src, dst, GRE_PROTO_NHRP, codec.encode(pkt))


class Run:
    """Frames per link, written as pcap files by `write`."""

    def __init__(self) -> None:
        self.frames: dict[str, list[tuple[float, bytes]]] = {s: [] for s in
                                                            ("hub-isp", "spoke1-isp", "spoke2-isp", "spoke1-h1",
                                                             "spoke2-h2", "hub-h0")}

    def on(self, at: float, ip: bytes, *links: str) -> None:
        for i, link in enumerate(links):
            self.frames[link].append((T0 + at + i * 0.0002, ether(ip)))

    def wan(self, at: float, a: str, b: str, ip: bytes) -> None:
        """A packet from router a to router b over the ISP: seen on a's WAN link, then b's."""
        self.on(at, ip, WAN[a], WAN[b])

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for link, frames in self.frames.items():
            out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
            for at, frame in sorted(frames):
                sec = int(at)
                out.append(struct.pack("<IIII", sec, int(round((at - sec) * 1e6)), len(frame), len(frame)) + frame)
            (directory / f"{link}.pcap").write_bytes(b"".join(out))


def phase3_run(directory: Path, *, refreshes: int = 0, faults: bool = True) -> Path:
    """Write the crafted run into `directory` (created); return it."""
    run = Run()
    for i, spoke in enumerate(("spoke1", "spoke2")):
        for n in range(refreshes + 1):
            at = 0.01 + i * 0.05 + n * 10.0
            req = NhrpPacket(PacketType.REGISTRATION_REQUEST, IPv4Address(NBMA[spoke]), IPv4Address(TUN[spoke]),
                             IPv4Address(TUN["hub"]), flags=0x8000, request_id=1 + n,
                             cies=[Cie(code=0, prefix_len=32, holdtime=300, mtu=1400)])
            run.wan(at, spoke, "hub", nhrp(NBMA[spoke], HUB, req))
            reply = NhrpPacket(PacketType.REGISTRATION_REPLY, req.src_nbma, req.src_proto, req.dst_proto,
                               flags=0x8000, request_id=1 + n, cies=[Cie(code=0, prefix_len=32, holdtime=300, mtu=1400)])
            run.wan(at + 0.002, "hub", spoke, nhrp(HUB, NBMA[spoke], reply))
    # first ping: through the hub
    at = 1.0
    run.on(at, echo(H1, H2, 1), "spoke1-h1")
    run.wan(at + 0.001, "spoke1", "hub", gre(SPOKE1, HUB, GRE_PROTO_IPV4, echo(H1, H2, 1)))
    run.wan(at + 0.002, "hub", "spoke2", gre(HUB, SPOKE2, GRE_PROTO_IPV4, echo(H1, H2, 1)))
    run.on(at + 0.003, echo(H1, H2, 1), "spoke2-h2")
    # the redirect and the resolution
    ti = NhrpPacket(PacketType.TRAFFIC_INDICATION, IPv4Address(HUB), IPv4Address(TUN["hub"]), IPv4Address(TUN["spoke1"]),
                    payload=echo(H1, H2, 1)[:28])
    run.wan(1.004, "hub", "spoke1", nhrp(HUB, SPOKE1, ti))
    req = NhrpPacket(PacketType.RESOLUTION_REQUEST, IPv4Address(SPOKE1), IPv4Address(TUN["spoke1"]), IPv4Address(H2),
                     flags=0x4000, request_id=7, cies=[Cie(code=0, prefix_len=32, holdtime=600, mtu=1400)])
    run.wan(1.006, "spoke1", "hub", nhrp(SPOKE1, HUB, req))
    forwarded = dataclasses.replace(req, hop_count=254)
    run.wan(1.008, "hub", "spoke2", nhrp(HUB, SPOKE2, forwarded))
    reply = NhrpPacket(PacketType.RESOLUTION_REPLY, req.src_nbma, req.src_proto, req.dst_proto, flags=0x4000,
                       request_id=7, cies=[Cie(code=0, prefix_len=24, holdtime=600, mtu=1400, nbma=IPv4Address(SPOKE2),
                                               proto=IPv4Address("192.168.2.0"))])
    run.wan(1.012, "spoke2", "spoke1", nhrp(SPOKE2, SPOKE1, reply))
    # later pings: spoke to spoke
    for seq in (2, 3, 4):
        at = 1.0 + seq
        run.on(at, echo(H1, H2, seq), "spoke1-h1")
        run.wan(at + 0.001, "spoke1", "spoke2", gre(SPOKE1, SPOKE2, GRE_PROTO_IPV4, echo(H1, H2, seq)))
        run.on(at + 0.002, echo(H1, H2, seq), "spoke2-h2")
    run.write(directory)
    if faults:
        (directory / "faults.jsonl").write_text(
            json.dumps({"kind": "loss", "target": "spoke2", "action": "inject", "time": T0 + 2.5, "mono": 1.0,
                        "params": {"percent": 5}}) + "\n", encoding="utf-8")
    return directory


def lab_json(directory: Path) -> None:
    """The description the lab writes at bring-up, for this run (roles, addresses, links)."""
    nodes = [{"name": r, "role": "hub" if r == "hub" else "spoke", "addresses": {"eth0": f"{NBMA[r]}/30"},
              "tunnel": f"{TUN[r]}/24", "nbma": NBMA[r], "lan": None, "behind": None} for r in NBMA]
    nodes += [{"name": "isp", "role": "isp", "addresses": {}}, {"name": "h0", "role": "host", "addresses": {}},
              {"name": "h1", "role": "host", "addresses": {"eth0": f"{H1}/24"}},
              {"name": "h2", "role": "host", "addresses": {"eth0": f"{H2}/24"}}]
    links = [{"stem": s, "owner": s.split("-")[0], "peer": s.split("-")[1], "interfaces": {}}
             for s in ("hub-isp", "spoke1-isp", "spoke2-isp", "spoke1-h1", "spoke2-h2", "hub-h0")]
    (directory / "lab.json").write_text(json.dumps({"version": 1, "lab": "crafted", "topology": "crafted.yaml",
                                                    "up_at": T0, "nodes": nodes, "links": links}), encoding="utf-8")
