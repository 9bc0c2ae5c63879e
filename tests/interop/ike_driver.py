"""Our IKEv1 engine on real UDP sockets 500 and 4500, for the strongSwan interop tests.

Why a separate process: the engine is sans-I/O, so something has to own the sockets,
the clock and the select loop, and it has to do so inside the test's network namespace
(`ip netns exec NS python -m tests.interop.ike_driver SPEC_JSON`). The driver is as thin
as the agent's IKE loop will be: datagrams in -> `engine.receive`, a tick every 100 ms,
`outbox` out through the socket of the datagram's `local_port`. It prints one JSON line
per event (`{"event": "ChildSaUp", ...}`, bytes as hex) and per debug line
(`{"debug": "isakmp", "line": ...}`), so the test reads what the engine said, as values.

The spec (JSON, one argument):
    {"local": "192.0.2.1", "peer": "192.0.2.2", "psk": "...", "initiate": true,
     "policies": [{"priority": 10, "encryption": "aes", "key_bits": 128, "hash": "sha",
                   "group": 5}],
     "transforms": [["esp-aes esp-sha-hmac", "tunnel"]], "pfs_group": null,
     "duration": 10, "until": "ChildSaUp"}
`until` (an event name, or "esp_opened") ends the run once that event was seen and 0.5 s more passed
(so the last datagram of the exchange leaves and any answer to it is handled).
`clear_after_child` (seconds): that long after the first ChildSaUp, `engine.clear(None)`
(IOS's `clear crypto session`); `until` then usually names "IkeSaDown".
`esp_probe` (true): once a tunnel-mode, UDP-encapsulated ChildSaUp is announced, seal
an inner GRE packet (us -> peer) with `ipsec.esp.OutboundSa` every 0.2 s until one comes
back; ESP arriving on 4500 is opened with `InboundSa` and reported as `esp_opened` (the
inner packet as hex) or `esp_error` (the reason). That is the data plane the agent will
run, against charon's own ESP (kernel-libipsec), with the keys of the negotiation.
Every record carries `t`, seconds since the driver started (before `connect`).
"""

from __future__ import annotations

import dataclasses
import json
import select
import socket
import struct
import sys
import time
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dmvpnlab.ipsec.esp import EspError, InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import EspTransform, parse_transform
from dmvpnlab.ipsec.settings import ChildPolicy, IkePolicy, IpsecSettings, PresharedKey, Proposal

PORTS = (500, 4500)


def settings_from_spec(spec: dict[str, Any]) -> IpsecSettings:
    """IpsecSettings as the agent would build them from the equivalent IOS config."""
    policies = tuple(IkePolicy(p["priority"], p.get("encryption", "aes"), p.get("key_bits"), p.get("hash", "sha"),
                               p.get("group", 1), p.get("lifetime", 86400)) for p in spec.get("policies", ()))
    proposals = tuple(Proposal(f"ts{i}", parse_transform(words), mode)
                      for i, (words, mode) in enumerate(spec.get("transforms", ())))
    child = ChildPolicy("interop", **({"proposals": proposals} if proposals else {}),
                        pfs_group=spec.get("pfs_group"))
    key = PresharedKey(spec["psk"].encode(), IPv4Network(f"{spec['peer']}/32"))
    return IpsecSettings(IPv4Address(spec["local"]), child, policies=policies, keys=(key,))


