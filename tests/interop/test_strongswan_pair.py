"""charon <-> charon: what a correct IKEv1 Main Mode + Quick Mode exchange looks like here.

These tests prove the harness (namespaces, private charons, logs) before our engine is
put in one charon's place, and they document what charon logs when things go right, so
the engine tests can assert the same lines. They also check our RFC 2409 key math
(`ipsec.ikev1_keys`) against charon's: given the SKEYID_e and SKEYID_d charon logged,
our functions must produce the cipher key and the ESP keys charon logged.

Run under `flock /tmp/dmvpnlab-scenarios.lock` (they create namespaces).
"""

from __future__ import annotations

import pytest

from dmvpnlab.ipsec import ikev1_keys
from dmvpnlab.ipsec.isakmp_const import HashAlgorithm
from tests.interop.strongswan import (
    ESTABLISHED_IKE, Charon, SwanConn, established_child_spis, logged_chunk, missing_requirements,
    namespace_pair,
)

pytestmark = pytest.mark.skipif(bool(missing_requirements()), reason=missing_requirements() or "")

PSK = "dmvpnlab-interop-key"
PRF = {"sha1": HashAlgorithm.SHA, "sha256": HashAlgorithm.SHA2_256}


def charon_pair(pair, *, left_psk=PSK, right_psk=PSK, backend="libipsec", **conn) -> tuple[Charon, Charon]:
    left = Charon(pair.left, SwanConn(pair.left_ip, pair.right_ip, left_psk, **conn), backend=backend)
    right = Charon(pair.right, SwanConn(pair.right_ip, pair.left_ip, right_psk, **conn), backend=backend)
    return left, right


@pytest.mark.parametrize(("ike", "esp", "key_len"), [
    ("aes128-sha1-modp1536", "aes128-sha1", 16),
    ("aes256-sha1-modp2048", "aes256-sha256-modp2048", 32),      # Ka needs appendix B expansion; PFS
    ("aes256-sha256-modp2048", "aes128gcm16", 32),              # SHA-256 PRF; ESP AES-GCM
])
def test_two_charons_complete_main_mode_and_quick_mode(ike: str, esp: str, key_len: int) -> None:
    """What a correct exchange logs on both sides, and our key math reproducing charon's."""
    with namespace_pair() as pair:
        left, right = charon_pair(pair, proposals=ike, esp_proposals=esp)
        with left, right:
            result = left.initiate()
            assert result.returncode == 0, result.stdout + result.stderr
            assert "initiate completed successfully" in result.stdout
            right.wait_log(r"CHILD_SA gre\{\d+\} established")
            llog, rlog = left.log(), right.log()

    # Both logs say Main Mode completed, between the two addresses, with IP identities.
    for log, me, peer in ((llog, "192.0.2.1", "192.0.2.2"), (rlog, "192.0.2.2", "192.0.2.1")):
        m = ESTABLISHED_IKE.search(log)
        assert m and (m.group(3), m.group(5)) == (me, peer), log[-3000:]
    # Main Mode's three request messages carry these payloads, in this order.
    sent = [llog.index(f"generating ID_PROT request 0 [ {payloads} ]")
            for payloads in ("SA V V V V V", "KE No NAT-D NAT-D", "ID HASH N(INITIAL_CONTACT)")]
    assert sent == sorted(sent)
    # Quick Mode 1 carries a KE only with PFS (a DH group in the ESP proposal).
    pfs = "modp" in esp
    assert "generating QUICK_MODE request" in llog
    assert ("[ HASH SA No KE ID ID ]" if pfs else "[ HASH SA No ID ID ]") in llog
    # One CHILD_SA each side, and each side's inbound SPI is the other's outbound.
    (l_in, l_out), = established_child_spis(llog)
    (r_in, r_out), = established_child_spis(rlog)
    assert (l_in, l_out) == (r_out, r_in)
    # The two charons derived the same ESP keys (the initiator's keys protect left -> right).
    for label in ("encryption initiator key", "encryption responder key"):
        assert logged_chunk(llog, label) == logged_chunk(rlog, label)

    # Our RFC 2409 math, fed what charon logged, gives what charon derived.
    prf = PRF[ike.split("-")[1]]
    skeyid_e = logged_chunk(llog, "SKEYID_e")
    assert ikev1_keys.expand_key(prf, skeyid_e, key_len) == logged_chunk(llog, "encryption key Ka")
    skeyid_d = logged_chunk(llog, "SKEYID_d")
    for side in ("initiator", "responder"):
        seed = logged_chunk(llog, f"{side} SA seed")  # [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b
        enc = logged_chunk(llog, f"encryption {side} key")
        integ = logged_chunk(llog, f"integrity {side} key") if "gcm" not in esp else b""
        assert (len(seed) > 69) == pfs
        ours = ikev1_keys.keymat(prf, skeyid_d, seed[-69], seed[-68:-64], seed[-64:-32], seed[-32:],
                                 len(enc) + len(integ), seed[:-69])
        assert ours == enc + integ


