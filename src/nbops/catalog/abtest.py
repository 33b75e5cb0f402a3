"""SQL for A/B testing: experiment revisions, pinned variants, and the Parquet logs.

Experiment state is append-only (see migration 5). Exposures and outcomes are written
as one Parquet file per batch under ``<data path>/abtest/<experiment>/<kind>/`` and
registered in ``experiment_files``; reads go through ``read_parquet`` over the listed
files, so they work the same on a local disk and on S3.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.abtest_records import (
    ExperimentRow,
    ExperimentStatus,
    FileKind,
    FileRow,
    VariantRow,
)
from nbops.catalog.core import Catalog
from nbops.catalog.records import columns

_EXP_COLS = ", ".join(columns(ExperimentRow))
Con = duckdb.DuckDBPyConnection


class ExperimentRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _rows(self, con: Con | None, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        return con.execute(sql, args).fetchall() if con is not None else self.catalog.fetchall(sql, args)

    # -- definitions and state --------------------------------------------
    def current(self, con: Con | None, name: str) -> ExperimentRow | None:
        rows = self._rows(con, f"SELECT {_EXP_COLS} FROM v_experiments WHERE name = ?", [name])
        return ExperimentRow(*rows[0]) if rows else None

    def revisions(self, con: Con | None, name: str) -> list[ExperimentRow]:
        rows = self._rows(con, f"SELECT {_EXP_COLS} FROM experiments WHERE name = ? ORDER BY revision",
                          [name])
        return [ExperimentRow(*r) for r in rows]

    def variants(self, con: Con | None, name: str) -> list[VariantRow]:
        rows = self._rows(con, "SELECT * FROM v_experiment_variants WHERE experiment = ? "
                               "ORDER BY variant", [name])
        return [VariantRow(*r) for r in rows]

    def append(self, con: Con, row: ExperimentRow, variants: list[VariantRow] | None = None) -> None:
        self.catalog.insert(con, "experiments", [row])
        if variants:
            self.catalog.insert(con, "experiment_variants", variants)

    def frame(self, status: str | None = None) -> pd.DataFrame:
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        return self.catalog.query(
            "SELECT name, status, mode, unit, variants, weights, winner, started_at, changed_at, "
            f"changed_by FROM v_experiments {where} ORDER BY name", args)

    def serving(self, con: Con, model_name: str, version: int) -> list[str]:
        """Running experiments one of whose variants is ``model_name`` v``version``."""
        rows = con.execute(
            "SELECT DISTINCT e.name FROM v_experiments e JOIN v_experiment_variants v "
            "ON v.experiment = e.name WHERE e.status = ? AND v.model_name = ? "
            "AND v.model_version = ? ORDER BY e.name",
            [str(ExperimentStatus.RUNNING), model_name, version]).fetchall()
        return [r[0] for r in rows]

    # -- Parquet logs ------------------------------------------------------
    def files(self, experiment: str, kind: FileKind) -> list[str]:
        rows = self.catalog.fetchall(
            "SELECT path FROM experiment_files WHERE experiment = ? AND kind = ? ORDER BY written_at",
            [experiment, str(kind)])
        return [r[0] for r in rows]

    def write_batch(self, experiment: str, kind: FileKind, frame: Any, user: str) -> str:
        """Write ``frame`` (an Arrow table or DataFrame) as one Parquet file, then list it in the catalog (one commit)."""
        base = self.catalog.settings.data_path.rstrip("/")
        stamp = datetime.now(UTC)
        name = f"{stamp:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.parquet"
        path = f"{base}/abtest/{experiment}/{kind}/{name}"
        if path.startswith("s3://"):  # through DuckDB's httpfs and the catalog's S3 secret
            self.catalog.query(f"COPY (SELECT * FROM _nbops_batch) TO '{_quote(path)}' "
                               "(FORMAT parquet, COMPRESSION zstd)", frames={"_nbops_batch": frame})
        else:  # pyarrow writes a batch ~3x faster than DuckDB's COPY; rename makes it atomic
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(table, path + ".tmp", compression="zstd")
            os.replace(path + ".tmp", path)
        row = FileRow(experiment, str(kind), path, len(frame), stamp, user)
        self.catalog.transaction(lambda con: self.catalog.insert(con, "experiment_files", [row]))
        return path

    def first_exposures(self, experiment: str) -> dict[str, str]:
        """Each exposed unit's variant at its first (served) exposure."""
        files = self.files(experiment, FileKind.EXPOSURES)
        if not files:
            return {}
        rows = self.catalog.fetchall(
            "SELECT unit_id, arg_min(variant, ts) FROM read_parquet(?) WHERE NOT shadow "
            "GROUP BY unit_id", [files])
        return dict(rows)

    def _units_sql(self, experiment: str, agg: str) -> tuple[str, dict[str, Any]] | None:
        """CTE ``u``: one row per exposed unit, its first variant and aggregated outcome (or NULL)."""
        exposures = self.files(experiment, FileKind.EXPOSURES)
        if not exposures:
            return None
        outcomes = self.files(experiment, FileKind.OUTCOMES)
        fn = {"max": "max", "sum": "sum", "mean": "avg"}[agg]
        o_sql = (f"SELECT unit_id, {fn}(value) AS value FROM read_parquet($o) GROUP BY unit_id"
                 if outcomes else "SELECT NULL::VARCHAR AS unit_id, NULL::DOUBLE AS value LIMIT 0")
        sql = ("WITH e AS (SELECT unit_id, arg_min(variant, ts) AS variant, min(ts) AS first_ts "
               f"FROM read_parquet($e) WHERE NOT shadow GROUP BY unit_id), o AS ({o_sql}), "
               "u AS (SELECT e.unit_id, e.variant, o.value, e.first_ts FROM e LEFT JOIN o USING (unit_id)) ")
        args: dict[str, Any] = {"e": exposures}
        if outcomes:
            args["o"] = outcomes
        return sql, args

    def unit_outcomes(self, experiment: str, agg: str) -> pd.DataFrame:
        """One row per exposed unit: its first variant and its aggregated outcome (or NULL)."""
        q = self._units_sql(experiment, agg)
        if q is None:
            return pd.DataFrame({"unit_id": [], "variant": [], "value": []})
        return self.catalog.query(q[0] + "SELECT unit_id, variant, value FROM u", q[1])  # type: ignore[arg-type]

    def variant_summary(self, experiment: str, agg: str, missing_as_zero: bool) -> pd.DataFrame:
        """Per variant: exposed units, units with a value, sum and sum of squares of the values."""
        q = self._units_sql(experiment, agg)
        if q is None:
            return pd.DataFrame({"variant": [], "units": [], "n": [], "total": [], "total_sq": []})
        v = "coalesce(value, 0)" if missing_as_zero else "value"
        return self.catalog.query(
            q[0] + f"SELECT variant, count(*) AS units, count({v}) AS n, "
            f"coalesce(sum({v}), 0) AS total, coalesce(sum({v} * {v}), 0) AS total_sq "
            "FROM u GROUP BY variant", q[1])  # type: ignore[arg-type]

    def variant_timeline(self, experiment: str, agg: str, missing_as_zero: bool,
                         buckets: int = 60) -> pd.DataFrame:
        """``variant_summary`` per bucket of the units' first exposure (about ``buckets``
        equal buckets from the first to the last): bucket end, variant, units, n, total, total_sq."""
        q = self._units_sql(experiment, agg)
        if q is None:
            return pd.DataFrame({"bucket": [], "variant": [], "units": [], "n": [], "total": [],
                                 "total_sq": []})
        v = "coalesce(value, 0)" if missing_as_zero else "value"
        return self.catalog.query(
            q[0] + ", s AS (SELECT epoch_us(min(first_ts)) AS t0, "
            f"greatest((epoch_us(max(first_ts)) - epoch_us(min(first_ts))) // {int(buckets)}, 1) AS w FROM u) "
            "SELECT make_timestamp(t0 + least((epoch_us(first_ts) - t0) // w + 1, "
            f"{int(buckets)}) * w) AS bucket, variant, count(*) AS units, count({v}) AS n, "
            f"coalesce(sum({v}), 0) AS total, coalesce(sum({v} * {v}), 0) AS total_sq "
            "FROM u, s GROUP BY ALL ORDER BY bucket, variant", q[1])  # type: ignore[arg-type]

    def variant_health(self, experiment: str) -> pd.DataFrame:
        """Per variant (served and shadow): predictions, errors, units."""
        files = self.files(experiment, FileKind.EXPOSURES)
        if not files:
            return pd.DataFrame({"variant": [], "requests": [], "errors": [], "units": []})
        return self.catalog.query(
            "SELECT variant, count(*) AS requests, count(error) AS errors, "
            "count(DISTINCT unit_id) AS units FROM read_parquet(?) GROUP BY variant ORDER BY variant",
            [files])

    def shadow_agreement(self, experiment: str, control: str) -> float | None:
        """Share of shadow requests where the shadow variant predicted what control answered."""
        files = self.files(experiment, FileKind.EXPOSURES)
        if not files:
            return None
        rows = self.catalog.fetchall(
            "WITH x AS (SELECT * FROM read_parquet(?)) "
            "SELECT avg(CASE WHEN c.prediction = s.prediction THEN 1.0 ELSE 0.0 END) "
            "FROM x c JOIN x s ON c.request_id = s.request_id AND s.shadow "
            "WHERE NOT c.shadow AND c.variant = ? AND c.error IS NULL AND s.error IS NULL",
            [files, control])
        return None if not rows or rows[0][0] is None else float(rows[0][0])


def _quote(path: str) -> str:
    return path.replace("'", "''")
