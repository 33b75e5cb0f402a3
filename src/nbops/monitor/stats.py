"""Drift statistics: pure functions over arrays returning frozen :class:`DriftResult` objects.

Each test compares a *reference* sample (by default the model's training data)
with a *current* sample (recent traffic) and says whether the column drifted.

=====================  ===========  ===================================  =====================
method                 column type  statistic                            drifted when
=====================  ===========  ===================================  =====================
``ks``                 numeric      two-sample Kolmogorov–Smirnov D      p-value < 0.05
                                    (``scipy.stats.ks_2samp``, method
                                    'auto': exact for ≤ 10,000 rows)
``wasserstein``        numeric      Wasserstein-1 distance divided by    statistic > 0.1
                                    the reference's standard deviation
``wasserstein_raw``    numeric      Wasserstein-1 distance (equal to     statistic > threshold
                                    ``scipy.stats.wasserstein_distance``) (no default: give one)
``psi``                numeric      population stability index over 10   statistic > 0.1
                                    quantile bins of the reference
``chi2``               categorical  chi-square test of the 2×k table     p-value < 0.05
                                    (``scipy.stats.chi2_contingency``)
``jensenshannon``      categorical  Jensen–Shannon distance, base 2,     statistic > 0.1
                                    in [0, 1] (``scipy...jensenshannon``)
=====================  ===========  ===================================  =====================

Default choice (after Evidently's): a numeric column uses ``ks`` when the
reference has at most 1,000 rows and ``wasserstein`` above; a categorical
column (strings, booleans, categoricals, or an integer column with at most 5
distinct reference values) uses ``chi2`` up to 1,000 rows and
``jensenshannon`` above.

PSI binning: edges are the reference's quantiles at 1/bins, ..., (bins-1)/bins
(numpy's 'linear' interpolation), duplicates dropped; bins are
(-inf, e1], (e1, e2], ..., (ek, +inf). Bin shares of 0 are replaced by
``eps`` = 1e-4. PSI = Σ (cur - ref) · ln(cur / ref).

Speed: numeric tests sort each sample once (numpy) and work on the sorted
arrays; Wasserstein uses the quantile-function form, so 1M vs 1M rows cost
two sorts and one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from nbops.errors import NbopsError

SMALL_SAMPLE = 1000
CATEGORICAL_MAX_UNIQUE = 5
PSI_BINS = 10
PSI_EPS = 1e-4


class Method(StrEnum):
    KS = "ks"
    WASSERSTEIN = "wasserstein"
    WASSERSTEIN_RAW = "wasserstein_raw"
    PSI = "psi"
    CHI2 = "chi2"
    JENSENSHANNON = "jensenshannon"


# method -> (default threshold, the threshold is a p-value)
DEFAULT_THRESHOLDS: dict[Method, tuple[float, bool]] = {
    Method.KS: (0.05, True),
    Method.WASSERSTEIN: (0.1, False),
    Method.WASSERSTEIN_RAW: (0.1, False),
    Method.PSI: (0.1, False),
    Method.CHI2: (0.05, True),
    Method.JENSENSHANNON: (0.1, False),
}
NUMERIC_METHODS = {Method.KS, Method.WASSERSTEIN, Method.WASSERSTEIN_RAW, Method.PSI}


@dataclass(frozen=True)
class DriftResult:
    """One column's drift test: the statistic, its p-value (tests only) and the verdict."""

    column: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int


def _decide(column: str, method: Method, statistic: float, p_value: float | None,
            threshold: float | None, n_ref: int, n_cur: int) -> DriftResult:
    default, is_p = DEFAULT_THRESHOLDS[method]
    thr = default if threshold is None else float(threshold)
    drifted = (p_value is not None and p_value < thr) if is_p else statistic > thr
    return DriftResult(column, str(method), float(statistic),
                       None if p_value is None else float(p_value), thr, bool(drifted), n_ref, n_cur)


