"""``show.monitor``: a model's traffic, performance, drift and alerts over a time window.

Everything is aggregated in DuckDB over the Parquet prediction/outcome logs with the
monitoring repository's queries (``traffic_buckets``, ``performance_buckets``); drift per
feature over time comes from the stored window reports (``mon.report`` stores one per call;
``report_history``), also drawn as a heat map (feature × report window, statistic ÷ threshold),
and alert firings from the alert events. One feature's distribution in the window is drawn
against the training data (``widgets/drift.py``). Only what is drawn leaves DuckDB: one row per
bucket, report window or alert event, one count per bin.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go

from nbops.widgets.base import Dashboard, StaticPart, figure_widget, table_html
from nbops.widgets.dashboards import replace_figure
from nbops.widgets.drift import Overlay, OverlaySource, most_drifted, with_thresholds
from nbops.widgets.figures_monitor import distribution_figure, drift_heatmap_figure, monitor_figure

if TYPE_CHECKING:
    from nbops.workspace import Workspace

BUCKETS_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_POINTS = 120
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "BOOLEAN")


def pick_bucket(window: timedelta) -> int:
    """The smallest bucket (seconds) that cuts ``window`` into at most ``MAX_POINTS`` points."""
    seconds = window.total_seconds()
    return next((b for b in BUCKETS_S if seconds / b <= MAX_POINTS), BUCKETS_S[-1])


def _span(until: Any, window: timedelta, bucket_s: int) -> tuple[datetime, datetime]:
    from nbops.monitor.reporting import _utc

    end = _utc(until) or datetime.now(UTC)
    if bucket_s % 3600 == 0:  # whole hours: the window is whole partitions
        end = end.replace(minute=0, second=0, microsecond=0) + (
            timedelta(hours=1) if end.minute or end.second or end.microsecond else timedelta())
        start = (end - window).replace(minute=0, second=0, microsecond=0)
    else:
        start = end - window
    return start, end


def _utc_column(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    if len(frame):
        t = pd.to_datetime(frame[col])
        frame[col] = t.dt.tz_localize("UTC") if t.dt.tz is None else t.dt.tz_convert("UTC")
    return frame


def _thresholds(rules: list[Any], drift: pd.DataFrame) -> dict[str, float]:
    """A dashed line per drift threshold: a rule's (drift or drift_share) or the method's default."""
    from nbops.monitor.stats import DEFAULT_THRESHOLDS, Method

    out: dict[str, float] = {}
    ruled = set()
    for r in rules:
        if r.metric == "drift_share":
            out[f"{r.name} (share {r.comparison})"] = float(r.threshold)
        elif r.metric == "drift" and r.aggregation == "statistic":
            out[f"{r.name} ({r.feature} {r.comparison})"] = float(r.threshold)
            ruled.add(r.feature)
    by_value: dict[float, list[str]] = {}
    for method in sorted(set(drift.loc[~drift["feature"].isin(ruled), "method"])):
        value, is_p = DEFAULT_THRESHOLDS.get(Method(method), (None, True))
        if value is not None and not is_p:  # a p-value threshold is not on the statistic's scale
            by_value.setdefault(value, []).append(method)
    for value, methods in by_value.items():  # one line per value, naming every method at it
        out[f"{', '.join(methods)} default"] = value
    return out


def monitor_data(ws: Workspace, model: str, *, window: str | timedelta = "1d", until: Any = None,
                 bucket: str | timedelta | None = None) -> dict[str, Any]:
    """Everything ``show.monitor`` draws (see the module docstring)."""
    from nbops.monitor.reporting import Monitor, parse_window

    mon = Monitor(ws)
    name, version, mv = mon.resolve(model)
    span = parse_window(window)
    bucket_s = int(parse_window(bucket).total_seconds()) if bucket is not None else pick_bucket(span)
    start, end = _span(until, span, bucket_s)
    scan = mon.scan(name)
    traffic, perf = _logged(mon, name, scan, start, end, bucket_s)
    hist = _utc_column(mon.repo.report_history(name), "window_end")
    hist = hist[(hist["window_end"] > start) & (hist["window_end"] <= end)] if len(hist) else hist
    drift = hist[(hist["section"] == "drift") & (hist["metric"] != "share_drifted")] if len(hist) else hist
    drift = drift.rename(columns={"metric": "method"})[["window_end", "feature", "method", "value"]] \
        if len(drift) else pd.DataFrame(columns=["window_end", "feature", "method", "value"])
    rules = [r for r in mon.repo.rules() if r.model.split("@", 1)[0] == name]
    drift = with_thresholds(drift, rules)
    share = hist[hist["metric"] == "share_drifted"][["window_end", "value"]] if len(hist) else \
        pd.DataFrame(columns=["window_end", "value"])
    alerts = _alerts(mon, rules, start, end)
    return {"model": name, "version": version, "since": start, "until": end, "bucket_s": bucket_s,
            "traffic": _utc_column(traffic, "bucket"), "performance": _utc_column(perf, "bucket"),
            "drift": drift, "share": share, "alerts": alerts, "rules": rules,
            "thresholds": _thresholds(rules, drift),
            "overlays": OverlaySource(mon, name, mv, scan, start, end)}


TRAFFIC_COLUMNS = ["bucket", "n", "n_errors", "latency_mean", "latency_p50", "latency_p95",
                   "latency_p99"]


def _logged(mon: Any, name: str, scan: str | None, start: datetime, end: datetime,
            bucket_s: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Traffic and performance per bucket: from the rollups over whole hours, else the logs."""
    from nbops.catalog.monitor import hourly

    traffic, perf = pd.DataFrame(columns=TRAFFIC_COLUMNS), pd.DataFrame(columns=["bucket", "n_outcomes"])
    if scan is None:
        return traffic, perf
    if hourly(start, end, bucket_s):
        from nbops.monitor.rollup import read_rolled_up

        rolled = read_rolled_up(mon, name, lambda r: _rolled_up(mon, r, start, end, bucket_s))
        if rolled is not None:
            return rolled
    traffic = mon.repo.traffic_buckets(scan, start, end, bucket_s)
    outcomes = mon.outcome_scan()
    if outcomes is not None:
        perf = _performance(mon, mon.repo.column_types(scan), mon.repo.column_types(outcomes),
                            start, end, bucket_s, scan=scan, outcomes=outcomes)
    return traffic, perf


