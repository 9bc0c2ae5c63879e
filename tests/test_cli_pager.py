"""`terminal length N` pages output as IOS does: a screen of N - 1 lines, then ` --More-- `;
space shows the next screen, return the next line, any other key stops; length 0, output
that fits on a screen and piped commands are not paged."""

from __future__ import annotations

from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.pager import ERASE, MORE, more, paged, paginate
from test_cli_fakes import lab

LINES = [f"line {i}" for i in range(1, 11)]


def screen(lines: list[str], length: int, keys: str) -> list[str]:
    """The transcript as a list: shown lines without newline, MORE for each prompt (erasures dropped)."""
    out = [chunk.rstrip("\n") if chunk not in (MORE, ERASE) else chunk for chunk in paginate(lines, length, keys)]
    return [chunk for chunk in out if chunk != ERASE]


def test_length_zero_never_pauses():
    assert screen(LINES, 0, "") == LINES


def test_output_that_fits_on_a_screen_is_not_paused():
    assert screen(LINES[:3], 4, "") == LINES[:3]


def test_a_screen_is_length_minus_one_lines_then_more():
    assert screen(LINES, 4, "q") == LINES[:3] + [MORE]


def test_space_shows_the_next_screen():
    assert screen(LINES, 4, " q") == LINES[:3] + [MORE] + LINES[3:6] + [MORE]


def test_return_shows_one_more_line():
    assert screen(LINES, 4, "\r\nq") == LINES[:3] + [MORE, "line 4", MORE, "line 5", MORE]


def test_paging_to_the_end_asks_no_more_keys():
    assert screen(LINES, 4, "   ") == LINES[:3] + [MORE] + LINES[3:6] + [MORE] + LINES[6:9] + [MORE] + LINES[9:]


def test_any_other_key_stops_and_so_does_running_out_of_keys():
    assert screen(LINES, 4, "x") == LINES[:3] + [MORE]
    assert screen(LINES, 4, "") == LINES[:3] + [MORE]


def test_the_prompt_is_erased_before_what_follows():
    chunks = list(paginate(LINES, 4, " q"))
    assert chunks[3:5] == [MORE, ERASE] and chunks[5] == "line 4\n"


def test_more_writes_text_with_its_trailing_newline_and_reads_keys_only_when_paused():
    keys, written = iter(" "), []
    more("a\nb\nc\n", 3, lambda: next(keys), written.append)
    assert "".join(written).replace(ERASE, "") == "a\nb\n" + MORE + "c\n"


def test_piped_commands_are_not_paged():
    assert paged("show dmvpn | include UP", 24) == 0
    assert paged("show dmvpn", 24) == 24
    assert paged("show dmvpn", 0) == 0


def test_terminal_length_sets_the_sessions_screen_length_and_ios_default_is_24():
    session = ExecSession(lab(3)["hub"])
    assert session.length == 24
    session.handle("terminal length 0")
    assert session.length == 0
    session.handle("terminal length 40")
    assert session.length == 40
