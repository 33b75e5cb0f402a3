"""Deterministic, sticky assignment of units to variants.

A unit's bucket is ``xxh3_64(unit id, seed=xxh3_64(salt)) % BUCKETS``: the same id gets the
same bucket in every process, on every machine, after every restart (xxh3 is specified
and platform independent). Ids are hashed as their UTF-8 text, so the integer ``42`` and
the string ``"42"`` are the same unit. Buckets are cut into consecutive ranges by the
cumulative weights, in variant order.

Stickiness: when the weights change, a unit already exposed keeps the variant of its
first exposure (:class:`StickyAssigner` overrides the hash with the recorded variant);
units never seen follow the new weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import xxhash

from nbops.errors import NbopsError

BUCKETS = 10_000


class AssignmentError(NbopsError):
    http_status = 400


def salt_seed(salt: str) -> int:
    return xxhash.xxh3_64_intdigest(salt.encode())


def unit_keys(unit_ids: Iterable[object] | np.ndarray | pd.Series) -> list[str]:
    """Unit ids as text (the canonical form that is hashed and recorded)."""
    arr = unit_ids.to_numpy() if isinstance(unit_ids, pd.Series) else unit_ids
    if isinstance(arr, np.ndarray):
        if arr.dtype.kind in "iu":
            # Arrow's integer-to-text cast is about twice as fast as str() per element.
            return pa.array(arr).cast(pa.string()).to_pylist()
        if arr.dtype.kind == "f":
            raise AssignmentError("unit ids must be integers or strings, not floats",
                                  hint="cast them with .astype('int64') or .astype(str)")
        arr = arr.tolist()
    keys = [u if isinstance(u, str) else str(u) for u in arr]
    if any(k == "" or k == "None" or k == "nan" for k in keys):
        raise AssignmentError("unit ids must not be empty or missing",
                              hint="drop rows without a unit id before assigning")
    return keys


def buckets(keys: Sequence[str], salt: str) -> np.ndarray:
    """The bucket (0 .. BUCKETS-1) of each unit id; ~4M ids/s for short string ids."""
    seed = salt_seed(salt)
    hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, map(str.encode, keys), itertools.repeat(seed)),
                         dtype=np.uint64, count=len(keys))
    return (hashes % np.uint64(BUCKETS)).astype(np.int64)


def normalize_weights(variants: Sequence[str], weights: Mapping[str, float] | Sequence[float] | None
                      ) -> dict[str, float]:
    """Weights per variant summing to 1 (equal when None)."""
    if weights is None:
        return {v: 1 / len(variants) for v in variants}
    w = dict(weights) if isinstance(weights, Mapping) else dict(zip(variants, weights, strict=False))
    if set(w) != set(variants) or len(w) != len(variants):
        raise AssignmentError(f"weights must name exactly the variants {list(variants)}")
    if any(not np.isfinite(x) or x < 0 for x in w.values()) or sum(w.values()) <= 0:
        raise AssignmentError("weights must be non-negative numbers with a positive sum")
    total = float(sum(w.values()))
    return {v: float(w[v]) / total for v in variants}


def assign_buckets(bucket: np.ndarray, variants: Sequence[str], weights: Mapping[str, float]
                   ) -> np.ndarray:
    """Variant index per bucket: consecutive bucket ranges in variant order."""
    cuts = np.rint(np.cumsum([weights[v] for v in variants]) * BUCKETS).astype(np.int64)
    cuts[-1] = BUCKETS
    return np.searchsorted(cuts, bucket, side="right")


def assign(unit_ids: Iterable[object] | np.ndarray, variants: Sequence[str],
           weights: Mapping[str, float], salt: str) -> np.ndarray:
    """Variant name per unit by hash alone (no stickiness)."""
    keys = unit_keys(unit_ids)
    idx = assign_buckets(buckets(keys, salt), variants, weights)
    return np.asarray(variants, dtype=object)[idx]


class StickyAssigner:
    """Hash assignment, overridden by each unit's first recorded variant."""

    def __init__(self, variants: Sequence[str], salt: str) -> None:
        self.variants = list(variants)
        self.salt = salt
        self._known: dict[str, str] = {}

    def remember(self, keys: Sequence[str], variants: Sequence[str]) -> None:
        """Record first exposures (a unit already known keeps its variant)."""
        if len(keys) != len(variants):
            raise AssignmentError("one variant per unit id")
        fresh = dict(zip(keys, variants, strict=True))
        fresh.update(self._known)
        self._known = fresh

    def load(self, first_exposures: Mapping[str, str]) -> None:
        self._known = {**first_exposures, **self._known}

    def assign(self, keys: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
        out = np.asarray(self.variants, dtype=object)[
            assign_buckets(buckets(keys, self.salt), self.variants, weights)]
        if self._known:
            known = self._known
            for i, k in enumerate(keys):
                v = known.get(k)
                if v is not None:
                    out[i] = v
        return out
