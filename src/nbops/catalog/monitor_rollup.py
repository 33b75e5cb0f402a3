"""SQL for the per-hour rollups of a model's prediction log (see :mod:`nbops.monitor.rollup`).

Under the rollup directory, keyed by log partition (date, hour):

- ``hourly.parquet``: per partition and latency bin k, ``(γ^(k-1), γ^k]`` ms
  (``LATENCY_ZERO_BIN`` for latencies ≤ 0, NULL for none logged): the predictions c, their
  errors and latency sum. Volume, errors and mean latency of any set of partitions are sums;
  their percentiles come from the summed bin counts;
- ``joined/date=/hour=/``: ts, request_id, prediction, y_true, o_ts: the error-free
  predictions with their latest outcome, one file per partition (the bulk of the rollups).

Every write goes to a fresh file or directory the caller moves into place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbops.catalog.core import Catalog, sql_str
from nbops.catalog.monitor import edge_counts, parquet_scan, sql_ident

LATENCY_GAMMA = 1.02  # bin width: a percentile read from the bins is within 1% of a logged value
LATENCY_ZERO_BIN = -(2**31)
LATENCY_NONFINITE_BIN = 2**31 - 1  # NaN and ±inf: above every latency, as DuckDB sorts NaN
_LATEST = "arg_max(y_true, ts) AS y_true, max(ts) AS o_ts"


def files_sql(paths: Sequence[str]) -> str:
    """``read_parquet`` over an explicit list of hive-partitioned log files."""
    return parquet_scan(list(paths))


def dataset_sql(directory: str) -> str:
    return parquet_scan(directory.rstrip("/") + "/*/*/*.parquet")


def _copy(catalog: Catalog, select: str, target: str, params: Sequence[Any] | None = None,
          frames: dict[str, Any] | None = None) -> None:
    catalog.fetchall(f"COPY ({select}) TO {sql_str(target)} (FORMAT parquet, PARTITION_BY (date, hour), "
                     "COMPRESSION zstd, FILENAME_PATTERN 'part{i}')", params, frames)


class RollupQueries:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- writing ------------------------------------------------------------
    def write_hourly(self, predictions: Sequence[str], keep: str | None, drop: Sequence[str],
                     target: str) -> None:
        """Per partition of ``predictions`` and latency bin: predictions, errors and the latency
        sum, plus the rows of ``keep`` (the previous file) whose partition is not in ``drop``,
        as one file ``target``."""
        k = (f"CASE WHEN isfinite(latency_ms) AND latency_ms > 0 "
             f"THEN ceil(ln(latency_ms) / {math.log(LATENCY_GAMMA)!r})::INTEGER "
             f"WHEN isfinite(latency_ms) THEN {LATENCY_ZERO_BIN} "
             f"WHEN latency_ms IS NOT NULL THEN {LATENCY_NONFINITE_BIN} END")
        select = f"""SELECT date, hour, {k} AS k, count(*)::BIGINT AS c,
                     count(error)::BIGINT AS n_errors, sum(latency_ms) AS lat_sum
                     FROM {files_sql(predictions)} GROUP BY ALL"""
        self._rewrite(select if predictions else None, keep, drop, target)

    def columns(self, paths: Sequence[str]) -> set[str]:
        return {r[0] for r in self.catalog.fetchall(f"DESCRIBE SELECT * FROM {files_sql(paths)}")}

    def write_histogram(self, predictions: Sequence[str], column: str | None, edges: Sequence[float],
                        keep: str | None, drop: Sequence[str], target: str) -> None:
        """Per partition of ``predictions``: a numeric column's counts per bin of ``edges`` (as
        :meth:`MonitorRepository.feature_histogram`: a row per edge, and a row with edge NULL
        holding the number of non-missing values), plus ``keep``'s other partitions. ``column``
        None: the files do not have it (no values)."""
        value = f"{sql_ident(column)}::DOUBLE" if column is not None else "NULL::DOUBLE"
        edge_list = "[" + ", ".join(repr(float(e)) for e in edges) + "]::DOUBLE[]"
        select = f"""SELECT date, hour, unnest(map_keys(h)) AS edge, unnest(map_values(h))::BIGINT AS c
                     FROM (SELECT date, hour, histogram(v, {edge_list}) AS h FROM (
                           SELECT date, hour, {value} AS v FROM {files_sql(predictions)})
                           WHERE NOT isnan(v) GROUP BY ALL)
                     UNION ALL
                     SELECT date, hour, NULL::DOUBLE AS edge, count(v)::BIGINT AS c FROM (
                           SELECT date, hour, {value} AS v FROM {files_sql(predictions)})
                     WHERE NOT isnan(v) GROUP BY ALL"""
        self._rewrite(select if predictions else None, keep, drop, target)

    def histogram(self, path: str, edges: Sequence[float], where: str,
                  params: list[Any]) -> tuple[int, list[int]]:
        """(non-missing values, counts per bin of ``edges``) over the partitions of a window."""
        rows = self.catalog.fetchall(
            f"SELECT edge, sum(c)::BIGINT FROM read_parquet({sql_str(path)}) WHERE {where} GROUP BY edge",
            params)
        n = next((int(c) for e, c in rows if e is None), 0)
        return edge_counts(n, {e: int(c) for e, c in rows if e is not None}, edges)

    def _rewrite(self, select: str | None, keep: str | None, drop: Sequence[str], target: str) -> None:
        parts = [f"""SELECT * FROM read_parquet({sql_str(keep)}) WHERE NOT list_contains(?::VARCHAR[],
                     'date=' || strftime(date, '%Y-%m-%d') || '/hour=' || hour)"""] if keep else []
        parts += [select] if select else []
        if not parts:
            return
        self.catalog.fetchall(f"COPY ({' UNION ALL BY NAME '.join(parts)} ORDER BY date, hour) "
                              f"TO {sql_str(target)} (FORMAT parquet, COMPRESSION zstd)",
                              [list(drop)] if keep else None)

    def write_joined(self, predictions: Sequence[str], outcomes: Sequence[str], target: str) -> None:
        """The predictions' error-free rows with their latest outcome among ``outcomes``."""
        _copy(self.catalog, f"""WITH o AS (SELECT request_id, {_LATEST} FROM {files_sql(outcomes)}
                                           GROUP BY request_id)
                                SELECT p.date, p.hour, p.ts, p.request_id, p.prediction, o.y_true, o.o_ts
                                FROM {files_sql(predictions)} p JOIN o USING (request_id)
                                WHERE p.error IS NULL""", target)

    def merge_joined(self, predictions: Sequence[str], new_outcomes: Sequence[str],
                     joined: Sequence[str], target: str) -> list[tuple[Any, int]]:
        """Join ``new_outcomes`` to ``predictions`` and merge the matches into the existing
        ``joined`` files of the partitions they touch: a joined row takes a request's new outcome
        when it is later than its own; predictions without a joined row yet are added (every
        row of a request id, as the join of the logs counts them). Returns the (date, hour)
        partitions written to ``target``."""
        delta = self.catalog.arrow(
            f"""WITH o AS (SELECT request_id, {_LATEST} FROM {files_sql(new_outcomes)}
                           GROUP BY request_id)
                SELECT p.date, p.hour, p.ts, p.request_id, p.prediction, o.y_true, o.o_ts
                FROM {files_sql(predictions)} p JOIN o USING (request_id) WHERE p.error IS NULL""")
        if delta.num_rows == 0:
            return []
        parts = self.catalog.fetchall("SELECT DISTINCT date, hour FROM delta", frames={"delta": delta})
        keys = {(str(d), int(h)) for d, h in parts}
        old = [p for p in joined if _partition_key(p) in keys]
        if not old:
            _copy(self.catalog, "SELECT * FROM delta", target, frames={"delta": delta})
            return [(d, int(h)) for d, h in parts]
        later = "n.n_t IS NOT NULL AND n.n_t > o.o_ts"
        _copy(self.catalog, f"""
            WITH o AS (SELECT date, hour, ts, request_id, prediction, y_true, o_ts FROM {files_sql(old)}),
                 n AS (SELECT DISTINCT request_id, y_true AS n_y, o_ts AS n_t FROM delta)
            SELECT o.date, o.hour, o.ts, o.request_id, o.prediction,
                   CASE WHEN {later} THEN n.n_y ELSE o.y_true END AS y_true,
                   CASE WHEN {later} THEN n.n_t ELSE o.o_ts END AS o_ts
            FROM o LEFT JOIN n USING (request_id)
            UNION ALL BY NAME
            SELECT d.* FROM delta d ANTI JOIN o USING (request_id)""", target, frames={"delta": delta})
        return [(d, int(h)) for d, h in parts]

    # -- reading ------------------------------------------------------------
    def hourly(self, path: str, key: str, where: str, params: list[Any], bucket: str) -> pd.DataFrame:
        """Per bucket and latency bin (k NULL: no latency): c, n_errors, lat_sum."""
        return self.catalog.query(
            f"""WITH g AS (SELECT {key}, k, c, n_errors, lat_sum FROM read_parquet({sql_str(path)})
                           WHERE {where})
                SELECT {bucket} AS bucket, k, sum(c)::BIGINT AS c, sum(n_errors)::BIGINT AS n_errors,
                       sum(lat_sum) AS lat_sum FROM g GROUP BY ALL ORDER BY bucket, k""", params)


