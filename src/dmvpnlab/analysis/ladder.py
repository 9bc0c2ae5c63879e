"""Capture inspector: NHRP and tunnel traffic of a pcap/pcapng as a ladder of events.

Why a separate reader from the scenario assertions: users and scripts point it at any
capture (ours, Cisco's, a customer's) and want one line per packet saying who sent
what to whom: NHRP message and its key fields, GRE data with the inner packet, ESP SPIs,
IKE. Everything is decoded with the project's codec (never scapy's idea of NHRP), so the
``--roundtrip`` check is also a conformance check of captures against our codec.

API:
    ``CaptureError``: unreadable/missing file (one-line message), raised by `read_events`
        and `roundtrip` before anything is read.
    ``CaptureDamaged(CaptureError)``: a record is cut short or corrupt; `read_events`
        raises it after the events before that record (frame, offset, reason).
    ``read_events(path, keys_dir=None) -> Iterator[Event]``: every tunnel-related packet;
        with `keys_dir` (a lab's key directory, `esp_sa`), ESP that those keys open is
        shown as the GRE/NHRP inside it, with `esp_spi` in its fields.
    ``Event``: frame, time (seconds since the first frame), src, dst (outer IPs),
        kind ("nhrp", "gre", "esp", "isakmp"), message, fields (dict, JSON-safe),
        nhrp_bytes (the NHRP packet, for nhrp events).
    ``format_ladder(events) -> Iterator[str]``, ``event_json(event) -> str``,
    ``roundtrip(path) -> RoundtripResult`` (a damaged capture: `damage` set, not raised).

Records are read by `capfile` (which reports damage instead of stopping quietly), frames
dissected by scapy. Packet type names and numbers come from `nhrp.codec` (PACKET_NAMES,
PacketType). Imports `capfile`, `esp_keys`, `nhrp.codec` and `tunnel.gre`; scapy only
when a capture is read.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from dmvpnlab.analysis import capfile
from dmvpnlab.analysis.esp_keys import EspKeyring
from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.codec import ExtensionType, PacketType
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, GreDecodeError, decode_gre

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_PORTS = struct.Struct("!HH")
_ESP = struct.Struct("!II")

# Short extension names for ladder lines and JSON keys (debug output has the long ones).
_EXT_NAMES = {ExtensionType.END: "end", ExtensionType.RESPONDER_ADDRESS: "responder",
              ExtensionType.FORWARD_TRANSIT_NHS: "fwd-transit", ExtensionType.REVERSE_TRANSIT_NHS: "rev-transit",
              ExtensionType.AUTHENTICATION: "auth", ExtensionType.VENDOR_PRIVATE: "vendor",
              ExtensionType.CISCO_NAT: "nat"}
_CIE_EXTENSIONS = (ExtensionType.RESPONDER_ADDRESS, ExtensionType.FORWARD_TRANSIT_NHS,
                   ExtensionType.REVERSE_TRANSIT_NHS, ExtensionType.CISCO_NAT)
_NO_REQUEST_ID = (PacketType.ERROR_INDICATION, PacketType.TRAFFIC_INDICATION)
_ICMP_NAMES = {0: "echo-reply", 3: "unreachable", 5: "redirect", 8: "echo", 11: "time-exceeded"}
_IP_PROTOS = {1: "ICMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 89: "OSPF", 88: "EIGRP"}
_SCAPY_MTU = 0xFFFF  # scapy's reader cut frames there; so do we, so every line reads as it did


class CaptureError(Exception):
    """The capture cannot be read (missing, not a pcap/pcapng, truncated header)."""


class CaptureDamaged(CaptureError):
    """A record of the capture is cut short or corrupt; raised after the events before it.

    `frame` is the number the damaged record would have had, `offset` where it starts."""

    def __init__(self, path: Path, damage: capfile.CaptureDamaged) -> None:
        super().__init__(f"{path}: capture damaged at frame {damage.frame} (byte offset {damage.offset}): "
                         f"{damage.reason}; {damage.frames_read} frame{' was' if damage.frames_read == 1 else 's were'} "
                         "read before it")
        self.frame = damage.frame
        self.offset = damage.offset
        self.reason = damage.reason


@dataclass(slots=True)
class Event:
    frame: int
    time: float
    src: str
    dst: str
    kind: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    nhrp_bytes: bytes | None = None
    at: float = 0.0  # the frame's own timestamp (seconds since the epoch): lines it up with fault records


# --- reading ------------------------------------------------------------------------
def _ip_bytes(packet: Any, frame: bytes) -> bytes | None:
    """Outer IPv4 packet bytes of a frame, whatever the link type (Ethernet, SLL, raw)."""
    from scapy.layers.inet import IP

    ip = packet.getlayer(IP)
    if ip is not None:
        return bytes(ip)
    # Unknown link type that scapy left as Raw: accept it if it looks like bare IPv4. The
    # frame's own bytes, not bytes(packet): rebuilding a cut Ethernet header would make
    # scapy look up a destination MAC address.
    if frame and frame[0] >> 4 == 4 and len(frame) >= 20:
        return frame
    return None


def _open(path: Path) -> capfile.CaptureReader:
    """Open the capture now, so a bad file fails before any output is printed."""
    if not path.exists():
        raise CaptureError(f"{path}: no such file")
    if not path.is_file():
        raise CaptureError(f"{path}: not a regular file")
    try:
        return capfile.CaptureReader(path)
    except (capfile.CaptureFormatError, OSError) as exc:
        raise CaptureError(f"{path}: not a pcap or pcapng capture ({exc})") from None


def _dissect(frame: bytes, linktype: int) -> Any:
    """The frame as scapy's own reader would give it: the link type's class, Raw if that fails."""
    import scapy.layers.inet  # noqa: F401  (registers IPv4 for raw-IP link types)
    import scapy.layers.l2  # noqa: F401  (registers Ethernet and Linux cooked link types)
    from scapy.config import conf

    layer = conf.l2types.num2layer.get(linktype, conf.raw_layer)
    try:
        return layer(frame)
    except Exception:  # noqa: BLE001 - what scapy's reader does with a frame its dissector rejects
        return conf.raw_layer(frame)


def _frames(path: Path, reader: capfile.CaptureReader) -> Iterator[tuple[int, float, bytes | None]]:
    with reader:
        try:
            for record in reader:
                frame = record.data[:_SCAPY_MTU]
                yield record.frame, record.time, _ip_bytes(_dissect(frame, record.linktype), frame)
        except capfile.CaptureDamaged as exc:
            raise CaptureDamaged(path, exc) from None


def read_events(path: str | Path, keys_dir: str | Path | None = None) -> Iterator[Event]:
    """Tunnel-related events of a capture, in capture order (opens the file at once).

    CaptureError now if the file cannot be read; CaptureDamaged after the last event
    before a truncated or corrupt record. ESP is opened with the `esp_sa` table in
    `keys_dir` when one is given and has keys."""
    path = Path(path)
    keyring = EspKeyring.load(Path(keys_dir)) if keys_dir is not None else None
    return _events(_frames(path, _open(path)), keyring or None)


def _events(frames: Iterator[tuple[int, float, bytes | None]], keyring: EspKeyring | None = None) -> Iterator[Event]:
    start: float | None = None
    for number, when, ip in frames:
        if start is None:
            start = when
        if ip is None:
            continue
        event = _event_from_ip(number, when - start, ip, keyring)
        if event is not None:
            event.at = when
            yield event


def _event_from_ip(number: int, when: float, ip: bytes, keyring: EspKeyring | None = None) -> Event | None:
    if len(ip) < 20:
        return None
    vihl, _tos, total, _id, _frag, _ttl, proto, _ck, src, dst = _IPV4.unpack_from(ip)
    ihl = (vihl & 0x0F) * 4
    end = total if ihl <= total <= len(ip) else len(ip)
    body = ip[ihl:end]
    s, d = _fmt_ip(src), _fmt_ip(dst)
    if proto == 47:
        return _gre_event(number, when, s, d, body)
    if proto == 50:
        return _esp_event(number, when, s, d, body, "ESP", keyring)
    if proto == 17 and len(body) >= 8:
        sport, dport = _PORTS.unpack_from(body)
        if 500 in (sport, dport):
            return Event(number, when, s, d, "isakmp", "ISAKMP", _isakmp_fields(body[8:]))
        if 4500 in (sport, dport):
            payload = body[8:]
            if payload[:4] == b"\x00\x00\x00\x00":
                return Event(number, when, s, d, "isakmp", "ISAKMP (NAT-T)", _isakmp_fields(payload[4:]))
            if payload == b"\xff":
                return Event(number, when, s, d, "isakmp", "NAT-T keepalive")
            return _esp_event(number, when, s, d, payload, "ESP-in-UDP", keyring)
    return None


def _fmt_ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _isakmp_fields(data: bytes) -> dict[str, Any]:
    if len(data) < 28:
        return {}
    return {"icookie": data[:8].hex(), "rcookie": data[8:16].hex(), "exchange": data[18]}


def _esp_event(number: int, when: float, s: str, d: str, body: bytes, label: str,
               keyring: EspKeyring | None = None) -> Event:
    if len(body) < 8:
        return Event(number, when, s, d, "esp", f"{label} (truncated)")
    opened = keyring.open(s, d, body) if keyring else None
    if opened is not None and opened[1].next_header == 47:  # GRE in transport mode: show what it carries
        event = _gre_event(number, when, s, d, opened[1].payload)
        event.fields.update(esp=label, esp_spi=f"0x{opened[0]:08x}", esp_seq=opened[1].seq)
        return event
    spi, seq = _ESP.unpack_from(body)
    return Event(number, when, s, d, "esp", f"{label} spi=0x{spi:08x}", {"spi": f"0x{spi:08x}", "seq": seq})


def _gre_event(number: int, when: float, s: str, d: str, body: bytes) -> Event:
    try:
        gre = decode_gre(body, verify_checksum=False)
        payload = gre.payload
    except GreDecodeError as exc:
        return Event(number, when, s, d, "gre", f"GRE (malformed: {exc})")
    fields: dict[str, Any] = {}
    if gre.key is not None:
        fields["gre_key"] = gre.key
    if gre.proto == GRE_PROTO_NHRP:
        return _nhrp_event(number, when, s, d, payload, fields)
    if gre.proto == GRE_PROTO_IPV4:
        summary, inner = _inner_ipv4(payload)
        fields.update(inner)
        return Event(number, when, s, d, "gre", f"GRE data {summary}", fields)
    return Event(number, when, s, d, "gre", f"GRE proto 0x{gre.proto:04x}", fields)


def _inner_ipv4(ip: bytes) -> tuple[str, dict[str, Any]]:
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return "(not IPv4)", {}
    vihl, _tos, _total, _id, _frag, ttl, proto, _ck, src, dst = _IPV4.unpack_from(ip)
    s, d = _fmt_ip(src), _fmt_ip(dst)
    body = ip[(vihl & 0x0F) * 4:]
    fields: dict[str, Any] = {"inner_src": s, "inner_dst": d, "inner_proto": proto, "inner_ttl": ttl}
    name = _IP_PROTOS.get(proto, f"proto {proto}")
    if proto == 1 and body:
        kind = _ICMP_NAMES.get(body[0], f"type {body[0]}")
        return f"ICMP {kind} {s} > {d}", fields
    if proto in (6, 17) and len(body) >= 4:
        sport, dport = _PORTS.unpack_from(body)
        fields.update(sport=sport, dport=dport)
        return f"{name} {s}:{sport} > {d}:{dport}", fields
    return f"{name} {s} > {d}", fields


def _nhrp_event(number: int, when: float, s: str, d: str, data: bytes, fields: dict[str, Any]) -> Event:
    try:
        pkt = codec.decode(data)
    except codec.NhrpDecodeError as exc:
        return Event(number, when, s, d, "nhrp", f"NHRP (malformed: {exc})", fields, data)
    fields.update(nhrp_fields(pkt))
    name = codec.PACKET_NAMES.get(pkt.type, f"NHRP type {pkt.type}")
    return Event(number, when, s, d, "nhrp", name, fields, data)


def _cie_dict(cie: codec.Cie) -> dict[str, Any]:
    out: dict[str, Any] = {"code": int(cie.code), "prefix": cie.prefix_len, "holdtime": cie.holdtime, "mtu": cie.mtu}
    if cie.nbma is not None:
        out["nbma"] = str(cie.nbma)
    if cie.proto is not None:
        out["proto"] = str(cie.proto)
    return out


def nhrp_fields(pkt: codec.NhrpPacket) -> dict[str, Any]:
    """JSON-safe key fields of an NHRP packet (what a ladder line shows)."""
    out: dict[str, Any] = {"type": int(pkt.type), "hop": pkt.hop_count}
    if pkt.type not in _NO_REQUEST_ID:
        out["req_id"] = pkt.request_id
        out["flags"] = f"0x{pkt.flags:04x}"
        out["flag_names"] = codec.flag_names(pkt.type, pkt.flags)
    for name in ("src_nbma", "src_proto", "dst_proto"):
        value = getattr(pkt, name)
        out[name] = str(value) if value is not None else None
    if pkt.cies:
        out["cies"] = [_cie_dict(c) for c in pkt.cies]
    if pkt.type == PacketType.ERROR_INDICATION:
        out["error_code"] = pkt.error_code
        out["error_offset"] = pkt.error_offset
    if pkt.type == PacketType.TRAFFIC_INDICATION:
        out["traffic_code"] = pkt.traffic_code
        if len(pkt.payload) >= 20:
            out["trigger"] = f"{_fmt_ip(pkt.payload[12:16])} > {_fmt_ip(pkt.payload[16:20])}"
    exts = []
    for ext in pkt.extensions:
        exts.append(_EXT_NAMES.get(int(ext.type), f"0x{int(ext.type):04x}"))
        if ext.type in _CIE_EXTENSIONS and ext.payload:
            try:
                out[f"ext_{_EXT_NAMES[int(ext.type)]}"] = [_cie_dict(c) for c in ext.cies()]
            except codec.NhrpDecodeError:
                out[f"ext_{_EXT_NAMES[int(ext.type)]}"] = "malformed"
    if exts:
        out["extensions"] = exts
    password = pkt.auth_password()
    if password is not None:
        out["auth"] = password.decode("latin-1")
    return out


# --- output -------------------------------------------------------------------------
def _details(event: Event) -> str:
    f = event.fields
    parts: list[str] = []
    if event.kind == "nhrp" and "type" in f:
        if "req_id" in f:
            parts.append(f"id={f['req_id']}")
        parts.append(f"{f.get('src_proto')} -> {f.get('dst_proto')}")
        parts.append(f"nbma={f.get('src_nbma')}")
        if f.get("flag_names"):
            parts.append("flags=" + ",".join(f["flag_names"]))
        parts.append(f"hop={f['hop']}")
        for cie in f.get("cies", []):
            addr = f" {cie.get('proto', '-')}/{cie['prefix']}@{cie.get('nbma', '-')}" if ("nbma" in cie or "proto" in cie) else ""
            parts.append(f"cie[code={cie['code']}{addr} hold={cie['holdtime']}]")
        if "trigger" in f:
            parts.append(f"trigger={f['trigger']}")
        if "error_code" in f:
            parts.append(f"error={f['error_code']}@{f['error_offset']}")
        for key in ("ext_responder", "ext_fwd-transit", "ext_nat"):
            if isinstance(f.get(key), list):
                hops = ",".join(f"{c.get('proto', '-')}@{c.get('nbma', '-')}" for c in f[key])
                parts.append(f"{key[4:]}={hops}")
    elif event.kind == "esp" and "seq" in f:
        parts.append(f"seq={f['seq']}")
    if "gre_key" in f:
        parts.append(f"key={f['gre_key']}")
    if "esp_spi" in f:
        parts.append(f"in {f['esp']} spi={f['esp_spi']} seq={f['esp_seq']}")
    return " ".join(parts)


def format_ladder(events: Iterable[Event], faults: Iterable[tuple[float, str]] = ()) -> Iterator[str]:
    """One line per event: frame, relative time, outer from -> to, message, key fields.

    `faults` ((epoch time, text), e.g. from the lab's faults.jsonl) are interleaved where they
    happened, as `-- fault: ...` lines, so what a fault did is read right after it."""
    pending = sorted(faults)
    origin: float | None = None
    yield f"{'#':>5}  {'time':>10}  {'from':>15}    {'to':<15}  {'message':<24}  details"
    for e in events:
        if origin is None:
            origin = e.at - e.time
        while pending and pending[0][0] <= e.at:
            when, text = pending.pop(0)
            yield f"{'-':>5}  {when - origin:>10.6f}  -- fault: {text}"
        yield f"{e.frame:>5}  {e.time:>10.6f}  {e.src:>15} -> {e.dst:<15}  {e.message:<24}  {_details(e)}".rstrip()
    for when, text in pending:
        yield f"{'-':>5}  {when - (origin or when):>10.6f}  -- fault: {text}"


def read_fault_record(path: Path) -> list[tuple[float, str]]:
    """(time, `kind target action k=v`) of each line of a lab's faults.jsonl (the format of
    dmvpnlab.lab.faults.record, read here without importing the lab); unreadable lines skipped."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for text in lines:
        try:
            item = json.loads(text)
            extra = " ".join(f"{k}={v}" for k, v in (item.get("params") or {}).items())
            out.append((float(item["time"]), f"{item['kind']} {item['target']} {item['action']} {extra}".rstrip()))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


