"""Typed results of reading IOS configuration: errors and ignored-line warnings.

A malformed line of a command we model is an error in IOS's words (`% Invalid input
detected at '^' marker.`, `% Incomplete command.`) with the line and a caret, so a user
sees exactly what IOS would have refused. Lines we do not model are warnings, never errors:
real configs are full of them.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID_INPUT = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."


@dataclass(frozen=True)
class ConfigError:
    """One refused line: where, what, and (for invalid input) the column of the caret."""

    source: str
    line_no: int
    text: str
    message: str
    column: int | None = None

    def ios_lines(self, indent: int = 0) -> list[str]:
        """The caret line and the IOS message, the caret `indent` columns further right.

        A CLI that echoed the line after a prompt passes the prompt's length as `indent`.
        """
        out: list[str] = []
        if self.column is not None:
            out.append(" " * (indent + self.column) + "^")
        out.append(self.message)
        return out

    def __str__(self) -> str:
        head = f"{self.source} line {self.line_no}: "
        return "\n".join([head + self.text, *self.ios_lines(indent=len(head))])


@dataclass(frozen=True)
class IgnoredLine:
    """A line kept verbatim but without effect in this lab (a warning)."""

    source: str
    line_no: int
    text: str

    def __str__(self) -> str:
        return f"{self.source} line {self.line_no}: ignored (not supported here): {self.text.strip()}"


class ConfigSyntaxError(ValueError):
    """A configuration with malformed lines; the agent refuses to start with this message."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = list(errors)
        source = errors[0].source if errors else "config"
        plural = "s" if len(errors) != 1 else ""
        body = "\n\n".join(str(e) for e in errors)
        super().__init__(f"{source}: {len(errors)} malformed line{plural}:\n\n{body}")
