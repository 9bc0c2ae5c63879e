"""`crypto isakmp ...`, `crypto keyring` and `crypto ipsec ...`: IKE policies, keys, keepalives, transform sets, profiles.

Exposes `COMMANDS` and `MODES` for the session's dispatcher (see modes.py): the global
`crypto` lines, and the policy (`config-isakmp`), keyring (`conf-keyring`), transform-set
(`cfg-crypto-trans`) and profile (`ipsec-profile`) sub-modes. IOS defaults are the
model's; a `no` form puts the default back. Other `crypto isakmp` lines
(`invalid-spi-recovery`, `aggressive-mode disable`, `identity`, `profile` ...) and other
profile lines (`set isakmp-profile`, `set security-association replay ...`) are kept as
written and listed as ignored: they do not change what this lab negotiates.
A profile's `set transform-set` and an interface's `tunnel protection` name sections that
must exist (config.references). Imports config.model, config.modes, config.references
and config.tokens.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.config import references
from dmvpnlab.config.model import (
    IpsecProfile,
    IsakmpKeepalive,
    IsakmpKey,
    IsakmpPolicy,
    Keyring,
    KeyringKey,
    TransformSet,
)
from dmvpnlab.config.modes import Command, Context, Handler, Mode, ModeSpec, address_or_interface, number, open_section, setting
from dmvpnlab.config.tokens import (
    Cursor,
    Incomplete,
    Invalid,
    Unknown,
    is_number,
    looks_like_address,
    parse_integer,
)

_TRANSFORMS_WITH_KEYSIZE = ("esp-aes", "esp-gcm", "esp-gmac")
_TRANSFORMS = ("esp-aes", "esp-gcm", "esp-gmac", "esp-3des", "esp-des", "esp-null",
               "esp-seal", "esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac",
               "esp-sha384-hmac", "esp-sha512-hmac", "ah-md5-hmac", "ah-sha-hmac",
               "ah-sha256-hmac", "ah-sha384-hmac", "ah-sha512-hmac", "comp-lzs")
_PFS_GROUPS = ("group1", "group2", "group5", "group14", "group15", "group16", "group19",
               "group20", "group21", "group24")
_ISAKMP_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)


# -- crypto isakmp ... -----------------------------------------------------------------


# The keys of the lists this module indexes (modes.Context.entries wants the same function
# each time).
def _priority(policy: IsakmpPolicy) -> int:
    return policy.priority


def _peer(key: IsakmpKey) -> IPv4Network:
    return key.peer


def _name(section: TransformSet | IpsecProfile | Keyring) -> str:
    return section.name


def _enter_policy(ctx: Context, cur: Cursor, neg: bool) -> None:
    prio = cur.integer(1, 10000)
    cur.end()
    open_section(ctx, neg, Mode.ISAKMP, ctx.config.isakmp_policies, _priority, prio,
                 lambda: IsakmpPolicy(prio), order=_priority)


def _peer_network(cur: Cursor) -> IPv4Network:
    """`A [MASK]` of a key: a host without a mask, any peer for 0.0.0.0 with or without one."""
    addr = cur.ipv4()
    plen = 32
    if cur.more() and looks_like_address(cur.peek() or ""):
        plen = cur.mask()
    elif addr == IPv4Address("0.0.0.0"):
        plen = 0
    try:
        return IPv4Network((int(addr), plen))
    except ValueError:
        raise Invalid(cur.tokens[cur.pos - 1].column, "%Inconsistent address and mask") from None


def _isakmp_key(ctx: Context, cur: Cursor, neg: bool) -> None:
    enc: int | None = None
    if (cur.peek() in ("0", "6") and len(cur.tokens) > cur.pos + 2
            and (cur.tokens[cur.pos + 2].text.lower() == "address")):
        enc = cur.integer(0, 6)
    key = cur.word()
    where = cur.choice("address", "hostname", unknown=True)
    if where == "hostname" or (cur.peek() or "").lower() == "ipv6":
        raise Unknown()
    peer = _peer_network(cur)
    no_xauth = cur.accept("no-xauth")
    cur.end()
    keys = ctx.entries(ctx.config.isakmp_keys, _peer)
    if neg:
        keys.drop(peer)
    else:
        keys.put(IsakmpKey(key, peer, enc, no_xauth))


def _isakmp_keepalive(ctx: Context, cur: Cursor, neg: bool) -> None:
    cfg = ctx.config
    if neg:
        cfg.isakmp_keepalive = None
        return
    ka = IsakmpKeepalive(cur.integer(10, 3600))
    if cur.more() and is_number(cur.peek() or ""):
        ka.retry = cur.integer(2, 60)
    if cur.more():
        ka.mode = cur.choice("periodic", "on-demand")  # type: ignore[assignment]
    cur.end()
    cfg.isakmp_keepalive = ka


def _global_setting(attr: str, lo: int, hi: int) -> Handler:
    """A global `<keywords> N` of the router config; `no <keywords> [N]` clears it."""
    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        value = cur.integer(lo, hi) if not neg or cur.more() else None
        cur.end()
        setattr(ctx.config, attr, None if neg else value)
    return handler


# -- crypto keyring NAME ----------------------------------------------------------------


def _enter_keyring(ctx: Context, cur: Cursor, neg: bool) -> None:
    name = cur.word()
    if cur.more():
        raise Unknown()  # `crypto keyring K vrf V`: VRFs are not modelled, the section is kept
    open_section(ctx, neg, Mode.KEYRING, ctx.config.keyrings, _name, name, lambda: Keyring(name))


def _keyring_peer(key: KeyringKey) -> IPv4Network:
    return key.peer


def _keyring_key(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`pre-shared-key address A [MASK] key [0|6] K` (the `hostname` form is kept as written)."""
    ring: Keyring = ctx.target
    if cur.choice("address", "hostname", unknown=True) == "hostname" or (cur.peek() or "").lower() == "ipv6":
        raise Unknown()
    peer = _peer_network(cur)
    keys = ctx.entries(ring.keys, _keyring_peer)
    if neg and not cur.more():
        keys.drop(peer)
        return
    cur.choice("key")
    enc: int | None = None
    if cur.peek() in ("0", "6") and len(cur.tokens) > cur.pos + 1:
        enc = cur.integer(0, 6)
    secret = cur.word()
    cur.end()
    if neg:
        keys.drop(peer)
    else:
        keys.put(KeyringKey(secret, peer, enc))


