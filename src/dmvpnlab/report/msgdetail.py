"""An NHRP message's decoded fields as the side panel shows them: sections of (name, value) rows.

Why its own module: the panel is where an engineer checks a claim ("the reply carried
the NAT extension", "hop count 254 on the forwarded request"), so it shows every field
our codec decodes, grouped as RFC 2332 groups them: where it was seen, fixed header,
mandatory part, CIEs, extensions, and the raw bytes.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.nhrp import codec
from dmvpnlab.report.collect import NhrpMessage

RAW_BYTES = 160


def _cie_rows(cies: Any, prefix: str) -> list[tuple[str, str]]:
    if not isinstance(cies, list):
        return [(prefix, str(cies))]
    rows = []
    for i, cie in enumerate(cies):
        rows.append((f"{prefix}[{i}]", f"code {cie.get('code')} prefix /{cie.get('prefix')} hold {cie.get('holdtime')} "
                     f"s mtu {cie.get('mtu')}"))
        rows.append((f"{prefix}[{i}] client", f"{cie.get('proto', '-')} at NBMA {cie.get('nbma', '-')}"))
    return rows


def details(m: NhrpMessage, t0: float) -> dict[str, Any]:
    """JSON-safe description of message `m` for the page's script."""
    f = m.fields
    seen = [("time", f"{m.at - t0:.6f} s after the first frame"), ("from -> to", f"{m.sender} -> {m.receiver}")]
    for link, (src, dst) in zip(m.links, m.outer):
        seen.append((f"on {link}", f"{src} -> {dst}"))
    if "gre_key" in f:
        seen.append(("GRE key", str(f["gre_key"])))
    if "esp_spi" in f:
        seen.append(("inside", f"{f.get('esp')} spi {f['esp_spi']} seq {f.get('esp_seq')}"))
    header: list[tuple[str, str]] = [("packet type", f"{m.type} ({m.name})"), ("hop count", str(f.get("hop"))),
                                     ("size", f"{m.size} bytes")]
    try:
        pkt = codec.decode(m.data) if m.data else None
    except codec.NhrpDecodeError:
        pkt = None
    if pkt is not None:
        header += [("afn", f"{pkt.afn}"), ("protocol type", f"0x{pkt.pro_type:04x}"), ("version", str(pkt.version))]
        if pkt.checksum is not None:
            header.append(("checksum", f"0x{pkt.checksum:04x}"))
    mandatory: list[tuple[str, str]] = []
    if "req_id" in f:
        mandatory.append(("request id", str(f["req_id"])))
        names = ", ".join(f.get("flag_names") or []) or "none"
        mandatory.append(("flags", f"{f.get('flags')} ({names})"))
    for key, label in (("src_nbma", "source NBMA"), ("src_proto", "source protocol"), ("dst_proto", "destination protocol")):
        mandatory.append((label, str(f.get(key))))
    for key, label in (("error_code", "error code"), ("error_offset", "error offset"), ("traffic_code", "traffic code"),
                       ("trigger", "triggering packet")):
        if key in f:
            mandatory.append((label, str(f[key])))
    extensions: list[tuple[str, str]] = []
    if f.get("extensions"):
        extensions.append(("present", ", ".join(f["extensions"])))
    for key in ("ext_responder", "ext_fwd-transit", "ext_rev-transit", "ext_nat"):
        if key in f:
            extensions += _cie_rows(f[key], key[4:])
    if "auth" in f:
        extensions.append(("authentication", str(f["auth"])))
    raw = m.data[:RAW_BYTES]
    hexdump = [(f"{i:04x}", " ".join(f"{b:02x}" for b in raw[i:i + 16])) for i in range(0, len(raw), 16)]
    if len(m.data) > RAW_BYTES:
        hexdump.append(("...", f"{len(m.data) - RAW_BYTES} more bytes"))
    return {"name": m.name, "sender": m.sender, "receiver": m.receiver, "time": f"{m.at - t0:.3f} s",
            "sections": [{"title": t, "rows": rows} for t, rows in (
                ("Seen", seen), ("Fixed header", header), ("Mandatory part", mandatory),
                ("CIEs", _cie_rows(f.get("cies", []), "cie")), ("Extensions", extensions), ("Bytes", hexdump))]}
