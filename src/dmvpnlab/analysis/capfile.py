"""Capture files record by record (pcap, pcapng, either gzipped), with damage reported rather than swallowed.

Why our own reader and not scapy's: at a truncated or corrupt record scapy stops with at
most a warning on stderr (a pcap record header cut short stops it silently), so a tool
on top of it cannot tell "the capture ends here" from "the capture is damaged here".
`CaptureReader` yields every record with its frame number and byte offset and then,
if the file does not end cleanly, raises `CaptureDamaged` naming the first record it
could not read (frame number, offset, what is wrong); a file that is not a capture at all
raises `CaptureFormatError` when it is opened. Link layers are not decoded here: the
inspector lets scapy dissect frames, `paths` reads Ethernet itself.

Timestamps are kept as integer ticks and a resolution; `Record.time` turns them into
seconds exactly as scapy does (decimal arithmetic, then float), so the inspector's times
are the ones it printed when it read through scapy. Imports only the standard library.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Iterator

PCAP_MAGICS = {  # magic -> (byte order, ticks per second)
    b"\xa1\xb2\xc3\xd4": (">", 10**6), b"\xd4\xc3\xb2\xa1": ("<", 10**6),
    b"\xa1\xb2\x3c\x4d": (">", 10**9), b"\x4d\x3c\xb2\xa1": ("<", 10**9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"  # the Section Header Block's type
GZIP_MAGIC = b"\x1f\x8b"
PCAPNG_BYTE_ORDER = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}
MAX_SNAPLEN = 262144  # libpcap's largest snapshot length: a bigger record is a corrupt header
MAX_BLOCK = 16 * 1024 * 1024  # libpcap's largest pcapng block
DEFAULT_RESOLUTION = 10**6  # pcapng without if_tsresol: microseconds

_IDB, _PB, _SPB, _EPB = 1, 2, 3, 6  # pcapng block types that describe interfaces or carry packets
_OPT_TSRESOL = 9


class CaptureFormatError(ValueError):
    """The file is not a pcap or pcapng capture (empty, unknown magic, first header cut)."""


class CaptureDamaged(ValueError):
    """A record cannot be read: cut short or corrupt. Every record before it was yielded."""

    def __init__(self, frame: int, offset: int, reason: str) -> None:
        super().__init__(f"frame {frame} (byte offset {offset}): {reason}")
        self.frame = frame  # the number the damaged record would have had
        self.offset = offset  # where its header starts (in the uncompressed stream)
        self.reason = reason

    @property
    def frames_read(self) -> int:
        return self.frame - 1


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame: number (1-based), offset of its record, link type, time, bytes."""

    frame: int
    offset: int
    linktype: int
    ticks: int
    resolution: int  # ticks per second
    data: bytes
    wirelen: int

    @property
    def time(self) -> float:
        """Seconds since the epoch, computed as scapy computes packet.time (exact decimal, then float)."""
        return float(Decimal(self.ticks) / self.resolution)


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    resolution: int