def _rolled_up(mon: Any, r: Any, start: datetime, end: datetime,
               bucket_s: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nbops.catalog.monitor import bucketed
    from nbops.catalog.monitor_rollup import traffic

    key, where, params, bucket = bucketed("", start, end, bucket_s)
    hourly = r.q.hourly(r.path("hourly"), key, where, params, bucket) \
        if os.path.exists(r.path("hourly")) else pd.DataFrame(columns=["bucket", "k", "c", "n_errors", "lat_sum"])
    perf = pd.DataFrame(columns=["bucket", "n_outcomes"])
    joined = r.joined()
    if joined is not None:
        types = mon.repo.column_types(joined)
        perf = _performance(mon, types, types, start, end, bucket_s, scan=joined, joined=f"{joined} p")
    return traffic(hourly), perf


def _performance(mon: Any, pred_types: dict[str, str], truth_types: dict[str, str], start: datetime,
                 end: datetime, bucket_s: int, *, scan: str, outcomes: str | None = None,
                 joined: str | None = None) -> pd.DataFrame:
    pred = pred_types.get("prediction", "VARCHAR")
    truth = truth_types.get("y_true", "VARCHAR")
    numeric = pred.startswith(_NUMERIC) and truth.startswith(_NUMERIC)
    regression = pred.startswith(("FLOAT", "DOUBLE"))
    return mon.repo.performance_buckets(scan, outcomes, start, end, bucket_s,
                                        regression=regression, numeric=numeric, joined=joined)


def _alerts(mon: Any, rules: list[Any], start: datetime, end: datetime) -> pd.DataFrame:
    cols = ["ts", "rule_name", "state", "value", "threshold", "message"]
    frames = [mon.repo.events(r.name, limit=10_000) for r in rules]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=cols)
    events = _utc_column(pd.concat(frames, ignore_index=True), "ts")
    events = events[(events["ts"] >= start) & (events["ts"] <= end)]
    return events.sort_values("ts")[cols].reset_index(drop=True)