# -- numeric ----------------------------------------------------------------
def sorted_values(values: Any) -> np.ndarray:
    """The finite-or-infinite values of ``values`` as a sorted float array (NaNs dropped)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiub":
        arr = arr.astype(np.float64)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    s = np.sort(arr.ravel())
    if s.size and np.isnan(s[-1]):
        s = s[: np.searchsorted(s, np.nan, side="left")]
    return s


def _need(s: np.ndarray, what: str) -> None:
    if s.size == 0:
        raise NbopsError(f"the {what} sample is empty", hint="pass at least one non-missing value")


def ks_test(reference: Any, current: Any) -> tuple[float, float]:
    """KS statistic and p-value, exactly ``scipy.stats.ks_2samp(ref, cur)`` (method='auto')."""
    from scipy.stats import ks_2samp

    r, c = sorted_values(reference), sorted_values(current)
    _need(r, "reference")
    _need(c, "current")
    res = ks_2samp(r, c)
    return float(res.statistic), float(res.pvalue)


def wasserstein(reference: Any, current: Any, *, presorted: bool = False) -> float:
    """Wasserstein-1 distance, equal to ``scipy.stats.wasserstein_distance``.

    Computed as ∫|Q_ref(u) - Q_cur(u)| du over the merged grid of the two
    empirical quantile functions (integer grid points i·m and j·n of n·m).
    """
    a = np.asarray(reference, dtype=np.float64) if presorted else sorted_values(reference)
    b = np.asarray(current, dtype=np.float64) if presorted else sorted_values(current)
    _need(a, "reference")
    _need(b, "current")
    n, m = a.size, b.size
    if n == m:
        diff = np.subtract(a, b)
        return float(np.abs(diff, out=diff).sum() / n)
    grid = np.sort(np.concatenate([np.arange(1, n + 1, dtype=np.int64) * m,
                                   np.arange(1, m + 1, dtype=np.int64) * n]), kind="stable")
    widths = np.diff(grid, prepend=0).astype(np.float64)
    ia = (grid + m - 1) // m - 1
    ib = (grid + n - 1) // n - 1
    return float(np.dot(widths, np.abs(a[ia] - b[ib])) / (n * m))


def quantile_edges(sorted_ref: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Interior PSI bin edges: the reference's 1/bins ... (bins-1)/bins quantiles, deduplicated."""
    q = np.arange(1, bins) / bins
    pos = q * (sorted_ref.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, sorted_ref.size - 1)
    frac = pos - lo
    edges = sorted_ref[lo] + (sorted_ref[hi] - sorted_ref[lo]) * frac
    return np.unique(edges)


def psi(reference: Any, current: Any, *, bins: int = PSI_BINS, eps: float = PSI_EPS,
        presorted: bool = False) -> float:
    """Population stability index on the documented quantile binning of the reference."""
    a = np.asarray(reference, dtype=np.float64) if presorted else sorted_values(reference)
    b = np.asarray(current, dtype=np.float64) if presorted else sorted_values(current)
    _need(a, "reference")
    _need(b, "current")
    edges = quantile_edges(a, bins)
    ref_share = np.diff(np.searchsorted(a, edges, "right"), prepend=0, append=a.size) / a.size
    cur_share = np.diff(np.searchsorted(b, edges, "right"), prepend=0, append=b.size) / b.size
    ref_share = np.where(ref_share == 0, eps, ref_share)
    cur_share = np.where(cur_share == 0, eps, cur_share)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


