"""The capture inspector: any file is events then a clean end, or a documented error; never a stall.

Seeded from the Cisco captures themselves (whole files), the lab's own captures when a
lab has run in this clone (captures/<lab>/, the small ones), and hand-built files for the
record formats those do not use (nanosecond and big-endian pcap, pcapng with simple and
obsolete packet blocks, two sections, a microsecond-power-of-two resolution). The run
goes through the inspector's API on a real file. Findings: anything but `CaptureError`
(incl. `CaptureDamaged`) escaping `read_events` or `roundtrip`; any exception from the
lenient `paths.read_link`; frames not strictly increasing; a JSON line that does not
parse; and a damage report that lies: cutting the file at the reported offset must give
a clean capture with exactly the events read before the damage.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import struct
import tempfile
from functools import lru_cache
from pathlib import Path

from dmvpnlab.analysis import capfile, ladder, paths
from fuzz.harness import Target
from fuzz.targets.seeds import REPO_ROOT, cisco_captures_dir, cisco_ip_packets

MAX_LAB_SEED = 16 * 1024  # lab captures bigger than this would slow every execution down


# -- hand-built captures ----------------------------------------------------------------

def pcap_file(frames: list[bytes], *, linktype: int = 101, nano: bool = False, order: str = "<") -> bytes:
    """A pcap file of `frames` (raw IPv4 by default), one second and a bit apart."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(order + "IIII", 1_700_000_000 + i, 1234 * (i + 1), len(frame), len(frame)) + frame
    return out


def pcapng_block(btype: int, body: bytes, order: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return struct.pack(order + "II", btype, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def pcapng_section(order: str = "<") -> bytes:
    return pcapng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def pcapng_interface(linktype: int = 101, tsresol: int | None = None, order: str = "<") -> bytes:
    options = b""
    if tsresol is not None:
        options = struct.pack(order + "HHB3x", 9, 1, tsresol) + struct.pack(order + "HH", 0, 0)
    return pcapng_block(1, struct.pack(order + "HHI", linktype, 0, 262144) + options, order)


def pcapng_packet(frame: bytes, ticks: int, interface: int = 0, order: str = "<") -> bytes:
    return pcapng_block(6, struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF,
                                       len(frame), len(frame)) + frame, order)


def pcapng_file(frames: list[bytes], *, order: str = "<") -> bytes:
    """Two sections: EPBs on a nanosecond interface, then a simple and an obsolete packet block."""
    out = pcapng_section(order) + pcapng_interface(tsresol=9, order=order)
    for i, frame in enumerate(frames):
        out += pcapng_packet(frame, 1_700_000_000_000_000_000 + i * 1_500_000, order=order)
    out += pcapng_section(order) + pcapng_interface(tsresol=0x80 | 20, order=order)
    if frames:
        out += pcapng_block(3, struct.pack(order + "I", len(frames[0])) + frames[0], order)
        out += pcapng_block(2, struct.pack(order + "HHIIII", 0, 0, 0, 1 << 20, len(frames[-1]), len(frames[-1]))
                            + frames[-1], order)
    return out


# -- the target -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _workdir() -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"dmvpnlab-fuzz-pcap-{os.getpid()}-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def seeds() -> list[bytes]:
    out: list[bytes] = []
    cisco = cisco_captures_dir()
    if cisco is not None:
        out += [p.read_bytes() for p in sorted(cisco.glob("*.pcap*"))]
    lab = sorted(p for p in (REPO_ROOT / "captures").glob("*/*.pcap*") if p.stat().st_size <= MAX_LAB_SEED)
    out += [p.read_bytes() for p in lab[:8]]
    packets = list(cisco_ip_packets()[:6]) or [bytes.fromhex("4500001c000100004001f7d50a0000010a000002080008000000000000")]
    out += [pcap_file(packets, nano=True), pcap_file(packets, order=">"), pcapng_file(packets),
            pcapng_file(packets, order=">")]
    return out


def inspect(data: bytes) -> None:
    """Read `data` as a capture through the inspector's API; see the module docstring for the invariants."""
    path = _workdir() / "fuzz.pcap"
    path.write_bytes(data)
    events, damage = _read(path)
    frames = [e.frame for e in events]
    assert frames == sorted(set(frames)), f"frames out of order: {frames}"
    for event in events:
        json.loads(ladder.event_json(event))
    assert len(list(ladder.format_ladder(events))) == len(events) + 1
    list(paths.read_link(path))  # lenient: never raises
    try:
        result = ladder.roundtrip(path)
    except ladder.CaptureError:
        assert damage is None and not events, "roundtrip refused a file read_events read"
        return
    if result.ok and damage is not None:
        assert result.damage is not None and result.damage.frame == damage.frame, (result.damage, damage)
    if damage is not None and not data.startswith(capfile.GZIP_MAGIC):
        path.write_bytes(data[:damage.offset])
        again, more = _read(path)
        assert more is None, f"cut at the reported offset {damage.offset}, still damaged: {more}"
        assert [e.frame for e in again] == frames, "cut at the reported offset, the events differ"


def _read(path: Path) -> tuple[list[ladder.Event], ladder.CaptureDamaged | None]:
    events: list[ladder.Event] = []
    try:
        for event in ladder.read_events(path):
            events.append(event)
    except ladder.CaptureDamaged as damage:
        return events, damage
    except ladder.CaptureError:
        pass
    return events, None


TARGETS = [Target("pcap-inspector", seeds, inspect)]