class MonitorDashboard(Dashboard):
    """A model's predictions, performance, drift per feature and alerts on one time axis; a drift
    heat map; one feature's distribution against the reference, another on demand (dropdown)."""

    def __init__(self, ws: Workspace, model: str, *, window: str | timedelta = "1d",
                 until: Any = None, bucket: str | timedelta | None = None, **kwargs: Any) -> None:
        self.model, self.window, self.until, self.bucket = model, window, until, bucket
        self.title = f"Monitoring {model}"
        self.feature: str | None = None
        self.overlay: Overlay | None = None
        self._syncing = False
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        previous = getattr(self, "data", None)
        self.data = monitor_data(self.ws, self.model, window=self.window, until=self.until,
                                 bucket=self.bucket)
        source: OverlaySource = self.data["overlays"]
        if previous is not None and previous["version"] == self.data["version"]:
            source.share_reference(previous["overlays"])  # the training data is read once
        if self.feature not in source.features:
            self.feature = most_drifted(self.data["drift"], source.features)
        self.overlay = self._overlay(self.feature)

    def _overlay(self, feature: str | None) -> Overlay | None:
        if feature is None:
            return None
        drift = self.data["drift"]
        methods = drift.loc[drift["feature"] == feature, "method"] if len(drift) else drift
        return self.data["overlays"].overlay(feature, methods.iloc[-1] if len(methods) else None)

    def _figure(self) -> go.Figure:
        d = self.data
        return monitor_figure(d["traffic"], d["performance"], d["drift"], d["share"], d["alerts"],
                              d["thresholds"], span=(d["since"], d["until"]), title=self.title,
                              template=self.template)

    def build(self) -> None:
        self.fig = figure_widget(self._figure())
        self.summary = w.HTML(self._summary_html())
        self.alerts = w.HTML(self._alerts_html())
        self.fig_heatmap = figure_widget(drift_heatmap_figure(self.data["drift"], template=self.template))
        self.feature_picker = w.Dropdown(options=self.data["overlays"].features, value=self.feature,
                                         description="feature")
        self.feature_picker.observe(self._on_feature, names="value")
        self.fig_overlay = figure_widget(distribution_figure(self.overlay, template=self.template))

    def _on_feature(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None or change["new"] == self.feature:
            return
        try:
            self.feature, self.overlay = change["new"], self._overlay(change["new"])
            replace_figure(self.fig_overlay, distribution_figure(self.overlay, template=self.template))
            self.status.value = ""
        except Exception as exc:  # keep the dashboard; say why this feature could not be drawn
            self.status.value = (f"<span style='color:#d62728'>cannot draw {html.escape(str(change['new']))}"
                                 f": {html.escape(str(exc))}</span>")

    def _summary_html(self) -> str:
        d = self.data
        t, p = d["traffic"], d["performance"]
        n, errors = int(t["n"].sum()) if len(t) else 0, int(t["n_errors"].sum()) if len(t) else 0
        known = int(p["n_outcomes"].sum()) if len(p) else 0
        firing = int((d["alerts"]["state"] == "firing").sum())
        version = f" v{d['version']}" if d["version"] is not None else ""
        return (f"<p><b>{html.escape(d['model'])}{version}</b> · {d['since']:%Y-%m-%d %H:%M} – "
                f"{d['until']:%Y-%m-%d %H:%M} UTC · {n:,} predictions · {errors:,} errors · "
                f"{known:,} with outcomes · {firing} alert firing(s) · "
                f"bucket {timedelta(seconds=d['bucket_s'])}</p>")

    def _alerts_html(self) -> str:
        alerts = self.data["alerts"]
        if alerts.empty:
            return "<p>no alert events in this window</p>"
        return "<h4>alert events</h4>" + table_html(alerts)

    def body(self) -> Sequence[w.Widget]:
        return [self.summary, self.fig, self.fig_heatmap, self.feature_picker, self.fig_overlay,
                self.alerts]

    def update(self) -> None:
        replace_figure(self.fig, self._figure())
        replace_figure(self.fig_heatmap, drift_heatmap_figure(self.data["drift"], template=self.template))
        replace_figure(self.fig_overlay, distribution_figure(self.overlay, template=self.template))
        self._syncing = True  # a refresh sets the options; only the user's choice draws anew
        try:
            self.feature_picker.options = self.data["overlays"].features
            self.feature_picker.value = self.feature
        finally:
            self._syncing = False
        self.summary.value = self._summary_html()
        self.alerts.value = self._alerts_html()

    def static_parts(self) -> list[StaticPart]:
        return [self._summary_html(), self.fig, self.fig_heatmap, self.fig_overlay,
                self._alerts_html()]
