"""The A/B statistics engine: pure functions over counts, means and arrays, returning result objects.

No I/O, no plotting; randomness only through an explicit ``seed``. Conventions:

* ``estimate`` is always treatment minus control (the absolute lift); ``relative`` is
  treatment / control - 1 with its own interval (delta method).
* Intervals are two-sided at level ``1 - alpha``.
* Frequentist tests mirror the usual references: :func:`two_proportion_ztest` gives the
  same statistic and p-value as ``statsmodels.stats.proportion.proportions_ztest`` (pooled
  variance under H0) and an unpooled Wald interval; :func:`welch_ttest` matches
  ``scipy.stats.ttest_ind(equal_var=False)``; :func:`srm_test` matches ``scipy.stats.chisquare``;
  :func:`power` / :func:`sample_size` match ``statsmodels.stats.power.NormalIndPower``.

Sequential testing (:func:`sequential_test`) uses the mixture sequential probability ratio
test (mSPRT, Johari et al. 2017, "Peeking at A/B tests") with a normal mixture over the
effect: with the estimate ``d`` of variance ``V`` and mixing variance ``tau**2``, the
likelihood ratio is ``sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))`` and the
always-valid p-value is ``min(1, 1 / LR)``; the matching confidence sequence is
``d ± sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) - 2 log(alpha)))``. This is the same
normal-mixture boundary as the asymptotic confidence sequences of Waudby-Smith et al. that
GrowthBook uses (their tuning constant plays the role of ``tau``). The tuning parameter is
``tau`` in units of the metric's standard deviation (default 0.1 = "effects around a tenth of
a standard deviation"): smaller ``tau`` is more sensitive to small effects late, larger to
big effects early. Peeking any number of times keeps the false-positive rate at most
``alpha``: the event "some look had 1/LR <= alpha" has probability <= alpha (Ville's
inequality), so stopping at the first look with ``p_value < alpha`` is safe. The strict
always-valid p-value is the running minimum over looks and the strict confidence sequence
the running intersection; the experiment report keeps no state and shows the current
look's values, which lead to the same stop/continue decisions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from nbops.abtest.posterior import Family, Posterior, lift_draws, normal_lift
from nbops.errors import NbopsError

ArrayLike = Sequence[float] | np.ndarray
SRM_THRESHOLD = 0.001  # p-value below which the split is declared broken (GrowthBook's default)


class StatsInputError(NbopsError):
    http_status = 400


@dataclass(frozen=True)
class TestResult:
    """A frequentist comparison of treatment against control."""

    method: str
    estimate: float  # treatment - control
    interval: tuple[float, float]
    p_value: float
    statistic: float
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    alpha: float
    relative: float | None = None
    relative_interval: tuple[float, float] | None = None

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


@dataclass(frozen=True)
class BayesResult:
    """A posterior comparison: P(treatment better) and the expected loss of each choice.

    ``control``/``treatment`` are the posteriors of the two means; ``draws`` > 0 means the
    numbers are Monte Carlo over ``lift_draws(control, treatment, draws=draws, seed=seed)``,
    0 that they are closed forms on the normal lift ``N(estimate, sd(control)^2 + sd(treatment)^2)``.
    """

    method: str
    estimate: float  # posterior mean of treatment - control
    interval: tuple[float, float]  # equal-tailed credible interval
    probability: float  # P(treatment > control)
    expected_loss: float  # E[max(control - treatment, 0)]: the cost of shipping treatment
    expected_loss_control: float  # E[max(treatment - control, 0)]: the cost of keeping control
    n_control: int
    n_treatment: int
    control: Posterior | None = None
    treatment: Posterior | None = None
    draws: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: are the observed counts consistent with the weights?"""

    method: str
    statistic: float
    p_value: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float = SRM_THRESHOLD

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


@dataclass(frozen=True)
class HolmResult:
    method: str
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    reject: tuple[bool, ...]
    alpha: float


@dataclass(frozen=True)
class CupedResult:
    """CUPED: the adjusted test, theta, and the fraction of variance removed."""

    test: TestResult
    theta: float
    correlation: float
    variance_reduction: float  # 1 - var(adjusted) / var(raw)


def _z(alpha: float) -> float:
    return float(_st.norm.ppf(1 - alpha / 2))


def _check_n(*ns: float) -> None:
    if any(n < 2 for n in ns):
        raise StatsInputError("each group needs at least 2 observations",
                              hint="collect more data before testing")


