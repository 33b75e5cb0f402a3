"""Pure figure builders for monitoring: one time axis for traffic, performance, drift and alerts;
a drift heat map (feature × report window) and one feature's distribution against the reference.

Inputs are the small frames ``nbops.widgets.monitoring`` aggregates in DuckDB (one row per
time bucket, per stored report window or per alert event); nothing here reads the logs.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nbops.widgets.drift import Overlay
from nbops.widgets.figures import LIGHT

ALERT_STYLE = {"firing": ("alert fired", "#d62728", "triangle-up"),
               "resolved": ("alert resolved", "#2ca02c", "circle"),
               "acknowledged": ("alert acknowledged", "#ff7f0e", "square")}
ROWS = ("Predictions per bucket", "Latency", "Performance on logged outcomes",
        "Drift against the reference", "Alerts")
LATENCY = (("latency_p50", "p50", "#2ca02c"), ("latency_p95", "p95", "#ff7f0e"),
           ("latency_p99", "p99", "#9467bd"))


def _hover_time(x: pd.Series) -> list[str]:
    return [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in x]


def _traffic(fig: go.Figure, traffic: pd.DataFrame) -> None:
    if traffic.empty:
        return
    rate = traffic["n_errors"] / traffic["n"]
    fig.add_trace(go.Bar(x=traffic["bucket"], y=traffic["n"], name="predictions",
                         marker_color="#1f77b4", opacity=0.7,
                         customdata=list(zip(traffic["latency_mean"], rate, strict=True)),
                         hovertemplate="%{x}<br>%{y:,} predictions<br>mean latency %{customdata[0]:.1f} ms"
                                       "<br>error rate %{customdata[1]:.2%}<extra></extra>"),
                  row=1, col=1, secondary_y=False)
    fig.add_trace(go.Scatter(x=traffic["bucket"], y=rate, name="error rate", mode="lines+markers",
                             line={"color": "#d62728"},
                             hovertemplate="%{x}<br>error rate %{y:.2%}<extra></extra>"),
                  row=1, col=1, secondary_y=True)


def _latency(fig: go.Figure, traffic: pd.DataFrame) -> None:
    for col, label, color in LATENCY:
        if col in traffic.columns and traffic[col].notna().any():
            fig.add_trace(go.Scatter(x=traffic["bucket"], y=traffic[col], name=f"latency {label}",
                                     mode="lines+markers", line={"color": color},
                                     hovertemplate="%{x}<br>" + label + " %{y:.3g} ms<extra></extra>"),
                          row=2, col=1)


def _performance(fig: go.Figure, perf: pd.DataFrame) -> str:
    metrics = [m for m in ("accuracy", "mae", "rmse") if m in perf.columns]
    for m in metrics:
        fig.add_trace(go.Scatter(x=perf["bucket"], y=perf[m], name=m, mode="lines+markers",
                                 customdata=perf["n_outcomes"],
                                 hovertemplate="%{x}<br>" + m + " %{y:.4g}<br>"
                                               "%{customdata:,} outcomes<extra></extra>"),
                      row=3, col=1)
    return metrics[0] if len(metrics) == 1 else "error" if metrics else "performance"


def _drift(fig: go.Figure, drift: pd.DataFrame, share: pd.DataFrame,
           thresholds: Mapping[str, float], span: tuple[datetime, datetime]) -> None:
    for (feature, method), g in drift.groupby(["feature", "method"], sort=True):
        fig.add_trace(go.Scatter(x=g["window_end"], y=g["value"], name=f"{feature} ({method})",
                                 mode="lines+markers", legendgroup="drift",
                                 hovertemplate="window ending %{x}<br>" + f"{feature} {method}"
                                               " = %{y:.4g}<extra></extra>"), row=4, col=1)
    if not share.empty:
        fig.add_trace(go.Scatter(x=share["window_end"], y=share["value"], name="share of features drifted",
                                 mode="lines+markers", line={"color": "#7f7f7f", "width": 3},
                                 hovertemplate="window ending %{x}<br>share drifted %{y:.0%}"
                                               "<extra></extra>"), row=4, col=1)
    for label, value in thresholds.items():
        fig.add_trace(go.Scatter(x=list(span), y=[value, value], name=f"threshold {label} = {value:g}",
                                 mode="lines", line={"dash": "dash", "color": "#d62728", "width": 1},
                                 hoverinfo="name"), row=4, col=1)


def _alerts(fig: go.Figure, alerts: pd.DataFrame) -> None:
    for state, g in alerts.groupby("state", sort=True):
        name, color, symbol = ALERT_STYLE.get(str(state), (f"alert {state}", "#7f7f7f", "diamond"))
        values = ["n/a" if pd.isna(v) else f"{v:.4g}" for v in g["value"]]
        fig.add_trace(go.Scatter(x=g["ts"], y=g["rule_name"], name=name, mode="markers",
                                 marker={"color": color, "symbol": symbol, "size": 13},
                                 customdata=list(zip(g["message"], values, strict=True)),
                                 hovertemplate="%{x}<br>%{customdata[0]}<extra>%{y}</extra>"),
                      row=5, col=1)
    for ts in alerts.loc[alerts["state"] == "firing", "ts"]:
        fig.add_vline(x=pd.Timestamp(ts).to_pydatetime(), line={"dash": "dot", "color": "#d62728",
                                                                "width": 1})


def monitor_figure(traffic: pd.DataFrame, performance: pd.DataFrame, drift: pd.DataFrame,
                   share: pd.DataFrame, alerts: pd.DataFrame, thresholds: Mapping[str, float], *,
                   span: tuple[datetime, datetime], title: str = "Monitoring",
                   template: str = LIGHT) -> go.Figure:
    """Five rows on one shared time axis.

    ``traffic``: bucket, n, n_errors, latency_mean and latency_p50/p95/p99. ``performance``: bucket, n_outcomes and
    accuracy or mae/rmse. ``drift``: window_end, feature, method, value (stored reports);
    ``share``: window_end, value (share of features drifted). ``alerts``: ts, rule_name, state,
    value, message. ``thresholds``: label → value, drawn as dashed lines over ``span``.
    """
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=ROWS, row_heights=[0.22, 0.16, 0.2, 0.28, 0.14],
                        specs=[[{"secondary_y": True}], [{}], [{}], [{}], [{}]])
    _traffic(fig, traffic)
    _latency(fig, traffic)
    perf_title = _performance(fig, performance)
    _drift(fig, drift, share, thresholds, span)
    _alerts(fig, alerts)
    fig.update_yaxes(title_text="predictions", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text="error rate", tickformat=".1%", row=1, col=1, secondary_y=True,
                     rangemode="tozero")
    fig.update_yaxes(title_text="latency (ms)", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text=perf_title, row=3, col=1)
    fig.update_yaxes(title_text="drift statistic", row=4, col=1)
    fig.update_yaxes(title_text="rule", type="category", row=5, col=1)
    fig.update_xaxes(range=list(span))
    fig.update_xaxes(title_text="time (UTC)", row=5, col=1)
    fig.update_layout(template=template, title=title, height=1050, margin={"t": 80, "b": 40},
                      legend={"orientation": "v"}, bargap=0.1)
    fig.update_xaxes(showticklabels=True)  # every row keeps its time labels
    if len(traffic):
        top = float((traffic["n_errors"] / traffic["n"]).max())
        fig.update_yaxes(range=[0, max(0.05, top * 1.2)], row=1, col=1, secondary_y=True)
    no_latency = traffic.empty or not any(c in traffic.columns and traffic[c].notna().any()
                                          for c, _, _ in LATENCY)
    empty = {1: (traffic.empty, "no predictions logged in this window"),
             2: (no_latency, "no latency logged (log_predictions(..., latency_ms=))"),
             3: (performance.empty, "no outcomes logged for these predictions (mon.log_outcomes)"),
             4: (drift.empty and share.empty, "no stored drift report in this window "
                 "(each mon.report(...) stores one)"),
             5: (alerts.empty, "no alert events in this window")}
    for row, (is_empty, text) in empty.items():
        if is_empty:  # an invisible trace makes plotly draw the empty row and its note
            fig.add_trace(go.Scatter(x=list(span), y=[0, 0], mode="lines", showlegend=False,
                                     hoverinfo="skip", line={"width": 0}), row=row, col=1)
            fig.add_annotation(text=text, xref="x domain", yref="y domain", x=0.5, y=0.5,
                               showarrow=False, font={"color": "#7f7f7f"}, row=row, col=1)
    return fig


# -- drift per feature ----------------------------------------------------------------------
HEATMAP_TEXT_CELLS = 400  # above this many cells the values are left to the hover


def _heatmap_rows(drift: pd.DataFrame) -> list[str]:
    features = sorted({str(f) for f in drift["feature"]} - {"prediction"})
    return features + (["prediction"] if "prediction" in set(drift["feature"]) else [])


def drift_heatmap_figure(drift: pd.DataFrame, *, template: str = LIGHT) -> go.Figure:
    """Feature × stored report window; a cell is the drift statistic ÷ its threshold.

    ``drift``: window_end, feature, method, value, threshold (NaN for a p-value test). The colour
    scale flips at 1 (the threshold): blues below, reds above (:func:`threshold_colorscale`);
    cells above it also carry a ▲. A p-value test's statistic has no threshold on its scale: its cells are grey.
    """
    fig = go.Figure()
    title = "Drift per feature and report window (statistic ÷ threshold)"
    fig.update_layout(template=template, title=title, height=260, margin={"t": 60, "b": 40})
    if drift.empty:
        fig.add_annotation(text="no stored drift report in this window (each mon.report(...) "
                           "stores one)", xref="paper", yref="paper", x=0.5, y=0.5,
                           showarrow=False, font={"color": "#7f7f7f"})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    rows, x, value, thr, custom = _heatmap_grids(drift)
    ratio = (value / thr).where(thr.notna())
    hover = ("%{y} · window ending %{x}<br>%{customdata[0]} = %{customdata[1]}"
             "<br>threshold %{customdata[2]}")
    top = float(np.nanmax(ratio.to_numpy())) if ratio.notna().any().any() else 2.0
    common = {"x": x, "y": rows, "customdata": custom, "xgap": 2, "ygap": 2, "hoverongaps": False}
    zmax = max(2.0, min(top, 4.0))
    fig.add_trace(go.Heatmap(
        z=ratio.to_numpy(), name="statistic ÷ threshold", colorscale=threshold_colorscale(zmax),
        zmin=0, zmax=zmax, **_cell_text(value, ratio, ratio.notna()), **common,
        hovertemplate=hover + "<br>ratio %{z:.2f}<extra></extra>",
        colorbar={"title": {"text": "statistic ÷<br>threshold"}, "tickvals": [0, 1, 2, 3, 4],
                  "ticktext": ["0", "1 = threshold", "2", "3", "4"]}))
    grey = value.notna() & thr.isna()
    if grey.any().any():
        fig.add_trace(go.Heatmap(
            z=grey.astype(float).where(grey).to_numpy(), name="no threshold on the statistic's scale",
            colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False,
            **_cell_text(value, ratio, grey), **common, hovertemplate=hover + "<extra></extra>"))
    fig.update_xaxes(type="category", title_text="report window end (UTC)")
    fig.update_yaxes(type="category", autorange="reversed", title_text="feature")
    fig.update_layout(height=140 + 34 * len(rows))
    return fig


def threshold_colorscale(zmax: float) -> list[list[Any]]:
    """Blues from 0 up to the threshold (1), reds from there to ``zmax``: the colour flips at
    the threshold, so a cell just above it does not pass for one just below."""
    t = 1.0 / zmax
    return [[0.0, "#2166ac"], [t, "#d1e5f0"], [t, "#fddbc7"], [1.0, "#b2182b"]]


def _heatmap_grids(drift: pd.DataFrame) -> tuple[list[str], list[str], pd.DataFrame, pd.DataFrame,
                                                 np.ndarray]:
    """Rows, column labels, the value and threshold grids and the hover data (method, value,
    threshold) per cell; a window reported twice keeps its last report."""
    d = drift.drop_duplicates(["window_end", "feature"], keep="last")
    rows, cols = _heatmap_rows(d), sorted(d["window_end"].unique())
    grid = {c: d.pivot(index="feature", columns="window_end", values=c).reindex(index=rows, columns=cols)
            for c in ("value", "threshold", "method")}
    value, thr = grid["value"].astype(float), grid["threshold"].astype(float)
    custom = np.dstack([grid["method"].fillna("").to_numpy(dtype=object),
                        value.map(lambda v: "" if pd.isna(v) else f"{v:.4g}").to_numpy(dtype=object),
                        thr.map(lambda v: "on its p-value (not drawn)" if pd.isna(v) else f"{v:.4g}")
                        .to_numpy(dtype=object)])
    return rows, [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in cols], value, thr, custom


def _cell_text(value: pd.DataFrame, ratio: pd.DataFrame, shown: pd.DataFrame) -> dict[str, Any]:
    """Each ``shown`` cell's value, with a ▲ above its threshold (none on a crowded map)."""
    if value.size > HEATMAP_TEXT_CELLS:
        return {}
    text = [[("▲ " if r > 1 else "") + f"{v:.3g}" if ok else "" for v, r, ok in zip(vr, rr, sr, strict=True)]
            for vr, rr, sr in zip(value.to_numpy(), ratio.to_numpy(), shown.to_numpy(), strict=True)]
    return {"text": text, "texttemplate": "%{text}"}