def test_transport_mode_needs_kernel_esp_so_charon_stops_at_install() -> None:
    """Without ESP in the kernel (and without libipsec, which is tunnel-only) charon still
    completes Main Mode on UDP 500 without NAT-T, negotiates Quick Mode and derives the
    keys, then cannot install the SA: as Quick Mode initiator it refuses the exchange with
    a NO_PROPOSAL_CHOSEN notify, so the responder never gets to install anything."""
    with namespace_pair() as pair:
        left, right = charon_pair(pair, backend="netlink", mode="transport")
        with left, right:
            result = left.initiate(timeout=5)
            left.wait_log(r"unable to install inbound and outbound IPsec SA \(SAD\) in kernel")
            right.wait_log(r"received NO_PROPOSAL_CHOSEN error notify")
            llog, rlog = left.log(), right.log()
    assert result.returncode != 0
    assert ESTABLISHED_IKE.search(llog) and ESTABLISHED_IKE.search(rlog)
    assert "remote host is behind NAT" not in llog + rlog
    assert "sending packet: from 192.0.2.1[500] to 192.0.2.2[500]" in llog
    assert "[4500]" not in llog + rlog
    assert "mode = TRANSPORT" in llog
    assert "received netlink error: Protocol not supported (93)" in llog
    assert established_child_spis(llog) == [] == established_child_spis(rlog)
    # The keys were derived (and logged) before the install failed: our math agrees.
    skeyid_d = logged_chunk(llog, "SKEYID_d")
    seed = logged_chunk(llog, "initiator SA seed")
    enc, integ = logged_chunk(llog, "encryption initiator key"), logged_chunk(llog, "integrity initiator key")
    assert ikev1_keys.keymat(HashAlgorithm.SHA, skeyid_d, seed[0], seed[1:5], seed[5:37], seed[37:],
                             len(enc) + len(integ)) == enc + integ


def test_wrong_psk_fails_main_mode_on_both_sides() -> None:
    """A different PSK gives the responder different keys: it cannot decrypt Main Mode 5
    and answers PAYLOAD_MALFORMED; the initiator retransmits and gives up."""
    with namespace_pair() as pair:
        left, right = charon_pair(pair, right_psk="not-the-same-key")
        with left, right:
            result = left.initiate(timeout=2)
            right.wait_log(r"message parsing failed")
            llog, rlog = left.log(), right.log()
    assert result.returncode != 0
    assert not ESTABLISHED_IKE.search(llog) and not ESTABLISHED_IKE.search(rlog)
    assert "decryption failed?" in rlog and "generating INFORMATIONAL_V1 request" in rlog
    assert "N(PLD_MAL)" in rlog
    assert "sending retransmit 1 of request message ID 0" in llog
