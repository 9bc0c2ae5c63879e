"""IOS login secrets: `username X ... secret|password [T] V` and `enable secret [T] V`, checked.

Why here: a lab's IOS config says who may log in, and the SSH server (cli/ssh.py) lets
those users in beside the lab's management login. The hashes are kept as the config
gives them (never rewritten) and checked the way IOS does:

- type 0 (or no type): the text itself, compared in constant time;
- type 7: IOS's reversible encoding, decoded, then compared;
- type 5: MD5-crypt (`$1$salt$hash`), computed here (the `crypt` module is deprecated);
- type 8: PBKDF2-HMAC-SHA256, 20000 iterations, 14-character salt, 32 bytes, written in
  the crypt alphabet (`./0-9A-Za-z`) with base64's bit order;
- type 9: scrypt with N=16384, r=1, p=1, the same salt and encoding (hashlib.scrypt);
- type 4 (a deprecated unsalted SHA-256 with a known flaw) and type 6 (AES under the
  router's master key, which a config does not carry) cannot be checked: such a user
  cannot log in with that secret, and `unverifiable` says why, for the log.
Nothing here does I/O; pure functions over config text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from dmvpnlab.config.model import RouterConfig

CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B64_TO_CRYPT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", CRYPT_ALPHABET)
# The public constant of IOS's type 7 encoding (a Vigenere-like XOR, not a secret of anyone's).
_TYPE7_KEY = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
MAX_PRIVILEGE = 15
DEFAULT_PRIVILEGE = 1


@dataclass(frozen=True)
class Secret:
    """One stored secret: its IOS type (0, 4, 5, 6, 7, 8, 9) and the text after the type."""

    type: int
    value: str

    @property
    def unverifiable(self) -> str | None:
        if self.type == 4:
            return "type 4 secrets (deprecated unsalted SHA-256) are not checked"
        if self.type == 6:
            return "type 6 secrets need the router's master key, which the config does not hold"
        if self.type not in (0, 5, 7, 8, 9):
            return f"unknown secret type {self.type}"
        return None


@dataclass(frozen=True)
class LoginUser:
    name: str
    privilege: int
    secret: Secret


def parse_secret(words: list[str]) -> Secret | None:
    """`[TYPE] VALUE` (the words after `secret`/`password`) -> Secret."""
    if not words:
        return None
    if len(words) >= 2 and words[0].isdigit() and len(words[0]) == 1:
        return Secret(int(words[0]), " ".join(words[1:]))
    return Secret(0, " ".join(words))


def login_users(config: RouterConfig) -> dict[str, LoginUser]:
    """The `username` lines that carry a secret or password, by name."""
    users: dict[str, LoginUser] = {}
    for user in config.usernames:
        words = user.args.split()
        privilege = DEFAULT_PRIVILEGE
        secret = None
        for index, word in enumerate(words):
            low = word.lower()
            if low == "privilege" and index + 1 < len(words) and words[index + 1].isdigit():
                privilege = min(int(words[index + 1]), MAX_PRIVILEGE)
            elif low in ("secret", "password"):
                secret = parse_secret(words[index + 1:])
                break
        if secret is not None:
            users[user.name] = LoginUser(user.name, privilege, secret)
    return users


def enable_secret(config: RouterConfig) -> Secret | None:
    """`enable secret`, else `enable password` (IOS uses the password only without a secret)."""
    text = config.enable_secret or getattr(config, "enable_password", None)
    return parse_secret(text.split()) if text else None


def verify(secret: Secret, password: str) -> bool:
    """Does `password` match `secret`? False for what cannot be checked (see `unverifiable`)."""
    given = password.encode("utf-8", "surrogateescape")
    if secret.type == 0:
        return hmac.compare_digest(given, secret.value.encode("utf-8", "surrogateescape"))
    if secret.type == 7:
        decoded = decode_type7(secret.value)
        return decoded is not None and hmac.compare_digest(given, decoded.encode("latin-1"))
    if secret.type == 5:
        parts = secret.value.split("$")
        if len(parts) != 4 or parts[1] != "1":
            return False
        return hmac.compare_digest(md5_crypt(given, parts[2].encode()), secret.value)
    if secret.type in (8, 9):
        parts = secret.value.split("$")
        if len(parts) != 4 or parts[1] != str(secret.type):
            return False
        return hmac.compare_digest(cisco_hash(secret.type, given, parts[2]), secret.value)
    return False


def decode_type7(text: str) -> str | None:
    """IOS type 7 text (`0822455D0A16`) -> the password, or None if malformed."""
    if len(text) < 4 or len(text) % 2 or not text[:2].isdigit():
        return None
    try:
        seed = int(text[:2])
        data = bytes.fromhex(text[2:])
    except ValueError:
        return None
    return bytes(b ^ _TYPE7_KEY[(seed + i) % len(_TYPE7_KEY)] for i, b in enumerate(data)).decode("latin-1")


def cisco_hash(kind: int, password: bytes, salt: str) -> str:
    """The `$8$salt$hash` (PBKDF2-SHA256) or `$9$salt$hash` (scrypt) of `password`."""
    if kind == 8:
        digest = hashlib.pbkdf2_hmac("sha256", password, salt.encode(), 20000, 32)
    else:
        digest = hashlib.scrypt(password, salt=salt.encode(), n=16384, r=1, p=1, dklen=32)
    encoded = base64.b64encode(digest).decode().rstrip("=").translate(_B64_TO_CRYPT)
    return f"${kind}${salt}${encoded}"


def _to64(value: int, count: int) -> str:
    out = ""
    for _ in range(count):
        out += CRYPT_ALPHABET[value & 0x3F]
        value >>= 6
    return out


def md5_crypt(password: bytes, salt: bytes) -> str:
    """MD5-crypt (`$1$`, IOS type 5), the published algorithm."""
    salt = salt[:8]
    alternate = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + b"$1$" + salt)
    for length in range(len(password), 0, -16):
        ctx.update(alternate[:min(16, length)])
    length = len(password)
    while length:
        ctx.update(b"\0" if length & 1 else password[:1])
        length >>= 1
    final = ctx.digest()
    for round_ in range(1000):
        step = hashlib.md5(password if round_ & 1 else final)
        if round_ % 3:
            step.update(salt)
        if round_ % 7:
            step.update(password)
        step.update(final if round_ & 1 else password)
        final = step.digest()
    text = ""
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        text += _to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
    text += _to64(final[11], 2)
    return f"$1${salt.decode('ascii', 'replace')}${text}"