def distribution_figure(ov: Overlay | None, *, template: str = LIGHT) -> go.Figure:
    """One feature in the current window against the reference.

    Numeric: the reference's bins drawn as density (share ÷ bin width, so unequal bins keep the
    shape): the reference filled grey, the current window outlined blue over it; the share of
    current values outside the reference's range is written under the title. Categorical: the
    share of each category, reference and current side by side.
    """
    fig = go.Figure()
    if ov is None:
        fig.add_annotation(text="no feature logged in this window", xref="paper", yref="paper",
                           x=0.5, y=0.5, showarrow=False, font={"color": "#7f7f7f"})
        fig.update_layout(template=template, height=260, title="Feature distribution")
        return fig
    numeric, b = ov.kind == "numeric", ov.bins
    x, ys, extra = _overlay_series(ov)
    style = {"reference": (f"reference: {ov.reference}", {"color": "#7f7f7f"}, 0.6),
             "current": (f"current window ({ov.n_current:,} values)",
                         {"color": "rgba(31,119,180,0.15)" if numeric else "#1f77b4",
                          "line": {"color": "#1f77b4", "width": 2 if numeric else 0}}, 1.0)}
    for side in ("reference", "current")[1 if ov.reference == "none" else 0:]:
        name, marker, opacity = style[side]
        counts = "<br>%{customdata[2]:,} current values" if side == "current" else ""
        fig.add_trace(go.Bar(x=x, y=ys[side], name=name, marker=marker, opacity=opacity,
                             customdata=np.column_stack([b["label"], b[side], b["n_current"]]),
                             hovertemplate="%{customdata[0]}<br>" + side + " share "
                                           "%{customdata[1]:.2%}" + counts + "<extra></extra>", **extra))
    fig.update_layout(template=template, height=380, margin={"t": 90, "b": 40},
                      barmode="overlay" if numeric else "group",
                      title=f"{ov.feature}: current window"
                            + ("" if ov.reference == "none" else " against the reference")
                            + "".join(f"<br><sup>{n}</sup>" for n in _overlay_notes(ov)),
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(title_text=ov.feature, type=None if numeric else "category")
    fig.update_yaxes(title_text="density (share ÷ bin width)" if numeric else "share")
    return fig


def _overlay_series(ov: Overlay) -> tuple[Any, dict[str, np.ndarray], dict[str, Any]]:
    """x, y per side and the bar widths: bin centres and densities, or categories and shares."""
    b = ov.bins
    shares = {side: b[side].to_numpy(dtype=float) for side in ("reference", "current")}
    if ov.kind != "numeric" or b.empty:
        return b["label"].tolist(), shares, {}
    widths = (b["right"] - b["left"]).to_numpy(dtype=float)
    span = float(b["right"].iloc[-1] - b["left"].iloc[0]) or 1.0
    widths = np.where(widths > 0, widths, span / 100)  # a bin holding one repeated value
    centres = (b["left"] + b["right"]).to_numpy(dtype=float) / 2
    return centres, {k: v / widths for k, v in shares.items()}, {"width": widths}


def _overlay_notes(ov: Overlay) -> list[str]:
    """What the overlay's reader must know: no reference (in red), values outside its range."""
    no_ref = ov.reference == "none"
    why = [n for n in ov.notes if n.startswith("no reference")]
    notes = [n for n in ov.notes if not n.startswith("no reference")]
    if no_ref:
        reason = why[0] if why else "no reference"
        notes.insert(0, f"<span style='color:#d62728'>{html.escape(reason, quote=False)} — the current window "
                        "alone</span>")
    outside = [f"{v:.1%} {k}" for k, v in ov.outside.items() if v > 0 and not no_ref]
    if outside:
        notes.append("current values outside the reference's range: " + ", ".join(outside))
    if not ov.n_current:
        notes.append("no value of this feature logged in this window")
    return [n if n.startswith("<span") else html.escape(n, quote=False) for n in notes]
