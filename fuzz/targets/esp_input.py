"""ESP input: whatever reaches `InboundSa.open` raises only EspError, and state stays true.

Two targets:
- `esp-open`: mutated ESP packets into long-lived inbound SAs, the way a router's SAs
  meet a hostile network. Seeds are packets our outbound SAs sealed (several transforms,
  fixed keys) and the ESP packets of the Cisco capture (keys unknown: SAs with their
  SPIs and made-up keys, so they exercise the refusal paths). A packet goes to the SA
  its SPI names (as the agent's SA database will route it), or to a catch-all SA.
  Checked on every input: a refusal raises EspError with a known reason, increments
  exactly that counter and leaves the replay window as it was; an acceptance moves the
  window to cover the sequence number, counts one packet, and, under an SA with an ICV,
  is byte for byte a packet we sealed (nothing forged gets through).
- `esp-roundtrip`: the input is a payload (its first byte picks the transform, the
  second the next header); seal -> open must give it back; the same packet again must
  be refused as a replay; one flipped bit (position from the input) must be refused;
  neither refusal may move the window. (Without an ICV, `esp-aes` alone, both may be
  accepted: such an SA has no anti-replay, and flipped bits go unnoticed.)
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from dmvpnlab.ipsec.esp import REASONS, EspError, InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform
from fuzz.harness import Target
from fuzz.targets.seeds import cisco_ip_packets

TRANSFORMS = ("esp-aes esp-sha-hmac", "esp-aes 256 esp-sha256-hmac", "esp-3des esp-md5-hmac",
              "esp-gcm", "esp-gcm 256", "esp-null esp-sha512-hmac", "esp-aes 192 esp-sha384-hmac", "esp-aes")
CATCH_ALL_SPI = 0x0000FFFF
CISCO_TRANSFORM = "esp-aes esp-sha-hmac"  # what the capture's packet lengths fit


def _clock() -> float:
    return 0.0  # lifetimes never run out during a fuzz run: determinism


def _keymat(words: str, n: int) -> bytes:
    total = parse_transform(words).key_lengths().total
    return hashlib.sha512(f"{words}/{n}".encode()).digest()[:total].ljust(total, b"k")


def _spi(n: int) -> int:
    return 0x1000 + n


@lru_cache(maxsize=1)
def _sealed() -> tuple[tuple[bytes, ...], frozenset[bytes]]:
    """Packets our outbound SAs sealed (seeds), and the set of them (the acceptable ones)."""
    packets = []
    for n, words in enumerate(TRANSFORMS):
        out = OutboundSa(words, _spi(n), _keymat(words, n), clock=_clock)
        for size in (0, 1, 20, 61, 200):
            payload = b"\x00\x00\x08\x00" + bytes((size * 7 + i) & 0xFF for i in range(size))
            packets.append(out.seal(payload))
        packets.append(out.seal(b"\x45" + b"\x00" * 19, 4))  # a tunnel-mode-shaped one
    return tuple(packets), frozenset(packets)


def cisco_esp_packets() -> list[bytes]:
    out = []
    for packet in cisco_ip_packets():
        if len(packet) >= 20 and packet[9] == 50:
            ihl = (packet[0] & 0x0F) * 4
            out.append(packet[ihl:int.from_bytes(packet[2:4], "big")])
    return out


@lru_cache(maxsize=1)
def _inbound() -> dict[int, InboundSa]:
    """One inbound SA per SPI, alive for the whole run (their windows move)."""
    sas = {_spi(n): InboundSa(words, _spi(n), _keymat(words, n), clock=_clock) for n, words in enumerate(TRANSFORMS)}
    for packet in cisco_esp_packets():
        spi = int.from_bytes(packet[:4], "big")
        sas[spi] = InboundSa(CISCO_TRANSFORM, spi, _keymat(CISCO_TRANSFORM, spi), clock=_clock)
    sas[CATCH_ALL_SPI] = InboundSa(CISCO_TRANSFORM, CATCH_ALL_SPI, _keymat(CISCO_TRANSFORM, 0), clock=_clock)
    return sas


def _window(sa: InboundSa) -> tuple[int, int] | None:
    return sa.window.state() if sa.window is not None else None


def open_checked(sa: InboundSa, data: bytes, sealed: frozenset[bytes] | None) -> bool:
    """Open `data` and check the invariants; True if it was accepted."""
    window = _window(sa)
    before = sa.counters.as_dict()
    try:
        opened = sa.open(data)
    except EspError as exc:
        assert exc.reason in REASONS, f"unknown reason {exc.reason!r}"
        assert _window(sa) == window, f"refused ({exc}) but the window moved"
        after = sa.counters.as_dict()
        before[exc.reason] += 1
        assert after == before, f"refused ({exc.reason}) but the counters went {before} -> {after}"
        return False
    after = sa.counters.as_dict()
    assert after["pkts_decaps"] == before["pkts_decaps"] + 1
    if sa.window is not None:
        assert sa.window.check(opened.seq) == "duplicate"
    if sealed is not None and sa.transform.authenticated:
        assert data in sealed, f"accepted a packet nobody sealed: {data.hex()}"
    return True


def open_mutated(data: bytes) -> None:
    sas = _inbound()
    spi = int.from_bytes(data[:4], "big") if len(data) >= 4 else CATCH_ALL_SPI
    sa = sas.get(spi, sas[CATCH_ALL_SPI])
    open_checked(sa, data, _sealed()[1])


@lru_cache(maxsize=1)
def _pairs() -> list[tuple[OutboundSa, InboundSa]]:
    pairs = []
    for n, words in enumerate(TRANSFORMS):
        keymat = _keymat(words, 100 + n)
        pairs.append((OutboundSa(words, _spi(100 + n), keymat, clock=_clock),
                      InboundSa(words, _spi(100 + n), keymat, clock=_clock)))
    return pairs


def roundtrip(data: bytes) -> None:
    pick = data[0] if data else 0
    next_header = data[1] if len(data) > 1 else 47
    payload = data[2:]
    out, inbound = _pairs()[pick % len(TRANSFORMS)]
    packet = out.seal(payload, next_header)
    opened = inbound.open(packet)
    assert (opened.payload, opened.next_header, opened.seq) == (payload, next_header, out.seq)
    replayed = open_checked(inbound, packet, None)
    assert not (replayed and inbound.window is not None), "a replayed packet was accepted"
    digest = hashlib.sha1(data).digest()
    flipped = bytearray(packet)
    flipped[int.from_bytes(digest[:4], "big") % len(flipped)] ^= 1 << (digest[4] % 8)
    accepted = open_checked(inbound, bytes(flipped), None)
    assert not (accepted and inbound.transform.authenticated), "a packet with a flipped bit was accepted"


def _roundtrip_seeds() -> list[bytes]:
    return [bytes((n, 47)) + b"\x00\x00\x08\x00" + bytes(range(size)) for n in range(len(TRANSFORMS))
            for size in (0, 13, 100)]


TARGETS = [
    Target("esp-open", lambda: list(_sealed()[0]) + cisco_esp_packets(), open_mutated),
    Target("esp-roundtrip", _roundtrip_seeds, roundtrip),
]
