"""Our IKEv1 engine against strongSwan's charon: does it interoperate?

Each test runs our engine (tests/interop/ike_driver.py, real UDP sockets 500/4500) in one
namespace and charon in the other, as initiator and as responder, and checks what both
sides say: charon's own log must report the IKE_SA and the CHILD_SA established, the
SPIs it logged must be the ones in our ChildSaUp (its inbound = our outbound), and the
keys it logged (SKEYID_e -> "encryption key Ka", the Quick Mode "encryption/integrity
initiator/responder key") must be our IkeSaUp.encryption_key and our KEYMAT.

charon here uses kernel-libipsec (see tests/interop/strongswan.py): its child SAs are
tunnel mode and UDP-encapsulated, so charon fakes a NAT and both sides float to 4500;
our engine must then report nat_t. Transport mode without NAT runs against charon's
kernel-netlink backend, which negotiates everything and then cannot install the SA.

Run under `flock /tmp/dmvpnlab-scenarios.lock` (they create namespaces).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.interop.strongswan import (
    ESTABLISHED_IKE, Charon, SwanConn, drop_first_datagram, dropped_datagrams, established_child_spis,
    logged_chunk, missing_requirements, namespace_pair,
)

REPO = Path(__file__).resolve().parents[2]
ENGINE_PRESENT = importlib.util.find_spec("dmvpnlab.ipsec.ikev1_engine") is not None

pytestmark = [
    pytest.mark.skipif(bool(missing_requirements()), reason=missing_requirements() or ""),
    pytest.mark.skipif(not ENGINE_PRESENT, reason="our IKEv1 engine (dmvpnlab.ipsec.ikev1_engine) is not here yet"),
]

PSK = "dmvpnlab-interop-key"


@dataclass
class OurEngine:
    """The driver subprocess in namespace `ns`; its JSON lines collected by a thread."""

    ns: str
    spec: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    stderr: str = ""

    def __enter__(self) -> OurEngine:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "tests.interop.ike_driver", json.dumps(self.spec)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.wait(lambda r: r.get("ready"), "ready", 10)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            try:
                self.records.append(json.loads(line))
            except ValueError:
                self.records.append({"unparsed": line})

    def wait(self, predicate, what: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in list(self.records):
                if predicate(r):
                    return r
            if self.proc and self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"our engine never reported {what}; it said:\n{self.transcript()}")

    def wait_event(self, name: str, timeout: float = 10) -> dict[str, Any]:
        return self.wait(lambda r: r.get("event") == name, name, timeout)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == name]

    def finish(self, timeout: float = 15) -> None:
        """Wait for the driver to end by itself (its `until`/`duration`), else stop it."""
        assert self.proc
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(5)
        self._reader.join(5)
        self.stderr = self.proc.stderr.read() if self.proc.stderr else ""

    def transcript(self) -> str:
        lines = [json.dumps(r) for r in self.records if "sent" not in r and "received" not in r]
        return "\n".join(lines[-80:]) + ("\nstderr:\n" + self.stderr[-3000:] if self.stderr else "")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stderr and not self.stderr:
            self.stderr = self.proc.stderr.read()


@dataclass(frozen=True)
class Case:
    """One proposal set, spelled both ways: strongSwan's and ours (IOS's words)."""

    ike: str                      # swanctl proposals
    policy: tuple[str, int, str, int]  # crypto isakmp policy: encryption, key bits, hash, group
    esp: str                      # swanctl esp_proposals (a DH group there = PFS)
    transform: str                # crypto ipsec transform-set words
    pfs: int | None

    def __str__(self) -> str:
        return f"{self.ike}/{self.esp}"


CASES = [
    Case("aes128-sha1-modp1536", ("aes", 128, "sha", 5), "aes128-sha1", "esp-aes esp-sha-hmac", None),
    Case("aes256-sha1-modp2048", ("aes", 256, "sha", 14), "aes256-sha1-modp2048", "esp-aes 256 esp-sha-hmac", 14),
    Case("aes128-sha256-modp2048", ("aes", 128, "sha256", 14), "aes128gcm16", "esp-gcm 128", None),
    Case("aes256-sha256-modp1536", ("aes", 256, "sha256", 5), "aes256gcm16-modp1536", "esp-gcm 256", 5),
    Case("aes128-sha1-modp2048", ("aes", 128, "sha", 14), "aes256-sha256-modp2048", "esp-aes 256 esp-sha256-hmac", 14),
]


def spec(pair, case: Case, *, initiate: bool, psk: str = PSK, mode: str = "tunnel", until: str | None = "ChildSaUp",
         duration: float = 12, **extra: Any) -> dict[str, Any]:
    """The driver's spec: our side of `case` (see ike_driver's docstring; `extra` as is,
    so `policies=[]` means IOS's default policies, `transforms=[...]` several sets)."""
    enc, bits, hash_, group = case.policy
    return {"local": str(pair.left_ip), "peer": str(pair.right_ip), "psk": psk, "initiate": initiate,
            "policies": [{"priority": 10, "encryption": enc, "key_bits": bits, "hash": hash_, "group": group}],
            "transforms": [[case.transform, mode]], "pfs_group": case.pfs, "until": until, "duration": duration,
            **extra}


