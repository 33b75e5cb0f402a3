"""Drift per feature for ``show.monitor``: each stored drift statistic's threshold (for the heat
map) and one feature's distribution in the current window against the reference (the overlay).

The reference is the one drift uses (``Monitor._reference``: the model's training data from its
lineage); a numeric feature is cut into the reference's PSI quantile bins (``stats.quantile_edges``)
each halved (20 bins of 5 % of the reference), and split at the reference's minimum and maximum
so that values outside the training range show apart. The current window's counts per bin are aggregated in DuckDB
(``MonitorRepository.feature_histogram`` / ``feature_counts``): only the counts leave it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from nbops.monitor import stats
from nbops.monitor.logger import FEATURE_PREFIX

OVERLAY_BINS = 2 * stats.PSI_BINS  # the reference's PSI quantile bins, each cut in two
NO_RANGE_BINS = 20  # equal-width bins over the current range when there is no reference
MAX_CATEGORIES = 30
_CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN", "ENUM", "UUID")


def with_thresholds(drift: pd.DataFrame, rules: list[Any]) -> pd.DataFrame:
    """``drift`` plus the threshold each statistic is held to: a ``drift`` rule's on that feature
    (aggregation ``statistic``), else the method's default; NaN for a p-value test (``ks``,
    ``chi2``), whose threshold is not on the statistic's scale."""
    ruled = {r.feature: float(r.threshold) for r in rules
             if r.metric == "drift" and r.aggregation == "statistic" and r.feature}

    def threshold(feature: str, method: str) -> float:
        if feature in ruled:
            return ruled[feature]
        known = method in set(stats.Method)
        value, is_p = stats.DEFAULT_THRESHOLDS[stats.Method(method)] if known else (None, True)
        return float("nan") if value is None or is_p else float(value)

    out = drift.copy()
    out["threshold"] = [threshold(f, m) for f, m in zip(out["feature"], out["method"], strict=True)]
    return out


def most_drifted(drift: pd.DataFrame, features: list[str]) -> str | None:
    """The logged feature furthest above its threshold in the latest stored report (by statistic
    when no threshold applies), else the first logged feature."""
    rows = drift[drift["feature"].isin(features)] if len(drift) else drift
    if len(rows):
        last = rows[rows["window_end"] == rows["window_end"].max()]
        ratio = last["value"] / last["threshold"]
        order = pd.DataFrame({"f": last["feature"], "r": ratio.fillna(-np.inf), "v": last["value"]})
        return str(order.sort_values(["r", "v"], ascending=False)["f"].iloc[0])
    return features[0] if features else None


@dataclass
class Overlay:
    """One feature's shares per bin (or category) in the reference and in the current window."""

    feature: str
    kind: str  # "numeric" or "categorical"
    bins: pd.DataFrame  # label, left, right (numeric), reference, current (shares), n_current
    n_reference: int
    n_current: int
    reference: str  # what the reference is, or "none"
    notes: list[str] = field(default_factory=list)
    outside: dict[str, float] = field(default_factory=dict)  # current share below/above the range


