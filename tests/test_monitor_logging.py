"""Prediction logging: nothing lost at volume, nothing raised, hour partitions, compaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import S3Server, s3_config

import nbops.monitor as mon
from nbops.monitor.files import LogFiles
from nbops.monitor.logger import PredictionLogger
from nbops.workspace import Workspace


def _logger(ws: Workspace, **kw: object) -> PredictionLogger:
    return PredictionLogger(LogFiles.for_settings(ws.settings), **kw)  # type: ignore[arg-type]


def test_logging_at_volume_from_threads_loses_no_row(workspace: Workspace) -> None:
    lg = _logger(workspace, flush_rows=20_000, flush_interval_s=0.05)
    rng = np.random.default_rng(0)

    def producer(k: int) -> None:
        for i in range(50):
            X = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
            ids = [f"{k}-{i}-{j}" for j in range(1000)]
            lg.log_predictions("churn", X, X["a"].to_numpy() > 0, request_ids=ids,
                               latency_ms=np.full(1000, 3.0))

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lg.close()
    assert lg.stats()["failures"] == 0
    rep = mon.report("churn", window="1h", drift=False, store=False, ws=workspace)
    assert rep.summary["n"] == 200_000
    got = workspace.sql("SELECT count(DISTINCT request_id) AS n FROM read_parquet(?, "
                        "hive_partitioning = true)", [lg.files.glob("predictions", "churn")])
    assert int(got["n"][0]) == 200_000


def test_logging_errors_never_raise_and_are_counted(workspace: Workspace, tmp_path: Path) -> None:
    lg = _logger(workspace, flush_interval_s=3600)
    assert lg.log_predictions("m", np.ones((3, 2)), [1, 2]) == []  # 3 feature rows, 2 predictions
    lg.log_outcomes(["a", "b"], [1])  # lengths differ
    assert lg.stats()["failures"] == 2
    assert "predictions" in lg.stats()["last_error"] or "y_true" in lg.stats()["last_error"]

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the log directory should be")
    broken = PredictionLogger(LogFiles(str(blocked), lg.files.fs, str(blocked)), flush_interval_s=3600)
    broken.log_predictions("m", np.ones((5, 1)), np.zeros(5))
    broken.flush()  # the write fails: counted, rows kept for the next flush
    s = broken.stats()
    assert s["failures"] == 1 and s["errors_by_kind"] == {"write": 1}
    assert s["rows_buffered"] == 5 and s["rows_written"] == 0
    broken.close()


def test_buffer_cap_drops_oldest_rows_and_counts_them(workspace: Workspace, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    lg = PredictionLogger(LogFiles(str(blocked), LogFiles.for_settings(workspace.settings).fs,
                                   str(blocked)), flush_rows=10, max_buffer_rows=25,
                          flush_interval_s=3600)
    for _ in range(5):
        lg.log_predictions("m", np.ones((10, 1)), np.zeros(10))
    s = lg.stats()
    assert s["rows_logged"] == 50 and s["rows_buffered"] <= 25
    assert s["rows_dropped"] + s["rows_buffered"] == 50


def test_rows_land_in_their_hour_partition_and_windows_read_only_them(workspace: Workspace) -> None:
    lg = _logger(workspace, flush_interval_s=3600)
    t0 = datetime(2026, 1, 5, 10, 30)
    stamps = np.array([t0 + timedelta(hours=h) for h in (0, 0, 1, 25)], dtype="datetime64[us]")
    lg.log_predictions("m", np.arange(4.0).reshape(4, 1), np.zeros(4), timestamp=stamps)
    lg.flush()
    parts = lg.files.partitions("predictions")
    assert parts == ["predictions/model=m/date=2026-01-05/hour=10",
                     "predictions/model=m/date=2026-01-05/hour=11",
                     "predictions/model=m/date=2026-01-06/hour=11"]
    rep = mon.report("m", since=t0.replace(tzinfo=UTC), until=t0.replace(tzinfo=UTC) + timedelta(hours=2), drift=False, store=False,
                     ws=workspace)
    assert rep.summary["n"] == 3


def test_small_files_are_compacted_without_losing_rows(workspace: Workspace) -> None:
    lg = _logger(workspace, flush_interval_s=3600, compact_min_files=10**9)
    for i in range(12):
        lg.log_predictions("m", np.full((10, 1), float(i)), np.zeros(10))
        lg.flush()
    (part,) = lg.files.partitions("predictions")
    assert len(lg.files.files(part)) == 12
    assert mon.compact(ws=workspace) == 12
    assert len(lg.files.files(part)) == 1
    rep = mon.report("m", drift=False, store=False, ws=workspace)
    assert rep.summary["n"] == 120


def test_automatic_compaction_when_a_partition_has_many_files(workspace: Workspace) -> None:
    lg = _logger(workspace, flush_interval_s=3600, compact_min_files=5)
    for _ in range(5):
        lg.log_predictions("m", np.ones((2, 1)), np.zeros(2))
        lg.flush()
    (part,) = lg.files.partitions("predictions")
    assert len(lg.files.files(part)) == 1 and lg.stats()["files_compacted"] == 5


def test_time_flush_writes_without_an_explicit_flush(workspace: Workspace) -> None:
    lg = _logger(workspace, flush_interval_s=0.05)
    lg.log_predictions("m", np.ones((3, 1)), np.zeros(3))
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while lg.stats()["rows_written"] < 3 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    assert lg.stats()["rows_written"] == 3
    lg.close()


@pytest.mark.parametrize(("features", "predictions"), [(None, None), (np.ones((4, 2)), [1, 2])])
def test_module_level_logging_never_raises(workspace: Workspace, features: object,
                                           predictions: object) -> None:
    assert mon.log_predictions("m", features, predictions, ws=workspace) == []
    assert mon.get_logger(workspace).stats()["errors_by_kind"] == {"log_predictions": 1}


@pytest.mark.slow
def test_logs_on_s3_are_written_read_and_compacted(workspace_dir: Path, moto_server: S3Server,
                                                   s3_bucket: str) -> None:
    import nbops
    from nbops.config import init_workspace

    home = init_workspace()
    (home / "config.toml").write_text(s3_config(
        moto_server, s3_bucket, catalog_url=f"ducklake:sqlite:{home / 'catalog.sqlite'}"))
    with nbops.open(create=False) as ws:
        lg = _logger(ws, flush_interval_s=3600)
        for _ in range(3):
            lg.log_predictions("m", pd.DataFrame({"x": np.arange(100.0)}), np.zeros(100),
                               latency_ms=np.full(100, 7.0))
            lg.flush()
        assert lg.stats()["failures"] == 0
        keys = [o["Key"] for o in moto_server.client().list_objects_v2(
            Bucket=s3_bucket, Prefix="data/monitor/")["Contents"]]
        assert len(keys) == 3 and all("/model=m/date=" in k for k in keys)
        rep = mon.report("m", reference=pd.DataFrame({"x": np.arange(100.0)}), store=False, ws=ws)
        assert rep.summary["n"] == 300 and rep.summary["latency_p50"] == 7.0
        assert rep.drift.set_index("column").loc["x", "drifted"] == False  # noqa: E712
        assert mon.compact(ws=ws) == 3
        assert mon.report("m", drift=False, store=False, ws=ws).summary["n"] == 300