def charon_for(pair, case: Case, *, psk: str = PSK, mode: str = "tunnel", backend: str = "libipsec",
               **conn_options: str) -> Charon:
    conn = SwanConn(pair.right_ip, pair.left_ip, psk, proposals=case.ike, esp_proposals=case.esp, mode=mode,
                    **conn_options)
    return Charon(pair.right, conn, backend=backend)


def ike_cookies(charon: Charon) -> tuple[str, str]:
    """The IKE_SA's cookies as `swanctl --list-sas` shows them (initiator's, responder's)."""
    listed = charon.swanctl("--list-sas").stdout
    m = re.search(r"([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r", listed)
    assert m, listed
    return m.group(1), m.group(2)


def assert_agree(charon: Charon, ours: OurEngine, *, we_initiate: bool, established: bool = True) -> dict[str, Any]:
    """The checks every successful exchange must pass; returns our ChildSaUp."""
    log = charon.log()
    assert ours.events("IkeRefused") == [], ours.transcript()
    ike, = ours.events("IkeSaUp")
    child = ours.events("ChildSaUp")[0]
    # charon's own words: Main Mode done between the two addresses ...
    m = ESTABLISHED_IKE.search(log)
    assert m and (m.group(3), m.group(5)) == ("192.0.2.2", "192.0.2.1"), log[-3000:]
    assert ike["initiator"] is we_initiate and child["initiator"] is we_initiate
    # ... the same ISAKMP SA (cookies) and the same phase 1 cipher key (SKEYID_e expanded)
    assert (ike["cookie_i"], ike["cookie_r"]) == ike_cookies(charon)
    assert ike["encryption_key"] == logged_chunk(log, "encryption key Ka").hex()
    # ... and the same child SA: SPIs, then keys per direction. charon's "initiator" keys
    # protect initiator -> responder traffic (the SA whose SPI the responder chose).
    if established:
        (c_in, c_out), = established_child_spis(log)
        assert (child["spi_out"], child["spi_in"]) == (c_in, c_out), (log[-2000:], child)
    to_responder = logged_chunk(log, "encryption initiator key") + _integ(log, "initiator")
    to_initiator = logged_chunk(log, "encryption responder key") + _integ(log, "responder")
    out_key, in_key = (to_responder, to_initiator) if we_initiate else (to_initiator, to_responder)
    assert child["keymat_out"] == out_key.hex(), "our outbound KEYMAT differs from charon's"
    assert child["keymat_in"] == in_key.hex(), "our inbound KEYMAT differs from charon's"
    return child


def _integ(log: str, side: str) -> bytes:
    return logged_chunk(log, f"integrity {side} key") if f"integrity {side} key" in log else b""