def _partition_key(path: str) -> tuple[str, int]:
    """(date, hour) of a file under ``.../date=YYYY-MM-DD/hour=H/``."""
    parts = dict(seg.split("=", 1) for seg in path.split("/") if seg.startswith(("date=", "hour=")))
    return parts["date"], int(parts["hour"])


def traffic(hourly: pd.DataFrame, qs: Sequence[float] = (0.5, 0.95, 0.99)) -> pd.DataFrame:
    """Per bucket of :meth:`RollupQueries.hourly`: n, n_errors, latency_mean and the latency
    percentiles read from summed bin counts: the bin holding the ``ceil(q·n)``-th latency
    (nearest rank), reported as its midpoint ``2γ^k/(γ+1)``, within 1% of that latency."""
    import numpy as np

    cols = [f"latency_p{round(q * 100)}" for q in qs]
    if hourly.empty:
        return pd.DataFrame(columns=["bucket", "n", "n_errors", "latency_mean", *cols])
    out = hourly.groupby("bucket", sort=True).agg(n=("c", "sum"), n_errors=("n_errors", "sum"))
    lat = hourly.dropna(subset=["k"]).sort_values(["bucket", "k"])
    by = lat.groupby("bucket", sort=True)
    out["latency_mean"] = by["lat_sum"].sum() / by["c"].sum()
    cum, total = by["c"].cumsum(), by["c"].transform("sum")
    for q, col in zip(qs, cols, strict=True):
        first = lat.loc[cum >= np.maximum(np.ceil(q * total), 1)].groupby("bucket", sort=True)["k"].first()
        k = first.to_numpy(np.float64)
        with np.errstate(over="ignore"):
            value = np.where(k == LATENCY_ZERO_BIN, 0.0, 2 * LATENCY_GAMMA ** k / (LATENCY_GAMMA + 1))
        out[col] = pd.Series(np.where(k == LATENCY_NONFINITE_BIN, np.nan, value), index=first.index)
    return out.reset_index()[["bucket", "n", "n_errors", "latency_mean", *cols]]
