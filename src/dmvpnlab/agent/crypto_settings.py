"""INTERIM (branch i-data only): `IpsecSettings` from the router config, the minimum the
data plane needs to run. Branch i-cfgcli owns the real `ipsec_settings` with this exact
name and signature; at that merge this file is replaced by theirs, whole.

It reads the seed's lines: `crypto isakmp policy` (encryption, hash, group, lifetime,
pre-share), `crypto isakmp key K address A [M]`, `crypto isakmp keepalive`, `crypto
ipsec transform-set` + mode, `crypto ipsec profile` (set transform-set, pfs, lifetimes),
`tunnel protection ipsec profile NAME [shared]`. An undefined profile or transform set
is an error naming it.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.config.model import RouterConfig
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.settings import (
    DEFAULT_PROPOSALS,
    IPSEC_DEFAULT_LIFETIME_KILOBYTES,
    IPSEC_DEFAULT_LIFETIME_SECONDS,
    ChildPolicy,
    Dpd,
    IkePolicy,
    IpsecSettings,
    PresharedKey,
    Proposal,
)


class CryptoConfigError(ValueError):
    """`tunnel protection` names a profile or transform set that is not defined."""


def ipsec_settings(config: RouterConfig, interface: str, local_address: IPv4Address) -> IpsecSettings | None:
    """The settings `interface` negotiates with, or None without `tunnel protection`."""
    itf = config.interface(interface)
    if itf is None or itf.tunnel_protection is None:
        return None
    name = itf.tunnel_protection.profile
    profile = config.ipsec_profile(name)
    if profile is None:
        raise CryptoConfigError(f"{interface}: ipsec profile {name} is not defined")
    proposals = []
    for ts_name in profile.transform_sets:
        ts = config.transform_set(ts_name)
        if ts is None:
            raise CryptoConfigError(f"crypto ipsec profile {name}: transform-set {ts_name} is not defined")
        proposals.append(Proposal(ts.name, parse_transform(ts.transforms), ts.mode))
    child = ChildPolicy(
        profile=name,
        proposals=tuple(proposals) or DEFAULT_PROPOSALS,
        pfs_group=int(profile.pfs.removeprefix("group")) if profile.pfs else None,
        lifetime_seconds=profile.lifetime_seconds or IPSEC_DEFAULT_LIFETIME_SECONDS,
        lifetime_kilobytes=profile.lifetime_kilobytes or IPSEC_DEFAULT_LIFETIME_KILOBYTES,
        shared=itf.tunnel_protection.shared,
    )
    policies = []
    for p in config.isakmp_policies:
        words = p.encryption.split()
        bits = int(words[1]) if len(words) > 1 else (128 if words[0] == "aes" else None)
        policies.append(IkePolicy(p.priority, words[0], bits, p.hash, p.group, p.lifetime,  # type: ignore[arg-type]
                                  p.authentication))  # type: ignore[arg-type]
    keys = tuple(PresharedKey(k.key.encode(), k.peer) for k in config.isakmp_keys)
    keepalive = config.isakmp_keepalive
    dpd = (Dpd(keepalive.seconds, keepalive.retry or 2, keepalive.mode == "periodic")
           if keepalive is not None else None)
    return IpsecSettings(local_address=local_address, child=child, policies=tuple(policies), keys=keys,
                         dpd=dpd, interface=interface)