@pytest.mark.parametrize("case", CASES, ids=str)
def test_we_initiate_and_charon_responds(case: Case) -> None:
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True)) as ours:
            ours.wait_event("ChildSaUp")
            charon.wait_log(r"CHILD_SA gre\{\d+\} established")
            ours.finish()
            child = assert_agree(charon, ours, we_initiate=True)
            assert child["transform"] == _ios(case.transform) and child["mode"] == "tunnel"
            assert child["pfs_group"] == case.pfs
            # libipsec made charon fake a NAT (UDP-encapsulated ESP only): we must have floated.
            assert "faking NAT situation to enforce UDP encapsulation" in charon.log()
            assert child["nat_t"] is True and child["peer_port"] == 4500


@pytest.mark.parametrize("case", CASES, ids=str)
def test_charon_initiates_and_we_respond(case: Case) -> None:
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=False)) as ours:
            result = charon.initiate()
            assert result.returncode == 0, result.stdout[-3000:] + "\n" + ours.transcript()
            ours.wait_event("ChildSaUp")
            ours.finish()
            child = assert_agree(charon, ours, we_initiate=False)
            assert child["transform"] == _ios(case.transform) and child["mode"] == "tunnel"
            assert child["pfs_group"] == case.pfs
            assert child["nat_t"] is True and child["peer_port"] == 4500


def test_transport_mode_without_nat_agrees_up_to_charons_kernel_install() -> None:
    """Transport mode (what DMVPN runs) on UDP 500, no NAT-T: charon as responder accepts
    our Quick Mode, derives the same keys, fails to install them (no ESP in this kernel)
    and deletes the SA; our engine must take the Delete as ChildSaDown."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, mode="transport", backend="netlink") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, mode="transport", until="ChildSaDown",
                                       duration=8)) as ours:
            ours.wait_event("ChildSaUp")
            charon.wait_log(r"unable to install inbound and outbound IPsec SA \(SAD\) in kernel")
            ours.wait_event("ChildSaDown")
            ours.finish()
            child = assert_agree(charon, ours, we_initiate=True, established=False)
    assert child["mode"] == "transport" and child["nat_t"] is False and child["peer_port"] == 500
    assert "[4500]" not in charon.log()
    # the SPIs charon allocated (the kernel did that part) are ours to send to
    assert f"got SPI {child['spi_out']:08x}" in charon.log()


def test_responder_announces_no_child_sa_before_quick_mode_3() -> None:
    """charon (kernel-netlink, transport) as Quick Mode initiator cannot install and
    answers our QM2 with NO_PROPOSAL_CHOSEN instead of QM3: a responder that announced
    a child SA on sending QM2 would now hold an SA its peer never installed."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, mode="transport", backend="netlink") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=False, mode="transport", until=None, duration=2.5)) as ours:
            charon.initiate(timeout=2)
            charon.wait_log(r"unable to install inbound and outbound IPsec SA")
            ours.finish()
    assert ours.events("IkeSaUp"), ours.transcript()
    assert ours.events("ChildSaUp") == [], ours.transcript()


def test_wrong_psk_we_initiate_both_sides_refuse() -> None:
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, psk="charons-other-key") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, until="IkeRefused", duration=20)) as ours:
            charon.wait_log(r"message parsing failed")
            ours.finish(timeout=25)
    log = charon.log()
    assert not ESTABLISHED_IKE.search(log) and "decryption failed?" in log
    assert ours.events("IkeSaUp") == [] and ours.events("ChildSaUp") == []
    refused = ours.events("IkeRefused")
    assert refused, "our engine never said why Main Mode did not complete:\n" + ours.transcript()
    assert refused[0]["reason"] in ("hash mismatch", "retransmit limit", "malformed"), refused