# -- crypto isakmp policy N: the policy's lines -----------------------------------------


def _policy_encryption(ctx: Context, cur: Cursor, neg: bool) -> None:
    pol: IsakmpPolicy = ctx.target
    if neg:
        pol.encryption = IsakmpPolicy(pol.priority).encryption
        return
    alg = cur.choice("des", "3des", "aes")
    if alg == "aes" and cur.more():
        alg += " " + str(cur.choice("128", "192", "256"))
    cur.end()
    pol.encryption = alg


def _policy_hash(ctx: Context, cur: Cursor, neg: bool) -> None:
    pol: IsakmpPolicy = ctx.target
    value = (IsakmpPolicy(pol.priority).hash if neg
             else cur.choice("md5", "sha", "sha256", "sha384", "sha512"))
    cur.end()
    pol.hash = value


def _policy_authentication(ctx: Context, cur: Cursor, neg: bool) -> None:
    pol: IsakmpPolicy = ctx.target
    value = (IsakmpPolicy(pol.priority).authentication if neg
             else cur.choice("pre-share", "rsa-sig", "rsa-encr"))
    cur.end()
    pol.authentication = value


def _policy_group(ctx: Context, cur: Cursor, neg: bool) -> None:
    pol: IsakmpPolicy = ctx.target
    if neg:
        pol.group = IsakmpPolicy(pol.priority).group
        return
    group = cur.value(_isakmp_group)
    cur.end()
    pol.group = group


def _isakmp_group(text: str) -> int | None:
    """A Diffie-Hellman group number IKEv1 policies accept, or None."""
    group = parse_integer(text, min(_ISAKMP_GROUPS), max(_ISAKMP_GROUPS))
    return group if group in _ISAKMP_GROUPS else None


def _policy_lifetime(ctx: Context, cur: Cursor, neg: bool) -> None:
    pol: IsakmpPolicy = ctx.target
    value = IsakmpPolicy(pol.priority).lifetime if neg else cur.integer(60, 86400)
    cur.end()
    pol.lifetime = value


# -- crypto ipsec transform-set NAME T1 [T2 [T3]] ----------------------------------------


def _enter_transform_set(ctx: Context, cur: Cursor, neg: bool) -> None:
    name = cur.word()
    transforms = [] if neg else _transforms(cur)  # `no` takes the name alone
    ts = open_section(ctx, neg, Mode.TRANSFORM, ctx.config.transform_sets, _name, name,
                      lambda: TransformSet(name, transforms))
    if ts is not None:
        ts.transforms = transforms  # re-entering a transform set gives it the new transforms


def _kind(name: str) -> str:
    """Which slot of a transform set a transform fills: IOS takes one of each."""
    if name.startswith("ah-"):
        return "ah"
    if name.startswith("comp-"):
        return "comp"
    return "esp-auth" if name.endswith("-hmac") else "esp-encr"


