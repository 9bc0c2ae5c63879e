"""The fuzz targets, one module per decoder or parser; each module exposes `TARGETS`.

A new decoder (ISAKMP, ESP, EIGRP, ...) adds its module to TARGET_MODULES; the smoke
test and `make fuzz` pick it up from here.
"""

from __future__ import annotations

import importlib

from fuzz.harness import Target

TARGET_MODULES = (
    "fuzz.targets.nhrp_codec",
)


def all_targets() -> list[Target]:
    targets: list[Target] = []
    for name in TARGET_MODULES:
        targets.extend(importlib.import_module(name).TARGETS)
    return targets