class OverlaySource:
    """Computes overlays of a model's logged features; loads the reference once."""

    def __init__(self, mon: Any, name: str, mv: Any, scan: str | None, since: datetime,
                 until: datetime) -> None:
        self.mon, self.name, self.mv, self.scan = mon, name, mv, scan
        self.since, self.until = since, until
        self.types = mon.repo.column_types(scan) if scan else {}
        self.features = [c.removeprefix(FEATURE_PREFIX) for c in self.types
                         if c.startswith(FEATURE_PREFIX)]
        self._ref: tuple[pd.DataFrame | None, str, list[str]] | None = None

    def share_reference(self, other: OverlaySource) -> None:
        """Use the reference ``other`` loaded (same model version): read the training data once."""
        self._ref = self._ref or other._ref

    def reference(self) -> tuple[pd.DataFrame | None, str, list[str]]:
        if self._ref is None:
            notes: list[str] = []
            frame, label = self.mon._reference(self.name, self.mv, None, notes)
            if frame is not None:
                frame = frame.rename(columns=str)
            self._ref = (frame, label, notes)
        return self._ref

    def overlay(self, feature: str, method: str | None = None) -> Overlay:
        """``feature``'s overlay; ``method`` is the drift method of its latest report, if any."""
        ref, label, notes = self.reference()
        values = ref[feature].dropna() if ref is not None and feature in ref.columns else None
        if ref is not None and (values is None or values.empty):
            notes = [*notes, f"no reference: the training data has no values of {feature!r}"]
            values = None
        if values is None:
            label = "none"
        column = FEATURE_PREFIX + feature
        if self._categorical(column, values, method):
            return self._categorical_overlay(feature, column, values, label, notes)
        return self._numeric_overlay(feature, column, values, label, notes)

    def _categorical(self, column: str, values: Any, method: str | None) -> bool:
        if values is not None:
            return stats.choose_method(values) not in stats.NUMERIC_METHODS
        if method in set(stats.Method):
            return stats.Method(str(method)) not in stats.NUMERIC_METHODS
        return self.types.get(column, "VARCHAR").startswith(_CATEGORICAL_TYPES)

    def _numeric_overlay(self, feature: str, column: str, values: Any, label: str,
                         notes: list[str]) -> Overlay:
        assert self.scan is not None
        if values is not None:
            ref = stats.sorted_values(values.to_numpy())
            lo, hi = float(ref[0]), float(ref[-1])
            inner = [float(e) for e in stats.quantile_edges(ref, OVERLAY_BINS) if lo < e < hi]
            edges = [float(np.nextafter(lo, -np.inf)), *inner, hi]
            ref_counts = np.diff(np.searchsorted(ref, edges, "right"), prepend=0, append=ref.size)
        else:
            lo_, hi_ = self.mon.repo.feature_range(self.scan, self.since, self.until, column,
                                                   self.mon.files.glob("predictions", self.name))
            lo, hi = (0.0, 1.0) if lo_ is None else (float(lo_), float(hi_))
            width = np.linspace(lo, hi, NO_RANGE_BINS + 1)[1:] if hi > lo else np.array([hi])
            edges = [float(np.nextafter(lo, -np.inf)), *(float(e) for e in width)]
            ref = np.empty(0)
            ref_counts = np.zeros(len(edges) + 1, dtype=np.int64)
        n, counts = self._histogram(column, edges)
        cur = np.asarray(counts, dtype=np.float64)
        shares_cur = cur / n if n else cur
        shares_ref = ref_counts / ref.size if ref.size else np.full(len(ref_counts), np.nan)
        lefts = [lo, *edges[1:-1]]
        bins = pd.DataFrame({"left": lefts, "right": edges[1:], "reference": shares_ref[1:-1],
                             "current": shares_cur[1:-1], "n_current": cur[1:-1].astype(np.int64)})
        bins.insert(0, "label", [f"({a:.4g}, {b:.4g}]" for a, b in zip(bins["left"], bins["right"],
                                                                      strict=True)])
        outside = {"below": float(shares_cur[0]), "above": float(shares_cur[-1])}
        return Overlay(feature, "numeric", bins, int(ref.size), n, label, list(notes), outside)

    def _histogram(self, column: str, edges: list[float]) -> tuple[int, list[int]]:
        """The window's counts per bin: from the rollups over whole hours, else the logs."""
        from nbops.catalog.monitor import bucketed, hourly

        if hourly(self.since, self.until, 3600):
            from nbops.monitor.rollup import read_rolled_up

            _, where, params, _ = bucketed("", self.since, self.until, 3600)
            counted = read_rolled_up(self.mon, self.name,
                                     lambda r: r.histogram(column, edges, where, params))
            if counted is not None:
                return counted
        assert self.scan is not None
        return self.mon.repo.feature_histogram(self.scan, self.since, self.until, column, edges)

    def _categorical_overlay(self, feature: str, column: str, values: Any, label: str,
                             notes: list[str]) -> Overlay:
        assert self.scan is not None
        cur = self.mon.repo.feature_counts(self.scan, self.since, self.until, column)
        n = int(cur["total"].iloc[0]) if len(cur) else 0
        cur_counts = {str(v): int(k) for v, k in zip(cur["value"], cur["n"], strict=True)}
        ref_counts: dict[str, float] = {}
        n_ref = 0
        if values is not None:
            cats, counts, _ = stats.category_counts(values, [])
            ref_counts = {str(c): float(k) for c, k in zip(cats, counts, strict=True)}
            n_ref = int(counts.sum())
        share = {c: max(cur_counts.get(c, 0) / max(n, 1), ref_counts.get(c, 0) / max(n_ref, 1))
                 for c in set(cur_counts) | set(ref_counts)}
        cats_shown = sorted(sorted(share, key=lambda c: -share[c])[:MAX_CATEGORIES], key=str)
        bins = pd.DataFrame({
            "label": cats_shown,
            "reference": [ref_counts.get(c, 0) / n_ref if n_ref else np.nan for c in cats_shown],
            "current": [cur_counts.get(c, 0) / n if n else 0.0 for c in cats_shown],
            "n_current": [cur_counts.get(c, 0) for c in cats_shown]})
        if len(share) > len(cats_shown):
            notes = [*notes, f"the {len(cats_shown)} most frequent of {len(share)}+ categories"]
        return Overlay(feature, "categorical", bins, n_ref, n, label, list(notes))
