"""Pure figure builders for an A/B experiment: data in (a :class:`~nbops.abtest.report.Report`
and small per-bucket frames), ``go.Figure`` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nbops.widgets.figures import LIGHT

if TYPE_CHECKING:
    from nbops.abtest.report import Report
    from nbops.abtest.stats import BayesResult

CI_COLOR, CS_COLOR = "#1f77b4", "#ff7f0e"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _interval(center: Sequence[float], lo: Sequence[float], hi: Sequence[float]) -> dict[str, object]:
    return {"type": "data", "symmetric": False, "array": [h - c for c, h in zip(center, hi, strict=True)],
            "arrayminus": [c - low for c, low in zip(center, lo, strict=True)], "thickness": 2,
            "width": 8}


def ab_estimates_figure(report: Report, *, template: str = LIGHT) -> go.Figure:
    """Mean per variant, each treatment's lift over control with its fixed-horizon 95% CI and
    always-valid confidence sequence, and P(treatment better)."""
    comps = report.comparisons
    fig = make_subplots(rows=1, cols=3, column_widths=[0.3, 0.45, 0.25], horizontal_spacing=0.09,
                        subplot_titles=("Mean per variant", "Lift vs control", "P(better than control)"))
    if comps:
        control = next(iter(report.units))
        names = [control, *[c.variant for c in comps]]
        means = [comps[0].test.mean_control, *[c.test.mean_treatment for c in comps]]
        ns = [comps[0].test.n_control, *[c.test.n_treatment for c in comps]]
        fig.add_trace(go.Bar(x=names, y=means, name="mean", marker_color=list(PALETTE[:len(names)]),
                             customdata=ns, showlegend=False, text=[f"{m:.4g}" for m in means],
                             hovertemplate="%{x}: %{y:.4g} (n=%{customdata:,})<extra></extra>"),
                      row=1, col=1)
        variants = [c.variant for c in comps]
        est = [c.test.estimate for c in comps]
        fig.add_trace(go.Scatter(
            x=est, y=[f"{v} · CI" for v in variants], mode="markers", name=f"lift, {1 - comps[0].test.alpha:.0%} CI (fixed horizon)",
            marker={"color": CI_COLOR, "size": 11},
            error_x=_interval(est, [c.test.interval[0] for c in comps], [c.test.interval[1] for c in comps]),
            hovertemplate="%{y}: lift %{x:+.4g}<extra>fixed-horizon CI</extra>"), row=1, col=2)
        seq = [c.sequential.estimate for c in comps]
        fig.add_trace(go.Scatter(
            x=seq, y=[f"{v} · CS" for v in variants], mode="markers", name="lift, always-valid CS",
            marker={"color": CS_COLOR, "size": 11, "symbol": "diamond"},
            error_x=_interval(seq, [c.sequential.interval[0] for c in comps],
                              [c.sequential.interval[1] for c in comps]),
            hovertemplate="%{y}: lift %{x:+.4g}<extra>always-valid CS</extra>"), row=1, col=2)
        fig.add_vline(x=0, line={"color": "#7f7f7f", "dash": "dash"}, row=1, col=2)
        probs = [c.bayes.probability for c in comps]
        fig.add_trace(go.Bar(x=variants, y=probs, name="P(better)", marker_color=CS_COLOR,
                             text=[f"{p:.1%}" for p in probs], textposition="outside", showlegend=False,
                             hovertemplate="%{x}: P(better) %{y:.3f}<extra></extra>"), row=1, col=3)
    fig.update_yaxes(title_text="metric mean", row=1, col=1)
    fig.update_xaxes(title_text="lift (treatment − control)", row=1, col=2)
    fig.update_yaxes(title_text="P(better)", range=[0, 1.1], row=1, col=3)
    fig.update_layout(template=template, title=f"{report.experiment}: {report.decision}"
                      + (f" → {report.winner}" if report.winner else ""), height=360,
                      margin={"t": 80, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig


def ab_posterior_figure(report: Report, *, template: str = LIGHT, bins: int = 120) -> go.Figure:
    """Left: the posterior density of each variant's mean (the Beta or Normal posterior the
    report's Bayesian comparison used) on one x axis. Right: the posterior of each treatment's
    lift over control with the area above 0 shaded and labelled with the report's P(better).

    Closed-form (normal) lifts are drawn from their density; Monte Carlo (Beta) lifts as a
    histogram of the engine's own seeded draws with a bin edge at 0, so the shaded area is the
    share of draws above 0: the report's P(better).
    """
    comps = [c for c in report.comparisons if c.bayes.control is not None and c.bayes.treatment is not None]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        "Posterior of each variant's mean", "Posterior of the lift, area above 0 = P(better)"))
    if comps:
        posts = {next(iter(report.units)): comps[0].bayes.control,
                 **{c.variant: c.bayes.treatment for c in comps}}
        x = _grid([p.dist() for p in posts.values() if p is not None])
        for i, (name, post) in enumerate(posts.items()):
            assert post is not None
            fig.add_trace(go.Scatter(x=x, y=post.dist().pdf(x), mode="lines", name=name,
                                     line={"color": PALETTE[i % len(PALETTE)]},
                                     hovertemplate=f"{name}: mean %{{x:.4g}}<br>density %{{y:.3g}}<extra></extra>"),
                          row=1, col=1)
        for i, c in enumerate(comps, start=1):
            _lift_density(fig, c.variant, c.bayes, PALETTE[i % len(PALETTE)], bins)
            fig.add_annotation(text=f"P(better) = {c.bayes.probability:.3f}" if len(comps) == 1 else
                               f"{c.variant}: P(better) = {c.bayes.probability:.3f}",
                               xref="x2 domain", yref="y2 domain", x=0.02, y=1 - 0.09 * (i - 1),
                               xanchor="left", yanchor="top", showarrow=False,
                               font={"color": PALETTE[i % len(PALETTE)], "size": 13})
        fig.add_vline(x=0, line={"color": "#7f7f7f", "dash": "dash"}, row=1, col=2)
    fig.update_xaxes(title_text="metric mean", row=1, col=1)
    fig.update_xaxes(title_text="lift (treatment − control)", row=1, col=2)
    fig.update_yaxes(title_text="posterior density", row=1, col=1)
    fig.update_layout(template=template, title="Posterior densities", height=340,
                      margin={"t": 80, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig


def _grid(dists: Sequence[Any], points: int = 400) -> np.ndarray:
    """One x grid covering every distribution (scipy frozen) but its 1e-5 tails."""
    return np.linspace(min(d.ppf(1e-5) for d in dists), max(d.isf(1e-5) for d in dists), points)


def _lift_density(fig: go.Figure, variant: str, bayes: BayesResult, color: str, bins: int) -> None:
    """The lift posterior as a curve and its part above 0 as a filled area (same shape)."""
    from nbops.abtest.posterior import lift_draws, normal_lift

    assert bayes.control is not None and bayes.treatment is not None
    if bayes.draws:
        d = lift_draws(bayes.control, bayes.treatment, draws=bayes.draws, seed=bayes.seed)
        width = max(float(d.max() - d.min()) / bins, 1e-12)
        edges = np.arange(np.floor(d.min() / width) - 1, np.ceil(d.max() / width) + 2) * width
        counts, edges = np.histogram(d, edges)
        x, y, shape = edges, np.append(counts / (len(d) * width), 0.0), "hv"  # a step per bin
        how = f"histogram of the {len(d):,} posterior draws"
    else:
        lift = normal_lift(bayes.control, bayes.treatment).dist()
        x = np.union1d(np.linspace(lift.ppf(1e-5), lift.isf(1e-5), 400), [0.0])
        y, shape, how = lift.pdf(x), "linear", "normal posterior"
    above = x >= 0
    fig.add_trace(go.Scatter(x=x[above], y=y[above], mode="lines", fill="tozeroy", line={"width": 0, "shape": shape},
                             fillcolor=_alpha(color, 0.35), name=f"P(better): {variant}", showlegend=False,
                             hoverinfo="skip", meta={"p_better": bayes.probability}), row=1, col=2)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"color": color, "shape": shape},
                             name=f"lift: {variant}", showlegend=False,
                             hovertemplate=f"{variant}: lift %{{x:+.4g}}<br>density %{{y:.3g}}"
                                           f"<extra>{how}</extra>"), row=1, col=2)


def ab_lift_figure(lift: pd.DataFrame, *, template: str = LIGHT) -> go.Figure:
    """Cumulative lift over time with its always-valid confidence sequence (a band per treatment).

    ``lift`` has bucket, variant, estimate, cs_low, cs_high, p_value (see ``lift_over_time``).
    """
    fig = go.Figure()
    for i, (variant, g) in enumerate(lift.groupby("variant", sort=False)):
        color = PALETTE[(i + 1) % len(PALETTE)]
        fig.add_trace(go.Scatter(x=g["bucket"], y=g["cs_high"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip", legendgroup=str(variant)))
        fig.add_trace(go.Scatter(x=g["bucket"], y=g["cs_low"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=_alpha(color), legendgroup=str(variant),
                                 name=f"always-valid CS: {variant}", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=g["bucket"], y=g["estimate"], mode="lines+markers",
                                 name=f"cumulative lift: {variant}", line={"color": color},
                                 legendgroup=str(variant),
                                 customdata=list(zip(g["cs_low"], g["cs_high"], g["p_value"], strict=True)),
                                 hovertemplate="%{x}<br>lift %{y:+.4g}<br>CS [%{customdata[0]:+.4g}, "
                                               "%{customdata[1]:+.4g}]<br>always-valid p "
                                               "%{customdata[2]:.3g}<extra></extra>"))
    fig.add_hline(y=0, line={"color": "#7f7f7f", "dash": "dash"})
    fig.update_layout(template=template, title="Cumulative lift with its confidence sequence",
                      xaxis_title="first exposure", yaxis_title="lift (treatment − control)",
                      height=340, margin={"t": 50, "b": 40})
    return fig


def _alpha(hex_color: str, a: float = 0.2) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {a})"


def ab_units_figure(units: pd.DataFrame, report: Report, *, template: str = LIGHT) -> go.Figure:
    """Units exposed per variant over time (cumulative), titled with the SRM check.

    ``units`` has bucket, variant, units (cumulative).
    """
    fig = go.Figure()
    for i, (variant, g) in enumerate(units.groupby("variant", sort=False)):
        fig.add_trace(go.Scatter(x=g["bucket"], y=g["units"], mode="lines+markers", name=str(variant),
                                 line={"color": PALETTE[i % len(PALETTE)]},
                                 hovertemplate="%{x}<br>%{y:,} units<extra>" + str(variant) + "</extra>"))
    fig.update_layout(template=template, title=f"Units per variant · {srm_text(report)}",
                      xaxis_title="first exposure", yaxis_title="units (cumulative)", height=320,
                      margin={"t": 50, "b": 40})
    return fig


def srm_text(report: Report) -> str:
    s = report.srm
    if s is None:
        return "SRM not checked"
    expected = ", ".join(f"{e:,.0f}" for e in s.expected)
    observed = ", ".join(f"{o:,}" for o in s.observed)
    verdict = "MISMATCH: do not trust the result" if s.mismatch else "ok"
    return f"SRM {verdict} (p={s.p_value:.3g}; observed {observed}, expected {expected})"
