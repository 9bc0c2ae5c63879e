"""IEEE 802.1Q tags: insert, strip, and sort frames of one link onto its subinterfaces.

Why in user space: this kernel has no 8021q module (no VLAN devices) and no bridge VLAN
filtering, yet labs use router-on-a-stick (`interface GigabitEthernet0/1.10` +
`encapsulation dot1Q 10`). The agent gives each subinterface a TAP and relays between it
and the parent link; this module decides, frame by frame, which TAP a frame belongs to,
and adds the tag on the way out.

A frame read from an AF_PACKET socket may carry its tag inline (0x8100 after the MACs) or,
as Linux delivers it on most devices (veth included), already stripped with the TCI in
the socket's auxiliary data: `classify` takes both. Bad frames are counted, never raised.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

ETHERTYPE_DOT1Q = 0x8100
ETHERTYPE_QINQ = 0x88A8
MAC_LEN = 12  # destination + source
ETH_HEADER = 14
TAG_LEN = 4
VID_MASK = 0x0FFF
MIN_VID, MAX_VID = 1, 4094  # 0 is priority-tagged, 4095 reserved (802.1Q 9.6)

_TAG = struct.Struct("!HH")


class Dot1qError(ValueError):
    """A frame that cannot be tagged or untagged (too short, bad VID)."""


def check_vid(vid: int) -> int:
    """`vid` if IOS would take it in `encapsulation dot1Q VID` (1..4094), else Dot1qError."""
    if not MIN_VID <= vid <= MAX_VID:
        raise Dot1qError(f"VLAN id {vid} outside {MIN_VID}-{MAX_VID}")
    return vid


def tag(frame: bytes, vid: int, pcp: int = 0) -> bytes:
    """`frame` (untagged Ethernet) with an 802.1Q tag for `vid` after its MAC addresses."""
    check_vid(vid)
    if len(frame) < ETH_HEADER:
        raise Dot1qError(f"frame of {len(frame)} bytes has no Ethernet header")
    return frame[:MAC_LEN] + _TAG.pack(ETHERTYPE_DOT1Q, ((pcp & 7) << 13) | vid) + frame[MAC_LEN:]


def tagged_vid(frame: bytes) -> int | None:
    """The VID of an inline-tagged frame, None if the frame carries no 802.1Q tag."""
    if len(frame) < ETH_HEADER + TAG_LEN:
        return None
    tpid, tci = _TAG.unpack_from(frame, MAC_LEN)
    return tci & VID_MASK if tpid == ETHERTYPE_DOT1Q else None


def untag(frame: bytes) -> tuple[int, bytes]:
    """(VID, the frame without its tag) of an inline-tagged frame, else Dot1qError."""
    if len(frame) < ETH_HEADER + TAG_LEN:
        raise Dot1qError(f"tagged frame of {len(frame)} bytes is truncated")
    tpid, tci = _TAG.unpack_from(frame, MAC_LEN)
    if tpid != ETHERTYPE_DOT1Q:
        raise Dot1qError(f"ethertype 0x{tpid:04x} is not 802.1Q")
    return tci & VID_MASK, frame[:MAC_LEN] + frame[MAC_LEN + TAG_LEN:]


@dataclass
class Dot1qDemux:
    """Which subinterface a frame from the parent link belongs to.

    `vlans` maps VID -> subinterface name; `native` is the subinterface that takes
    untagged frames (`encapsulation dot1Q N native`), None when untagged frames stay with
    the parent. Counters name every reason a frame was not relayed.
    """

    vlans: dict[int, str] = field(default_factory=dict)
    native: str | None = None
    counters: Counter[str] = field(default_factory=Counter)

    def classify(self, frame: bytes, aux_vid: int | None = None) -> tuple[str, bytes] | None:
        """(subinterface, untagged frame) for a frame from the parent, or None (counted).

        `aux_vid` is the VID the kernel stripped into the packet's auxiliary data (None
        when it delivered the frame as it came: then an inline tag is looked for).
        """
        if len(frame) < ETH_HEADER:
            self.counters["malformed"] += 1
            return None
        vid = aux_vid
        if vid is None:
            tpid = int.from_bytes(frame[MAC_LEN:ETH_HEADER], "big")
            if tpid in (ETHERTYPE_DOT1Q, ETHERTYPE_QINQ):
                if tpid == ETHERTYPE_QINQ or len(frame) < ETH_HEADER + TAG_LEN:
                    self.counters["malformed" if tpid == ETHERTYPE_DOT1Q else "qinq"] += 1
                    return None
                vid, frame = untag(frame)
        if vid is None or vid == 0:  # untagged, or priority-tagged (VID 0): the native VLAN
            if self.native is None:
                self.counters["untagged"] += 1
                return None
            self.counters["native_in"] += 1
            return self.native, frame
        name = self.vlans.get(vid)
        if name is None:
            self.counters["unknown_vid"] += 1
            return None
        self.counters["tagged_in"] += 1
        return name, frame

    def outbound(self, name: str, frame: bytes) -> bytes | None:
        """The frame subinterface `name` sends, as it goes on the parent link (tagged unless
        native), or None (counted) if it is not an Ethernet frame."""
        if len(frame) < ETH_HEADER:
            self.counters["malformed_out"] += 1
            return None
        if name == self.native:
            self.counters["native_out"] += 1
            return frame
        vid = next((v for v, n in self.vlans.items() if n == name), None)
        if vid is None:
            self.counters["unknown_subif_out"] += 1
            return None
        self.counters["tagged_out"] += 1
        return tag(frame, vid)
