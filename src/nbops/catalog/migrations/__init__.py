"""Numbered schema migrations: each module ``mNNNN_*.py`` has ``VERSION`` and ``apply(con)``.

A migration runs inside the catalog transaction that records it in
``schema_version``, so a catalog is never left half-migrated.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def all_migrations() -> list[ModuleType]:
    mods = [
        importlib.import_module(f"{__name__}.{m.name}")
        for m in pkgutil.iter_modules(__path__)
        if m.name.startswith("m") and m.name[1:5].isdigit()
    ]
    mods.sort(key=lambda m: m.VERSION)
    for expected, mod in enumerate(mods, start=1):
        if mod.VERSION != expected:
            raise RuntimeError(f"migration {mod.__name__} has VERSION {mod.VERSION}, expected {expected}")
    return mods


def latest_version() -> int:
    return len(all_migrations())
