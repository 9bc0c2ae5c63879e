"""Seed inputs taken from the Cisco reference captures (when they are beside the repo),
and the test suite's helpers the targets share."""

from __future__ import annotations

import importlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def cisco_captures_dir() -> Path | None:
    """shared/captures/cisco beside the clone (or $DMVPNLAB_CISCO_CAPTURES)."""
    candidates = [os.environ.get("DMVPNLAB_CISCO_CAPTURES"), REPO_ROOT.parent / "shared" / "captures" / "cisco",
                  REPO_ROOT.parents[1] / "shared" / "captures" / "cisco"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@lru_cache(maxsize=1)
def cisco_ip_packets() -> tuple[bytes, ...]:
    """Every IPv4 packet (from its header on) in the Cisco captures."""
    directory = cisco_captures_dir()
    if directory is None:
        return ()
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    packets = []
    for path in sorted(directory.glob("*.pcap*")):
        for frame in rdpcap(str(path)):
            if IP in frame:
                packets.append(bytes(frame[IP]))
    return tuple(packets)


@lru_cache(maxsize=1)
def cisco_gre_payloads() -> tuple[bytes, ...]:
    """The GRE header and payload of every GRE packet in the Cisco captures."""
    out = []
    for packet in cisco_ip_packets():
        if len(packet) >= 20 and packet[9] == 47:
            ihl = (packet[0] & 0x0F) * 4
            out.append(packet[ihl:])
    return tuple(out)


@lru_cache(maxsize=4)
def cisco_gre_carried(proto: int) -> tuple[bytes, ...]:
    """What every GRE packet of protocol type `proto` in the Cisco captures carries."""
    from dmvpnlab.tunnel.gre import decode_gre

    out = []
    for gre in cisco_gre_payloads():
        try:
            header = decode_gre(gre, verify_checksum=False)
        except ValueError:
            continue
        if header.proto == proto:
            out.append(bytes(header.payload))
    return tuple(out)


def cisco_nhrp_packets() -> tuple[bytes, ...]:
    """The NHRP packet (GRE protocol 0x2001) of every NHRP frame in the Cisco captures."""
    return cisco_gre_carried(0x2001)


def test_support(module: str) -> ModuleType:
    """A helper module of the test suite (tests/ is no package): the in-memory NHRP lab
    (`nhrp_sim`), the stand-in socket and TAP (`test_tunnel_transport`). Shared, so the
    fuzz targets drive the code exactly as the tests do."""
    tests = str(REPO_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(module)
