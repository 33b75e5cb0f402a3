"""show.monitor over whole hours reads per-hour rollups of the logs: what it shows must equal
what reading the logs gives, however the logs changed since the rollups were made."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from test_widgets_monitor_ab import START, fill_monitoring
from widgets_support import opened

import nbops
import nbops.monitor as mon
from nbops import show
from nbops.monitor.files import LogFiles
from nbops.monitor.reporting import Monitor

UNTIL = START + timedelta(hours=3)


@pytest.fixture
def logged(tmp_path):
    with opened(tmp_path) as ws:
        fill_monitoring(ws)
        yield ws


def _dashboard(ws: Any, keep: bool = False) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a fallback to the logs would hide a rollup bug
        d = show.monitor("churn@prod", window="3h", until=UNTIL, bucket="1h", ws=ws)
    if keep:
        return d
    d.close()
    return d.data


def _from_logs(ws: Any) -> tuple[list[Any], ...]:
    """Volume, errors, accuracy and outcomes known per hour, as the monitor's reports read them
    (None where an hour has no outcome)."""
    reps = [mon.report("churn@prod", since=START + timedelta(hours=i),
                       until=START + timedelta(hours=i + 1), drift=False, store=False, ws=ws)
            for i in range(3)]
    return ([r.summary["n"] for r in reps], [r.summary["n_errors"] for r in reps],
            [r.performance.get("accuracy") for r in reps],
            [r.performance.get("n_outcomes") or None for r in reps])


def _shown(data: dict[str, Any]) -> tuple[list[Any], ...]:
    t, p = data["traffic"], data["performance"]
    hours = [START + timedelta(hours=i) for i in range(3)]
    assert [b.to_pydatetime() for b in t["bucket"]] == hours
    perf = {b.to_pydatetime(): r for b, r in zip(p["bucket"], p.to_dict("records"), strict=True)}
    return (t["n"].tolist(), t["n_errors"].tolist(),
            [perf[h]["accuracy"] if h in perf else None for h in hours],
            [perf[h]["n_outcomes"] if h in perf else None for h in hours])


def _assert_same(shown: tuple[list[Any], ...], logs: tuple[list[Any], ...]) -> None:
    assert shown[0] == logs[0] and shown[1] == logs[1] and shown[3] == logs[3]
    assert shown[2] == pytest.approx(logs[2])


def test_latency_percentiles_per_hour_are_within_one_percent_of_the_logged_latencies(logged):
    d = _dashboard(logged, keep=True)
    data = d.data
    root = Path(LogFiles.for_settings(logged.settings).root)
    lat = pd.read_parquet(root / "predictions" / "model=churn", columns=["ts", "latency_ms"])
    hour = pd.to_datetime(lat["ts"]).dt.floor("1h")
    t = data["traffic"]
    assert len(t) == 3
    for i, (_, row) in enumerate(t.iterrows()):
        values = lat.loc[hour == hour.min() + pd.Timedelta(hours=i), "latency_ms"].to_numpy()
        for q in (50, 95, 99):
            exact = np.percentile(values, q, method="inverted_cdf")  # the nearest-rank latency
            assert row[f"latency_p{q}"] == pytest.approx(exact, rel=0.0101)
        assert row["latency_mean"] == pytest.approx(values.mean())
    for q in ("p50", "p95", "p99"):  # drawn as a line each, on the latency row
        trace = next(t for t in d.fig.data if t.name == f"latency {q}")
        assert list(trace.y) == pytest.approx(t[f"latency_{q}"].tolist()) and trace.yaxis == "y3"
    assert d.fig.layout.yaxis3.title.text == "latency (ms)"
    d.close()


def test_logs_written_after_the_first_dashboard_count_as_if_read_again(logged):
    ws = logged
    before = _shown(_dashboard(ws))  # builds the rollups
    _assert_same(before, _from_logs(ws))
    rng = np.random.default_rng(7)
    # more predictions in the last hour, and outcomes that overturn earlier ones of the first hour
    X = pd.DataFrame({"tenure": rng.normal(30, 12, 300), "spend": rng.gamma(2, 30, 300)})
    stamps = np.datetime64((START + timedelta(hours=2, minutes=30)).replace(tzinfo=None), "us")
    new_ids = mon.log_predictions("churn@prod", X, np.ones(300, int), latency_ms=np.full(300, 5.0),
                                  timestamp=[stamps] * 300, ws=ws)
    root = Path(LogFiles.for_settings(ws.settings).root)
    first = pd.read_parquet(root / "predictions" / "model=churn", columns=["request_id", "ts", "prediction"])
    first = first[pd.to_datetime(first["ts"]).dt.hour == START.hour].head(200)
    mon.log_outcomes(first["request_id"].tolist(), 1 - first["prediction"].to_numpy(),
                     timestamp=UNTIL + timedelta(minutes=5), ws=ws)
    mon.log_outcomes(new_ids[:100], np.zeros(100, int), timestamp=UNTIL, ws=ws)
    mon.flush(ws)
    d = _dashboard(ws, keep=True)
    shown, logs = _shown(d.data), _from_logs(ws)
    # the distribution overlay counts the new batch too, per bin as numpy does
    feature = d.overlay.feature
    values = pd.read_parquet(root / "predictions" / "model=churn", columns=[f"f__{feature}"])[f"f__{feature}"]
    assert d.overlay.n_current == len(values) == 2100
    edges = [*d.overlay.bins["left"], d.overlay.bins["right"].iloc[-1]]
    inner = np.diff(np.searchsorted(np.sort(values.to_numpy()), edges, side="right"))
    assert d.overlay.bins["n_current"].tolist() == inner.tolist()
    d.close()
    assert shown[0][2] == 900 and shown[3][2] == before[3][2] + 100  # the new batch: last hour
    assert shown[2][0] < before[2][0] - 0.2  # 200 of the first hour's outcomes overturned
    _assert_same(shown, logs)


def test_compacted_and_deleted_logs_are_followed(logged):
    ws = logged
    files = LogFiles.for_settings(ws.settings)
    _dashboard(ws)
    for part in files.partitions("outcomes") + files.partitions("predictions"):
        files.compact(part, min_files=1)  # one file each, under new names
    _assert_same(_shown(_dashboard(ws)), _from_logs(ws))
    outcome_part = files.partitions("outcomes")[0]
    for path in files.files(outcome_part):
        Path(path).unlink()  # outcomes withdrawn: their accuracy must go with them
    shown, logs = _shown(_dashboard(ws)), _from_logs(ws)
    _assert_same(shown, logs)
    assert shown[3][0] is None and shown[3][1] == 392  # the first hour's outcomes are gone


def test_a_damaged_rollup_warns_shows_the_logs_and_is_rebuilt(logged):
    ws = logged
    expected = _from_logs(ws)
    _dashboard(ws)
    cache = Path(ws.settings.home) / "cache" / "monitor" / "churn"
    (cache / "hourly.parquet").write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="rollups unavailable"):
        d = show.monitor("churn@prod", window="3h", until=UNTIL, bucket="1h", ws=ws)
    _assert_same(_shown(d.data), expected)
    d.close()
    _assert_same(_shown(_dashboard(ws)), expected)  # no warning: rebuilt


@pytest.mark.slow
def test_logs_on_s3_are_rolled_up_locally(workspace_dir, moto_server, s3_bucket):
    from servers import s3_config

    from nbops.config import init_workspace

    home = init_workspace()
    (home / "config.toml").write_text(s3_config(
        moto_server, s3_bucket, catalog_url=f"ducklake:sqlite:{home / 'catalog.sqlite'}"))
    with nbops.open(create=False) as ws:
        fill_monitoring(ws)
        _assert_same(_shown(_dashboard(ws)), _from_logs(ws))
        assert (home / "cache" / "monitor" / "churn" / "hourly.parquet").exists()
        keys = [o["Key"] for o in moto_server.client().list_objects_v2(
            Bucket=s3_bucket, Prefix="data/monitor/predictions/")["Contents"]]
        assert len(keys) >= 3  # the logs stay on S3


# -- awkward logs, written file by file as the logger lays them out ------------------------
T0 = datetime(2026, 6, 1, 0, tzinfo=UTC)


def _preds(ids: list[str], ts: list[datetime], pred: list[int], lat: list[float] | None = None,
           extra: dict[str, Any] | None = None) -> pa.Table:
    n = len(ids)
    return pa.table({"request_id": pa.array(ids), "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                     "model": pa.array(["m"] * n), "model_version": pa.array([1] * n, pa.int64()),
                     "latency_ms": pa.array(lat or [1.0] * n, pa.float64()),
                     "error": pa.nulls(n, pa.string()), "prediction": pa.array(pred, pa.int64()),
                     "score": pa.nulls(n, pa.float64()), **(extra or {})})


def _outs(ids: list[str], ts: list[datetime], y: list[int]) -> pa.Table:
    return pa.table({"request_id": pa.array(ids), "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                     "y_true": pa.array(y, pa.int64())})


def _write(files: LogFiles, kind: str, t: datetime, table: pa.Table, hour: str | None = None) -> None:
    part = files.partition(kind, "m" if kind == "predictions" else None, f"{t:%Y-%m-%d}", t.hour)
    files.write(part if hour is None else part.rsplit("=", 1)[0] + "=" + hour, table)


def _rolled_vs_logs(ws: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(volume, outcomes, accuracy) of the hour from T0: as the dashboard shows it, and as
    the monitoring queries read it from the logs."""
    m = Monitor(ws)
    scan, outcomes = m.scan("m"), m.outcome_scan()
    assert scan is not None and outcomes is not None
    d = _dashboard_of(ws, "m", T0 + timedelta(hours=1))
    t, p = d["traffic"], d["performance"]
    logs_t = m.repo.traffic_buckets(scan, T0, T0 + timedelta(hours=1), 3600)
    logs_p = m.repo.performance_buckets(scan, outcomes, T0, T0 + timedelta(hours=1), 3600,
                                        regression=False, numeric=True)
    shown = (t["n"].tolist(), p["n_outcomes"].tolist(), p["accuracy"].tolist())
    return shown, (logs_t["n"].tolist(), logs_p["n_outcomes"].tolist(), logs_p["accuracy"].tolist())


