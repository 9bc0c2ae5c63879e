"""Write dmvpnlab's Wireshark configuration profile into a directory.

A Wireshark profile is a folder of plain files: `preferences` (here: the column layout),
`colorfilters` (colouring rules), and UAT tables such as `esp_sa` and
`ikev1_decryption_table` (the keys the agents log, see ipsec.keylog). Copied into
`~/.config/wireshark/profiles/<name>/` it is a profile Wireshark offers in its status
bar; given as WIRESHARK_CONFIG_DIR (or tshark `-C` when it sits under profiles/) it is
the whole configuration. With a lab's capture directory the profile also carries that
lab's keys and turns ESP decryption on, so the lab's captures open decrypted.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dmvpnlab.ipsec.keylog import ESP_SA_FILE, IKEV1_FILE, PREFERENCES, PREFERENCES_FILE, KeyLog

COLORFILTERS_FILE = "colorfilters"
KEY_TABLES = (ESP_SA_FILE, IKEV1_FILE)


def packaged(name: str) -> str:
    """The text of one packaged profile file (`preferences` or `colorfilters`)."""
    return resources.files("dmvpnlab.wireshark").joinpath("data", name).read_text(encoding="utf-8")


def color_rules(text: str | None = None) -> list[tuple[str, str]]:
    """(name, display filter) of every enabled rule in a colorfilters text (the packaged one by default)."""
    rules = []
    for line in (packaged(COLORFILTERS_FILE) if text is None else text).splitlines():
        if not line.startswith("@"):
            continue  # comments (#) and disabled rules (!@)
        name, display_filter, _colours = line[1:].split("@", 2)
        rules.append((name, display_filter))
    return rules


def capture_preferences() -> str:
    """What a lab's capture directory's `preferences` holds: ESP decryption and the columns."""
    return PREFERENCES + packaged(PREFERENCES_FILE)


def prepare_capture_config(directory: Path) -> KeyLog:
    """Make a lab's capture directory a Wireshark configuration directory before any key exists.

    The `KeyLog` creates `preferences` only if absent (a user's edits and an earlier run's
    file stay); `colorfilters` likewise. Returns the KeyLog (the lab needs none; tests do)."""
    key_log = KeyLog(directory, preferences=capture_preferences())
    colours = directory / COLORFILTERS_FILE
    if not colours.exists():
        colours.write_text(packaged(COLORFILTERS_FILE), encoding="utf-8")
    return key_log


@dataclass
class ProfileWritten:
    """What `write_profile` did, for the command to report."""

    directory: Path
    keys_copied: list[str] = field(default_factory=list)
    esp_decryption: bool = False


def write_profile(directory: Path, captures: Path | None = None) -> ProfileWritten:
    """Write the profile files into `directory` (created; our files replaced, others left).

    With `captures` (a lab's capture directory) its key tables present are copied and,
    if any was, ESP decryption is enabled in `preferences`. A missing `captures`
    directory raises FileNotFoundError: a typo must not yield a silently keyless profile."""
    if captures is not None and not captures.is_dir():
        raise FileNotFoundError(f"{captures}: no such capture directory")
    directory.mkdir(parents=True, exist_ok=True)
    result = ProfileWritten(directory)
    for table in KEY_TABLES if captures is not None else ():
        source = captures / table
        if source.is_file():
            shutil.copyfile(source, directory / table)
            result.keys_copied.append(table)
    result.esp_decryption = bool(result.keys_copied)
    preferences = packaged(PREFERENCES_FILE)
    if result.esp_decryption:
        preferences = PREFERENCES + preferences
    (directory / PREFERENCES_FILE).write_text(preferences, encoding="utf-8")
    (directory / COLORFILTERS_FILE).write_text(packaged(COLORFILTERS_FILE), encoding="utf-8")
    return result
