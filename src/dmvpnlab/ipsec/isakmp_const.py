"""The numbers of IKEv1: ISAKMP (RFC 2408), the IPsec DOI (RFC 2407), IKE (RFC 2409
appendix A), NAT-T (RFC 3947 and the drafts IOS still speaks), DPD (RFC 3706).

Why a module of its own: the codec (:mod:`dmvpnlab.ipsec.isakmp`), the key math
(:mod:`dmvpnlab.ipsec.ikev1_keys`), the coming state machine, ``show crypto`` and the
debug output all name the same numbers; one table keeps ``debug crypto isakmp`` and the
wire in agreement. Every enum is an ``IntEnum`` so a decoded field compares equal to
its number, and an unknown number stays a plain ``int`` (see :func:`name_of`).

Attribute numbers depend on where they stand: a transform in a proposal for protocol
``PROTO_ISAKMP`` carries IKE attributes (:class:`IkeAttr`), one for AH/ESP/IPCOMP
carries IPsec DOI attributes (:class:`IpsecAttr`). The same type number means
different things in the two spaces (4 is Group Description in IKE, Encapsulation Mode
in IPsec), which is why they are two enums and not one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Type

__all__ = [
    "ISAKMP_VERSION", "DOI_ISAKMP", "DOI_IPSEC", "SIT_IDENTITY_ONLY", "SIT_SECRECY", "SIT_INTEGRITY",
    "FLAG_ENCRYPTION", "FLAG_COMMIT", "FLAG_AUTH_ONLY", "KEY_IKE", "NON_ESP_MARKER",
    "ExchangeType", "PayloadType", "PAYLOAD_SHORT_NAMES", "ProtocolId", "IkeAttr", "IpsecAttr",
    "EncryptionAlgorithm", "HashAlgorithm", "AuthMethod", "GroupDescription", "LifeType",
    "EncapsulationMode", "IpsecAuthAlgorithm", "EspTransform", "AhTransform", "IpcompTransform",
    "IdType", "CertEncoding", "NotifyType", "VendorId", "VENDOR_IDS", "vendor_name", "name_of",
]

ISAKMP_VERSION = 0x10          # major 1, minor 0: the only version IKEv1 peers send
DOI_ISAKMP = 0                 # generic ISAKMP SA (rare; IOS always says IPsec)
DOI_IPSEC = 1                  # RFC 2407: the DOI of every SA, Notify and Delete IOS sends
SIT_IDENTITY_ONLY = 0x01       # RFC 2407 4.2: the only situation IOS uses
SIT_SECRECY = 0x02             # labeled-domain situations: never seen outside MLS systems
SIT_INTEGRITY = 0x04
FLAG_ENCRYPTION = 0x01         # E: the payloads after the header are encrypted
FLAG_COMMIT = 0x02             # C: commit bit (RFC 2408 3.1)
FLAG_AUTH_ONLY = 0x04          # A: authentication-only Informational
KEY_IKE = 1                    # the one Phase 1 transform id (RFC 2407 4.4.2)
NON_ESP_MARKER = bytes(4)      # RFC 3948: ISAKMP on UDP 4500 starts with four zero bytes


class ExchangeType(IntEnum):
    """RFC 2408 3.1 / RFC 2409: the exchange a message belongs to."""

    NONE = 0
    BASE = 1
    IDENTITY_PROTECTION = 2    # Main Mode
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6            # Mode Config / XAUTH (draft-dukes-ike-mode-cfg)
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33

    MAIN_MODE = 2              # alias: the name IOS debug output uses


class PayloadType(IntEnum):
    """RFC 2408 3.1 next-payload numbers, plus NAT-T's (RFC 3947 and its drafts)."""

    NONE = 0
    SA = 1
    PROPOSAL = 2               # only inside an SA payload
    TRANSFORM = 3              # only inside a Proposal
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFY = 11
    DELETE = 12
    VENDOR_ID = 13
    ATTRIBUTE = 14             # Mode Config (kept opaque: DMVPN does not use it)
    NAT_D = 20                 # RFC 3947
    NAT_OA = 21                # RFC 3947
    NAT_D_DRAFT = 130          # draft-ietf-ipsec-nat-t-ike-02/03: what IOS sends to a draft peer
    NAT_OA_DRAFT = 131


#: Short names as strongSwan and IOS debugs print payload lists ("SA V V V V").
PAYLOAD_SHORT_NAMES: dict[int, str] = {
    PayloadType.SA: "SA", PayloadType.PROPOSAL: "P", PayloadType.TRANSFORM: "T", PayloadType.KE: "KE",
    PayloadType.ID: "ID", PayloadType.CERT: "CERT", PayloadType.CR: "CR", PayloadType.HASH: "HASH",
    PayloadType.SIG: "SIG", PayloadType.NONCE: "No", PayloadType.NOTIFY: "N", PayloadType.DELETE: "D",
    PayloadType.VENDOR_ID: "V", PayloadType.ATTRIBUTE: "ATTR", PayloadType.NAT_D: "NAT-D",
    PayloadType.NAT_OA: "NAT-OA", PayloadType.NAT_D_DRAFT: "NAT-D(draft)",
    PayloadType.NAT_OA_DRAFT: "NAT-OA(draft)",
}


