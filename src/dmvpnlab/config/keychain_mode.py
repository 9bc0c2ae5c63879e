"""`key chain NAME`, its ` key N` and their `  key-string S`: the keys EIGRP MD5 signs with.

Exposes `COMMANDS` and `MODES` for the session's dispatcher (see modes.py). Two nested
sub-modes, as IOS has them: `(config-keychain)` edits a chain, `(config-keychain-key)` one
key of it. A `key N` line typed in the key mode moves to that sibling key (IOS does the
same), so the key mode's target carries its chain. Other key lines (`accept-lifetime`,
`send-lifetime`, `cryptographic-algorithm`) are kept as written and listed as ignored:
every key of ours is always valid. Imports config.model, config.modes and config.tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmvpnlab.config.model import KeyChain, KeyChainKey
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec, open_section
from dmvpnlab.config.tokens import Cursor, Incomplete, Unknown, is_number


@dataclass(eq=False)
class KeyEdit:
    """The key mode's target: the key edited, and the chain a `key N` line moves within."""

    chain: KeyChain
    key: KeyChainKey


def _name(chain: KeyChain) -> str:
    return chain.name


def _key_id(key: KeyChainKey) -> int:
    return key.key_id


def _enter_chain(ctx: Context, cur: Cursor, neg: bool) -> None:
    name = cur.word()
    if cur.more():
        raise Unknown()  # `key chain X macsec` and other kinds: kept verbatim
    open_section(ctx, neg, Mode.KEYCHAIN, ctx.config.key_chains, _name, name, lambda: KeyChain(name))


def _enter_key(ctx: Context, cur: Cursor, neg: bool) -> None:
    target = ctx.target
    chain: KeyChain = target.chain if isinstance(target, KeyEdit) else target
    if not cur.more():
        raise Incomplete()
    if not is_number(cur.peek() or ""):
        raise Unknown()  # `key chain B` typed in the key mode: a global line
    key_id = cur.integer(0, 2147483647)
    cur.end()
    keys = ctx.entries(chain.keys, _key_id)
    if neg:
        keys.drop(key_id)
        if isinstance(target, KeyEdit) and target.key.key_id == key_id:
            ctx.enter(Mode.KEYCHAIN, chain)
        return
    key = keys.get(key_id)
    if key is None:
        key = KeyChainKey(key_id)
        keys.put(key)
    ctx.enter(Mode.KEYCHAIN_KEY, KeyEdit(chain, key))


def _key_string(ctx: Context, cur: Cursor, neg: bool) -> None:
    edit: KeyEdit = ctx.target
    if neg:
        edit.key.key_string = None
        return
    if not cur.more():
        raise Incomplete()
    edit.key.key_string = cur.rest()


def _key_body(edit: KeyEdit) -> list[str]:
    return edit.key.extra_lines


COMMANDS = (
    Command(Mode.GLOBAL, "key chain", _enter_chain),
    Command(Mode.KEYCHAIN, "key", _enter_key),
    Command(Mode.KEYCHAIN_KEY, "key", _enter_key),
    Command(Mode.KEYCHAIN_KEY, "key-string", _key_string),
)

MODES = (
    ModeSpec(Mode.KEYCHAIN, open_families=((),)),
    ModeSpec(Mode.KEYCHAIN_KEY, open_families=((),), body=_key_body),
)
