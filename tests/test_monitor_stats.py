"""Drift statistics and performance metrics agree with scipy and scikit-learn on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon as scipy_js
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from nbops.errors import NbopsError
from nbops.monitor import performance as perf
from nbops.monitor import stats

RNG = np.random.default_rng(42)


@pytest.mark.parametrize(("n", "m", "shift"), [(50, 80, 0.0), (900, 1000, 0.3), (20_000, 15_000, 0.02)])
def test_ks_equals_scipy(n: int, m: int, shift: float) -> None:
    a, b = RNG.normal(size=n), RNG.normal(shift, 1.1, size=m)
    stat, p = stats.ks_test(a, b)
    ref = ss.ks_2samp(a, b)
    assert stat == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize(("n", "m"), [(1000, 1000), (999, 1234), (7, 3), (20_000, 30_001)])
def test_wasserstein_equals_scipy(n: int, m: int) -> None:
    a, b = RNG.exponential(size=n), RNG.normal(1, 2, size=m)
    assert stats.wasserstein(a, b) == pytest.approx(ss.wasserstein_distance(a, b), rel=1e-9)
    ties_a, ties_b = RNG.integers(0, 5, n).astype(float), RNG.integers(0, 7, m).astype(float)
    assert stats.wasserstein(ties_a, ties_b) == pytest.approx(
        ss.wasserstein_distance(ties_a, ties_b), rel=1e-9)


def test_normed_wasserstein_divides_by_reference_std() -> None:
    a, b = RNG.normal(0, 3, 5000), RNG.normal(1, 3, 5000)
    r = stats.drift_test(a, b, method="wasserstein")
    assert r.statistic == pytest.approx(ss.wasserstein_distance(a, b) / np.std(a), rel=1e-9)
    assert r.drifted and r.p_value is None and r.threshold == 0.1


def test_chi2_equals_scipy_contingency() -> None:
    x = RNG.choice(["a", "b", "c", "d"], 600)
    y = RNG.choice(["a", "b", "c", "e"], 400, p=[0.4, 0.3, 0.2, 0.1])
    stat, p = stats.chi2_test(x, y)
    cats = sorted(set(x) | set(y))
    table = np.array([[np.sum(x == c) for c in cats], [np.sum(y == c) for c in cats]])
    ref = ss.chi2_contingency(table)
    assert stat == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_jensenshannon_equals_scipy_base2() -> None:
    x = RNG.choice(list("abcde"), 3000)
    y = RNG.choice(list("abcdf"), 2000, p=[0.1, 0.2, 0.3, 0.2, 0.2])
    cats = sorted(set(x) | set(y))
    p = np.array([np.sum(x == c) for c in cats], float)
    q = np.array([np.sum(y == c) for c in cats], float)
    assert stats.jensenshannon(x, y) == pytest.approx(scipy_js(p, q, base=2), rel=1e-9)


def test_psi_equals_its_definition_on_reference_quantile_bins() -> None:
    a, b = RNG.normal(size=10_000), RNG.normal(0.5, 1, size=8_000)
    edges = np.unique(np.quantile(a, np.arange(1, 10) / 10))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    # bins are right-closed: (e_i, e_{i+1}]
    ref = np.array([np.sum((a > lo) & (a <= hi)) for lo, hi in zip(bins[:-1], bins[1:], strict=True)]) / a.size
    cur = np.array([np.sum((b > lo) & (b <= hi)) for lo, hi in zip(bins[:-1], bins[1:], strict=True)]) / b.size
    ref, cur = np.where(ref == 0, 1e-4, ref), np.where(cur == 0, 1e-4, cur)
    expected = np.sum((cur - ref) * np.log(cur / ref))
    assert stats.psi(a, b) == pytest.approx(expected, rel=1e-9)
    assert stats.psi(a, a) == pytest.approx(0.0, abs=1e-12)


def test_psi_uses_epsilon_for_empty_bins() -> None:
    a = np.linspace(0, 1, 1000)
    b = np.full(500, 0.05)  # every current value in the first bin
    share = np.array([1.0] + [1e-4] * 9)
    ref = np.full(10, 0.1)
    assert stats.psi(a, b) == pytest.approx(np.sum((share - ref) * np.log(share / ref)), rel=1e-6)


def test_default_test_choice_follows_type_and_size() -> None:
    assert stats.choose_method(RNG.normal(size=500)) == stats.Method.KS
    assert stats.choose_method(RNG.normal(size=5000)) == stats.Method.WASSERSTEIN
    assert stats.choose_method(np.array(["a", "b"] * 100)) == stats.Method.CHI2
    assert stats.choose_method(np.array(["a", "b"] * 1000)) == stats.Method.JENSENSHANNON
    assert stats.choose_method(RNG.integers(0, 3, 5000)) == stats.Method.JENSENSHANNON


def test_drift_table_flags_the_shifted_column_only() -> None:
    ref = pd.DataFrame({"x": RNG.normal(size=5000), "y": RNG.normal(size=5000),
                        "city": RNG.choice(["a", "b", "c"], 5000)})
    cur = pd.DataFrame({"x": RNG.normal(1.0, 1, 4000), "y": RNG.normal(size=4000),
                        "city": RNG.choice(["a", "b", "c"], 4000)})
    res = {r.column: r for r in stats.drift_table(ref, cur)}
    assert res["x"].drifted and not res["y"].drifted and not res["city"].drifted
    assert res["city"].method == "jensenshannon"
    assert stats.share_drifted(list(res.values())) == pytest.approx(1 / 3)


def test_missing_values_are_dropped_and_empty_samples_refused() -> None:
    a = np.array([1.0, np.nan, 2.0, 3.0])
    assert stats.wasserstein(a, [1.0, 2.0, 3.0]) == 0.0
    with pytest.raises(NbopsError, match="empty"):
        stats.wasserstein([np.nan], [1.0])


def test_classification_metrics_equal_sklearn() -> None:
    y = RNG.integers(0, 2, 2000)
    s = np.clip(y * 0.6 + RNG.normal(0.2, 0.25, 2000), 0.001, 0.999)
    p = (s > 0.5).astype(int)
    got = perf.classification_metrics(y, p, s)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert got["precision"] == pytest.approx(skm.precision_score(y, p))
    assert got["recall"] == pytest.approx(skm.recall_score(y, p))
    assert got["f1"] == pytest.approx(skm.f1_score(y, p))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, s))
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], s, side="right"), minlength=10)
    counts = counts[counts > 0]
    assert got["calibration_error"] == pytest.approx(
        np.sum(counts / y.size * np.abs(prob_true - prob_pred)), rel=1e-9)


def test_multiclass_metrics_are_macro_averages() -> None:
    y, p = RNG.integers(0, 4, 500), RNG.integers(0, 4, 500)
    got = perf.performance(y, p)
    assert got["f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert "roc_auc" not in got


def test_regression_metrics_equal_sklearn() -> None:
    y = RNG.normal(10, 2, 1000)
    p = y + RNG.normal(0, 0.5, 1000)
    got = perf.performance(y, p)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    assert got["r2"] == pytest.approx(skm.r2_score(y, p))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
