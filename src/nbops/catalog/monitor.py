"""SQL for monitoring: alert rules, alert events and deliveries, report history.

Everything is append-only (see migration 4); the current rule and the current
alert state are the latest rows, read through ``v_alert_rules`` / ``v_alert_state``.
The prediction/outcome logs are Parquet files read with ``read_parquet``: see
:func:`window_summary` and friends, which take the scan expression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog, sql_str
from nbops.catalog.monitor_records import (
    AlertEventRow,
    AlertRuleRow,
    DeliveryRow,
    ReportRow,
)
from nbops.catalog.records import columns
from nbops.errors import NotFound

EXACT_QUANTILE_ROWS = 50_000_000
_RULE_COLS = ", ".join(columns(AlertRuleRow))
_EVENT_COLS = ", ".join(columns(AlertEventRow))


class MonitorRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- rules --------------------------------------------------------------
    def rule_revision(self, con: duckdb.DuckDBPyConnection, name: str) -> tuple[int, bool]:
        row = con.execute("SELECT revision, deleted FROM alert_rules WHERE name = ? "
                          "ORDER BY revision DESC LIMIT 1", [name]).fetchone()
        return (0, False) if row is None else (int(row[0]), not row[1])

    def insert_rule(self, con: duckdb.DuckDBPyConnection, row: AlertRuleRow) -> None:
        self.catalog.insert(con, "alert_rules", [row])

    def rule(self, name: str) -> AlertRuleRow:
        rows = self.catalog.fetchall(f"SELECT {_RULE_COLS} FROM v_alert_rules WHERE name = ?", [name])
        if not rows:
            raise NotFound(f"no alert rule {name!r}", hint="list rules with `nbops monitor rules list`")
        return AlertRuleRow(*rows[0])

    def rules(self, model: str | None = None) -> list[AlertRuleRow]:
        where, params = ("WHERE model = ?", [model]) if model else ("", [])
        rows = self.catalog.fetchall(f"SELECT {_RULE_COLS} FROM v_alert_rules {where} ORDER BY name",
                                     params)
        return [AlertRuleRow(*r) for r in rows]

    # -- alert state --------------------------------------------------------
    def states(self, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, AlertEventRow]:
        sql = f"SELECT {_EVENT_COLS} FROM v_alert_state"
        rows = con.execute(sql).fetchall() if con is not None else self.catalog.fetchall(sql)
        return {r[1]: AlertEventRow(*r) for r in rows}

    def insert_event(self, con: duckdb.DuckDBPyConnection, row: AlertEventRow) -> None:
        self.catalog.insert(con, "alert_events", [row])

    def events(self, rule: str | None = None, limit: int = 100) -> pd.DataFrame:
        where, params = ("WHERE rule_name = ?", [rule]) if rule else ("", [])
        return self.catalog.query(f"SELECT {_EVENT_COLS} FROM alert_events {where} "
                                  f"ORDER BY ts DESC, event_id LIMIT {int(limit)}", params)

    def current_alerts(self) -> pd.DataFrame:
        return self.catalog.query(f"SELECT {_EVENT_COLS} FROM v_alert_state ORDER BY ts DESC")

    def insert_deliveries(self, con: duckdb.DuckDBPyConnection, rows: list[DeliveryRow]) -> None:
        self.catalog.insert(con, "alert_deliveries", rows)

    def deliveries(self, fire_id: str | None = None) -> pd.DataFrame:
        where, params = ("WHERE fire_id = ?", [fire_id]) if fire_id else ("", [])
        return self.catalog.query(f"SELECT * FROM alert_deliveries {where} ORDER BY ts", params)

    # -- report history -----------------------------------------------------
    def insert_report(self, con: duckdb.DuckDBPyConnection, rows: list[ReportRow]) -> None:
        self.catalog.insert(con, "monitor_reports", rows)

    def report_history(self, model: str | None = None, metric: str | None = None) -> pd.DataFrame:
        conds, params = [], []
        if model:
            conds.append("model = ?")
            params.append(model)
        if metric:
            conds.append("metric = ?")
            params.append(metric)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        return self.catalog.query(f"SELECT * FROM monitor_reports {where} "
                                  "ORDER BY window_end, section, metric, feature", params)

    # -- prediction logs (Parquet) ------------------------------------------
    def window_summary(self, scan: str, since: datetime, until: datetime) -> dict[str, Any]:
        """Volume, error rate and latency percentiles of the logged predictions in a window.

        Percentiles are exact (linear interpolation, as DuckDB's ``quantile_cont``): up to
        ``EXACT_QUANTILE_ROWS`` latencies are fetched and selected with numpy, three times
        faster than DuckDB's sort here; larger windows use DuckDB's ``approx_quantile``.
        """
        import numpy as np

        where, params = _window_filter(), _window_params(since, until)
        n, n_errors, n_lat, mean = self.catalog.fetchall(
            f"SELECT count(*), count(error), count(latency_ms), avg(latency_ms) FROM {scan} "
            f"WHERE {where}", params)[0]
        q: list[Any] = [None, None, None]
        if n_lat and n_lat <= EXACT_QUANTILE_ROWS:
            lat = self.catalog.query(f"SELECT latency_ms FROM {scan} WHERE {where} "
                                     "AND latency_ms IS NOT NULL", params)["latency_ms"]
            q = [float(x) for x in np.quantile(lat.to_numpy(np.float64), [0.5, 0.95, 0.99])]
        elif n_lat:
            q = list(self.catalog.fetchall(
                f"SELECT approx_quantile(latency_ms, [0.5, 0.95, 0.99]) FROM {scan} "
                f"WHERE {where}", params)[0][0])
        return {"n": int(n), "n_errors": int(n_errors), "latency_p50": q[0],
                "latency_p95": q[1], "latency_p99": q[2], "latency_mean": mean}

    def window_rows(self, scan: str, since: datetime, until: datetime,
                    columns_sql: str = "*") -> pd.DataFrame:
        return self.catalog.query(f"SELECT {columns_sql} FROM {scan} WHERE {_window_filter()}",
                                  _window_params(since, until))

    def joined_outcomes(self, scan: str, outcome_scan: str, since: datetime,
                        until: datetime) -> pd.DataFrame:
        """Predictions of the window with their outcome (latest per request id), where known."""
        sql = f"""WITH p AS (SELECT request_id, prediction, score FROM {scan}
                             WHERE {_window_filter()} AND error IS NULL),
                  o AS (SELECT request_id, arg_max(y_true, ts) AS y_true FROM {outcome_scan}
                        WHERE date >= CAST(? AS DATE) GROUP BY request_id)
                  SELECT p.prediction, p.score, o.y_true FROM p JOIN o USING (request_id)"""
        return self.catalog.query(sql, [*_window_params(since, until), since])

    def requests(self, scan: str, request_id: str, limit: int = 2) -> list[dict[str, Any]]:
        """Logged predictions whose request id is ``request_id`` or starts with it."""
        sql = (f"SELECT * FROM {scan} WHERE request_id = ? OR starts_with(request_id, ?) "
               f"ORDER BY request_id = ? DESC, ts LIMIT {int(limit)}")
        return self.catalog.query(sql, [request_id, request_id, request_id]).to_dict("records")

    def outcomes_of(self, outcome_scan: str, request_id: str) -> list[dict[str, Any]]:
        """Every outcome logged for one request, oldest first."""
        return self.catalog.query(f"SELECT ts, y_true FROM {outcome_scan} WHERE request_id = ? "
                                  "ORDER BY ts", [request_id]).to_dict("records")

    def timeline(self, scan: str, since: datetime, until: datetime, bucket_s: int) -> pd.DataFrame:
        sql = f"""SELECT time_bucket(to_seconds({int(bucket_s)}), ts, ?::TIMESTAMPTZ) AS bucket,
                  count(*) AS n, count(error) / count(*) AS error_rate,
                  quantile_cont(latency_ms, 0.5) AS latency_p50,
                  quantile_cont(latency_ms, 0.95) AS latency_p95,
                  quantile_cont(latency_ms, 0.99) AS latency_p99
                  FROM {scan} WHERE {_window_filter()} GROUP BY ALL ORDER BY bucket"""
        return self.catalog.query(sql, [since, *_window_params(since, until)])

    def columns_of(self, scan: str) -> list[str]:
        return [r[0] for r in self.catalog.fetchall(f"DESCRIBE SELECT * FROM {scan}")]

    def column_types(self, scan: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.catalog.fetchall(f"DESCRIBE SELECT * FROM {scan}")}

    def traffic_buckets(self, scan: str, since: datetime, until: datetime,
                        bucket_s: int) -> pd.DataFrame:
        """Predictions, errors, mean latency and exact latency percentiles (``quantile_cont``)
        per bucket (see :func:`bucketed`)."""
        key, where, params, bucket = bucketed("", since, until, bucket_s)
        return self.catalog.query(
            f"""WITH g AS (SELECT {bucket} AS bucket, count(*)::BIGINT AS n,
                                  count(error)::BIGINT AS n_errors, avg(latency_ms) AS latency_mean,
                                  quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q
                           FROM (SELECT {key}, error, latency_ms FROM {scan} WHERE {where})
                           GROUP BY ALL)
                SELECT bucket, n, n_errors, latency_mean, q[1] AS latency_p50, q[2] AS latency_p95,
                       q[3] AS latency_p99 FROM g ORDER BY bucket""", params)

    def performance_buckets(self, scan: str, outcome_scan: str | None, since: datetime,
                            until: datetime, bucket_s: int, *, regression: bool, numeric: bool,
                            joined: str | None = None) -> pd.DataFrame:
        """Per bucket of prediction time: predictions with a known outcome (the latest per
        request id, as :meth:`joined_outcomes`) and their accuracy, or MAE and RMSE. ``joined``
        (a ``FROM`` item aliased ``p`` with prediction and y_true) replaces the join of the
        logs when the pairs are already made (the rollups)."""
        key, where, params, bucket = bucketed("p.", since, until, bucket_s)
        cast = "DOUBLE" if numeric else "VARCHAR"
        err = "(prediction::DOUBLE - y_true::DOUBLE)"
        sums = (f"sum(abs({err})) AS s1, sum({err} * {err}) AS s2" if regression
                else f"sum((prediction::{cast} = y_true::{cast})::DOUBLE) AS s1, 0 AS s2")
        metrics = ("sum(s1) / sum(k) AS mae, sqrt(sum(s2) / sum(k)) AS rmse" if regression
                   else "sum(s1) / sum(k) AS accuracy")
        if joined is None:
            outcomes = f"""o AS (SELECT request_id, arg_max(y_true, ts) AS y_true FROM {outcome_scan}
                                 WHERE date >= CAST(? AS DATE) GROUP BY request_id),"""
            source, cond, params = (f"{scan} p JOIN o USING (request_id)", "AND p.error IS NULL",
                                    [since.date(), *params])
        else:  # the pairs hold the latest outcome: dropped when older than the logs' outcome scan
            outcomes, source, cond = "", joined, "AND p.o_ts >= ?::TIMESTAMPTZ"
            params = [*params, datetime.combine(since.date(), time(), UTC)]
        sql = f"""WITH {outcomes}
                  g AS (SELECT {key}, count(*) AS k, {sums} FROM {source}
                        WHERE {where} {cond} GROUP BY ALL)
                  SELECT {bucket} AS bucket, sum(k)::BIGINT AS n_outcomes, {metrics}
                  FROM g GROUP BY ALL ORDER BY bucket"""
        return self.catalog.query(sql, params)

    # -- one feature's distribution in a window ---------------------------------
    def feature_histogram(self, scan: str, since: datetime, until: datetime, column: str,
                          edges: list[float]) -> tuple[int, list[int]]:
        """Non-missing values of a numeric column in a window and their counts per bin
        (-inf, e0], (e0, e1], ..., (ek, +inf) (as ``numpy.searchsorted(edges, v, 'left')``),
        counted by DuckDB's ``histogram`` over the hour partitions (see :func:`bucketed`)."""
        _, where, params, _ = bucketed("", since, until, 3600)
        v = f"{sql_ident(column)}::DOUBLE"
        n, keys, counts = self.catalog.fetchall(
            f"""SELECT n, map_keys(h), map_values(h) FROM (
                    SELECT count(v) AS n, histogram(v, ?::DOUBLE[]) AS h
                    FROM (SELECT {v} AS v FROM {scan} WHERE {where}) WHERE NOT isnan(v))""",
            [edges, *params])[0]
        return edge_counts(n, dict(zip(keys or [], counts or [], strict=True)), edges)

    def feature_range(self, scan: str, since: datetime, until: datetime, column: str,
                      glob: str | None = None) -> tuple[float | None, float | None]:
        """Smallest and largest non-missing value of a numeric column in a window: from the
        Parquet footers' statistics of the window's hour partitions when ``glob`` (the files of
        ``scan``) is given and every row group has them (no value is read: a few ms), else by
        scanning the column. Footers cover whole hours: a window inside an hour gets its hour's."""
        if glob is not None:
            lo, hi, missing = self.catalog.fetchall(
                f"""SELECT min(TRY_CAST(stats_min_value AS DOUBLE)),
                           max(TRY_CAST(stats_max_value AS DOUBLE)),
                           count(*) FILTER (WHERE TRY_CAST(stats_min_value AS DOUBLE) IS NULL
                                            OR TRY_CAST(stats_max_value AS DOUBLE) IS NULL)
                    FROM (SELECT *, (regexp_extract(file_name, 'date=([0-9-]+)', 1)::DATE
                                     + regexp_extract(file_name, 'hour=([0-9]+)', 1)::INTEGER
                                     * INTERVAL 1 HOUR) AS hour_start
                          FROM parquet_metadata({sql_str(glob)}) WHERE path_in_schema = ?)
                    WHERE hour_start >= date_trunc('hour', ?::TIMESTAMPTZ AT TIME ZONE 'UTC')
                      AND hour_start < (?::TIMESTAMPTZ AT TIME ZONE 'UTC')""",
                [column, since, until])[0]
            if not missing and lo is not None and not (math.isnan(lo) or math.isnan(hi)):
                return float(lo), float(hi)
        _, where, params, _ = bucketed("", since, until, 3600)
        lo, hi = self.catalog.fetchall(
            f"SELECT min(v), max(v) FROM (SELECT {sql_ident(column)}::DOUBLE AS v FROM {scan} "
            f"WHERE {where}) WHERE NOT isnan(v)", params)[0]
        return lo, hi

    def feature_counts(self, scan: str, since: datetime, until: datetime, column: str,
                       limit: int = 50) -> pd.DataFrame:
        """The ``limit`` most frequent values of a column in a window (value, n) and the number of
        non-missing values in all (``total``, repeated on every row)."""
        _, where, params, _ = bucketed("", since, until, 3600)
        return self.catalog.query(
            f"""SELECT value, n, sum(n) OVER ()::BIGINT AS total FROM (
                    SELECT {sql_ident(column)} AS value, count(*) AS n FROM {scan}
                    WHERE {where} AND {sql_ident(column)} IS NOT NULL GROUP BY 1)
                ORDER BY n DESC, value::VARCHAR LIMIT {int(limit)}""", params)


def hourly(since: datetime, until: datetime, bucket_s: int) -> bool:
    """Whether ``[since, until)`` cut into ``bucket_s`` buckets is made of whole log partitions."""
    return bucket_s % 3600 == 0 and since.timestamp() % 3600 == 0 and until.timestamp() % 3600 == 0


def _window_filter(alias: str = "") -> str:
    # The date/hour predicates prune whole partitions before any file is opened.
    a = alias
    return (f"{a}date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) "
            f"AND ({a}date::TIMESTAMP + {a}hour * INTERVAL 1 HOUR) "
            "BETWEEN date_trunc('hour', ?::TIMESTAMPTZ AT TIME ZONE 'UTC') "
            "AND (?::TIMESTAMPTZ AT TIME ZONE 'UTC') "
            f"AND {a}ts >= ? AND {a}ts < ?")


def _window_params(since: datetime, until: datetime) -> list[Any]:
    return [since.date(), until.date(), since, until, since, until]


def bucketed(alias: str, since: datetime, until: datetime,
              bucket_s: int) -> tuple[str, str, list[Any], str]:
    """(group key, filter, parameters, bucket expression over the key) of a window cut into
    ``bucket_s`` buckets from ``since``. Whole-hour buckets over a window on hour boundaries
    group by the partition columns (constant per file: no timestamp is decoded, which keeps a
    dashboard over millions of predictions fast); other buckets group by ``ts``."""
    origin, size = int(since.timestamp()), int(bucket_s)
    if hourly(since, until, bucket_s):
        d0, d1 = since.date(), until.date()
        h0, h1 = since.hour, until.hour
        where = (f"{alias}date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) "
                 f"AND ({alias}date > CAST(? AS DATE) OR {alias}hour >= {h0}) "
                 f"AND ({alias}date < CAST(? AS DATE) OR {alias}hour < {h1})")
        start = "(epoch(date::TIMESTAMP)::BIGINT + hour * 3600)"
        return (f"{alias}date AS date, {alias}hour AS hour", where, [d0, d1, d0, d1],
                f"make_timestamp(({origin} + ({start} - {origin}) // {size} * {size}) * 1000000)")
    key = f"({origin} + (epoch_us({alias}ts) // 1000000 - {origin}) // {size} * {size}) AS b"
    return (key, _window_filter(alias), _window_params(since, until), "make_timestamp(b * 1000000)")


def training_datasets(catalog: Catalog, run_id: str) -> list[dict[str, Any]]:
    """The datasets a run read (its lineage inputs), largest first: drift's default reference."""
    df = catalog.query("SELECT name, object_key, format, n_rows, n_cols FROM artifacts "
                       "WHERE run_id = ? AND role = 'input' AND kind = 'dataset' "
                       "ORDER BY n_rows DESC NULLS LAST, name", [run_id])
    return df.to_dict("records")



def sql_ident(column: str) -> str:
    """A column name quoted for SQL."""
    return '"' + column.replace('"', '""') + '"'


def parquet_scan(source: str | Sequence[str]) -> str:
    """``read_parquet`` over hive-partitioned log files (a glob, or a list of paths) with typed
    partition columns."""
    files = sql_str(source) if isinstance(source, str) else \
        "[" + ", ".join(sql_str(p) for p in source) + "]"
    return (f"read_parquet({files}, hive_partitioning = true, union_by_name = true, "
            "hive_types = {'date': DATE, 'hour': INTEGER})")


def edge_counts(n: int, by_edge: dict[float, int], edges: Sequence[float]) -> tuple[int, list[int]]:
    """DuckDB ``histogram(v, edges)`` counts (edge → count, values above the last edge left
    out) as the bins (-inf, e0], (e0, e1], ..., (ek, +inf), given ``n`` values in all."""
    inner = [int(by_edge.get(e, 0)) for e in edges]
    return int(n), [*inner, int(n) - sum(inner)]
