"""Snapshots of the values a cell can touch, and what changed between two of them.

Only the names a cell reads, binds, deletes or may mutate are looked at (plus
a cheap comparison of the namespace's key set, which catches names made by
``exec``, ``%run`` or star imports). Datasets and fitted models are compared
by content fingerprint, so an in-place ``df.loc[...] = ...`` is a change and
``x = x.copy()`` is not; other values by identity, and small scalars and
containers by a cheap digest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nbops.store import serializers
from nbops.tracking.fingerprint import fingerprint

_SMALL = 10_000  # containers with at most this many items get a content digest


class ValueKind(StrEnum):
    DATASET = "dataset"
    MODEL = "model"
    ESTIMATOR = "estimator"  # not fitted: neither stored nor a model
    SCALAR = "scalar"
    OTHER = "other"


def classify(value: Any) -> ValueKind:
    if isinstance(value, bool | int | float | complex | str | bytes) or value is None:
        return ValueKind.SCALAR
    if type(value).__module__.split(".")[0] in ("numpy",) and getattr(value, "ndim", None) == 0:
        return ValueKind.SCALAR
    if serializers.is_table(value):
        return ValueKind.DATASET
    if isinstance(value, type) or type(value).__name__ == "module":
        return ValueKind.OTHER
    if serializers.is_estimator(value):
        return ValueKind.MODEL if serializers.is_fitted(value) else ValueKind.ESTIMATOR
    return ValueKind.OTHER


def is_number(value: Any) -> bool:
    """A real number a metric can hold (not a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    np = sys.modules.get("numpy")
    return bool(np is not None and isinstance(value, np.number) and not isinstance(value, np.complexfloating))


@dataclass(frozen=True)
class Entry:
    """One name's value as seen at one moment."""

    obj_id: int
    kind: ValueKind
    fp: str | None


class FingerprintCache:
    """Fingerprints of values that cannot change in place (read-only arrays, Arrow tables).

    The entry keeps the object itself, so its id() cannot be reused while cached.
    """

    def __init__(self, size: int = 256) -> None:
        self._entries: dict[int, tuple[Any, str | None]] = {}
        self._size = size
        self.seconds = 0.0

    @staticmethod
    def _immutable(value: Any) -> bool:
        module = type(value).__module__.split(".")[0]
        if module == "pyarrow":
            return True
        flags = getattr(value, "flags", None)
        return module == "numpy" and flags is not None and not flags.writeable

    def get(self, value: Any) -> str | None:
        t0 = time.perf_counter()
        try:
            if self._immutable(value):
                hit = self._entries.get(id(value))
                if hit is not None and hit[0] is value:
                    return hit[1]
                fp = fingerprint(value)
                if len(self._entries) >= self._size:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[id(value)] = (value, fp)
                return fp
            return fingerprint(value)
        finally:
            self.seconds += time.perf_counter() - t0


def _cheap_digest(value: Any) -> str | None:
    if isinstance(value, bool | int | float | complex | str | bytes) or value is None:
        return f"{type(value).__name__}:{value!r}"[:4096] if not isinstance(value, str | bytes) or len(
            value) < 4096 else fingerprint(value)
    if isinstance(value, list | tuple | dict | set | frozenset) and len(value) <= _SMALL:
        return fingerprint(value)
    return None


def take(ns: Mapping[str, Any], names: Iterable[str], cache: FingerprintCache,
         deep: set[str] | None = None) -> dict[str, Entry]:
    """Entries for ``names`` present in ``ns``; models are fingerprinted only when in ``deep``."""
    out: dict[str, Entry] = {}
    for name in names:
        if name not in ns:
            continue
        value = ns[name]
        kind = classify(value)
        if kind == ValueKind.DATASET:
            fp = cache.get(value)
        elif kind == ValueKind.MODEL:
            fp = cache.get(value) if deep is None or name in deep else None
        elif kind in (ValueKind.SCALAR, ValueKind.OTHER):
            fp = _cheap_digest(value)
        else:
            fp = None
        out[name] = Entry(id(value), kind, fp)
    return out


@dataclass
class Changes:
    created: dict[str, Entry] = field(default_factory=dict)
    changed: dict[str, Entry] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    rebound: dict[str, Entry] = field(default_factory=dict)  # new object, same content

    @property
    def outputs(self) -> dict[str, Entry]:
        return {**self.created, **self.changed}


def compare(before: Mapping[str, Entry], after: Mapping[str, Entry], names: Iterable[str]) -> Changes:
    """What happened to ``names`` between two snapshots."""
    ch = Changes()
    for name in names:
        b, a = before.get(name), after.get(name)
        if a is None:
            if b is not None:
                ch.deleted.add(name)
        elif b is None:
            ch.created[name] = a
        elif _differs(b, a):
            ch.changed[name] = a
    return ch


def _differs(b: Entry, a: Entry) -> bool:
    if b.fp is not None and a.fp is not None:
        return b.fp != a.fp  # by content: a rebinding to equal content is not a change
    if b.obj_id != a.obj_id:
        return True
    return b.kind != a.kind
