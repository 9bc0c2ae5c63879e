"""Main Mode as IOS runs it: our six messages carry the payload kinds of the Cisco
capture in the same order, both roles derive the same keys, NAT-D finds a NAT exactly
when addresses or ports were rewritten, a wrong pre-shared key is a hash mismatch, and
the responder picks proposals the IOS way."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.ikev1_phase1 import MainMode, Refusal, Wire
from dmvpnlab.ipsec.ikev1_proposals import choose, offer, suite_of
from dmvpnlab.ipsec.isakmp_const import PAYLOAD_SHORT_NAMES, NotifyType, PayloadType, vendor_name
from dmvpnlab.ipsec.settings import DEFAULT_POLICIES, IkePolicy
from tests.test_ipsec_isakmp_cisco import IOS_LADDER, IOS_VENDOR_IDS

A, B = IPv4Address("192.168.12.1"), IPv4Address("192.168.12.2")
POLICY = (IkePolicy(10, "aes", 128, "sha", 2),)


def pair(psk_i=b"cisco123", psk_r=b"cisco123", policies_i=POLICY, policies_r=POLICY, ic=True):
    lines: list[str] = []
    i = MainMode(initiator=True, local=A, peer=B, cookie_i=b"I" * 8, policies=policies_i, psk=psk_i,
                 random=__import__("os").urandom, log=lines.append, initial_contact=ic)
    r = MainMode(initiator=False, local=B, peer=A, cookie_i=b"I" * 8, policies=policies_r, psk=psk_r,
                 random=__import__("os").urandom, log=lines.append)
    return i, r, lines


def names(msg: isakmp.IsakmpMessage) -> list[str]:
    return isakmp.payload_names(msg.payloads)


def run(i: MainMode, r: MainMode, wire_i=Wire(), wire_r=Wire()):
    """The six messages through the codec; returns the wire messages in order."""
    mm1 = isakmp.decode(isakmp.encode(i.mm1()))
    mm2 = isakmp.decode(isakmp.encode(r.on_mm1(mm1, b"R" * 8)))
    mm3 = isakmp.decode(isakmp.encode(i.on_mm2(mm2, wire_i)))
    mm4 = isakmp.decode(isakmp.encode(r.on_mm3(mm3, wire_r)))
    mm5 = isakmp.decode(i.on_mm4(mm4, wire_i))
    mm6 = isakmp.decode(r.on_mm5(mm5))
    i.on_mm6(mm6)
    return [mm1, mm2, mm3, mm4, mm5, mm6]


def test_our_ladder_is_the_ios_ladder():
    i, r, _ = pair()
    msgs = run(i, r)
    for (name, _, exchange, flags, kinds), msg in zip(IOS_LADDER[:6], msgs):
        assert (msg.exchange, msg.flags) == (exchange, flags), name
        if msg.is_encrypted:
            assert f"E:{PAYLOAD_SHORT_NAMES[msg.next_payload]}" == kinds[0], name
        else:
            assert names(msg) == kinds, name
    # the vendor ids too, in IOS's order (None: IOS's unlisted per-SA id)
    vids = [[vendor_name(p.data) for p in m.all(PayloadType.VENDOR_ID)] for m in msgs[:4]]
    assert vids == IOS_VENDOR_IDS


def test_mm5_and_mm6_decrypt_to_id_hash_and_initial_contact():
    i, r, _ = pair()
    run(i, r)
    assert i.done and r.done and i.state == r.state == "QM_IDLE"
    assert r.initial_contact_received
    assert i.phase1 == r.phase1
    assert r.peer_id.address() == A and (r.peer_id.protocol, r.peer_id.port) == (17, 500)
    assert i.peer_id.address() == B


def test_initial_contact_only_when_asked():
    i, r, _ = pair(ic=False)
    run(i, r)
    assert not r.initial_contact_received


def test_mm5_kinds_decrypted_match_ios_habit():
    i, r, _ = pair()
    mm1 = isakmp.decode(isakmp.encode(i.mm1()))
    mm2 = isakmp.decode(isakmp.encode(r.on_mm1(mm1, b"R" * 8)))
    mm3 = isakmp.decode(isakmp.encode(i.on_mm2(mm2, Wire())))
    mm4 = isakmp.decode(isakmp.encode(r.on_mm3(mm3, Wire())))
    mm5 = isakmp.decode(i.on_mm4(mm4, Wire()))
    payloads, _ = r.crypto.open(mm5)
    assert isakmp.payload_names(payloads) == ["ID", "HASH", "N"]
    assert payloads[2].notify_type == NotifyType.INITIAL_CONTACT and payloads[2].spi == b"I" * 8 + b"R" * 8


def test_wrong_psk_is_a_hash_mismatch_at_the_responder():
    i, r, _ = pair(psk_r=b"wrong")
    with pytest.raises(Refusal) as err:
        run(i, r)
    assert err.value.reason == "hash mismatch"


def test_no_key_for_the_peer_refuses_mm1():
    i, r, _ = pair(psk_r=None)
    with pytest.raises(Refusal) as err:
        r.on_mm1(isakmp.decode(isakmp.encode(i.mm1())), b"R" * 8)
    assert err.value.reason == "no pre-shared key"


def test_natd_sees_rewritten_ports_and_addresses():
    i, r, _ = pair()
    # The initiator sent from 500, the responder saw 1024 (a NAT in front of the initiator).
    run(i, r, wire_i=Wire(500, 500), wire_r=Wire(1024, 500))
    assert r.peer_behind_nat and not r.local_behind_nat
    assert i.local_behind_nat and not i.peer_behind_nat
    i, r, _ = pair()
    run(i, r)
    assert not i.nat_detected and not r.nat_detected


@pytest.mark.parametrize("policy", [
    IkePolicy(1, "aes", 256, "sha256", 14), IkePolicy(1, "aes", 192, "sha384", 5), IkePolicy(1, "3des", None, "md5", 2),
    IkePolicy(1, "des", None, "sha", 1), IkePolicy(1, "aes", 128, "sha512", 19), IkePolicy(1, "aes", 256, "sha", 20),
    IkePolicy(1, "aes", 128, "sha", 24), IkePolicy(1, "aes", 128, "md5", 15),
])
def test_every_policy_kind_completes(policy):
    i, r, _ = pair(policies_i=(policy,), policies_r=(policy,))
    run(i, r)
    assert i.phase1 == r.phase1 and len(i.phase1.enc_key) == ((policy.key_bits or 128) // 8 if policy.encryption == "aes"
                                                             else {"3des": 24, "des": 8}[policy.encryption])


def test_responder_picks_its_first_policy_that_matches_any_offer():
    offered = offer((IkePolicy(1, "aes", 256, "sha", 14), IkePolicy(2, "3des", None, "md5", 2), IkePolicy(3, "aes")))
    ours = (IkePolicy(5, "aes", 128, "sha", 1), IkePolicy(7, "3des", None, "md5", 2), IkePolicy(9, "aes", 256, "sha", 14))
    reply, suite = choose(offered, ours)
    assert suite == suite_of(ours[0])           # our priority order wins over the offer's order
    assert reply.proposals[0].transforms[0].number == 3


def test_lifetime_offer_must_not_exceed_ours_and_the_offered_one_is_used():
    short = offer((IkePolicy(1, lifetime=3600),))
    long_ = offer((IkePolicy(1, lifetime=90000),))
    _, suite = choose(short, (IkePolicy(1, lifetime=86400),))
    assert suite.lifetime == 3600
    assert choose(long_, (IkePolicy(1, lifetime=86400),)) is None


def test_no_proposal_chosen_and_the_ios_defaults_match_each_other():
    i, r, _ = pair(policies_i=(IkePolicy(1, "aes", 256, "sha512", 14),), policies_r=DEFAULT_POLICIES)
    with pytest.raises(Refusal) as err:
        run(i, r)
    assert err.value.reason == "no proposal chosen"
    i, r, _ = pair(policies_i=DEFAULT_POLICIES, policies_r=DEFAULT_POLICIES)
    run(i, r)
    assert i.suite == suite_of(DEFAULT_POLICIES[0])


def test_offer_is_one_proposal_with_a_transform_per_policy_as_ios():
    sa = offer(DEFAULT_POLICIES)
    assert len(sa.proposals) == 1 and [t.number for t in sa.proposals[0].transforms] == [1, 2, 3, 4]
    raw = isakmp.encode_payloads([sa])
    assert isakmp.decode_payloads(PayloadType.SA, raw)[0][0].body() == sa.body()


# --- byte for byte against the capture ----------------------------------------------------

def test_our_offer_is_the_bytes_ios_offered_and_our_choice_the_bytes_it_chose():
    from tests.cisco_captures import capture
    from tests.test_ipsec_isakmp_cisco import CAPTURE, isakmp_datagrams
    datagrams = isakmp_datagrams(capture(CAPTURE))
    mm1, mm2 = (isakmp.decode(d[4]) for d in datagrams[:2])
    ios_policy = (IkePolicy(10, "aes", 128, "sha", 2),)      # what the capture's routers had
    assert offer(ios_policy).body() == mm1.payloads[0].body()
    reply, suite = choose(mm1.payloads[0], ios_policy)
    assert reply.body() == mm2.payloads[0].body() and suite.lifetime == 86400


def test_a_draft_nat_t_peer_gets_the_draft_vendor_id_and_draft_nat_d():
    from dmvpnlab.ipsec.isakmp_const import VendorId
    i, r, _ = pair()
    mm1 = i.mm1()
    mm1.payloads = [p for p in mm1.payloads if p.type != PayloadType.VENDOR_ID or p.data == VendorId.NATT_DRAFT_02N]
    mm2 = r.on_mm1(isakmp.decode(isakmp.encode(mm1)), b"R" * 8)
    assert [vendor_name(p.data) for p in mm2.all(PayloadType.VENDOR_ID)] == ["draft-ietf-ipsec-nat-t-ike-02\\n"]
    mm3 = i.on_mm2(isakmp.decode(isakmp.encode(mm2)), Wire())
    assert len(mm3.all(PayloadType.NAT_D_DRAFT)) == 2 and mm3.all(PayloadType.NAT_D) == []
    mm4 = r.on_mm3(isakmp.decode(isakmp.encode(mm3)), Wire(1024, 500))
    assert len(mm4.all(PayloadType.NAT_D_DRAFT)) == 2 and r.peer_behind_nat


def test_a_peer_without_nat_t_gets_no_nat_d_and_no_detection():
    i, r, _ = pair()
    mm1 = i.mm1()
    mm1.payloads = mm1.payloads[:1]
    mm2 = r.on_mm1(isakmp.decode(isakmp.encode(mm1)), b"R" * 8)
    assert names(mm2) == ["SA"]
    mm3 = i.on_mm2(isakmp.decode(isakmp.encode(mm2)), Wire())
    assert names(mm3) == ["KE", "No", "V", "V", "V"]
    r.on_mm3(isakmp.decode(isakmp.encode(mm3)), Wire(1024, 500))
    assert not r.nat_detected


def test_only_pre_share_policies_are_offered_or_accepted():
    mixed = (IkePolicy(1, "aes", 256, "sha", 14, authentication="rsa-sig"), IkePolicy(2, "aes", 128, "sha", 14))
    sa = offer(mixed)
    assert len(sa.proposals[0].transforms) == 1
    from dmvpnlab.ipsec.isakmp import Attribute
    from dmvpnlab.ipsec.isakmp_const import AuthMethod, IkeAttr
    rsa_offer = offer((IkePolicy(1, "aes", 128, "sha", 14),))
    attrs = rsa_offer.proposals[0].transforms[0].attributes
    attrs[:] = [Attribute(a.type, AuthMethod.RSA_SIGNATURES) if a.type == IkeAttr.AUTH_METHOD else a for a in attrs]
    assert choose(rsa_offer, (IkePolicy(1, "aes", 128, "sha", 14, authentication="rsa-sig"),)) is None
    i, _, _ = pair(policies_i=(IkePolicy(1, authentication="rsa-sig"),))
    with pytest.raises(Refusal) as err:
        i.mm1()
    assert err.value.reason == "unsupported"