class ProtocolId(IntEnum):
    """RFC 2407 4.4.1: the protocol a proposal, Notify or Delete is about."""

    ISAKMP = 1
    IPSEC_AH = 2
    IPSEC_ESP = 3
    IPCOMP = 4


class IkeAttr(IntEnum):
    """RFC 2409 appendix A: Phase 1 (ISAKMP SA) attribute types."""

    ENCRYPTION = 1
    HASH = 2
    AUTH_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME = 6
    GROUP_GENERATOR_ONE = 7
    GROUP_GENERATOR_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


class IpsecAttr(IntEnum):
    """RFC 2407 4.5: Phase 2 (AH/ESP/IPCOMP SA) attribute types."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3      # present = PFS with this group
    ENCAPSULATION_MODE = 4
    AUTH_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICTIONARY_SIZE = 8
    COMPRESS_PRIVATE_ALGORITHM = 9
    ECN_TUNNEL = 10            # RFC 3168


class EncryptionAlgorithm(IntEnum):
    """RFC 2409 appendix A (+ RFC 3602 AES): Phase 1 ciphers."""

    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_R16_B64_CBC = 4
    TRIPLE_DES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7
    CAMELLIA_CBC = 8


class HashAlgorithm(IntEnum):
    """RFC 2409 appendix A (+ RFC 4868 SHA-2): the hash, and HMAC over it is the PRF."""

    MD5 = 1
    SHA = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class AuthMethod(IntEnum):
    """RFC 2409 appendix A, RFC 4754 ECDSA, and the XAUTH values IOS knows."""

    PRE_SHARED_KEY = 1
    DSS_SIGNATURES = 2
    RSA_SIGNATURES = 3
    RSA_ENCRYPTION = 4
    RSA_REVISED_ENCRYPTION = 5
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    XAUTH_INIT_PRE_SHARED = 65001
    XAUTH_RESP_PRE_SHARED = 65002


class GroupDescription(IntEnum):
    """Diffie-Hellman groups (RFC 2409, 3526, 5903, 5114): Phase 1 and PFS."""

    MODP_768 = 1
    MODP_1024 = 2
    EC2N_155 = 3
    EC2N_185 = 4
    MODP_1536 = 5
    MODP_2048 = 14
    MODP_3072 = 15
    MODP_4096 = 16
    MODP_6144 = 17
    MODP_8192 = 18
    ECP_256 = 19
    ECP_384 = 20
    ECP_521 = 21
    MODP_1024_S160 = 22
    MODP_2048_S224 = 23
    MODP_2048_S256 = 24


class LifeType(IntEnum):
    """Life Type values: the same numbers in IKE and in the IPsec DOI."""

    SECONDS = 1
    KILOBYTES = 2


class EncapsulationMode(IntEnum):
    """RFC 2407 4.5 + RFC 3947 5.1; the draft numbers are what IOS negotiates with a
    peer that only offered the draft NAT-T vendor ids (draft-ietf-ipsec-nat-t-ike-02/03)."""

    TUNNEL = 1
    TRANSPORT = 2
    UDP_ENCAPSULATED_TUNNEL = 3
    UDP_ENCAPSULATED_TRANSPORT = 4
    UDP_ENCAPSULATED_TUNNEL_DRAFT = 61443      # 0xF003
    UDP_ENCAPSULATED_TRANSPORT_DRAFT = 61444   # 0xF004


class IpsecAuthAlgorithm(IntEnum):
    """RFC 2407 4.5 Authentication Algorithm (+ RFC 4868, RFC 3566, RFC 4543)."""

    HMAC_MD5 = 1
    HMAC_SHA = 2
    DES_MAC = 3
    KPDK = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    HMAC_RIPEMD = 8
    AES_XCBC_MAC = 9
    SIG_RSA = 10
    AES_128_GMAC = 11
    AES_192_GMAC = 12
    AES_256_GMAC = 13


class EspTransform(IntEnum):
    """RFC 2407 4.4.4 ESP transform ids (+ RFC 3602, 3686, 4106, 4309, 4543)."""

    DES_IV64 = 1
    DES = 2
    TRIPLE_DES = 3
    RC5 = 4
    IDEA = 5
    CAST = 6
    BLOWFISH = 7
    THREE_IDEA = 8
    DES_IV32 = 9
    RC4 = 10
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20
    NULL_AUTH_AES_GMAC = 23


class AhTransform(IntEnum):
    """RFC 2407 4.4.3 AH transform ids (+ RFC 4868)."""

    MD5 = 2
    SHA = 3
    DES = 4
    SHA2_256 = 5
    SHA2_384 = 6
    SHA2_512 = 7


class IpcompTransform(IntEnum):
    """RFC 2407 4.4.5 IPCOMP transform ids."""

    OUI = 1
    DEFLATE = 2
    LZS = 3


class IdType(IntEnum):
    """RFC 2407 4.6.2.1 identification types (Phase 1 identities, Phase 2 proxies)."""

    IPV4_ADDR = 1
    FQDN = 2
    USER_FQDN = 3
    IPV4_ADDR_SUBNET = 4
    IPV6_ADDR = 5
    IPV6_ADDR_SUBNET = 6
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8
    DER_ASN1_DN = 9
    DER_ASN1_GN = 10
    KEY_ID = 11


class CertEncoding(IntEnum):
    """RFC 2408 3.9 certificate encodings (Cert and Certificate Request payloads)."""

    NONE = 0
    PKCS7 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIGNATURE = 4
    X509_KEY_EXCHANGE = 5
    KERBEROS_TOKENS = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTRIBUTE = 10


class NotifyType(IntEnum):
    """RFC 2408 3.14.1 errors and status, RFC 2407 4.6.3, RFC 3706 DPD."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137


