"""Scapy layer for NHRP, for analysis and tests (not the agent's data path).

Importing this module binds ``NHRP`` as the payload of GRE protocol 0x2001, so
``rdpcap(...)[0][NHRP]`` works on any DMVPN capture. The layer shows the fixed header
and the mandatory part as scapy fields (``type``, ``hop_count``, ``flags``,
``request_id``, ``src_nbma``, ``src_proto``, ``dst_proto``...); the CIEs and extensions
stay in ``body`` and are decoded by the project's codec through the ``.nhrp`` property
(a :class:`dmvpnlab.nhrp.codec.NhrpPacket`), so there is exactly one NHRP parser to trust.

For Error Indication the ``flags``/``request_id`` fields hold the unused word, then
error code and offset (``request_id >> 16`` is the code); for Traffic Indication
``flags`` is the traffic code. ``.nhrp`` gives the properly named fields.

Building: ``NHRP.from_nhrp(pkt)`` wraps a codec packet (checksum and lengths exact);
a hand-built ``NHRP(...)`` gets ``pktsz`` and ``chksum`` filled in when left as None.
Bytes beyond ar$pktsz (Ethernet padding) become a Padding layer. Imports scapy and
`nhrp.codec` only; nothing on the agent's path imports this module.
"""

from __future__ import annotations

import struct

from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    IntField,
    IPField,
    ShortField,
    StrField,
    StrFixedLenField,
    StrLenField,
    XShortField,
)
from scapy.layers.inet import GRE
from scapy.packet import Packet, bind_layers

from dmvpnlab.nhrp import codec

__all__ = ["NHRP"]

_TYPE_NAMES = {int(t): name for t, name in codec.PACKET_NAMES.items()}  # scapy wants plain int keys


class NHRP(Packet):
    """NHRP (RFC 2332 + Cisco Traffic Indication) carried in GRE 0x2001."""

    name = "NHRP"
    fields_desc = [
        ShortField("afn", codec.AFN_IPV4),
        XShortField("pro_type", codec.PROTO_IPV4),
        StrFixedLenField("pro_snap", bytes(5), 5),
        ByteField("hop_count", 255),
        ShortField("pktsz", None),
        XShortField("chksum", None),
        ShortField("extoff", 0),
        ByteField("version", 1),
        ByteEnumField("type", 1, _TYPE_NAMES),
        ByteField("shtl", 4),
        ByteField("sstl", 0),
        ByteField("src_proto_len", 4),
        ByteField("dst_proto_len", 4),
        XShortField("flags", 0),
        IntField("request_id", 0),
        ConditionalField(IPField("src_nbma", "0.0.0.0"), lambda p: p.shtl == 4),
        StrLenField("src_nbma_subaddr", b"", length_from=lambda p: p.sstl & 0x3F),
        ConditionalField(IPField("src_proto", "0.0.0.0"), lambda p: p.src_proto_len == 4),
        ConditionalField(IPField("dst_proto", "0.0.0.0"), lambda p: p.dst_proto_len == 4),
        StrField("body", b""),
    ]

    @classmethod
    def from_nhrp(cls, pkt: codec.NhrpPacket) -> "NHRP":
        """Scapy layer holding exactly ``codec.encode(pkt)``."""
        return cls(codec.encode(pkt))

    # Dissection: keep only ar$pktsz bytes; the rest (link padding) becomes Padding.
    def pre_dissect(self, s: bytes) -> bytes:
        if len(s) >= 12:
            size = struct.unpack_from("!H", s, 10)[0]
            if 20 <= size <= len(s):
                self._nhrp_pad = s[size:]
                self._nhrp_raw = s[:size]
                return s[:size]
        self._nhrp_pad = b""
        self._nhrp_raw = s
        return s

    def post_dissect(self, s: bytes) -> bytes:
        return s + getattr(self, "_nhrp_pad", b"")

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.pktsz is None:
            pkt = pkt[:10] + struct.pack("!H", len(pkt)) + pkt[12:]
        if self.chksum is None:
            pkt = pkt[:12] + b"\x00\x00" + pkt[14:]
            pkt = pkt[:12] + struct.pack("!H", codec.checksum(pkt)) + pkt[14:]
        return pkt + pay

    @property
    def nhrp(self) -> codec.NhrpPacket:
        """The packet decoded by the codec (raises codec.NhrpDecodeError if malformed).

        Checksum is not verified here: analysis wants to see broken packets too; use
        ``codec.decode(bytes)`` directly to enforce it.
        """
        raw = getattr(self, "_nhrp_raw", None)
        if raw is None:
            layer = self.copy()
            layer.remove_payload()
            raw = bytes(layer)
        return codec.decode(raw, verify_checksum=False)

    @property
    def checksum_ok(self) -> bool:
        raw = getattr(self, "_nhrp_raw", None)
        if raw is None:
            layer = self.copy()
            layer.remove_payload()
            raw = bytes(layer)
        return codec.checksum(raw) == 0

    def mysummary(self) -> str:
        name = _TYPE_NAMES.get(self.type, f"type {self.type}")
        parts = [f"NHRP {name}"]
        if self.type not in (codec.PacketType.ERROR_INDICATION, codec.PacketType.TRAFFIC_INDICATION):
            parts.append(f"id={self.request_id}")
        if self.src_proto_len == 4 and self.dst_proto_len == 4:
            parts.append(f"{self.src_proto} > {self.dst_proto}")
        return " ".join(parts)


# 0x2001: NHRP's GRE protocol type (tunnel.gre.GRE_PROTO_NHRP; nhrp must not import tunnel).
bind_layers(GRE, NHRP, proto=0x2001)
