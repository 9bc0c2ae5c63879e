"""The seam between the config session and its handler modules: keywords, command tables, verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from dmvpnlab.cli import tree
from dmvpnlab.config.model import Interface, IsakmpPolicy, RawBlock, RouterConfig
from dmvpnlab.config.modes import Command, Context, Entries, Mode, ModeSpec, flag, number, open_section, setting
from dmvpnlab.config import global_mode
from dmvpnlab.config.parser import CommandTable, ConfigSession, build_tables, parse_config
from dmvpnlab.config.tokens import Cursor, Incomplete, Invalid, Unknown


class FakeContext:
    """Just what a handler may use of a session (modes.Context)."""

    def __init__(self, target: Any = None) -> None:
        self.config = RouterConfig()
        self.mode = Mode.GLOBAL
        self._target = target

    @property
    def target(self) -> Any:
        return self._target

    def enter(self, mode: Mode, target: object) -> None:
        self.mode, self._target = mode, target

    def keep_block(self, text: str) -> RawBlock:
        return RawBlock([text])

    def collect_banner(self, block: RawBlock, delimiter: str) -> None:
        self.enter(Mode.BANNER, block)

    def entries(self, items: list[Any], key: Any, order: Any = None) -> Entries[Any, Any]:
        return Entries(items, key, order)  # a fresh index each time: correct, just not cached


def _nothing(ctx: Context, cur: Cursor, neg: bool) -> None:
    cur.pos = len(cur.tokens)


def test_keywords_mark_the_optional_part_of_an_abbreviation_in_brackets() -> None:
    cmd = Command(Mode.INTERFACE, "ip add[ress]", _nothing)
    assert [(k.word, k.min_len) for k in cmd.keywords] == [("ip", None), ("address", 3)]
    assert cmd.words == ("ip", "address")
    for typed, taken in [("ip add 10.0.0.1", 2), ("IP ADDRESS", 2), ("ip addr", 2), ("ip ad", 1), ("ipx add", 0)]:
        assert cmd.take(Cursor(typed)) == taken, typed
    assert cmd.take(Cursor("ip add"), abbreviated=False) == 1


def test_a_command_joins_a_mode_by_standing_in_a_table() -> None:
    seen: list[tuple[str, bool]] = []
    chain = Command(Mode.GLOBAL, "key chain", lambda ctx, cur, neg: seen.append((cur.word(), neg)))
    table = CommandTable(ModeSpec(Mode.GLOBAL), [chain])
    table.run(FakeContext(), Cursor("key chain K1"))
    table.run(FakeContext(), Cursor("no key chain K2"))
    assert seen == [("K1", False), ("K2", True)]
    with pytest.raises(Unknown):
        table.run(FakeContext(), Cursor("key config-key password-encrypt"))


def test_a_line_that_stops_inside_a_commands_keywords_is_incomplete_unless_the_family_is_open() -> None:
    chain = Command(Mode.GLOBAL, "key chain", _nothing)
    closed = CommandTable(ModeSpec(Mode.GLOBAL), [chain])
    for line in ("key", "no key", "no"):
        with pytest.raises(Incomplete):
            closed.run(FakeContext(), Cursor(line))
    opened = CommandTable(ModeSpec(Mode.GLOBAL, open_families=(("key",), ())), [chain])
    for line in ("key", "no key", "no"):
        with pytest.raises(Unknown):
            opened.run(FakeContext(), Cursor(line))


def test_names_command_reads_the_leading_keywords_past_open_families() -> None:
    table = CommandTable(ModeSpec(Mode.GLOBAL, open_families=(("ip",),)), [
        Command(Mode.GLOBAL, "ip route", _nothing),
        Command(Mode.GLOBAL, "int[erface]", _nothing, leaves_abbreviated=True),
        Command(Mode.GLOBAL, "crypto isakmp policy", _nothing),
        Command(Mode.GLOBAL, "host[name]", _nothing),
    ])
    assert table.names_command("ip route 10.0.0.0 255.0.0.0 Null0")
    assert table.names_command("no ip route 10.0.0.0 255.0.0.0")
    assert not table.names_command("ip domain lookup") and not table.names_command("ip")
    assert table.names_command("int gi0/1") and not table.names_command("in gi0/1")
    assert table.names_command("crypto pki trustpoint TP")  # the rest need not parse
    assert table.names_command("hostname R1") and not table.names_command("host R1")


def test_build_tables_refuses_a_command_of_a_mode_no_module_specifies() -> None:
    with pytest.raises(ValueError, match="key chain"):
        build_tables([Command(Mode.ROUTER, "key chain", _nothing)], [ModeSpec(Mode.GLOBAL)])


def test_open_section_reenters_adds_in_order_and_removes() -> None:
    ctx = FakeContext()
    policies = [IsakmpPolicy(20)]

    def open_policy(neg: bool, prio: int) -> IsakmpPolicy | None:
        return open_section(ctx, neg, Mode.ISAKMP, policies, lambda p: p.priority, prio,
                            lambda: IsakmpPolicy(prio), order=lambda p: p.priority)

    ten = open_policy(False, 10)
    assert [p.priority for p in policies] == [10, 20] and ctx.mode is Mode.ISAKMP and ctx.target is ten
    assert open_policy(False, 20) is policies[1] and ctx.target is policies[1]
    assert open_policy(True, 10) is None and [p.priority for p in policies] == [20]


def test_setting_and_flag_handlers_set_and_clear_a_field() -> None:
    ctx = FakeContext(Interface("Tunnel0"))
    key = setting("tunnel_key", number(0, 9))
    key(ctx, Cursor("7"), False)
    assert ctx.target.tunnel_key == 7
    with pytest.raises(Invalid) as bad:
        key(ctx, Cursor("7 8"), False)
    assert bad.value.column == 2
    key(ctx, Cursor(""), True)
    assert ctx.target.tunnel_key is None
    shortcut = flag("shortcut", of=lambda itf: itf.nhrp)
    shortcut(ctx, Cursor(""), False)
    assert ctx.target.nhrp.shortcut
    shortcut(ctx, Cursor(""), True)
    assert not ctx.target.nhrp.shortcut


def test_global_ip_alone_is_kept_but_crypto_alone_is_incomplete() -> None:
    result = parse_config("ip\ncrypto\ncrypto isakmp\n")
    assert [i.text for i in result.ignored] == ["ip"]
    assert [(e.line_no, e.message) for e in result.errors] == [(2, "% Incomplete command."),
                                                               (3, "% Incomplete command.")]


def test_flat_input_leaves_an_interface_for_any_line_of_a_global_command_we_model() -> None:
    result = parse_config("interface Tunnel0\nip pim sparse-mode\nenable view x\nip pim dense-mode\n")
    tun = result.config.interface("Tunnel0")
    assert tun is not None and tun.extra_lines == ["ip pim sparse-mode"]
    assert [b.lines for b in result.config.extra_tail] == [["enable view x"], ["ip pim dense-mode"]]


def test_exec_tree_and_config_mode_raise_the_same_verdicts() -> None:
    root = tree.Node("")
    root.kw("show", "Show running system information").kw("version", "System hardware and software status",
                                                          action=lambda session, args: "")
    with pytest.raises(Invalid) as bad:
        tree.parse(root, "show bogus")
    assert bad.value.column == len("show ")
    with pytest.raises(Incomplete):
        tree.parse(root, "show")
    cur = Cursor("tunnel key abc")
    cur.pos = 2
    with pytest.raises(Invalid) as bad:
        cur.integer(0, 9)
    assert bad.value.column == len("tunnel key ")


def _name(itf: Interface) -> str:
    return itf.name


def _number(itf: Interface) -> int:
    return int(itf.name.removeprefix("Loopback"))


def test_entries_find_replace_in_place_and_drop_by_key() -> None:
    items = [Interface("Loopback1", description="a"), Interface("Loopback2")]
    index = Entries(items, _name)
    assert index.get("Loopback2") is items[1] and index.get("Loopback9") is None
    index.put(Interface("Loopback1", description="b"))  # replaces where it stands (as IOS updates a route)
    index.put(Interface("Loopback0"))  # unordered: a new entry goes last
    assert [(i.name, i.description) for i in items] == [("Loopback1", "b"), ("Loopback2", None), ("Loopback0", None)]
    index.drop("Loopback2")
    index.drop("Loopback7")  # absent: nothing to do
    assert [i.name for i in items] == ["Loopback1", "Loopback0"] and index.fresh()
    items.append(Interface("Loopback5"))  # behind the index's back: it notices
    assert not index.fresh()


def test_entries_of_a_sorted_list_insert_in_order_and_sort_a_list_handed_in_unsorted_once() -> None:
    items = [Interface("Loopback3"), Interface("Loopback1")]
    index = Entries(items, _name, order=_number)
    assert [i.name for i in items] == ["Loopback1", "Loopback3"]
    for n in (2, 0, 4):
        index.put(Interface(f"Loopback{n}"))
    index.put(Interface("Loopback2", description="again"))
    assert [i.name for i in items] == [f"Loopback{n}" for n in range(5)]
    assert items[2].description == "again" and index.get("Loopback2") is items[2]


def test_a_session_keeps_one_index_per_list_and_rebuilds_it_when_the_list_changed_behind_it() -> None:
    session = ConfigSession()
    routes = session.config.static_routes
    assert session.apply("ip route 10.0.0.0 255.0.0.0 192.0.2.1") == []
    first = session.entries(routes, global_mode._route_key)
    assert session.entries(routes, global_mode._route_key) is first
    routes.clear()
    assert session.entries(routes, global_mode._route_key) is not first
    assert session.apply("ip route 10.0.0.0 255.0.0.0 192.0.2.1 5") == []
    assert [r.distance for r in session.config.static_routes] == [5]


def test_a_line_is_tried_only_against_the_commands_its_first_word_may_start() -> None:
    tried: list[str] = []

    def recorder(word: str) -> Command:
        return Command(Mode.GLOBAL, word, lambda ctx, cur, neg: tried.append(word))

    table = CommandTable(ModeSpec(Mode.GLOBAL), [recorder("host[name]"), recorder("version"), recorder("int[erface]")])
    for line in ("int x", "INTERFACE y", "hostn z", "no version"):
        table.run(FakeContext(), Cursor(line))
    assert tried == ["int[erface]", "int[erface]", "host[name]", "version"]
    with pytest.raises(Incomplete):
        table.run(FakeContext(), Cursor("no"))  # a bare `no` still stops inside every command
    with pytest.raises(Unknown):
        table.run(FakeContext(), Cursor("hos"))  # shorter than the shortest abbreviation
