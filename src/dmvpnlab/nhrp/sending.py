"""How the NHRP engine talks back: its outbox, its counters, its refusals, `debug nhrp`.

Everything the engine puts on the wire goes through here, so the rules hold in one
place: a packet the router originates is encoded and queued (`_send`); an answer to a
peer's packet is built and size-checked *before* the handler changes any state
(`_build`), then queued once the state is committed (`_emit`); a peer's packet the
engine will not act on is counted by reason in `dropped` and, for a request, answered
with the RFC 2332 Error Indication the refusal names (`_refuse`, rules in
`nhrp.inbound`). The counters are what `show ip nhrp traffic` and the JSON state read.

`NhrpEngine` is the one subclass; this base only holds what sending needs (the
identity and interface name come from the engine's config). Imports only `nhrp`.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address
from typing import Callable

from dmvpnlab.nhrp import debug as nhrp_debug
from dmvpnlab.nhrp import inbound, messages
from dmvpnlab.nhrp.codec import PACKET_NAMES, NhrpPacket, PacketType, encode
from dmvpnlab.nhrp.config import NhrpEngineConfig


class Sender:
    """The engine's outbox, counters and refusals (see the module docstring)."""

    config: NhrpEngineConfig
    me: messages.Identity

    def __init__(self, debug: Callable[[str, str], None] | None) -> None:
        self.outbox: list[tuple[IPv4Address, bytes]] = []
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()  # peer packets not acted on, by reason
        # The largest NHRP packet the transport carries; an encrypting one lowers it.
        self.max_packet = inbound.MAX_SEND
        self._debug = debug
        # Whether anyone reads `debug nhrp` now: the agent answers (a terminal asked for it,
        # or its log is at DEBUG). Formatting a packet's lines cost a 10,000-spoke hub a
        # third of its time with nobody reading them.
        self.debugging: Callable[[], bool] = lambda: True

    def _send(self, nbma: IPv4Address, packet: NhrpPacket) -> None:
        """Send a packet this router originates (small by construction)."""
        self._emit(nbma, packet, encode(packet))

    def _emit(self, nbma: IPv4Address, packet: NhrpPacket, data: bytes) -> None:
        """Queue `data` (the encoding of `packet`) for NBMA `nbma`."""
        self.outbox.append((nbma, data))
        name = PACKET_NAMES.get(packet.type, str(packet.type))
        self.sent[name] += 1
        if self._debug is not None and self.debugging():
            dst = packet.src_proto if packet.type == PacketType.RESOLUTION_REPLY else packet.dst_proto
            self._log("packet", f"NHRP: Send {name} via {self.config.interface} vrf 0, packet size: {len(data)}")
            self._log("packet", f" src: {self.me.proto}, dst: {dst}")
            self._log_packet(packet, len(data))

    def _log_packet(self, packet: NhrpPacket, size: int) -> None:
        for line in nhrp_debug.packet_lines(packet, size):
            self._log("packet", line)
        for line in nhrp_debug.extension_lines(packet):
            self._log("extension", line)

    def _log(self, category: str, line: str) -> None:
        if self._debug is not None and self.debugging():
            self._debug(category, line)

    # --- answering a peer's packet ------------------------------------------------------

    def _refuse(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address, refusal: inbound.Refusal) -> None:
        """Count a packet the engine will not act on and, for a request, send the RFC 2332
        Error Indication its refusal names back to where the request came from."""
        self.dropped[refusal.reason] += 1
        name = PACKET_NAMES.get(packet.type, str(packet.type))
        self._log("packet", f"NHRP: Dropping {name} from {outer_src}: {refusal.detail}")
        if refusal.error_code is not None and packet.type in inbound.REQUESTS and packet.src_proto is not None:
            self._send(outer_src, messages.error_indication(self.me, inbound.quote(data, self.max_packet), refusal.error_code,
                                                            packet.src_proto, refusal.offset))

    def _unrecognized(self, packet: NhrpPacket, data: bytes, outer_src: IPv4Address) -> bool:
        """Refuse (True) a packet this router answers or consumes that carries a compulsory
        extension it does not know; a packet it only passes on keeps them (RFC 2332 5.2.7)."""
        refusal = inbound.unrecognized(packet, data)
        if refusal is not None:
            self._refuse(packet, data, outer_src, refusal)
        return refusal is not None

    def _build(self, request: NhrpPacket, data: bytes, outer_src: IPv4Address,
               answer: NhrpPacket) -> tuple[NhrpPacket, bytes] | None:
        """`answer` encoded, before any state changes for `request`; None (refused: SDU size
        exceeded) when it would not fit what the transport carries."""
        out = inbound.encoded(answer, self.max_packet)
        if isinstance(out, inbound.Refusal):
            self._refuse(request, data, outer_src, out)
            return None
        return answer, out

    def _answer(self, nbma: IPv4Address, request: NhrpPacket, data: bytes, outer_src: IPv4Address,
                answer: NhrpPacket) -> None:
        """Send `answer` to a request when it fits (no state depends on it)."""
        built = self._build(request, data, outer_src, answer)
        if built is not None:
            self._emit(nbma, *built)
