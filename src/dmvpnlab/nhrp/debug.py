"""`debug nhrp packet` lines in the layout IOS prints them.

Engineers compare these with what they have seen on routers, so the shape follows IOS
15: a header line, then the fixed part (F), the mandatory part (M), each Client
Information Entry (C-n) and, for `debug nhrp extension`, the extensions. Imports only
`nhrp.codec`.
"""

from __future__ import annotations

from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.codec import Cie, CieCode, ExtensionType, NhrpDecodeError, NhrpPacket, PacketType

# The words IOS prints for the flag bits (the codec's flag_names has the letters).
_REGISTRATION_WORDS = ((codec.REG_UNIQUE, "unique"), (codec.NAT, "nat"))
_RESOLUTION_WORDS = ((codec.RES_Q, "router"), (codec.RES_A, "auth"), (codec.RES_D, "dst-stable"),
                     (codec.RES_U, "unique"), (codec.RES_S, "src-stable"), (codec.NAT, "nat"))
FLAG_WORDS = {
    PacketType.REGISTRATION_REQUEST: _REGISTRATION_WORDS,
    PacketType.REGISTRATION_REPLY: _REGISTRATION_WORDS,
    PacketType.RESOLUTION_REQUEST: _RESOLUTION_WORDS,
    PacketType.RESOLUTION_REPLY: _RESOLUTION_WORDS,
    PacketType.PURGE_REQUEST: ((codec.PURGE_N, "no-reply"),),
}
CIE_CODES = {CieCode.SUCCESS: "no error", CieCode.ADMIN_PROHIBITED: "administratively prohibited",
             CieCode.INSUFFICIENT_RESOURCES: "insufficient resources", CieCode.NO_BINDING: "no binding exists",
             CieCode.NOT_UNIQUE: "binding not unique", CieCode.ALREADY_REGISTERED: "unique address registered already"}
EXTENSION_NAMES = {
    ExtensionType.RESPONDER_ADDRESS: "Responder Address Extension",
    ExtensionType.FORWARD_TRANSIT_NHS: "Forward Transit NHS Record Extension",
    ExtensionType.REVERSE_TRANSIT_NHS: "Reverse Transit NHS Record Extension",
    ExtensionType.AUTHENTICATION: "Authentication Extension",
    ExtensionType.VENDOR_PRIVATE: "Vendor Private Extension",
    ExtensionType.CISCO_NAT: "NAT address Extension",
}


def packet_lines(packet: NhrpPacket, size: int) -> list[str]:
    """The (F), (M) and (C-n) blocks that follow IOS's Send/Receive header line."""
    lines = [
        f" (F) afn: AF_IP({packet.afn}), type: IP({packet.pro_type:x}), hop: {packet.hop_count}, ver: {packet.version}",
        "     shtl: 4(NSAP), sstl: 0(NSAP)",
        f"     pktsz: {size}",
    ]
    ptype = packet.type
    if ptype == PacketType.TRAFFIC_INDICATION:
        lines.append(f" (M) traffic code: {'redirect' if packet.traffic_code == 0 else packet.traffic_code}({packet.traffic_code})")
    elif ptype == PacketType.ERROR_INDICATION:
        lines.append(f" (M) error code: {packet.error_code}, offset: {packet.error_offset}")
    else:
        words = " ".join(w for bit, w in FLAG_WORDS.get(ptype, ()) if packet.flags & bit)
        lines.append(f' (M) flags: "{words}{" " if words else ""}", reqid: {packet.request_id}')
    lines.append(f"     src NBMA: {packet.src_nbma}")
    lines.append(f"     src protocol: {packet.src_proto}, dst protocol: {packet.dst_proto}")
    for n, cie in enumerate(packet.cies, start=1):
        lines += cie_lines(cie, f"C-{n}")
    return lines


def cie_lines(cie: Cie, label: str) -> list[str]:
    pad = " " * (len(label) + 4)  # under the text after " (C-1) "
    lines = [
        f" ({label}) code: {CIE_CODES.get(cie.code, 'unknown')}({cie.code})",
        f"{pad}prefix: {cie.prefix_len}, mtu: {cie.mtu}, hd_time: {cie.holdtime}",
        f"{pad}addr_len: {4 if cie.nbma else 0}(NSAP), subaddr_len: {len(cie.nbma_subaddr)}(NSAP), "
        f"proto_len: {4 if cie.proto else 0}, pref: {cie.preference}",
    ]
    if cie.nbma is not None:
        lines.append(f"{pad}client NBMA: {cie.nbma}")
    if cie.proto is not None:
        lines.append(f"{pad}client protocol: {cie.proto}")
    return lines


def extension_lines(packet: NhrpPacket) -> list[str]:
    """`debug nhrp extension`: each extension with the CIEs or data it carries."""
    lines: list[str] = []
    for ext in packet.extensions:
        if ext.type == ExtensionType.END:
            continue
        name = EXTENSION_NAMES.get(ext.type, f"Extension type {int(ext.type)}")
        lines.append(f" {name}:")
        if ext.type == ExtensionType.AUTHENTICATION:
            password = ext.auth_password()
            lines.append(f"   type: Cleartext(1), data: {password.decode('latin-1') if password else ''}")
        elif ext.type in (ExtensionType.RESPONDER_ADDRESS, ExtensionType.FORWARD_TRANSIT_NHS,
                          ExtensionType.REVERSE_TRANSIT_NHS, ExtensionType.CISCO_NAT):
            try:
                for n, cie in enumerate(ext.cies(), start=1):
                    lines += ["  " + line for line in cie_lines(cie, f"C-{n}")]
            except NhrpDecodeError:
                lines.append("   (malformed)")
    return lines