def _dashboard_of(ws: Any, model: str, until: datetime) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        d = show.monitor(model, window="1h", until=until, bucket="1h", ws=ws)
    d.close()
    return d.data


def test_awkward_logs_are_shown_as_the_logs_say(tmp_path):
    with opened(tmp_path) as ws:
        files = LogFiles.for_settings(ws.settings)
        t = T0 + timedelta(minutes=1)
        # one request id predicted twice in one batch, and an outcome for it
        _write(files, "predictions", T0, _preds(["a", "a", "b"], [t, t, t], [1, 1, 0]))
        _write(files, "outcomes", T0, _outs(["a"], [t + timedelta(minutes=5)], [1]))
        # an outcome stamped the day before its prediction (a skewed clock) is not counted
        _write(files, "predictions", T0, _preds(["x"], [t], [1]))
        _write(files, "outcomes", T0 - timedelta(hours=1), _outs(["x"], [T0 - timedelta(seconds=1)], [0]))
        # a NaN latency, and the same hour in a folder named hour=0 besides hour=00
        _write(files, "predictions", T0, _preds(["n"], [t], [1], lat=[float("nan")]), hour="0")
        shown, logs = _rolled_vs_logs(ws)
        assert shown == logs == ([5], [2], [1.0])
        _write(files, "outcomes", T0, _outs(["b"], [t + timedelta(minutes=6)], [0]))  # merged in
        shown, logs = _rolled_vs_logs(ws)
        assert shown == logs == ([5], [3], [1.0])


def test_feature_histograms_follow_new_columns_and_odd_names(tmp_path):
    from nbops.catalog.monitor import bucketed
    from nbops.monitor.rollup import Rollup

    with opened(tmp_path) as ws:
        files = LogFiles.for_settings(ws.settings)
        m = Monitor(ws)
        _write(files, "predictions", T0, _preds(["a"], [T0], [1]))
        until = T0 + timedelta(hours=2)
        _, where, params, _ = bucketed("", T0, until, 3600)
        rollup = Rollup(ws.catalog, files, ws.settings.home, "m")
        for column in ("f__km/h", "f__new"):
            edges = [0.5, 1.5]
            with rollup.fresh() as r:
                assert r.histogram(column, edges, where, params) == (0, [0, 0, 0])  # not logged yet
            later = T0 + timedelta(hours=1)  # a later model version logs the feature
            _write(files, "predictions", later, _preds(["b", "c"], [later] * 2, [1, 0],
                                                       extra={column: pa.array([1.0, 2.0])}))
            with rollup.fresh() as r:
                got = r.histogram(column, edges, where, params)
            scan = m.scan("m")
            assert scan is not None
            assert got == m.repo.feature_histogram(scan, T0, until, column, edges) == (2, [0, 1, 1])
