"""The router config's crypto lines -> the `IpsecSettings` one protected tunnel negotiates with.

The config model keeps what the user wrote; the IKE engine (ipsec/) never reads it. This
module is the one translation between them, the way the agent builds NHRP's engine config:
`ipsec_settings(config, interface, local_address)` gives None for a tunnel without
`tunnel protection`, else the policies, keys, DPD and phase-2 policy of its profile.

IOS behaviour kept here, on purpose:
- `crypto isakmp key` lines and every keyring's `pre-shared-key address` lines are one
  set of keys (IOS searches the keyrings too when no ISAKMP profile picks one); a keyring
  with `local-address` serves only negotiations from that address (or interface's address).
- A type-6 key is stored encrypted under the router's master key, which a config file
  does not carry: we cannot recover it, so such a key is refused (`CryptoConfigError`),
  never used as if its ciphertext were the secret.
- IOS's default `authentication` is rsa-sig: a policy without `authentication pre-share`
  needs certificates, which this lab does not do. Such a policy is dropped with a log
  line; with keys only, IOS could not complete it either. Configured policies that are all
  dropped leave no policy at all (IOS's default policies apply only when none is
  configured), so negotiation then fails with "no proposal chosen", as on IOS.
- Phase-2 lifetimes: the profile's `set security-association lifetime`, else the global
  `crypto ipsec security-association lifetime`, else IOS's 3600 s / 4,608,000 KB.
- `set pfs` alone is group1 (the parser stores it so); a profile without `set transform-set`
  proposes IOS's default transform sets (settings.DEFAULT_PROPOSALS).
- A transform set whose transforms this ESP cannot run (esp-des, esp-seal, AH, ...), or a
  name no section defines, is refused with the section named.

Imports config.model and ipsec.settings / ipsec.esp_transforms.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.config.model import Interface, IsakmpPolicy, Keyring, RouterConfig
from dmvpnlab.ipsec.esp_transforms import TransformError, parse_transform
from dmvpnlab.ipsec.settings import (
    DEFAULT_PROPOSALS,
    ChildPolicy,
    Dpd,
    IkePolicy,
    IpsecSettings,
    PresharedKey,
    Proposal,
)

log = logging.getLogger(__name__)

_ENCRYPTION = {  # config words -> (IkePolicy.encryption, key_bits)
    "des": ("des", None), "3des": ("3des", None), "aes": ("aes", 128),
    "aes 128": ("aes", 128), "aes 192": ("aes", 192), "aes 256": ("aes", 256),
}


class CryptoConfigError(ValueError):
    """Crypto config the engine cannot run with; the message names the line or section."""


def ipsec_settings(config: RouterConfig, interface: str | Interface,
                   local_address: IPv4Address) -> IpsecSettings | None:
    """The settings of `interface`'s `tunnel protection`, or None when it has none."""
    itf = config.interface(interface) if isinstance(interface, str) else interface
    if itf is None or itf.tunnel_protection is None:
        return None
    protection = itf.tunnel_protection
    profile = config.ipsec_profile(protection.profile)
    if profile is None:
        raise CryptoConfigError(f"% IPsec profile {protection.profile} not found "
                                f"(tunnel protection on {itf.name})")
    policies = tuple(p for p in (_ike_policy(pol) for pol in config.isakmp_policies) if p is not None)
    child = ChildPolicy(
        profile=profile.name,
        proposals=_proposals(config, profile.transform_sets),
        pfs_group=int(profile.pfs.removeprefix("group")) if profile.pfs else None,
        shared=protection.shared,
        **_lifetimes(profile.lifetime_seconds if profile.lifetime_seconds is not None else config.ipsec_lifetime_seconds,
                     profile.lifetime_kilobytes if profile.lifetime_kilobytes is not None
                     else config.ipsec_lifetime_kilobytes),
    )
    ka = config.isakmp_keepalive
    return IpsecSettings(
        local_address=local_address,
        child=child,
        policies=policies,
        keys=_keys(config, local_address),
        dpd=None if ka is None else Dpd(ka.seconds, ka.retry if ka.retry is not None else 2, ka.mode == "periodic"),
        nat_keepalive=config.isakmp_nat_keepalive,
        interface=itf.name,
        use_default_policies=not config.isakmp_policies,
    )


def _ike_policy(pol: IsakmpPolicy) -> IkePolicy | None:
    if pol.authentication != "pre-share":
        log.warning("crypto isakmp policy %d: authentication %s needs certificates, which this lab does "
                    "not do; policy not proposed (add `authentication pre-share`)", pol.priority, pol.authentication)
        return None
    encryption, bits = _ENCRYPTION[pol.encryption]
    return IkePolicy(pol.priority, encryption, bits, pol.hash, pol.group, pol.lifetime,  # type: ignore[arg-type]
                     "pre-share")


def _proposals(config: RouterConfig, names: list[str]) -> tuple[Proposal, ...]:
    if not names:
        return DEFAULT_PROPOSALS
    out = []
    for name in names:
        ts = config.transform_set(name)
        if ts is None:
            raise CryptoConfigError(f'ERROR: transform set with tag "{name}" does not exist.')
        try:
            transform = parse_transform(ts.transforms)
        except TransformError as error:
            raise CryptoConfigError(f"crypto ipsec transform-set {name}: {error}") from None
        out.append(Proposal(name, transform, ts.mode))
    return tuple(out)


def _lifetimes(seconds: int | None, kilobytes: int | None) -> dict[str, int]:
    """Only what the config sets: ChildPolicy's defaults are IOS's."""
    out = {}
    if seconds is not None:
        out["lifetime_seconds"] = seconds
    if kilobytes is not None:
        out["lifetime_kilobytes"] = kilobytes
    return out


def _keys(config: RouterConfig, local_address: IPv4Address) -> tuple[PresharedKey, ...]:
    found: list[tuple[str, IPv4Network, int | None, str]] = [
        (k.key, k.peer, k.encryption_type, f"crypto isakmp key ... address {k.peer.network_address}")
        for k in config.isakmp_keys]
    for ring in config.keyrings:
        if not _keyring_serves(config, ring, local_address):
            continue
        found += [(k.key, k.peer, k.encryption_type,
                   f"crypto keyring {ring.name}: pre-shared-key address {k.peer.network_address}")
                  for k in ring.keys]
    keys: dict[IPv4Network, PresharedKey] = {}
    for secret, peer, encryption, where in found:
        if encryption == 6:
            raise CryptoConfigError(f"{where}: a type 6 (encrypted) key cannot be recovered without the "
                                    "router's master key; give the key in clear text (type 0)")
        keys.setdefault(peer, PresharedKey(secret.encode(), peer))  # the first line for an address wins
    return tuple(keys.values())


def _keyring_serves(config: RouterConfig, ring: Keyring, local_address: IPv4Address) -> bool:
    where = ring.local_address
    if where is None:
        return True
    if isinstance(where, IPv4Address):
        return where == local_address
    itf = config.interface(where)
    return itf is not None and itf.address is not None and itf.address.ip == local_address