def event_json(event: Event) -> str:
    obj = {"frame": event.frame, "time": round(event.time, 6), "src": event.src, "dst": event.dst,
           "kind": event.kind, "message": event.message, **event.fields}
    return json.dumps(obj, sort_keys=False)


# --- round trip ---------------------------------------------------------------------
@dataclass(slots=True)
class RoundtripResult:
    """`ok`: no NHRP packet failed (of `checked`). `damage`: the capture ended at a damaged
    record (the packets before it were checked), so a live capture still being written can
    be checked and a damaged one is not taken for complete."""

    checked: int
    failed_frame: int | None = None
    reason: str = ""
    damage: CaptureDamaged | None = None

    @property
    def ok(self) -> bool:
        return self.failed_frame is None


def roundtrip(path: str | Path, keys_dir: str | Path | None = None) -> RoundtripResult:
    """Decode and re-encode every NHRP packet (also inside ESP that `keys_dir`'s keys open);
    stop at the first that fails or differs."""
    checked = 0
    events = read_events(path, keys_dir)
    while True:
        try:
            event = next(events)
        except StopIteration:
            break
        except CaptureDamaged as damage:
            return RoundtripResult(checked, damage=damage)
        if event.kind != "nhrp" or event.nhrp_bytes is None:
            continue
        checked += 1
        data = event.nhrp_bytes
        try:
            pkt = codec.decode(data)
        except codec.NhrpDecodeError as exc:
            return RoundtripResult(checked, event.frame, f"does not decode: {exc}")
        size = struct.unpack_from("!H", data, 10)[0]
        again = codec.encode(pkt)
        if again != data[:size]:
            at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), size))
            return RoundtripResult(checked, event.frame,
                                   f"re-encoded bytes differ at offset {at} ({len(again)} vs {size} bytes)")
    return RoundtripResult(checked)
