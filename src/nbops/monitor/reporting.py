"""Window reports: volume, errors, latency, performance on joined outcomes, drift; stored as history.

The drift reference is, by default, the training data recorded in the model's
lineage: the registered version carries the run that produced it, and that
run's input datasets are the data it was fitted on (the one with the most rows
wins). Any DataFrame, dataset ref (``"RUN/X_train"``, ``"X_train@v2"``) or
earlier window ``(since, until)`` of the same model's traffic may be given instead.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbops.catalog.monitor import MonitorRepository, training_datasets
from nbops.catalog.monitor_records import ReportRow
from nbops.errors import NbopsError, NotFound
from nbops.monitor import performance as perf
from nbops.monitor import stats
from nbops.monitor.files import LogFiles, any_files, scan_sql
from nbops.monitor.logger import FEATURE_PREFIX

if TYPE_CHECKING:
    from nbops.workspace import Workspace

REFERENCE_PREDICTION_ROWS = 200_000  # rows of the reference the model re-scores for prediction drift
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str | float | timedelta) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"`` (or seconds, or a timedelta) to a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not m:
        raise NbopsError(f"cannot read the window {text!r}", hint="write e.g. 30m, 1h, 7d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _utc(t: datetime | str | None) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass(frozen=True)
class Report:
    """One window of one model: ``summary``, ``performance`` and ``drift`` tables."""

    report_id: str
    model: str
    model_version: int | None
    since: datetime
    until: datetime
    summary: dict[str, Any]
    performance: dict[str, float]
    drift: pd.DataFrame
    reference: str
    notes: list[str] = field(default_factory=list)

    @property
    def drift_share(self) -> float:
        feats = self.drift[self.drift["column"] != "prediction"] if len(self.drift) else self.drift
        return float(feats["drifted"].mean()) if len(feats) else 0.0

    def table(self) -> pd.DataFrame:
        """Every figure of the report in long form (section, metric, feature, value)."""
        rows = [("traffic", k, None, v) for k, v in self.summary.items()]
        rows += [("performance", k, None, v) for k, v in self.performance.items()]
        for r in self.drift.itertuples():
            rows.append(("drift", r.method, r.column, r.statistic))
        rows.append(("drift", "share_drifted", None, self.drift_share))
        return pd.DataFrame(rows, columns=["section", "metric", "feature", "value"])

    def _repr_html_(self) -> str:
        return (f"<b>{self.model} v{self.model_version}</b> {self.since:%Y-%m-%d %H:%M} – "
                f"{self.until:%Y-%m-%d %H:%M} UTC<br>" + self.table().to_html(index=False))


class Monitor:
    """Reads one workspace's logs and computes reports."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.files = LogFiles.for_settings(ws.settings)
        self.repo = MonitorRepository(ws.catalog)

    def scan(self, model: str) -> str | None:
        if not any_files(self.files, "predictions", model):
            return None
        return scan_sql(self.files.glob("predictions", model))

    def outcome_scan(self) -> str | None:
        if not any_files(self.files, "outcomes", None):
            return None
        return scan_sql(self.files.glob("outcomes", None))

    def resolve(self, model: str) -> tuple[str, int | None, Any]:
        from nbops import registry

        try:
            mv = registry.resolve(model, ws=self.ws)
            return mv.name, mv.version, mv
        except NotFound:
            return model.split("@", 1)[0], None, None

    def report(self, model: str, *, window: str | timedelta = "1h", since: Any = None,
               until: Any = None, reference: Any = None, drift: bool = True,
               store: bool = True, drift_methods: dict[str, str] | None = None) -> Report:
        name, version, mv = self.resolve(model)
        end = _utc(until) or datetime.now(UTC)
        start = _utc(since) or end - parse_window(window)
        scan = self.scan(name)
        notes: list[str] = []
        empty: dict[str, Any] = {"n": 0, "n_errors": 0, "latency_p50": None, "latency_p95": None,
                 "latency_p99": None, "latency_mean": None}
        summary = self.repo.window_summary(scan, start, end) if scan else empty
        summary["error_rate"] = summary["n_errors"] / summary["n"] if summary["n"] else None
        performance = self._performance(scan, start, end) if scan else {}
        drift_df = pd.DataFrame(columns=[f for f in stats.DriftResult.__dataclass_fields__])
        ref_label = "none"
        if drift and scan and summary["n"]:
            drift_df, ref_label = self._drift(scan, name, mv, start, end, reference, drift_methods, notes)
        rep = Report(secrets.token_hex(8), name, version, start, end, summary, performance,
                     drift_df, ref_label, notes)
        if store:
            self.store(rep)
        return rep

    def _performance(self, scan: str, start: datetime, end: datetime) -> dict[str, float]:
        outcomes = self.outcome_scan()
        if outcomes is None:
            return {}
        joined = self.repo.joined_outcomes(scan, outcomes, start, end)
        if joined.empty:
            return {}
        scores = joined["score"] if joined["score"].notna().all() else None
        out = perf.performance(joined["y_true"].to_numpy(), joined["prediction"].to_numpy(),
                               None if scores is None else scores.to_numpy())
        return {"n_outcomes": float(len(joined)), **out}

    def _drift(self, scan: str, name: str, mv: Any, start: datetime, end: datetime, reference: Any,
               methods: dict[str, str] | None, notes: list[str]) -> tuple[pd.DataFrame, str]:
        feats = [c for c in self.repo.columns_of(scan) if c.startswith(FEATURE_PREFIX)]
        cols = ", ".join(f'"{c}"' for c in feats + ["prediction"])
        current = self.repo.window_rows(scan, start, end, cols)
        current.columns = [c[len(FEATURE_PREFIX):] if c.startswith(FEATURE_PREFIX) else c
                           for c in current.columns]
        ref, label = self._reference(name, mv, reference, notes)
        if ref is None:
            return pd.DataFrame(columns=list(stats.DriftResult.__dataclass_fields__)), "none"
        ref = ref.copy()
        ref.columns = [str(c) for c in ref.columns]
        if "prediction" not in ref.columns and mv is not None:
            self._score_reference(ref, mv, [c[len(FEATURE_PREFIX):] for c in feats], notes)
        shared = [c for c in current.columns if c in ref.columns]
        if not shared:
            notes.append("the reference shares no column with the logged features")
            return pd.DataFrame(columns=list(stats.DriftResult.__dataclass_fields__)), label
        results = stats.drift_table(ref, current, columns=shared, methods=methods)
        return pd.DataFrame([r.__dict__ for r in results]), label

    def _reference(self, name: str, mv: Any, reference: Any,
                   notes: list[str]) -> tuple[pd.DataFrame | None, str]:
        if isinstance(reference, pd.DataFrame):
            return reference, "dataframe"
        if isinstance(reference, str):
            return pd.DataFrame(self.ws.load(reference)), reference
        if isinstance(reference, tuple):
            s, u = _utc(reference[0]), _utc(reference[1])
            scan = self.scan(name)
            if s is None or u is None or scan is None:
                raise NbopsError(f"no logged predictions of {name!r} to use as the reference",
                                 hint="give the reference window as (since, until)")
            df = self.repo.window_rows(scan, s, u)
            df = df[[c for c in df.columns if c.startswith(FEATURE_PREFIX) or c == "prediction"]]
            df.columns = [c.removeprefix(FEATURE_PREFIX) for c in df.columns]
            return df, f"window {s:%Y-%m-%d %H:%M}–{u:%Y-%m-%d %H:%M}"
        if mv is None or not mv.run_id:
            notes.append("no reference: the model is not registered from a tracked run")
            return None, "none"
        inputs = training_datasets(self.ws.catalog, mv.run_id)
        if not inputs:
            notes.append(f"no reference: run {mv.run_id} recorded no input dataset")
            return None, "none"
        best = inputs[0]
        data = self.ws.load(f"{mv.run_id}/{best['name']}")
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
        return frame, f"{mv.run_id}/{best['name']} (training data)"

    def _score_reference(self, ref: pd.DataFrame, mv: Any, features: list[str],
                         notes: list[str]) -> None:
        """Add the model's predictions on (a sample of) the reference, for prediction drift."""
        from nbops import registry

        try:
            model = registry.load(mv.ref, ws=self.ws)
            sample = ref if len(ref) <= REFERENCE_PREDICTION_ROWS else ref.sample(
                REFERENCE_PREDICTION_ROWS, random_state=0)
            preds = model.predict(sample[features] if all(f in sample for f in features) else sample)
            ref["prediction"] = pd.Series(np.asarray(preds), index=sample.index)
        except Exception as exc:  # prediction drift is optional; the feature drift still stands
            notes.append(f"prediction drift skipped: {type(exc).__name__}: {exc}")

    def store(self, rep: Report) -> None:
        now = datetime.now(UTC)
        rows = [ReportRow(rep.report_id, rep.model, rep.model_version, rep.since, rep.until,
                          r.section, r.metric, r.feature,
                          None if r.value is None or pd.isna(r.value) else float(r.value),
                          json.dumps({"reference": rep.reference}) if r.section == "drift" else None,
                          now) for r in rep.table().itertuples()]
        self.ws.catalog.transaction(lambda con: self.repo.insert_report(con, rows))

    def timeline(self, model: str, *, window: str | timedelta = "1h", since: Any = None,
                 until: Any = None, bucket: str | timedelta = "5m") -> pd.DataFrame:
        """Volume, error rate and latency per ``bucket`` over a window, computed in DuckDB."""
        name, _, _ = self.resolve(model)
        end = _utc(until) or datetime.now(UTC)
        start = _utc(since) or end - parse_window(window)
        scan = self.scan(name)
        if scan is None:
            return pd.DataFrame(columns=["bucket", "n", "error_rate", "latency_p50", "latency_p95",
                                         "latency_p99"])
        return self.repo.timeline(scan, start, end, int(parse_window(bucket).total_seconds()))
