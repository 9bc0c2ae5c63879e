"""The one rule for the characters of configuration text: what is stored prints and reads back.

Config text arrives from files (bytes, maybe not UTF-8), from the control socket and SSH
(Python strings that may hold lone surrogates) and from pasted dumps. Whatever the parser
keeps (descriptions, banners, the hostname, names, kept and ignored lines, the text of an
error) is then printed by `show running-config`, written by `write memory` as UTF-8 and
read back by the parser. So the rule is applied once, where text enters:

- A config file is decoded as UTF-8 (a leading byte-order mark dropped); a byte that is
  not UTF-8 becomes the four characters `\\xNN` (`decode_config`), never an exception.
- In a line given to the parser, a character that would end the line for the next reader
  (`str.splitlines`: CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029) and a lone
  surrogate (no UTF-8 for it) become visible escapes: `\\x0b`, `\\u2028`, `\\udcff`
  (`printable`). Every other character stays as typed: tabs, non-ASCII letters, and the
  control characters IOS configs do hold (a banner delimited by a real Ctrl-C, `\\x03`).

So stored text always encodes as UTF-8 (rendering can never raise), a rendered line is
never split in two when read back, and `write memory` then a restart give the same model.
The escape is for display: a line that already holds the text `\\x0b` reads the same as
one that held the character; both print as `\\x0b`. What a terminal makes of the other
control characters is the exec side's business. Imports nothing of dmvpnlab.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Characters that may not stay in stored config text (see the module docstring).
_UNPRINTABLE = re.compile(r"[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every line break and lone surrogate replaced by its visible escape."""
    if _UNPRINTABLE.search(text) is None:  # the usual case: one scan, no copy
        return text
    return _UNPRINTABLE.sub(_escape, text)


@dataclass(frozen=True)
class ConfigText:
    """A config file's text under the rule, and a warning when some bytes were not UTF-8."""

    text: str
    warning: str | None = None


def decode_config(data: bytes, source: str = "config") -> ConfigText:
    """Decode a config file: UTF-8, undecodable bytes as `\\xNN` (never an exception).

    The warning names the line of the first undecodable byte, so a user who sees `\\xe9`
    in `show running-config` learns why (a Latin-1 file, say) from the log.
    """
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return ConfigText(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        text = body.decode("utf-8", "backslashreplace")
        return ConfigText(text, f"{printable(source)} line {line}: bytes that are not UTF-8 "
                                f"are kept as \\xNN escapes")
