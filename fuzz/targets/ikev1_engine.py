"""The IKEv1 engine under hostile datagrams, in both roles, at every step of Main Mode
and Quick Mode and once the SAs are up (sans-I/O, fake clock).

Each input picks a *stage* with its first byte and carries a datagram in the rest. For
every input a fresh pair of engines (tests/ike_sim.py: a spoke initiating to a hub,
ECP group 19 for phase 1 and PFS: OpenSSL checks a MODP peer value for tens of ms, an ECP one in well under one) runs a real exchange up to that stage; there the victim
receives the mutant in place of, or before, the genuine message, then the genuine one
and the rest of the exchange, and time runs on past retransmissions, DPD, rekey and
lifetimes. Three shapes of input:

- `ikev1-engine`: the mutant is an ISAKMP message as a peer could send it on UDP 500
  (seeds: every message of a recorded exchange, the Cisco captures' ISAKMP messages);
- `ikev1-engine-sealed`: the mutant is a decrypted payload chain (first payload type,
  then the chain), sealed by the real sender with the SA's keys and IV chain, with a
  correct HASH(1) where the stage is a QM1 or an Informational -- so the mutations reach
  the Quick Mode and Informational parsers behind the encryption and the hash;
- the genuine stages in-order (the seeds themselves) must complete: child SAs agree.

Invariants, per input: no exception escapes (the engine counts its own slips as
"internal error", which is a finding too); every datagram queued is a NAT keepalive or
an ISAKMP message that decodes; every refusal names one of REFUSAL_REASONS; every event
is an IkeEvent.
"""

from __future__ import annotations

import hashlib
import random as _random
from functools import lru_cache
from typing import Callable

from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.events import REFUSAL_REASONS, ChildSaDown, ChildSaLarval, ChildSaUp, IkeRefused, IkeSaDown, IkeSaUp, PeerDead
from dmvpnlab.ipsec.isakmp import IsakmpMessage, OpaquePayload
from dmvpnlab.ipsec.isakmp_const import NON_ESP_MARKER, ExchangeType, PayloadType
from dmvpnlab.ipsec.settings import ChildPolicy, Dpd, IkePolicy
from fuzz.harness import Target
from fuzz.targets.isakmp_codec import capture_messages
from fuzz.targets.seeds import test_support

#: The messages of one exchange in wire order, by sender; a stage is "deliver message
#: N to its receiver", N = 9 is an Informational (a DPD R-U-THERE) from the spoke.
ORDER = ("a", "b", "a", "b", "a", "b", "a", "b", "a", "a")
POLICY = (IkePolicy(10, "aes", 128, "sha", 19, lifetime=600),)
SEALED = 0x80


def _pair(seed: int):
    sim = test_support("ike_sim")
    child = ChildPolicy("DMVPN", lifetime_seconds=120, pfs_group=19)
    rng = _random.Random(seed)
    pair = sim.Pair(sim.settings(sim.SPOKE, policies=POLICY, child=child, dpd=Dpd(10, 2, periodic=True)),
                    sim.settings(sim.HUB, policies=POLICY, child=child, dpd=Dpd(10, 2)))
    for node in (pair.a, pair.b):
        node.engine.random = rng.randbytes
    return sim, pair


def _genuine(pair) -> list[tuple[object, object]]:
    """Run the exchange message by message; returns (sender node, datagram) in order."""
    out = []
    pair.a.engine.connect(pair.b.address, pair.now)
    for _ in range(12):
        batch = pair.collect()
        if not batch:
            break
        for node, d in batch:
            out.append((node, d))
            pair.deliver(node, d)
    pair.advance(11, step=1.0)          # the first DPD R-U-THERE and its ACK
    return out


@lru_cache(maxsize=1)
def _recorded() -> tuple[bytes, ...]:
    _, pair = _pair(1)
    wire = [d.data for _, d in _genuine(pair)] + [d.data for _, d in pair.wire[-2:]]
    return tuple(dict.fromkeys(wire))


def seeds() -> list[bytes]:
    out = []
    for i, data in enumerate(_recorded()):
        out.append(bytes([i % len(ORDER)]) + data)
    out += [bytes([i % len(ORDER)]) + m for i, m in enumerate(capture_messages())]
    return out


def sealed_seeds() -> list[bytes]:
    """Decrypted bodies of the encrypted messages: first type, then the chain."""
    _, pair = _pair(1)
    out = []
    for stage, (node, d) in enumerate(_genuine(pair)):
        msg = isakmp.decode(d.data)
        if not msg.is_encrypted:
            continue
        other = pair.other(node)
        for sa in other.engine.sas_of(None):
            crypto = sa.mm.crypto
            if crypto is not None and crypto.cookie_i == msg.icookie:
                try:
                    payloads, plain = crypto.open(msg)
                except isakmp.IsakmpDecodeError:
                    continue
                out.append(bytes([SEALED | (stage % len(ORDER))]) + bytes([payloads[0].type]) + plain)
    return out


