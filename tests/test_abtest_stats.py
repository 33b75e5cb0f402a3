"""The statistics engine against scipy/statsmodels and against simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportions_ztest

from nbops.abtest import stats


def test_two_proportion_ztest_matches_statsmodels() -> None:
    r = stats.two_proportion_ztest(120, 1000, 150, 1010)
    z, p = proportions_ztest([150, 120], [1010, 1000])
    assert r.statistic == pytest.approx(z, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    lift = 150 / 1010 - 0.12
    assert r.estimate == pytest.approx(lift)
    se = np.sqrt(0.12 * 0.88 / 1000 + (150 / 1010) * (1 - 150 / 1010) / 1010)
    assert r.interval == pytest.approx((lift - 1.959964 * se, lift + 1.959964 * se), rel=1e-5)
    assert r.relative == pytest.approx((150 / 1010) / 0.12 - 1)
    lo, hi = r.relative_interval
    assert lo < r.relative < hi


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 300), rng.normal(10.4, 3, 250)
    r = stats.welch_ttest(a, b)
    ref = st.ttest_ind(b, a, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert r.interval == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.significant == (ref.pvalue < 0.05)


def test_srm_matches_scipy_chisquare() -> None:
    r = stats.srm_test([5100, 4900], [0.5, 0.5])
    ref = st.chisquare([5100, 4900], [5000, 5000])
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.statistic == pytest.approx(ref.statistic)
    assert not r.mismatch
    bad = stats.srm_test([9000, 1000, 1000], [0.8, 0.1, 0.1])
    ref = st.chisquare([9000, 1000, 1000], np.array([0.8, 0.1, 0.1]) * 11000)
    assert bad.p_value == pytest.approx(ref.pvalue)
    assert stats.srm_test([5600, 4400], [0.5, 0.5]).mismatch


def test_power_and_sample_size_match_statsmodels() -> None:
    h = stats.proportion_effect_size(0.10, 0.12)
    ref = NormalIndPower()
    assert stats.power(h, 3000, ratio=1.5) == pytest.approx(
        ref.power(h, 3000, 0.05, ratio=1.5), rel=1e-9)
    n = stats.sample_size(h, power_target=0.8)
    assert n == pytest.approx(ref.solve_power(h, alpha=0.05, power=0.8, ratio=1.0), rel=1e-4)
    assert stats.sample_size_proportions(0.10, 0.02) == int(np.ceil(n))
    assert stats.sample_size_means(2.0, 0.5) == int(np.ceil(
        ref.solve_power(0.25, alpha=0.05, power=0.8)))
    with pytest.raises(stats.StatsInputError):
        stats.sample_size(0.0)


def test_holm_matches_the_step_down_procedure() -> None:
    r = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert r.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert r.reject == (True, False, False, True)


def test_sequential_aa_false_positive_rate_with_peeking_stays_below_alpha() -> None:
    """2,000 A/A experiments, a look after each of 50 batches: P(ever significant) <= alpha."""
    rng = np.random.default_rng(7)
    n_exp, looks, batch, p0, alpha = 2000, 50, 200, 0.1, 0.05
    conv_c = rng.binomial(batch, p0, (n_exp, looks)).cumsum(axis=1)
    conv_t = rng.binomial(batch, p0, (n_exp, looks)).cumsum(axis=1)
    n = batch * np.arange(1, looks + 1)
    pc, pt = conv_c / n, conv_t / n
    var = pc * (1 - pc) / n + pt * (1 - pt) / n
    sd = np.sqrt((pc * (1 - pc) + pt * (1 - pt)) / 2)
    p, _ = stats.msprt(pt - pc, var, 0.1 * sd, alpha)
    fpr_seq = float((p.min(axis=1) < alpha).mean())
    naive = 2 * st.norm.sf(np.abs(pt - pc) / np.sqrt(var))
    fpr_naive = float((naive.min(axis=1) < alpha).mean())
    assert fpr_seq <= alpha
    assert fpr_naive > 2 * alpha  # peeking with a fixed-horizon test is what this prevents


def test_sequential_detects_a_real_effect_and_interval_covers_it() -> None:
    r = stats.sequential_proportions(1000, 10000, 1250, 10000)
    assert r.significant
    assert r.interval[0] < 0.025 < r.interval[1]
    fixed = stats.two_proportion_ztest(1000, 10000, 1250, 10000)
    assert r.interval[1] - r.interval[0] > fixed.interval[1] - fixed.interval[0]


def test_cuped_reduces_variance_by_one_minus_rho_squared() -> None:
    rng = np.random.default_rng(3)
    n, rho = 20000, 0.7
    x = rng.normal(0, 1, 2 * n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(0, 1, 2 * n)
    y[n:] += 0.05
    r = stats.cuped_ttest(y[:n], x[:n], y[n:], x[n:])
    assert r.variance_reduction == pytest.approx(rho**2, abs=0.02)
    assert r.theta == pytest.approx(rho, abs=0.02)
    raw = stats.welch_ttest(y[:n], y[n:])
    width = r.test.interval[1] - r.test.interval[0]
    assert width == pytest.approx((raw.interval[1] - raw.interval[0]) * np.sqrt(1 - rho**2), rel=0.03)
    assert r.test.interval[0] < 0.05 < r.test.interval[1]


def test_bayes_beta_binomial_is_seeded_and_agrees_with_normal_closed_form() -> None:
    a = stats.bayes_beta_binomial(500, 5000, 560, 5000, seed=1)
    assert a == stats.bayes_beta_binomial(500, 5000, 560, 5000, seed=1)
    pc, pt = 501 / 5002, 561 / 5002
    b = stats.bayes_normal(pc, pc * (1 - pc), 5000, pt, pt * (1 - pt), 5000)
    assert a.probability == pytest.approx(b.probability, abs=0.01)
    assert a.expected_loss == pytest.approx(b.expected_loss, rel=0.1, abs=1e-5)
    assert 0.9 < a.probability < 1
    assert a.expected_loss < a.expected_loss_control


def test_bayes_normal_expected_loss_matches_monte_carlo() -> None:
    r = stats.bayes_normal(1.0, 4.0, 400, 1.05, 4.0, 400)
    rng = np.random.default_rng(0)
    d = rng.normal(r.estimate, np.sqrt(8 / 400), 1_000_000)
    assert r.probability == pytest.approx((d > 0).mean(), abs=0.003)
    assert r.expected_loss == pytest.approx(np.maximum(-d, 0).mean(), rel=0.02)
    assert r.expected_loss_control == pytest.approx(np.maximum(d, 0).mean(), rel=0.02)


def test_bayes_results_carry_the_posteriors_their_numbers_come_from() -> None:
    from nbops.abtest.posterior import Family, lift_draws, normal_lift

    a = stats.bayes_beta_binomial(500, 5000, 560, 5000, prior=(2.0, 3.0), seed=4, draws=50_000)
    assert (a.control.family, a.control.a, a.control.b) == (Family.BETA, 502, 4503)
    assert (a.treatment.a, a.treatment.b) == (562, 4443)
    assert a.control.dist().mean() == pytest.approx(502 / 5005)
    d = lift_draws(a.control, a.treatment, draws=a.draws, seed=a.seed)  # the engine's own draws
    assert (d > 0).mean() == a.probability and d.mean() == a.estimate
    b = stats.bayes_normal(1.0, 4.0, 400, 1.05, 9.0, 100)
    assert (b.control.a, b.control.b, b.treatment.a, b.treatment.b) == pytest.approx((1.0, 0.1, 1.05, 0.3))
    lift = normal_lift(b.control, b.treatment)
    assert b.draws == 0 and lift.dist().sf(0) == pytest.approx(b.probability, rel=1e-12)
    assert lift.dist().ppf(0.975) == pytest.approx(b.interval[1])


def test_bad_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(stats.StatsInputError, match="at least 2"):
        stats.two_proportion_ztest(0, 1, 0, 10)
    with pytest.raises(stats.StatsInputError, match="between 0"):
        stats.two_proportion_ztest(20, 10, 0, 10)