class CaptureReader:
    """Records of one capture file; opened (and its header checked) at construction.

    Use as a context manager or call `close`; iterate once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")
        try:
            if self._file.read(2) == GZIP_MAGIC:
                self._file.close()
                self._file = gzip.open(self.path, "rb")  # type: ignore[assignment]
            else:
                self._file.seek(0)
            self._pos = 0
            self._frame = 0
            self._start()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Record]:
        return self._pcapng_records() if self.pcapng else self._pcap_records()

    # -- reading ------------------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        """Up to `n` bytes; a broken compressed stream or an I/O error is damage at the current record."""
        try:
            data = self._file.read(n)
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
            raise CaptureDamaged(self._frame + 1, self._pos, f"unreadable from here ({e})") from None
        self._pos += len(data)
        return data

    def _start(self) -> None:
        try:
            magic = self._read(4)
        except CaptureDamaged as e:
            raise CaptureFormatError(e.reason) from None
        if not magic:
            raise CaptureFormatError("empty file")
        self.pcapng = magic == PCAPNG_MAGIC
        if self.pcapng:
            self._pending_magic = magic  # the first block's type: read again by the block loop
            self._byte_order = ">"
            self._interfaces: list[_Interface] = []
            try:
                self._next_block(first=True)
            except CaptureDamaged as e:
                raise CaptureFormatError(f"first section header unreadable: {e.reason}") from None
            return
        if magic not in PCAP_MAGICS:
            raise CaptureFormatError(f"bad magic {magic.hex()}")
        self._byte_order, self._resolution = PCAP_MAGICS[magic]
        header = self._read(20)
        if len(header) < 20:
            raise CaptureFormatError(f"file header cut: {len(header) + 4} of 24 bytes")
        _major, _minor, _zone, _sigfigs, snaplen, self._linktype = struct.unpack(self._byte_order + "HHiIII", header)
        self._max_record = max(MAX_SNAPLEN, min(snaplen, MAX_BLOCK))

    def _damage(self, offset: int, reason: str) -> CaptureDamaged:
        return CaptureDamaged(self._frame + 1, offset, reason)

    def _pcap_records(self) -> Iterator[Record]:
        while True:
            offset = self._pos
            header = self._read(16)
            if not header:
                return
            if len(header) < 16:
                raise self._damage(offset, f"record header cut: {len(header)} of 16 bytes in the file")
            sec, frac, caplen, wirelen = struct.unpack(self._byte_order + "IIII", header)
            if caplen > self._max_record:
                raise self._damage(offset, f"corrupt record header: {caplen:,} captured bytes "
                                           f"(at most {self._max_record:,})")
            data = self._read(caplen)
            if len(data) < caplen:
                raise self._damage(offset, f"record cut: {caplen:,} bytes announced, {len(data):,} in the file")
            self._frame += 1
            yield Record(self._frame, offset, self._linktype, sec * self._resolution + frac, self._resolution,
                         data, wirelen)

    def _pcapng_records(self) -> Iterator[Record]:
        last: Record | None = None
        while True:
            block = self._next_block()
            if block is None:
                return
            offset, btype, body = block
            record = self._packet(offset, btype, body, last)
            if record is not None:
                last = record
                yield record

    def _next_block(self, first: bool = False) -> tuple[int, int, bytes] | None:
        """(offset, type, body) of the next block, sections and interfaces noted; None at a clean end."""
        offset = self._pos - (4 if first else 0)
        head = self._pending_magic + self._read(4) if first else self._read(8)
        if not head:
            return None
        if len(head) < 8:
            raise self._damage(offset, f"block header cut: {len(head)} of 8 bytes in the file")
        if head[:4] == PCAPNG_MAGIC:  # a section header: its byte-order magic says how to read its length
            order = self._read(4)
            if order not in PCAPNG_BYTE_ORDER:
                raise self._damage(offset, f"corrupt section header: byte-order magic {order.hex() or 'missing'}")
            self._byte_order = PCAPNG_BYTE_ORDER[order]
            self._interfaces = []
            body_prefix = order
        elif first:
            raise CaptureFormatError("no section header block at the start")
        else:
            body_prefix = b""
        btype, length = struct.unpack(self._byte_order + "II", head)
        if length < 12 + len(body_prefix) or length % 4 or length > MAX_BLOCK:
            raise self._damage(offset, f"corrupt block header: block length {length:,}")
        body = body_prefix + self._read(length - 12 - len(body_prefix))
        if len(body) < length - 12:
            raise self._damage(offset, f"block cut: {length:,} bytes announced, {len(body) + 8:,} in the file")
        trailer = self._read(4)
        if len(trailer) < 4:
            raise self._damage(offset, f"block cut: {length:,} bytes announced, {length - 4 + len(trailer):,} in the file")
        (again,) = struct.unpack(self._byte_order + "I", trailer)
        if again != length:
            raise self._damage(offset, f"corrupt block: trailing length {again:,} differs from leading {length:,}")
        if btype == _IDB:
            self._interface(offset, body)
        return offset, btype, body

    def _interface(self, offset: int, body: bytes) -> None:
        if len(body) < 8:
            raise self._damage(offset, f"corrupt interface block: {len(body)} body bytes (at least 8)")
        linktype, _reserved, snaplen = struct.unpack_from(self._byte_order + "HHI", body)
        resolution = DEFAULT_RESOLUTION
        for code, value in self._options(body[8:]):
            if code == _OPT_TSRESOL and len(value) == 1:
                resolution = (2 if value[0] & 0x80 else 10) ** (value[0] & 0x7F)
        self._interfaces.append(_Interface(linktype, snaplen, resolution))

    def _options(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """pcapng options up to opt_endofopt or the end; a malformed tail is ignored, as libpcap does."""
        at = 0
        while at + 4 <= len(data):
            code, size = struct.unpack_from(self._byte_order + "HH", data, at)
            if code == 0 or at + 4 + size > len(data):
                return
            yield code, data[at + 4:at + 4 + size]
            at += 4 + size + (-size % 4)

    def _packet(self, offset: int, btype: int, body: bytes, last: Record | None) -> Record | None:
        """The record a packet block holds (EPB, SPB, obsolete PB), None for any other block."""
        if btype == _EPB or btype == _PB:
            if len(body) < 20:
                raise self._damage(offset, f"corrupt packet block: {len(body)} body bytes (at least 20)")
            if btype == _EPB:
                ifid, high, low, caplen, wirelen = struct.unpack_from(self._byte_order + "IIIII", body)
            else:
                ifid, _drops, high, low, caplen, wirelen = struct.unpack_from(self._byte_order + "HHIIII", body)
            if caplen > len(body) - 20:
                raise self._damage(offset, f"corrupt packet block: {caplen:,} captured bytes, the block holds "
                                           f"{len(body) - 20:,}")
            iface = self._interface_of(offset, ifid)
            data, ticks, resolution = body[20:20 + caplen], (high << 32) | low, iface.resolution
        elif btype == _SPB:
            if len(body) < 4:
                raise self._damage(offset, f"corrupt packet block: {len(body)} body bytes (at least 4)")
            (wirelen,) = struct.unpack_from(self._byte_order + "I", body)
            iface = self._interface_of(offset, 0)
            caplen = min(wirelen, len(body) - 4, iface.snaplen or wirelen)
            data = body[4:4 + caplen]
            # A simple packet block has no time stamp: it keeps the previous packet's time.
            ticks, resolution = (last.ticks, last.resolution) if last else (0, iface.resolution)
        else:
            return None
        self._frame += 1
        return Record(self._frame, offset, iface.linktype, ticks, resolution, data, wirelen)

    def _interface_of(self, offset: int, ifid: int) -> _Interface:
        if ifid >= len(self._interfaces):
            raise self._damage(offset, f"corrupt packet block: interface {ifid}, but the section describes "
                                       f"{len(self._interfaces)}")
        return self._interfaces[ifid]