class VendorId:
    """Vendor ID payload contents IOS sends or looks for, byte for byte.

    Where the bytes come from: the NAT-T ones are MD5 of the draft/RFC name (RFC 3947
    section 7 and the drafts; "-02\\n" really hashes a trailing newline, a typo in the
    draft that every implementation copied); DPD is printed in RFC 3706; CISCO-UNITY is
    MD5("CISCO-UNITY") with its last two bytes replaced by the version (1.0); XAUTH is
    the first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt"); IKE Fragmentation
    is MD5("FRAGMENTATION") (Cisco's IKEv1 fragmentation). Every one of RFC 3947, the
    -07/-03/-02\\n drafts, DPD, Unity and XAUTH appears in the IOS capture
    ``wireshark-capture-ipsec-ikev1-isakmp-main-mode.pcap`` (MM1: RFC 3947, -07, -03,
    -02\\n; MM3/MM4: DPD, XAUTH, Unity from the responder).

    IOS also sends, in MM3 and MM4, one 16-byte vendor id found in no published list
    (Wireshark: "Unknown Vendor ID"). It differs per SA: in the capture its bytes 4..7
    equal the sender's cookie bytes 4..7 except the lowest bit of byte 5. Nothing
    depends on it; a peer may ignore it.
    """

    RFC_3947 = bytes.fromhex("4a131c81070358455c5728f20e95452f")
    NATT_DRAFT_07 = bytes.fromhex("439b59f8ba676c4c7737ae22eab8f582")
    NATT_DRAFT_03 = bytes.fromhex("7d9419a65310ca6f2c179d9215529d56")
    NATT_DRAFT_02N = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")
    NATT_DRAFT_02 = bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448")
    DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")
    CISCO_UNITY = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")
    XAUTH = bytes.fromhex("09002689dfd6b712")
    IKE_FRAGMENTATION = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")


#: bytes -> the label Wireshark and strongSwan print for it.
VENDOR_IDS: dict[bytes, str] = {
    VendorId.RFC_3947: "RFC 3947",
    VendorId.NATT_DRAFT_07: "draft-ietf-ipsec-nat-t-ike-07",
    VendorId.NATT_DRAFT_03: "draft-ietf-ipsec-nat-t-ike-03",
    VendorId.NATT_DRAFT_02N: "draft-ietf-ipsec-nat-t-ike-02\\n",
    VendorId.NATT_DRAFT_02: "draft-ietf-ipsec-nat-t-ike-02",
    VendorId.DPD: "Dead Peer Detection",
    VendorId.CISCO_UNITY: "Cisco Unity",
    VendorId.XAUTH: "XAUTH",
    VendorId.IKE_FRAGMENTATION: "IKE Fragmentation",
}


def vendor_name(data: bytes) -> str | None:
    """The label of a known vendor id, else None (Cisco's fragmentation id may carry a
    4-byte capability suffix, so it is matched by prefix)."""
    name = VENDOR_IDS.get(bytes(data))
    if name is None and len(data) > 16 and bytes(data[:16]) == VendorId.IKE_FRAGMENTATION:
        name = VENDOR_IDS[VendorId.IKE_FRAGMENTATION]
    return name


def name_of(enum: Type[IntEnum], value: int) -> str:
    """``enum``'s name for ``value``, or the number itself when the enum has no such member
    (a peer may send numbers we do not know; debug output must still print them)."""
    try:
        return enum(value).name
    except ValueError:
        return str(value)