def _relative(mc: float, mt: float, vc: float, vt: float, z: float
              ) -> tuple[float | None, tuple[float, float] | None]:
    """Relative lift mt/mc - 1 with a delta-method interval (vc, vt: variances of the means)."""
    if mc == 0:
        return None, None
    rel = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    return rel, (rel - z * se, rel + z * se)


# -- frequentist --------------------------------------------------------------------------

def two_proportion_ztest(conversions_control: int, n_control: int, conversions_treatment: int,
                         n_treatment: int, *, alpha: float = 0.05) -> TestResult:
    """Two-sided z-test of two proportions (pooled under H0), Wald interval on the lift."""
    _check_n(n_control, n_treatment)
    xc, xt = conversions_control, conversions_treatment
    if not (0 <= xc <= n_control and 0 <= xt <= n_treatment):
        raise StatsInputError("conversions must lie between 0 and the number of units")
    pc, pt = xc / n_control, xt / n_treatment
    pooled = (xc + xt) / (n_control + n_treatment)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    stat = (pt - pc) / se0 if se0 > 0 else 0.0
    p = float(2 * _st.norm.sf(abs(stat)))
    vc, vt = pc * (1 - pc) / n_control, pt * (1 - pt) / n_treatment
    z = _z(alpha)
    se = math.sqrt(vc + vt)
    rel, rel_ci = _relative(pc, pt, vc, vt, z)
    return TestResult("two-proportion z-test", pt - pc, (pt - pc - z * se, pt - pc + z * se), p,
                      stat, n_control, n_treatment, pc, pt, alpha, rel, rel_ci)


def welch_from_stats(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float,
                     n_t: int, *, alpha: float = 0.05, method: str = "Welch t-test") -> TestResult:
    """Welch's t-test from summary statistics (sample variances with ddof=1)."""
    _check_n(n_c, n_t)
    vc, vt = var_c / n_c, var_t / n_t
    se = math.sqrt(vc + vt)
    d = mean_t - mean_c
    if se == 0:
        return TestResult(method, d, (d, d), 1.0 if d == 0 else 0.0, 0.0, n_c, n_t, mean_c,
                          mean_t, alpha)
    df = (vc + vt) ** 2 / (vc**2 / (n_c - 1) + vt**2 / (n_t - 1))
    stat = d / se
    p = float(2 * _st.t.sf(abs(stat), df))
    q = float(_st.t.ppf(1 - alpha / 2, df))
    rel, rel_ci = _relative(mean_c, mean_t, vc, vt, q)
    return TestResult(method, d, (d - q * se, d + q * se), p, stat, n_c, n_t, mean_c, mean_t,
                      alpha, rel, rel_ci)


def welch_ttest(control: ArrayLike, treatment: ArrayLike, *, alpha: float = 0.05) -> TestResult:
    """Welch's unequal-variance t-test on two samples of a continuous metric."""
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    _check_n(len(c), len(t))
    return welch_from_stats(float(c.mean()), float(c.var(ddof=1)), len(c), float(t.mean()),
                            float(t.var(ddof=1)), len(t), alpha=alpha)