# -- categorical ------------------------------------------------------------
def category_counts(reference: Any, current: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Categories seen in either sample (missing values dropped) and their counts in each."""
    import pandas as pd

    r = pd.Series(np.asarray(reference, dtype=object).ravel()).dropna().value_counts()
    c = pd.Series(np.asarray(current, dtype=object).ravel()).dropna().value_counts()
    cats = sorted(set(r.index) | set(c.index), key=str)
    return (cats, r.reindex(cats, fill_value=0).to_numpy(np.float64),
            c.reindex(cats, fill_value=0).to_numpy(np.float64))


def chi2_test(reference: Any, current: Any) -> tuple[float, float]:
    """Chi-square statistic and p-value of the 2×k table, as ``scipy.stats.chi2_contingency``."""
    from scipy.stats import chi2_contingency

    _, r, c = category_counts(reference, current)
    if r.sum() == 0 or c.sum() == 0:
        raise NbopsError("a categorical sample is empty", hint="pass at least one non-missing value")
    if r.size < 2:
        return 0.0, 1.0
    res = chi2_contingency(np.vstack([r, c]))
    return float(res.statistic), float(res.pvalue)


def jensenshannon(reference: Any, current: Any) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between the category shares."""
    _, r, c = category_counts(reference, current)
    if r.sum() == 0 or c.sum() == 0:
        raise NbopsError("a categorical sample is empty", hint="pass at least one non-missing value")
    p, q = r / r.sum(), c / c.sum()
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


# -- choosing and running a test --------------------------------------------
def is_categorical(values: Any) -> bool:
    arr = np.asarray(values)
    if arr.dtype.kind in "OUSbT" or str(getattr(values, "dtype", "")) in ("category", "str", "string"):
        return True
    return False


def choose_method(reference: Any, *, categorical: bool | None = None) -> Method:
    """The default test for a column (see the module docstring)."""
    n = len(reference)
    if categorical is None:
        arr = np.asarray(reference)
        categorical = is_categorical(reference) or (  # few distinct integers: codes, not amounts
            arr.dtype.kind in "iu" and n > CATEGORICAL_MAX_UNIQUE
            and np.unique(arr[:100_000]).size <= CATEGORICAL_MAX_UNIQUE)
    if categorical:
        return Method.CHI2 if n <= SMALL_SAMPLE else Method.JENSENSHANNON
    return Method.KS if n <= SMALL_SAMPLE else Method.WASSERSTEIN


def drift_test(reference: Any, current: Any, *, column: str = "value",
               method: str | Method | None = None, threshold: float | None = None) -> DriftResult:
    """Test one column for drift with ``method`` (default: :func:`choose_method`)."""
    m = Method(method) if method is not None else choose_method(reference)
    if m in NUMERIC_METHODS:
        a, b = sorted_values(reference), sorted_values(current)
        _need(a, "reference")
        _need(b, "current")
        return _numeric(column, m, a, b, threshold)
    if m == Method.CHI2:
        stat, p = chi2_test(reference, current)
        return _decide(column, m, stat, p, threshold, len(reference), len(current))
    return _decide(column, m, jensenshannon(reference, current), None, threshold,
                   len(reference), len(current))


def _numeric(column: str, m: Method, a: np.ndarray, b: np.ndarray,
             threshold: float | None) -> DriftResult:
    p: float | None = None
    if m == Method.KS:
        stat, p = ks_test(a, b)
    elif m == Method.PSI:
        stat = psi(a, b, presorted=True)
    else:
        stat = wasserstein(a, b, presorted=True)
        if m == Method.WASSERSTEIN:
            centred = a - a.mean()  # not np.dot: BLAS threads stall on a busy machine
            sd = float(np.sqrt(np.square(centred, out=centred).sum() / a.size))
            stat = stat / sd if sd > 0 else (0.0 if stat == 0 else float("inf"))
    return _decide(column, m, stat, p, threshold, a.size, b.size)


def drift_table(reference: Any, current: Any, *, columns: Sequence[str] | None = None,
                methods: dict[str, str] | None = None, thresholds: dict[str, float] | None = None,
                threads: int | None = None) -> list[DriftResult]:
    """Test every shared column of two DataFrames; columns run on a small thread pool
    (numpy's sort releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    cols = list(columns) if columns is not None else [c for c in reference.columns
                                                         if c in set(current.columns)]
    missing = [c for c in cols if c not in reference.columns or c not in current.columns]
    if missing:
        raise NbopsError(f"columns missing from a sample: {missing}",
                         hint="compare columns both samples have")
    methods, thresholds = methods or {}, thresholds or {}

    def one(col: str) -> DriftResult:
        return drift_test(_column_values(reference[col]), _column_values(current[col]),
                          column=str(col), method=methods.get(col), threshold=thresholds.get(col))

    workers = threads or min(4, os.cpu_count() or 1)
    if workers <= 1 or len(cols) <= 1:
        return [one(c) for c in cols]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, cols))


def _column_values(series: Any) -> Any:
    dtype = str(series.dtype)
    if dtype in ("category", "bool", "boolean", "object", "str", "string") or dtype.startswith("string"):
        return series.astype(object).to_numpy()
    return series.to_numpy()


def share_drifted(results: Sequence[DriftResult]) -> float:
    return sum(r.drifted for r in results) / len(results) if results else 0.0
