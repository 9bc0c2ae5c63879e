"""What a demo step is and what it returns: `Step`, and the `Check`, `Output` and `Ladder` items.

Plain data shared by the steps that make items and the printers that show them, so
neither depends on the other. Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union


@dataclass
class Check:
    """A claim about the lab and whether it held."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class Output:
    """Text a router printed (a `show` command), shown verbatim under a title."""

    title: str
    text: str


@dataclass
class Ladder:
    """Rows in time order (packets seen on links), shown as a table under a title."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


Item = Union[Check, Output, Ladder]


@dataclass
class Step:
    """A chapter of the demo: a title and what it runs against the lab (any object with the Lab API).

    `when`, if given, says whether this lab has the chapter at all (IPsec steps on a lab
    with `tunnel protection`): a step it rules out is neither run nor numbered."""

    title: str
    run: Callable[[Any], list[Item]]
    when: Callable[[Any], bool] | None = None