def test_wrong_psk_charon_initiates_both_sides_refuse() -> None:
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, psk="charons-other-key") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=False, until="IkeRefused", duration=8)) as ours:
            result = charon.initiate(timeout=2)
            ours.wait_event("IkeRefused")
            ours.finish()
    assert result.returncode != 0
    assert not ESTABLISHED_IKE.search(charon.log())
    assert ours.events("IkeSaUp") == []
    refused, = ours.events("IkeRefused")[:1]
    # Our key decrypts MM5 into garbage: IOS calls that a hash mismatch or a malformed message.
    assert refused["reason"] in ("hash mismatch", "malformed"), refused
    assert any(r.get("debug") == "isakmp" for r in ours.records), "debug crypto isakmp said nothing"


def test_no_common_proposal_both_sides_say_so() -> None:
    ours_case = CASES[0]
    theirs = Case("aes256-sha512-modp4096", ("aes", 256, "sha512", 16), "aes128-sha1", "esp-aes esp-sha-hmac", None)
    with namespace_pair() as pair, charon_for(pair, theirs) as charon:
        with OurEngine(pair.left, spec(pair, ours_case, initiate=False, until="IkeRefused", duration=8)) as ours:
            charon.initiate(timeout=3)
            ours.wait_event("IkeRefused")
            ours.finish()
    refused, = ours.events("IkeRefused")[:1]
    assert refused["reason"] == "no proposal chosen", refused
    assert "NO_PROPOSAL_CHOSEN" in charon.log()


def test_charon_deletes_and_our_engine_takes_both_sas_down() -> None:
    """`swanctl --terminate --ike` on charon: a Delete for the ESP SA, then for the ISAKMP
    SA (protected Informationals); our engine must report the pair and the SA gone."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, until="IkeSaDown", duration=10)) as ours:
            child = ours.wait_event("ChildSaUp")
            charon.wait_log(r"CHILD_SA gre\{\d+\} established")
            done = charon.swanctl("--terminate", "--ike", "dmvpn", "--timeout", "5")
            assert done.returncode == 0, done.stdout + done.stderr
            down = ours.wait_event("ChildSaDown", timeout=5)
            ours.wait_event("IkeSaDown", timeout=5)
            ours.finish()
            log = charon.log()
    # a Delete names the SPI its sender receives on: charon's inbound, our outbound
    assert f"sending DELETE for ESP CHILD_SA with SPI {child['spi_out']:08x}" in log
    assert "sending DELETE for IKE_SA dmvpn" in log
    assert (down["spi_in"], down["spi_out"]) == (child["spi_in"], child["spi_out"])


def test_our_clear_deletes_both_sas_on_charon() -> None:
    """`clear crypto session` on our side: charon must accept our Deletes (they are
    protected with our SKEYID_a/_e, so a wrong hash or IV would be ignored) and say so."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, until="IkeSaDown", duration=10,
                                       clear_after_child=0.5)) as ours:
            child = ours.wait_event("ChildSaUp")
            charon.wait_log(r"received DELETE for IKE_SA dmvpn", timeout=8)
            ours.finish()
            log = charon.log()
    # our Delete names our inbound SPI (charon's outbound)
    assert f"received DELETE for ESP CHILD_SA with SPI {child['spi_in']:08x}" in log, log[-3000:]
    assert re.search(r"deleting IKE_SA dmvpn\[\d+\] between 192.0.2.2", log)
    assert ours.events("ChildSaDown") and ours.events("IkeSaDown")


