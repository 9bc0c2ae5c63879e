"""The ESP anti-replay sliding window (RFC 4303 section 3.4.3 and Appendix A).

Why checking and updating are two calls: RFC 4303 lets the receiver refuse a duplicate
or a too-old sequence number before it spends an ICV computation on the packet, but the
window may move only once the ICV has verified (otherwise a forged packet with a high
sequence number would slide the window and make the genuine packets behind it "too
old"). So the SA calls `check` before the ICV and `accept` after it; both are O(1).

The window is one Python int used as a bitmap: bit i set means sequence number
`top - i` was received. IOS's default window is 64 packets (`crypto ipsec
security-association replay window-size` takes up to 1024); any size >= 1 works here.
Sequence number 0 is never valid (the first packet of an SA carries 1, RFC 4303 3.3.3).

Imports nothing from dmvpnlab.
"""

from __future__ import annotations

from typing import Literal

ReplayVerdict = Literal["duplicate", "too old"] | None

DEFAULT_WINDOW = 64


class ReplayWindow:
    """The receive side of one SA's sequence numbers (32-bit, no ESN)."""

    __slots__ = ("size", "top", "bitmap", "_mask")

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"replay window size must be >= 1, got {size}")
        self.size = size
        self.top = 0  # highest sequence number accepted so far (0: none yet)
        self.bitmap = 0
        self._mask = (1 << size) - 1

    def check(self, seq: int) -> ReplayVerdict:
        """None if `seq` may be new; why not otherwise. Changes nothing."""
        top = self.top
        if seq > top:
            return None
        if seq == 0:
            return "too old"
        diff = top - seq
        if diff >= self.size:
            return "too old"
        if (self.bitmap >> diff) & 1:
            return "duplicate"
        return None

    def accept(self, seq: int) -> None:
        """Record `seq` as received (its ICV verified). Call only after `check` said None."""
        top = self.top
        if seq > top:
            self.bitmap = ((self.bitmap << (seq - top)) | 1) & self._mask
            self.top = seq
        else:
            self.bitmap |= 1 << (top - seq)

    @property
    def lowest(self) -> int:
        """The lowest sequence number the window still accepts (the left edge)."""
        return max(1, self.top - self.size + 1)

    def state(self) -> tuple[int, int]:
        """(top, bitmap): what changes when a packet is accepted. Tests and the fuzz
        target compare it before and after a refused packet."""
        return self.top, self.bitmap

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self.size}, top={self.top}, bitmap=0x{self.bitmap:x})"
