"""Access lists: numbered `access-list N ...` lines and `ip access-list standard|extended NAME` sections.

Numbered lists: 1-99 and 1300-1999 are standard, 100-199 and 2000-2699 extended (other
numbers, e.g. MAC lists, are kept verbatim). Each `access-list N permit|deny ...` line
appends an entry, `access-list N remark TEXT` a remark, and `no access-list N` removes the
whole list, whatever follows the number (as IOS does). A named list's sub-mode takes
`permit`, `deny`, `remark`, `N permit ...` (a sequence number: the entry goes where the
number puts it; IOS refuses a number in use) and `no N`. IOS numbers entries 10, 20 ...:
a new entry gets the highest number plus 10. Entries are read by config.acl_entry.
Exposes `COMMANDS` and `MODES`. Imports config.acl_entry, config.model, config.modes and
config.tokens.
"""

from __future__ import annotations

from typing import Callable, Literal

from dmvpnlab.config.acl_entry import parse_entry
from dmvpnlab.config.model import AccessList, AccessListEntry
from dmvpnlab.config.modes import Command, Context, Mode, ModeSpec, open_section
from dmvpnlab.config.tokens import Cursor, Incomplete, Invalid, Refused, Unknown, parse_integer

AclKind = Literal["standard", "extended"]
SEQUENCE_STEP = 10


def numbered_kind(number: int) -> AclKind | None:
    """The kind of IP access list a number names (None: not an IP access list number)."""
    if 1 <= number <= 99 or 1300 <= number <= 1999:
        return "standard"
    if 100 <= number <= 199 or 2000 <= number <= 2699:
        return "extended"
    return None


def _name(acl: AccessList) -> str:
    return acl.name


def _order(acl: AccessList) -> tuple[int, int]:
    """Named lists first (in the order given), then numbered ones by number: the running-config order."""
    return (1, int(acl.name)) if acl.numbered else (0, 0)


def _add_entry(acl: AccessList, entry: AccessListEntry) -> None:
    """Number the entry (or check its number) and put it in sequence order; remarks before it join it."""
    used = [e.sequence or 0 for e in acl.entries]
    if entry.sequence is None:
        entry.sequence = (max(used) if used else 0) + SEQUENCE_STEP
    elif entry.sequence in used:
        raise Refused("% Duplicate sequence number")
    while acl.extra_lines and acl.extra_lines[-1].startswith("remark "):
        entry.remarks.insert(0, acl.extra_lines.pop())
    at = sum(1 for n in used if n < entry.sequence)
    acl.entries.insert(at, entry)


def _remove_entry(acl: AccessList, doomed: AccessListEntry | None = None, sequence: int | None = None) -> None:
    for at, entry in enumerate(acl.entries):
        if (doomed is not None and entry.text == doomed.text) or (sequence is not None and entry.sequence == sequence):
            del acl.entries[at]
            return


def _remark(acl: AccessList, cur: Cursor, neg: bool) -> None:
    text = "remark " + cur.rest()
    if not neg:
        acl.extra_lines.append(text)
        return
    for entry in acl.entries:
        if text in entry.remarks:
            entry.remarks.remove(text)
            return
    if text in acl.extra_lines:
        acl.extra_lines.remove(text)


def _entry_line(acl: AccessList, cur: Cursor, neg: bool, sequence: int | None) -> None:
    """`permit|deny ...` or `remark ...` of list `acl` (the cursor on that word)."""
    tok = cur.next()
    word = tok.text.lower()
    if len(word) >= 2 and "remark".startswith(word):
        _remark(acl, cur, neg)
        return
    if "permit".startswith(word) and word:
        action = "permit"
    elif "deny".startswith(word) and word:
        action = "deny"
    else:
        raise Invalid(tok.column)
    entry = parse_entry(cur, acl.kind, action, sequence)
    if neg:
        _remove_entry(acl, doomed=entry)
    else:
        _add_entry(acl, entry)


# -- numbered: access-list N ... ---------------------------------------------------------


def _access_list(ctx: Context, cur: Cursor, neg: bool) -> None:
    tok = cur.next()
    number = parse_integer(tok.text, 1, 2699)
    kind = numbered_kind(number) if number is not None else None
    if kind is None or number is None:
        raise Unknown()  # MAC, protocol-type and rate-limit lists: kept verbatim
    index = ctx.entries(ctx.config.access_lists, _name, _order)
    name = str(number)
    if neg:
        index.drop(name)
        return
    if not cur.more():
        raise Incomplete()
    if (cur.peek() or "").lower() in ("dynamic",):
        raise Unknown()
    acl = index.get(name)
    fresh = acl is None
    target = AccessList(name, kind) if acl is None else acl
    _entry_line(target, cur, neg=False, sequence=None)  # raises before the list is added
    if fresh:
        index.put(target)


# -- named: ip access-list standard|extended NAME ------------------------------------------


def _named(kind: AclKind) -> Callable[[Context, Cursor, bool], None]:
    mode = Mode.ACL_STANDARD if kind == "standard" else Mode.ACL_EXTENDED

    def handler(ctx: Context, cur: Cursor, neg: bool) -> None:
        tok = cur.next()
        name = tok.text
        cur.end()
        number = parse_integer(name, 1, 2699)
        numbered = number is not None
        if name[:1].isdigit() and (number is None or numbered_kind(number) != kind):
            raise Invalid(tok.column)
        index = ctx.entries(ctx.config.access_lists, _name, _order)
        known = index.get(name)
        if known is not None and known.kind != kind and not neg:
            raise Refused(f"% {name} is an {known.kind} access list: it cannot be edited as {kind}")
        open_section(ctx, neg, mode, ctx.config.access_lists, _name, name,
                     lambda: AccessList(name, kind, numbered=numbered), order=_order)
    return handler


def _sub_entry(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`permit ...`, `deny ...`, `remark ...` in a named list's sub-mode."""
    cur.pos -= 1  # back to the action word the table matched
    _entry_line(ctx.target, cur, neg, sequence=None)


def _sequenced(ctx: Context, cur: Cursor, neg: bool) -> None:
    """`N permit|deny ...` and `no N` in a named list's sub-mode."""
    acl: AccessList = ctx.target
    sequence = cur.integer(1, 2147483647)
    if neg and not cur.more():
        _remove_entry(acl, sequence=sequence)
        return
    if not cur.more():
        raise Incomplete()
    _entry_line(acl, cur, neg, sequence)


COMMANDS = (
    Command(Mode.GLOBAL, "access-list", _access_list, leaves_abbreviated=True),
    Command(Mode.GLOBAL, "ip access-list standard", _named("standard")),
    Command(Mode.GLOBAL, "ip access-list extended", _named("extended")),
    *(Command(mode, word, _sub_entry) for mode in (Mode.ACL_STANDARD, Mode.ACL_EXTENDED)
      for word in ("per[mit]", "de[ny]", "rem[ark]")),
)

MODES = (
    ModeSpec(Mode.ACL_STANDARD, leading_number=_sequenced),
    ModeSpec(Mode.ACL_EXTENDED, leading_number=_sequenced),
)