def jsonable(value: Any) -> Any:
    """Events as JSON: bytes as hex, addresses as text, transforms by their IOS words."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, IPv4Address):
        return str(value)
    if isinstance(value, EspTransform):
        return value.ios_words
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


PROBE = b"dmvpnlab-esp-probe"


def ipv4_packet(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    """An IPv4 header (checksummed) and `payload`: the inner packet of tunnel mode."""
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0x4000, 64, proto, 0,
                                   socket.inet_aton(src), socket.inet_aton(dst)))
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", header, 10, ~total & 0xFFFF)
    return bytes(header) + payload


_T0 = time.monotonic()


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({**record, "t": round(time.monotonic() - _T0, 4)}) + "\n")
    sys.stdout.flush()


def run(spec: dict[str, Any]) -> int:
    from dmvpnlab.ipsec.ikev1_engine import IkeEngine  # imported here: the driver's only engine use

    local = spec["local"]
    socks: dict[int, socket.socket] = {}
    for port in PORTS:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((local, port))
        s.setblocking(False)
        socks[port] = s
    by_fd = {s.fileno(): port for port, s in socks.items()}

    engine = IkeEngine(settings_from_spec(spec), time.monotonic(),
                       debug=lambda category, line: emit({"debug": category, "line": line}))

    esp: dict[str, Any] = {}  # "out"/"in": the SAs of the first ChildSaUp, "peer": where ESP goes

    def drain() -> set[str]:
        seen = set()
        for dgram in engine.outbox:
            socks[dgram.local_port].sendto(dgram.data, (str(dgram.peer), dgram.port))
            emit({"sent": len(dgram.data), "from_port": dgram.local_port, "to": f"{dgram.peer}:{dgram.port}"})
        engine.outbox.clear()
        for event in engine.events:
            emit({"event": type(event).__name__, **jsonable(event)})
            seen.add(type(event).__name__)
            if spec.get("esp_probe") and type(event).__name__ == "ChildSaUp" and not esp:
                esp["out"] = OutboundSa(event.transform, event.spi_out, event.keymat_out, mode=event.mode)
                esp["in"] = InboundSa(event.transform, event.spi_in, event.keymat_in, mode=event.mode)
                esp["peer"] = (str(event.peer), event.peer_port)
        engine.events.clear()
        return seen

    start = time.monotonic()
    emit({"ready": True, "local": local})
    if spec.get("initiate"):
        engine.connect(IPv4Address(spec["peer"]), time.monotonic())
    seen = drain()
    until, done_at = spec.get("until"), None
    clear_after, clear_at, cleared = spec.get("clear_after_child"), None, False
    next_probe, probe_seq = 0.0, 0
    next_tick = time.monotonic() + 0.1
    while time.monotonic() - start < spec.get("duration", 10):
        if clear_after is not None and clear_at is None and "ChildSaUp" in seen:
            clear_at = time.monotonic() + clear_after
        if clear_at is not None and not cleared and time.monotonic() >= clear_at:
            cleared = True
            emit({"cleared": engine.clear(None, time.monotonic())})
            seen |= drain()
        if esp and "esp_opened" not in seen and time.monotonic() >= next_probe:
            probe_seq += 1
            inner = ipv4_packet(local, spec["peer"], 47, b"\x00\x00\x08\x00" + PROBE + bytes([probe_seq]))
            socks[4500].sendto(esp["out"].seal(inner, 4), esp["peer"])
            emit({"esp_sent": probe_seq, "spi": esp["out"].spi})
            next_probe = time.monotonic() + 0.2
        if until and until in seen and done_at is None:
            done_at = time.monotonic() + 0.5
        if done_at is not None and time.monotonic() >= done_at:
            break
        ready, _, _ = select.select(list(socks.values()), [], [], max(0.0, next_tick - time.monotonic()))
        for s in ready:
            port = by_fd[s.fileno()]
            try:
                data, (addr, peer_port) = s.recvfrom(65535)
            except BlockingIOError:
                continue
            if port == 4500 and len(data) > 4 and data[:4] != bytes(4):
                # ESP in UDP (RFC 3948): the agent hands it to the SA database, not to IKE.
                emit({"esp_in_udp": len(data), "spi": data[:4].hex(), "from": f"{addr}:{peer_port}"})
                if esp:
                    try:
                        opened = esp["in"].open(data)
                    except EspError as refused:
                        emit({"esp_error": refused.reason, "detail": refused.detail})
                    else:
                        emit({"esp_opened": opened.payload.hex(), "next_header": opened.next_header,
                              "seq": opened.seq})
                        seen.add("esp_opened")
                continue
            emit({"received": len(data), "port": port, "from": f"{addr}:{peer_port}", "data": data.hex()})
            engine.receive(data, IPv4Address(addr), peer_port, port, time.monotonic())
            seen |= drain()
        if time.monotonic() >= next_tick:
            engine.tick(time.monotonic())
            seen |= drain()
            next_tick = time.monotonic() + 0.1
    emit({"counters": dict(getattr(engine, "counters", {}))})
    for s in socks.values():
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(run(json.loads(sys.argv[1])))