def test_charon_rekeys_the_child_and_our_engine_follows() -> None:
    """charon's child lives 8 s and is rekeyed after 2: a second Quick Mode on the same
    ISAKMP SA. Our second ChildSaUp must name the first as replaced, and its SPIs and
    keys must be those of charon's second CHILD_SA."""
    case = CASES[1]  # with PFS: the rekey runs its own DH
    with namespace_pair() as pair, charon_for(pair, case, child_life="8s", child_rekey="2s") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, until=None, duration=3.5)) as ours:
            first = ours.wait_event("ChildSaUp")
            charon.wait_log(r"CHILD_SA gre\{2\} established", timeout=6)
            ours.finish()
            log = charon.log()
    ups = ours.events("ChildSaUp")
    assert len(ups) >= 2, ours.transcript()
    second = ups[1]
    assert second["replaces"] == first["spi_in"] and second["initiator"] is False
    assert ours.events("IkeSaUp")[1:] == [], "a Quick Mode rekey needs no new Main Mode"
    spis = established_child_spis(log)
    assert len(spis) == len(ups)
    assert (second["spi_out"], second["spi_in"]) == spis[1]
    # the rekey was charon's Quick Mode (its second): its "initiator" keys protect charon -> us
    to_us = logged_chunk(log, "encryption initiator key", 1) + logged_chunk(log, "integrity initiator key", 1)
    to_charon = logged_chunk(log, "encryption responder key", 1) + logged_chunk(log, "integrity responder key", 1)
    assert (second["keymat_in"], second["keymat_out"]) == (to_us.hex(), to_charon.hex())


def test_lost_answer_we_retransmit_and_charon_answers_again() -> None:
    """charon's Main Mode 2 is lost on the way to us: our engine resends MM1 (after 1 s),
    charon recognises the retransmission and resends MM2, and the exchange completes."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        drop_first_datagram(pair.left, 500)
        with OurEngine(pair.left, spec(pair, case, initiate=True)) as ours:
            ours.wait_event("ChildSaUp", timeout=8)
            charon.wait_log(r"CHILD_SA gre\{\d+\} established")
            ours.finish()
            assert_agree(charon, ours, we_initiate=True)
            log = charon.log()
        assert dropped_datagrams(pair.left) == 1
    assert "received retransmit of request with ID 0, retransmitting response" in log
    counters, = [r["counters"] for r in ours.records if "counters" in r]
    assert counters.get("retransmits", 0) >= 1, counters


def test_lost_answer_charon_retransmits_and_we_answer_again() -> None:
    """Our Main Mode 2 is lost on the way to charon: charon resends MM1, our engine must
    answer the duplicate with the same MM2 (not start a second negotiation)."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        drop_first_datagram(pair.right, 500)
        with OurEngine(pair.left, spec(pair, case, initiate=False)) as ours:
            result = charon.initiate()
            assert result.returncode == 0, result.stdout[-3000:] + ours.transcript()
            ours.wait_event("ChildSaUp")
            ours.finish()
            assert_agree(charon, ours, we_initiate=False)
            log = charon.log()
        assert dropped_datagrams(pair.right) == 1
    assert "sending retransmit 1 of request message ID 0, seq 1" in log
    assert len(ours.events("IkeSaUp")) == 1


@pytest.mark.parametrize("we_initiate", [True, False], ids=["we-initiate", "charon-initiates"])
def test_ios_default_policies_find_the_one_charon_has(we_initiate: bool) -> None:
    """No `crypto isakmp policy`: IOS proposes its defaults (aes/sha/5, aes/md5/5,
    3des/sha/2, 3des/md5/2). charon, configured for 3des-sha1-modp1024 only, must pick the
    third; and as initiator offering two suites, we must pick the one we know."""
    ike = "3des-sha1-modp1024" if we_initiate else "aes256-sha256-modp2048,3des-sha1-modp1024"
    case = Case(ike, ("aes", 128, "sha", 5), "aes128-sha1", "esp-aes esp-sha-hmac", None)
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=we_initiate, policies=[])) as ours:
            if not we_initiate:
                result = charon.initiate()
                assert result.returncode == 0, result.stdout[-3000:] + ours.transcript()
            ours.wait_event("ChildSaUp")
            ours.finish()
            assert_agree(charon, ours, we_initiate=we_initiate)
            log = charon.log()
    assert "selected proposal: IKE:3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024" in log
    assert len(ours.events("IkeSaUp")[0]["encryption_key"]) == 2 * 24  # 3DES: SKEYID_e expanded to 24 bytes