def srm_test(observed: Sequence[int], weights: Sequence[float], *,
             threshold: float = SRM_THRESHOLD) -> SRMResult:
    """Chi-square goodness of fit of the units per variant against the configured weights."""
    obs = np.asarray(observed, dtype=float)
    w = np.asarray(weights, dtype=float)
    if len(obs) != len(w) or len(obs) < 2 or (w <= 0).any():
        raise StatsInputError("need one positive weight per observed count (at least two)")
    expected = obs.sum() * w / w.sum()
    if obs.sum() == 0:
        return SRMResult("chi-square", 0.0, 1.0, tuple(int(o) for o in obs),
                         tuple(float(e) for e in expected), threshold)
    stat = float(((obs - expected) ** 2 / expected).sum())
    p = float(_st.chi2.sf(stat, len(obs) - 1))
    return SRMResult("chi-square", stat, p, tuple(int(o) for o in obs),
                     tuple(float(e) for e in expected), threshold)


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> HolmResult:
    """Holm-Bonferroni step-down adjustment across several metrics (family-wise error <= alpha)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj_sorted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = adj_sorted
    return HolmResult("Holm", tuple(p.tolist()), tuple(adjusted.tolist()),
                      tuple(bool(a <= alpha) for a in adjusted), alpha)


# -- CUPED ---------------------------------------------------------------------------------

def cuped_theta(metric: np.ndarray, covariate: np.ndarray) -> float:
    """theta = cov(Y, X) / var(X), estimated on both groups pooled."""
    var = float(np.var(covariate, ddof=1))
    return 0.0 if var == 0 else float(np.cov(metric, covariate, ddof=1)[0, 1] / var)


def cuped_ttest(control: ArrayLike, control_pre: ArrayLike, treatment: ArrayLike,
                treatment_pre: ArrayLike, *, alpha: float = 0.05) -> CupedResult:
    """Welch's test on Y - theta (X - mean X): same estimate in expectation, variance * (1 - rho^2)."""
    yc, xc = np.asarray(control, float), np.asarray(control_pre, float)
    yt, xt = np.asarray(treatment, float), np.asarray(treatment_pre, float)
    if len(yc) != len(xc) or len(yt) != len(xt):
        raise StatsInputError("the pre-period covariate needs one value per unit")
    y, x = np.concatenate([yc, yt]), np.concatenate([xc, xt])
    theta = cuped_theta(y, x)
    mx = float(x.mean())
    ac, at = yc - theta * (xc - mx), yt - theta * (xt - mx)
    test = welch_from_stats(float(ac.mean()), float(ac.var(ddof=1)), len(ac), float(at.mean()),
                            float(at.var(ddof=1)), len(at), alpha=alpha, method="CUPED Welch t-test")
    raw = float(np.var(yc, ddof=1) / len(yc) + np.var(yt, ddof=1) / len(yt))
    adj = float(np.var(ac, ddof=1) / len(ac) + np.var(at, ddof=1) / len(at))
    rho = float(np.corrcoef(y, x)[0, 1]) if np.var(x) > 0 and np.var(y) > 0 else 0.0
    return CupedResult(test, theta, rho, 1 - adj / raw if raw > 0 else 0.0)


