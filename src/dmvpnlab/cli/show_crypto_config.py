"""`show crypto isakmp policy`, `show crypto ipsec transform-set`, `show crypto ipsec profile`.

What a router will propose, from its config alone (no SA needed): the first commands an
engineer types when phase 1 says "no proposal chosen". IOS spells each algorithm out in
words (`AES - Advanced Encryption Standard (256 bit key.)`, `#14 (2048 bit)`); the
tables below hold those words. With no `crypto isakmp policy`, IOS shows its default
suites under `Default IKE policy`: here the pre-share ones settings.DEFAULT_POLICIES
proposes (the rsa-sig ones cannot complete with keys, so this lab does not offer them).
Reads the config model and ipsec.settings.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.config.model import IpsecProfile, IsakmpPolicy, RouterConfig, TransformSet
from dmvpnlab.ipsec.esp_transforms import TransformError, parse_transform
from dmvpnlab.ipsec.settings import (
    DEFAULT_POLICIES,
    DEFAULT_PROPOSALS,
    IPSEC_DEFAULT_LIFETIME_KILOBYTES,
    IPSEC_DEFAULT_LIFETIME_SECONDS,
)

_ENCRYPTION = {
    "des": "DES - Data Encryption Standard (56 bit keys).",
    "3des": "Three key triple DES",
    "aes": "AES - Advanced Encryption Standard (128 bit key.)",
}
_HASH = {
    "md5": "Message Digest 5", "sha": "Secure Hash Standard", "sha256": "Secure Hash Standard 2 (256 bit)",
    "sha384": "Secure Hash Standard 2 (384 bit)", "sha512": "Secure Hash Standard 2 (512 bit)",
}
_AUTH = {"pre-share": "Pre-Shared Key", "rsa-sig": "Rivest-Shamir-Adleman Signature",
         "rsa-encr": "Rivest-Shamir-Adleman Encryption"}
_GROUP = {1: "768 bit", 2: "1024 bit", 5: "1536 bit", 14: "2048 bit", 15: "3072 bit", 16: "4096 bit",
          19: "256 bit ecp", 20: "384 bit ecp", 21: "521 bit ecp", 24: "2048 bit, 256 bit subgroup"}


def _encryption_words(encryption: str) -> str:
    """`aes 256` -> the AES line with its key size; the others from the table."""
    if encryption.startswith("aes "):
        return f"AES - Advanced Encryption Standard ({encryption.split()[1]} bit key.)"
    return _ENCRYPTION.get(encryption, encryption)


def _suite(title: str, pol: IsakmpPolicy) -> list[str]:
    return [
        title,
        f"\tencryption algorithm:\t{_encryption_words(pol.encryption)}",
        f"\thash algorithm:\t\t{_HASH.get(pol.hash, pol.hash)}",
        f"\tauthentication method:\t{_AUTH.get(pol.authentication, pol.authentication)}",
        f"\tDiffie-Hellman group:\t#{pol.group} ({_GROUP.get(pol.group, 'unknown')})",
        f"\tlifetime:\t\t{pol.lifetime} seconds, no volume limit",
    ]


def render_isakmp_policy(config: RouterConfig) -> str:
    if config.isakmp_policies:
        out = ["", "Global IKE policy"]
        for pol in sorted(config.isakmp_policies, key=lambda p: p.priority):
            out += _suite(f"Protection suite of priority {pol.priority}", pol)
    else:
        out = ["", "Default IKE policy"]
        for d in DEFAULT_POLICIES:
            words = d.encryption + (f" {d.key_bits}" if d.key_bits else "")
            pol = IsakmpPolicy(d.priority, words, d.hash, d.authentication, d.group, d.lifetime)
            out += _suite(f"Default protection suite of priority {d.priority}", pol)
    return "\n".join(out) + "\n"


def _show_words(words: list[str] | str) -> str:
    try:
        return parse_transform(words).show_name
    except TransformError:
        return words if isinstance(words, str) else " ".join(words)


def _transform_set_lines(name: str, words: str, mode: str) -> list[str]:
    return [f"Transform set {name}: {{ {words}  }} ", f"   will negotiate = {{ {mode.capitalize()},  }}, ", "   "]


def render_transform_sets(config: RouterConfig) -> str:
    out: list[str] = []
    for proposal in reversed(DEFAULT_PROPOSALS):  # IOS lists default_transform_set_0 first
        out += _transform_set_lines(proposal.name, proposal.transform.show_name, proposal.mode)
    for ts in config.transform_sets:
        out += _transform_set_lines(ts.name, _show_words(ts.transforms), ts.mode)
    return "\n".join(out) + "\n"


def profile_sets(config: RouterConfig, profile: IpsecProfile) -> list[dict[str, Any]]:
    """The transform sets a profile proposes, in its order (IOS's defaults when it names none)."""
    if not profile.transform_sets:
        return [{"name": p.name, "transforms": p.transform.show_name, "mode": p.mode} for p in DEFAULT_PROPOSALS]
    found = [config.transform_set(name) for name in profile.transform_sets]
    return [{"name": ts.name, "transforms": _show_words(ts.transforms), "mode": ts.mode}
            for ts in found if isinstance(ts, TransformSet)]


def render_profiles(config: RouterConfig) -> str:
    out: list[str] = []
    for prof in config.ipsec_profiles:
        kb = prof.lifetime_kilobytes or config.ipsec_lifetime_kilobytes or IPSEC_DEFAULT_LIFETIME_KILOBYTES
        sec = prof.lifetime_seconds or config.ipsec_lifetime_seconds or IPSEC_DEFAULT_LIFETIME_SECONDS
        pfs = ["\tPFS (Y/N): N"] if not prof.pfs else ["\tPFS (Y/N): Y", f"\tDH group:  {prof.pfs}"]
        out += [f"IPSEC profile {prof.name}",
                f"\tSecurity association lifetime: {kb} kilobytes/{sec} seconds",
                "\tResponder-Only (Y/N): N", *pfs, "\tTransform sets={ ",
                *(f"\t\t{ts['name']}:  {{ {ts['transforms']}  }} , " for ts in profile_sets(config, prof)),
                "\t}", ""]
    return "\n".join(out) + "\n" if out else "\n"