def test_quick_mode_offers_each_transform_set_and_charon_picks_the_one_it_has() -> None:
    """A profile with two transform sets: GCM first, then AES-CBC+SHA-1. charon knows only
    the second; the SA must be the second, with its key lengths."""
    case = CASES[0]
    sets = [["esp-gcm 256", "tunnel"], ["esp-aes esp-sha-hmac", "tunnel"]]
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, transforms=sets)) as ours:
            ours.wait_event("ChildSaUp")
            charon.wait_log(r"CHILD_SA gre\{\d+\} established")
            ours.finish()
            child = assert_agree(charon, ours, we_initiate=True)
            log = charon.log()
    assert "selected proposal: ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ" in log
    assert re.search(r"received proposals: ESP:AES_GCM_16_256/NO_EXT_SEQ, ESP:AES_CBC_128/HMAC_SHA1_96", log), \
        [line for line in log.splitlines() if "received proposals" in line]
    assert child["transform"] == "esp-aes 128 esp-sha-hmac" and len(child["keymat_out"]) == 2 * (16 + 20)


def test_charons_dpd_is_answered() -> None:
    """charon with dpd_delay 1 s sends R-U-THERE when it hears nothing; our engine (which
    sent the DPD vendor id) must answer R-U-THERE-ACK, so charon never declares us dead."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, dpd_delay="1s") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=True, until=None, duration=3.5)) as ours:
            ours.wait_event("ChildSaUp")
            charon.wait_log(r"parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]", timeout=4)
            ours.finish()
            log = charon.log()
    assert re.search(r"generating INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]", log)
    assert "DPD check timed out" not in log and "deleting IKE_SA" not in log
    assert ours.events("IkeSaDown") == [] and ours.events("PeerDead") == []


def test_aggressive_mode_is_refused_and_charon_hears_why() -> None:
    """charon offers Aggressive Mode; our engine does Main Mode only: a counted refusal
    with its reason and no SA on either side. (The engine answers nothing, as IOS with
    `crypto isakmp aggressive-mode disable` drops the packet; charon retransmits.)"""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, aggressive=True) as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=False, until="IkeRefused", duration=5)) as ours:
            charon.initiate(timeout=2)
            ours.wait_event("IkeRefused")
            ours.finish()
            log = charon.log()
    assert "initiating Aggressive Mode IKE_SA" in log
    refused, = ours.events("IkeRefused")[:1]
    assert refused["reason"] == "unsupported", refused
    assert ours.events("IkeSaUp") == [] and not ESTABLISHED_IKE.search(log)


def test_charon_restarted_initial_contact_replaces_the_old_sas() -> None:
    """The peer reboots: a fresh charon (no memory of the old SAs) initiates again with
    INITIAL-CONTACT in MM5; our engine must drop the old ISAKMP and ESP SAs of that peer
    and bring up the new ones, SPIs and keys agreeing with the new charon."""
    case = CASES[0]
    with namespace_pair() as pair:
        with OurEngine(pair.left, spec(pair, case, initiate=False, until=None, duration=8)) as ours:
            with charon_for(pair, case) as first:
                assert first.initiate().returncode == 0
                old = ours.wait_event("ChildSaUp")
            with charon_for(pair, case) as second:
                result = second.initiate()
                assert result.returncode == 0, result.stdout[-3000:] + ours.transcript()
                ours.wait(lambda r: r.get("event") == "ChildSaUp" and r["spi_in"] != old["spi_in"], "a new child", 5)
                ours.wait_event("ChildSaDown", timeout=3)
                log = second.log()
                assert "N(INITIAL_CONTACT)" in log
                ikes = ours.events("IkeSaUp")
                assert len(ikes) == 2
                ike_down, = ours.events("IkeSaDown")
                assert ike_down["conn_id"] == ikes[0]["conn_id"]
                down, = ours.events("ChildSaDown")
                assert down["spi_in"] == old["spi_in"]
                new = ours.events("ChildSaUp")[-1]
                (c_in, c_out), = established_child_spis(log)
                assert (new["spi_out"], new["spi_in"]) == (c_in, c_out)
                assert new["keymat_in"] == (logged_chunk(log, "encryption initiator key")
                                            + logged_chunk(log, "integrity initiator key")).hex()
            ours.finish(timeout=0.5)  # all was seen: stop the driver rather than wait out its duration


def test_charons_phase_1_reauthentication_gives_a_new_isakmp_sa() -> None:
    """charon's phase 1 lives 3 s, then it re-authenticates: a new Main Mode, and a Delete
    for the old ISAKMP SA. Our engine must take the Delete (IkeSaDown "deleted by peer")
    and complete the new Main Mode (a second IkeSaUp, new cookies), with no refusal.

    What happens to the child SA is left out on purpose: charon deletes the old ISAKMP SA
    before the new MM5, so that MM5 carries INITIAL-CONTACT, and charon keeps its child
    (it adopts it) while our engine, as IOS does on INITIAL-CONTACT, drops ours."""
    case = CASES[0]
    with namespace_pair() as pair, charon_for(pair, case, reauth="3s") as charon:
        with OurEngine(pair.left, spec(pair, case, initiate=False, until=None, duration=4.5)) as ours:
            assert charon.initiate().returncode == 0
            charon.wait_log(r"IKE_SA dmvpn\[2\] established", timeout=5)
            ours.finish()
            log = charon.log()
    assert "reauthenticating IKE_SA dmvpn[1]" in log and "sending DELETE for IKE_SA dmvpn[1]" in log
    first, second = ours.events("IkeSaUp")[:2]
    assert (first["cookie_i"], first["cookie_r"]) != (second["cookie_i"], second["cookie_r"])
    down = ours.events("IkeSaDown")[0]
    assert down["conn_id"] == first["conn_id"] and down["reason"] == "deleted by peer"
    assert ours.events("IkeRefused") == []


GRE_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
print("ready", flush=True)
while True:
    data, (addr, _) = s.recvfrom(65535)
    s.sendto(data[(data[0] & 15) * 4:], (addr, 0))
"""


