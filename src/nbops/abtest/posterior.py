"""Posterior distributions of a variant's mean, and seeded draws of the lift between two.

Pure (no I/O): :mod:`nbops.abtest.stats` builds these in its Bayesian comparisons and keeps
them in the :class:`~nbops.abtest.stats.BayesResult`, so a figure can draw the very
posteriors (and the very Monte Carlo draws) the report's numbers come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import stats as _st

from nbops.errors import NbopsError


class Family(StrEnum):
    BETA = "beta"  # Beta(a, b)
    NORMAL = "normal"  # Normal(mean=a, sd=b)


@dataclass(frozen=True)
class Posterior:
    """The posterior of one variant's mean: ``Beta(a, b)`` or ``Normal(a, b)`` (mean a, sd b)."""

    family: Family
    a: float
    b: float

    def dist(self) -> Any:
        """The frozen ``scipy.stats`` distribution (``pdf``, ``ppf``, ``mean``, ``std``)."""
        return _st.beta(self.a, self.b) if self.family == Family.BETA else _st.norm(self.a, self.b)

    def sample(self, rng: np.random.Generator, draws: int) -> np.ndarray:
        if self.family == Family.BETA:
            return rng.beta(self.a, self.b, draws)
        return rng.normal(self.a, self.b, draws)


def lift_draws(control: Posterior, treatment: Posterior, *, draws: int, seed: int) -> np.ndarray:
    """Seeded posterior draws of treatment - control (the draws
    :func:`~nbops.abtest.stats.bayes_beta_binomial` compares)."""
    rng = np.random.default_rng(seed)
    pc = control.sample(rng, draws)
    return treatment.sample(rng, draws) - pc


def normal_lift(control: Posterior, treatment: Posterior) -> Posterior:
    """treatment - control for two independent normal posteriors (what ``bayes_normal`` uses)."""
    if Family.BETA in (control.family, treatment.family):
        raise NbopsError("the lift of Beta posteriors has no closed form", hint="use lift_draws")
    return Posterior(Family.NORMAL, treatment.a - control.a, math.hypot(control.b, treatment.b))
