"""The fuzz targets, one module per decoder or parser; each module exposes `TARGETS`.

Every module in this package that defines `TARGETS` is a target module (found by
`pkgutil`), so a new decoder (ISAKMP, ESP, EIGRP, ...) adds one file and nothing else;
the smoke test and `make fuzz` pick it up. Helpers without targets (`seeds`) define none.
"""

from __future__ import annotations

import importlib
import pkgutil

from fuzz.harness import Target


def all_targets() -> list[Target]:
    targets: list[Target] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        targets.extend(getattr(module, "TARGETS", ()))
    return targets
