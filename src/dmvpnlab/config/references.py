"""Names one section gives another: which ones a config leaves undefined, in IOS's words.

`set transform-set A B` in an IPsec profile names transform sets, and `tunnel protection
ipsec profile P` names a profile. IOS refuses such a line at the prompt when the name is
not defined. A config file is read as a whole (crypto is listed before the interfaces, but
nothing forces a file to be in that order), so the parser checks what is still named at
its end (`undefined`) and reports the line that named it (parser.ConfigSession.finish).

Messages: the transform-set one is IOS's text; the profile one is the wording the IOS
releases we know use for a missing profile (not checked against a device).
Imports config.model only.
"""

from __future__ import annotations

from typing import Iterator, Literal

from dmvpnlab.config.model import RouterConfig

Kind = Literal["transform-set", "ipsec-profile"]
TRANSFORM_SET: Kind = "transform-set"
IPSEC_PROFILE: Kind = "ipsec-profile"


def message(kind: str, name: str) -> str:
    """The IOS error for a `kind` section called `name` that does not exist."""
    if kind == TRANSFORM_SET:
        return f'ERROR: transform set with tag "{name}" does not exist.'
    return f"% IPsec profile {name} not found"


def defined(config: RouterConfig, kind: str, name: str) -> bool:
    if kind == TRANSFORM_SET:
        return config.transform_set(name) is not None
    return config.ipsec_profile(name) is not None


def undefined(config: RouterConfig) -> Iterator[tuple[str, str]]:
    """(kind, name) of every name the model holds that no section defines, once each, in config order."""
    names = {TRANSFORM_SET: {t.name for t in config.transform_sets},
             IPSEC_PROFILE: {p.name for p in config.ipsec_profiles}}  # one pass, not one scan per name
    seen: set[tuple[str, str]] = set()
    wanted = [(TRANSFORM_SET, ts) for prof in config.ipsec_profiles for ts in prof.transform_sets]
    wanted += [(IPSEC_PROFILE, itf.tunnel_protection.profile) for itf in config.interfaces
               if itf.tunnel_protection is not None]
    for kind, name in wanted:
        if (kind, name) not in seen and name not in names[kind]:
            seen.add((kind, name))
            yield kind, name
