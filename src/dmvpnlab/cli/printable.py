"""What a CLI line may contain once it has crossed a transport: printable text only.

Why: a line reaches the CLI as a JSON string (control socket), as bytes (SSH) or from a
command line (`dmvpnlab cli -c`, whose undecodable argv bytes Python hands over as
surrogate escapes). JSON lets a client send a lone surrogate ("\\ud800"), which no UTF-8
writer can encode: stored in a `description`, it made `show running-config` and `write
memory` fail in every session from then on. Control characters are as bad in another
way: a newline inside one request would write a second config line into the startup file
(`description x\\n tunnel key 1`), an ESC sequence in a description would be replayed to
every terminal that shows the config.

So every character that is not printable becomes a visible escape, the way Python (and
our config files) write it: `\\xNN` for a byte (a surrogate-escaped undecodable byte
U+DC80..U+DCFF gives back that byte, C0/C1 controls their code), `\\uNNNN` or
`\\UNNNNNNNN` for anything else (a lone surrogate, U+2028, a bidi override...). The
result is plain printable text: it always encodes as UTF-8, is one line, re-parses as
itself and shows the same on every terminal. The escapes are text; nothing turns them
back into the characters. Standard library only: `dmvpnlab cli` uses it too.
"""

from __future__ import annotations

import re

# Anything outside printable ASCII, so that pure-ASCII printable text (almost every line)
# is checked by one C-level search and returned as is.
_SUSPECT = re.compile(r"[^\x20-\x7e]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # Python's surrogateescape of bytes 0x80..0xFF


def escape_char(ch: str) -> str:
    """The visible escape of one character that is not printable."""
    code = ord(ch)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, keep: str = "") -> str:
    """`text` with every non-printable character (except those in `keep`) escaped."""
    if not _SUSPECT.search(text):
        return text

    def fix(match: re.Match[str]) -> str:
        ch = match.group(0)
        return ch if ch in keep or ch.isprintable() else escape_char(ch)
    return _SUSPECT.sub(fix, text)