def _seal(pair, sender, stage: int, chain: bytes) -> bytes | None:
    """A plaintext chain sealed with the sender's live SA; HASH(1) fixed where we can."""
    if not chain:
        return None
    try:
        payloads, _ = isakmp.decode_payloads(chain[0], chain[1:])
    except isakmp.IsakmpDecodeError:
        return None
    if not payloads:
        return None
    sas = [sa for sa in sender.engine.sas_of(None) if sa.mm.crypto is not None]
    if not sas:
        return None
    sa = sas[-1]
    mm = sa.mm
    mid = 0 if stage in (4, 5) else int.from_bytes(hashlib.sha1(chain).digest()[:4], "big") | 1
    exchange = {4: ExchangeType.MAIN_MODE, 5: ExchangeType.MAIN_MODE, 9: ExchangeType.INFORMATIONAL}.get(
        stage, ExchangeType.QUICK_MODE)
    if stage in (6, 9) and payloads[0].type == PayloadType.HASH and mm.phase1 is not None and mm.suite is not None:
        rest = isakmp.encode_payloads(payloads[1:])
        payloads[0] = OpaquePayload(PayloadType.HASH, keys.hash1(mm.suite.hash, mm.phase1.skeyid_a, mid, rest))
    msg = IsakmpMessage(mm.cookie_i, mm.cookie_r, exchange, message_id=mid, payloads=payloads)
    try:
        return mm.crypto.seal(msg)
    except ValueError:
        return None


def _check(node) -> None:
    engine = node.engine
    assert engine.counters["internal error"] == 0, [line for _, line in node.log if "internal error" in line]
    for d in engine.outbox:
        data = d.data
        if data == b"\xff":
            continue
        if d.local_port == 4500:
            assert data[:4] == NON_ESP_MARKER, f"no non-ESP marker on 4500: {data.hex()}"
            data = data[4:]
        isakmp.decode(data)
    for event in engine.events:
        assert isinstance(event, (IkeSaUp, IkeSaDown, ChildSaUp, ChildSaLarval, ChildSaDown, IkeRefused, PeerDead)), event
        if isinstance(event, IkeRefused):
            assert event.reason in REFUSAL_REASONS, event.reason


def _run(data: bytes, deliver_mutant: Callable) -> None:
    if not data:
        return
    stage = (data[0] & ~SEALED) % len(ORDER)
    sim, pair = _pair(1)
    pair.a.engine.connect(pair.b.address, pair.now)
    sent = 0
    injected = False
    for _ in range(14):
        batch = []
        for node in (pair.a, pair.b):
            for check_node in (pair.a, pair.b):
                _check(check_node)
            node.events += node.engine.events
            node.engine.events.clear()
            batch += [(node, d) for d in node.engine.outbox]
            node.engine.outbox.clear()
        if not batch:
            if not injected and stage == 9:
                injected = True
                deliver_mutant(pair, pair.a, stage, data[1:])
                continue
            break
        for node, d in batch:
            if sent == stage and not injected:
                injected = True
                deliver_mutant(pair, node, stage, data[1:])
                _check(pair.other(node))
            sent += 1
            pair.deliver(node, d)
    for later in (2.0, 11.0, 40.0, 130.0, 700.0):
        pair.now += later
        for node in (pair.a, pair.b):
            node.engine.tick(pair.now)
        _pump_checked(pair)


def _pump_checked(pair) -> None:
    for _ in range(40):
        for node in (pair.a, pair.b):
            _check(node)
        batch = pair.collect()
        if not batch:
            return
        for node, d in batch:
            pair.deliver(node, d)


def _as_datagram(pair, sender, stage: int, payload: bytes) -> None:
    victim = pair.other(sender)
    victim.engine.receive(payload, sender.address, 500, 500, pair.now)
    victim.engine.receive(NON_ESP_MARKER + payload, sender.address, 4500, 4500, pair.now)


def _as_sealed(pair, sender, stage: int, chain: bytes) -> None:
    wire = _seal(pair, sender, stage, chain)
    if wire is not None:
        pair.other(sender).engine.receive(wire, sender.address, 500, 500, pair.now)


def run_raw(data: bytes) -> None:
    _run(data, _as_datagram)


def run_sealed(data: bytes) -> None:
    _run(data, _as_sealed)


TARGETS = [
    Target("ikev1-engine", seeds, run_raw),
    Target("ikev1-engine-sealed", sealed_seeds, run_sealed),
]