def _transforms(cur: Cursor) -> list[str]:
    """At most one AH, one ESP encryption, one ESP integrity and one compression transform;
    a combined-mode cipher (esp-gcm, esp-gmac) carries its own integrity: no HMAC beside it.
    IOS refuses the second of a kind under its word, as here."""
    out: list[str] = []
    kinds: set[str] = set()
    if not cur.more():
        raise Incomplete()
    while cur.more():
        tok = cur.next()
        name = tok.text.lower()
        kind = _kind(name)
        combined = any(t.split()[0] in ("esp-gcm", "esp-gmac") for t in out)
        if (name not in _TRANSFORMS or kind in kinds
                or (kind == "esp-auth" and combined)
                or (name in ("esp-gcm", "esp-gmac") and "esp-auth" in kinds)):
            raise Invalid(tok.column)
        kinds.add(kind)
        if name in _TRANSFORMS_WITH_KEYSIZE and cur.peek() in ("128", "192", "256"):
            name += " " + cur.next().text
        out.append(name)
    return out


def _transform_mode(ctx: Context, cur: Cursor, neg: bool) -> None:
    ts: TransformSet = ctx.target
    if neg:
        ts.mode = "tunnel"
        return
    mode = cur.choice("transport", "tunnel")
    cur.end()  # before the model changes: a refused line changes nothing
    ts.mode = mode  # type: ignore[assignment]


# -- crypto ipsec profile NAME ------------------------------------------------------------


def _enter_profile(ctx: Context, cur: Cursor, neg: bool) -> None:
    name = cur.word()
    cur.end()
    open_section(ctx, neg, Mode.IPSEC_PROFILE, ctx.config.ipsec_profiles, _name, name,
                 lambda: IpsecProfile(name))


def _profile_transform_set(ctx: Context, cur: Cursor, neg: bool) -> None:
    prof: IpsecProfile = ctx.target
    if neg:
        prof.transform_sets = []
        return
    first = cur.pos
    names = [cur.word()] + [t.text for t in cur.tokens[cur.pos:]]
    if len(names) > 6:
        raise Invalid(cur.tokens[first + 6].column)  # IOS takes at most six
    for name in names:
        ctx.refer(references.TRANSFORM_SET, name)
    prof.transform_sets = names


def _profile_pfs(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`set pfs [groupN]`: IOS's PFS group when none is named is group1, stored as such."""
    prof: IpsecProfile = ctx.target
    if neg:
        prof.pfs = None
        return
    pfs = cur.choice(*_PFS_GROUPS) if cur.more() else "group1"
    cur.end()  # before the model changes: a refused line changes nothing
    prof.pfs = pfs


COMMANDS = (
    Command(Mode.GLOBAL, "crypto isakmp policy", _enter_policy),
    Command(Mode.GLOBAL, "crypto isakmp key", _isakmp_key),
    Command(Mode.GLOBAL, "crypto isakmp keepalive", _isakmp_keepalive),
    Command(Mode.GLOBAL, "crypto isakmp nat keepalive", _global_setting("isakmp_nat_keepalive", 5, 3600)),
    Command(Mode.GLOBAL, "crypto keyring", _enter_keyring),
    Command(Mode.KEYRING, "pre-shared-key", _keyring_key),
    Command(Mode.KEYRING, "local-address", setting("local_address", address_or_interface, check_no=False)),
    Command(Mode.GLOBAL, "crypto ipsec security-association lifetime seconds",
            _global_setting("ipsec_lifetime_seconds", 120, 2592000)),
    Command(Mode.GLOBAL, "crypto ipsec security-association lifetime kilobytes",
            _global_setting("ipsec_lifetime_kilobytes", 2560, 4294967295)),
    Command(Mode.GLOBAL, "crypto ipsec transform-set", _enter_transform_set),
    Command(Mode.GLOBAL, "crypto ipsec profile", _enter_profile),
    Command(Mode.ISAKMP, "encr[yption]", _policy_encryption),
    Command(Mode.ISAKMP, "hash", _policy_hash),
    Command(Mode.ISAKMP, "auth[entication]", _policy_authentication),
    Command(Mode.ISAKMP, "group", _policy_group),
    Command(Mode.ISAKMP, "lifetime", _policy_lifetime),
    Command(Mode.TRANSFORM, "mode", _transform_mode),
    Command(Mode.IPSEC_PROFILE, "set transform-set", _profile_transform_set),
    Command(Mode.IPSEC_PROFILE, "set pfs", _profile_pfs),
    Command(Mode.IPSEC_PROFILE, "set security-association lifetime seconds",
            setting("lifetime_seconds", number(120, 2592000))),
    Command(Mode.IPSEC_PROFILE, "set security-association lifetime kilobytes",
            setting("lifetime_kilobytes", number(2560, 4294967295))),
)

# A transform set and a profile hold more lines than the ones modelled here: there, a bare
# `no` is such a line, kept, not `% Incomplete command.`.
MODES = (
    ModeSpec(Mode.ISAKMP),
    ModeSpec(Mode.KEYRING, open_families=((),)),
    ModeSpec(Mode.TRANSFORM, open_families=((),)),
    ModeSpec(Mode.IPSEC_PROFILE, open_families=((),)),
)
