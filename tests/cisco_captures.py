"""Locate the Cisco IOS reference captures and pull NHRP packets out of them.

The captures live outside the repository (``shared/captures/cisco`` beside the clone,
as in CI and in /work). Tests that need them skip with a reason only when that
directory truly is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _candidates() -> list[Path]:
    env = os.environ.get("DMVPNLAB_CISCO_CAPTURES")
    found = [Path(env)] if env else []
    found.append(REPO_ROOT / ".." / "shared" / "captures" / "cisco")
    found.append(Path(__file__).resolve().parents[2] / "shared" / "captures" / "cisco")
    return found


def captures_dir() -> Path | None:
    for path in _candidates():
        if path.is_dir() and any(path.glob("*.pcap*")):
            return path.resolve()
    return None


def require_captures() -> Path:
    path = captures_dir()
    if path is None:
        pytest.skip("Cisco reference captures not found (expected ../shared/captures/cisco beside the repo)")
    return path


def capture(name: str) -> Path:
    return require_captures() / name


def nhrp_packets(path: Path) -> list[tuple[int, bytes]]:
    """(frame number, NHRP bytes) for every GRE/0x2001 frame of ``path``."""
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    from dmvpnlab.tunnel.gre import GRE_PROTO_NHRP, decode_gre

    out = []
    for number, frame in enumerate(rdpcap(str(path)), start=1):
        if IP not in frame or frame[IP].proto != 47:
            continue
        ip = frame[IP]
        raw = bytes(ip)[ip.ihl * 4:ip.len]
        header = decode_gre(raw, verify_checksum=False)
        payload = header.payload
        if header.proto == GRE_PROTO_NHRP:
            out.append((number, payload))
    return out


def all_nhrp_packets() -> list[tuple[str, int, bytes]]:
    directory = captures_dir()
    if directory is None:
        return []
    return [(p.name, n, data) for p in sorted(directory.glob("*.pcap*")) for n, data in nhrp_packets(p)]