@pytest.mark.parametrize("case", CASES, ids=str)
def test_esp_flows_both_ways_between_our_sas_and_charons_libipsec(case: Case) -> None:
    """The keys agree in use, not only on paper: our OutboundSa seals an inner GRE packet
    (tunnel mode, UDP-encapsulated as charon's libipsec wants it), charon decrypts it and
    hands it to its host, a raw GRE socket there echoes it, charon encrypts the echo with
    its outbound SA, and our InboundSa opens it: ICV, padding and sequence number good."""
    with namespace_pair() as pair, charon_for(pair, case) as charon:
        echo = subprocess.Popen(["ip", "netns", "exec", pair.right, sys.executable, "-c", GRE_ECHO],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert echo.stdout and echo.stdout.readline().strip() == "ready"
            with OurEngine(pair.left, spec(pair, case, initiate=True, until="esp_opened", esp_probe=True,
                                           duration=4)) as ours:
                opened = ours.wait(lambda r: "esp_opened" in r, "an ESP packet from charon opened", 4)
                ours.finish()
        finally:
            echo.kill()
            echo.wait(5)
    assert [r for r in ours.records if "esp_error" in r] == [], ours.transcript()
    inner = bytes.fromhex(opened["esp_opened"])
    assert opened["next_header"] == 4 and opened["seq"] == 1  # an inner IPv4 packet, charon's first
    assert inner[9] == 47 and inner[12:16] == bytes([192, 0, 2, 2]) and inner[16:20] == bytes([192, 0, 2, 1])
    assert inner[20:24] == b"\x00\x00\x08\x00" and inner[24:].startswith(b"dmvpnlab-esp-probe")


def _ios(words: str) -> str:
    from dmvpnlab.ipsec.esp_transforms import parse_transform
    return parse_transform(words).ios_words
