"""Pure figure builders for monitoring: one time axis for traffic, performance, drift and alerts.

Inputs are the small frames ``nbops.widgets.monitoring`` aggregates in DuckDB (one row per
time bucket, per stored report window or per alert event); nothing here reads the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nbops.widgets.figures import LIGHT

ALERT_STYLE = {"firing": ("alert fired", "#d62728", "triangle-up"),
               "resolved": ("alert resolved", "#2ca02c", "circle"),
               "acknowledged": ("alert acknowledged", "#ff7f0e", "square")}
ROWS = ("Predictions per bucket", "Latency", "Performance on logged outcomes",
        "Drift against the reference", "Alerts")
LATENCY = (("latency_p50", "p50", "#2ca02c"), ("latency_p95", "p95", "#ff7f0e"),
           ("latency_p99", "p99", "#d62728"))


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