# -- sequential ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SequentialResult:
    """An always-valid look: p-value and confidence sequence valid under continuous peeking."""

    method: str
    estimate: float
    interval: tuple[float, float]  # confidence sequence at this look
    p_value: float
    tau: float  # mixing standard deviation actually used, in metric units
    n_control: int
    n_treatment: int
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def msprt(diff: np.ndarray | float, variance: np.ndarray | float, tau: np.ndarray | float,
          alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized normal-mixture mSPRT: (always-valid p-value, confidence-sequence half-width)."""
    d, v = np.asarray(diff, float), np.asarray(variance, float)
    t2 = np.asarray(tau, float) ** 2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(v / (v + t2)) + d**2 * t2 / (2 * v * (v + t2))
        p = np.where(v > 0, np.minimum(1.0, np.exp(-log_lr)), 1.0)
        half = np.sqrt(v * (v + t2) / t2 * (np.log((v + t2) / v) - 2 * math.log(alpha)))
    return p, np.where(v > 0, half, 0.0)


def sequential_test(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float, n_t: int,
                    *, alpha: float = 0.05, tau: float = 0.1) -> SequentialResult:
    """mSPRT look on summary statistics; ``tau`` is in standard deviations of the metric."""
    _check_n(n_c, n_t)
    sd = math.sqrt((var_c + var_t) / 2)
    tau_abs = tau * sd if sd > 0 else tau
    d = mean_t - mean_c
    p, half = msprt(d, var_c / n_c + var_t / n_t, tau_abs, alpha)
    h = float(half)
    return SequentialResult("mSPRT (normal mixture)", d, (d - h, d + h), float(p), tau_abs,
                            n_c, n_t, alpha)


def sequential_proportions(conversions_control: int, n_control: int, conversions_treatment: int,
                           n_treatment: int, *, alpha: float = 0.05, tau: float = 0.1
                           ) -> SequentialResult:
    pc, pt = conversions_control / n_control, conversions_treatment / n_treatment
    return sequential_test(pc, pc * (1 - pc), n_control, pt, pt * (1 - pt), n_treatment,
                           alpha=alpha, tau=tau)


# -- Bayesian ------------------------------------------------------------------------------

def _normal_loss(mu: float, sd: float) -> tuple[float, float, float]:
    """For delta ~ N(mu, sd^2): P(delta > 0), E[max(-delta, 0)], E[max(delta, 0)]."""
    if sd == 0:
        return float(mu > 0), max(-mu, 0.0), max(mu, 0.0)
    z = mu / sd
    pdf, cdf = float(_st.norm.pdf(z)), float(_st.norm.cdf(z))
    loss_t = sd * pdf - mu * (1 - cdf)
    loss_c = sd * pdf + mu * cdf
    return cdf, loss_t, loss_c


def bayes_normal(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float, n_t: int,
                 *, alpha: float = 0.05) -> BayesResult:
    """Normal posteriors of both means (flat prior, known-variance approximation); closed forms."""
    _check_n(n_c, n_t)
    post_c = Posterior(Family.NORMAL, mean_c, math.sqrt(var_c / n_c))
    post_t = Posterior(Family.NORMAL, mean_t, math.sqrt(var_t / n_t))
    lift = normal_lift(post_c, post_t)
    mu, sd = lift.a, lift.b
    prob, loss_t, loss_c = _normal_loss(mu, sd)
    z = _z(alpha)
    return BayesResult("Bayesian normal", mu, (mu - z * sd, mu + z * sd), prob, loss_t, loss_c,
                       n_c, n_t, post_c, post_t)


def bayes_beta_binomial(conversions_control: int, n_control: int, conversions_treatment: int,
                        n_treatment: int, *, prior: tuple[float, float] = (1.0, 1.0),
                        alpha: float = 0.05, draws: int = 200_000, seed: int = 0) -> BayesResult:
    """Beta(prior + successes, prior + failures) posteriors, compared by seeded Monte Carlo."""
    _check_n(n_control, n_treatment)
    a0, b0 = prior
    post_c = Posterior(Family.BETA, a0 + conversions_control, b0 + n_control - conversions_control)
    post_t = Posterior(Family.BETA, a0 + conversions_treatment, b0 + n_treatment - conversions_treatment)
    delta = lift_draws(post_c, post_t, draws=draws, seed=seed)
    lo, hi = np.quantile(delta, [alpha / 2, 1 - alpha / 2])
    return BayesResult("Bayesian Beta-Binomial", float(delta.mean()), (float(lo), float(hi)),
                       float((delta > 0).mean()), float(np.maximum(-delta, 0).mean()),
                       float(np.maximum(delta, 0).mean()), n_control, n_treatment, post_c, post_t,
                       draws, seed)


# -- power ---------------------------------------------------------------------------------

def proportion_effect_size(p_control: float, p_treatment: float) -> float:
    """Cohen's h, the effect size statsmodels uses for proportions."""
    return 2 * math.asin(math.sqrt(p_treatment)) - 2 * math.asin(math.sqrt(p_control))


def power(effect_size: float, n_control: float, *, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Power of a two-sided z-test for a standardized effect (n_treatment = ratio * n_control)."""
    crit = _z(alpha)
    shift = abs(effect_size) * math.sqrt(n_control / (1 + 1 / ratio))
    return float(_st.norm.sf(crit - shift) + _st.norm.cdf(-crit - shift))


def sample_size(effect_size: float, *, alpha: float = 0.05, power_target: float = 0.8,
                ratio: float = 1.0) -> float:
    """Control-group size giving ``power_target`` for a standardized effect (round up to use it)."""
    if effect_size == 0:
        raise StatsInputError("a zero effect cannot be detected", hint="give the smallest effect that matters")
    n = ((_z(alpha) + float(_st.norm.ppf(power_target))) / abs(effect_size)) ** 2 * (1 + 1 / ratio)
    # The closed form ignores the far tail; a few Newton-free bisection steps make it exact.
    lo, hi = n * 0.9, n * 1.01
    for _ in range(60):
        mid = (lo + hi) / 2
        if power(effect_size, mid, alpha=alpha, ratio=ratio) < power_target:
            lo = mid
        else:
            hi = mid
    return hi


def sample_size_proportions(p_control: float, mde: float, *, alpha: float = 0.05,
                            power_target: float = 0.8, ratio: float = 1.0) -> int:
    """Units per control group to detect an absolute lift ``mde`` on a baseline rate."""
    return math.ceil(sample_size(proportion_effect_size(p_control, p_control + mde), alpha=alpha,
                                 power_target=power_target, ratio=ratio))


def sample_size_means(sd: float, mde: float, *, alpha: float = 0.05, power_target: float = 0.8,
                      ratio: float = 1.0) -> int:
    """Units per control group to detect an absolute difference ``mde`` of a metric with ``sd``."""
    return math.ceil(sample_size(mde / sd, alpha=alpha, power_target=power_target, ratio=ratio))
