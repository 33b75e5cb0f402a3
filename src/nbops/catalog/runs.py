"""SQL for runs and everything a run writes: code, environments, params, metrics, lineage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.records import RunBatch
from nbops.errors import NbopsError, NotFound

_SORTABLE = {"started_at", "ended_at", "duration_ms", "name", "status", "run_id", "user_name"}


def _first_of_each(rows: Sequence[Any], key: str, wanted: set[str]) -> list[Any]:
    """The rows whose ``key`` is in ``wanted``, one per key (a batch may repeat a shared row)."""
    out, seen = [], set()
    for row in rows:
        k = getattr(row, key)
        if k in wanted and k not in seen:
            seen.add(k)
            out.append(row)
    return out


def _pivot(long: Any, prefix: str, runs: Any, n: int, only_listed: bool) -> dict[str, Any]:
    """``prefix.key`` columns, aligned to ``runs``, from long (run_id, key, value[, value_type]) rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.index_in(long["run_id"], value_set=runs["run_id"]).fill_null(-1).to_numpy(zero_copy_only=False)
    if only_listed:
        listed = at >= 0
        long, at = long.filter(pa.array(listed)), at[listed]
    cols: dict[str, Any] = {}
    for key in sorted(pc.unique(long["key"]).to_pylist()):
        mask = pc.equal(long["key"], key)
        rows = long.filter(mask)
        cols[f"{prefix}.{key}"] = _column(rows, at[mask.to_numpy(zero_copy_only=False)], n)
    return cols


def _column(rows: Any, at: Any, n: int) -> Any:
    """One key's values placed at their runs' rows; missing values are NaN."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = at >= 0
    at = at[keep]
    values = rows["value"]
    if "value_type" in rows.column_names:  # params are strings; numbers when logged as numbers
        types = set(pc.unique(rows["value_type"]).to_pylist())
        if not types <= {"int", "float"}:
            out = np.full(n, None, dtype=object)
            out[at] = values.to_numpy(zero_copy_only=False)[keep]
            return pd.array(out, dtype="str")
        whole = types == {"int"} and len(np.unique(at)) == n
        try:
            values = pc.cast(values, pa.int64() if whole else pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            whole, values = False, pc.cast(values, pa.float64())  # integers beyond int64
        if whole:
            out = np.zeros(n, dtype=np.int64)
            out[at] = values.to_numpy(zero_copy_only=False)[keep]
            return out
    out = np.full(n, np.nan)
    out[at] = values.to_numpy(zero_copy_only=False)[keep]
    return out


class RunRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # Content-keyed rows (code, environments, objects) are never rewritten or removed, so
        # once one is committed this process need not look for it again: a run then costs no
        # reads at all when its code and environment are unchanged.
        self._present: dict[str, set[str]] = {"code": set(), "environments": set(), "objects": set()}

    def _missing(self, con: duckdb.DuckDBPyConnection, table: str, column: str,
                 keys: Sequence[str]) -> set[str]:
        unknown = list(dict.fromkeys(k for k in keys if k not in self._present[table]))
        if not unknown:
            return set()
        marks = ", ".join("?" * len(unknown))
        present = {r[0] for r in con.execute(
            f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", unknown).fetchall()}
        return set(unknown) - present

    def save(self, batch: RunBatch) -> None:
        """Write a run and all its rows in one commit (shared rows only once)."""
        cat = self.catalog
        shared: list[tuple[str, str, Sequence[Any], list[str]]] = [
            ("code", "code_hash", batch.code, [c.code_hash for c in batch.code]),
            ("environments", "env_hash", batch.envs, [e.env_hash for e in batch.envs]),
            ("objects", "object_key", batch.objects, [o.object_key for o in batch.objects])]

        def write(con: duckdb.DuckDBPyConnection) -> None:
            for table, column, rows, keys in shared:
                new = self._missing(con, table, column, keys)
                cat.insert(con, table, _first_of_each(rows, column, new))
            cat.insert(con, "runs", [batch.run])
            cat.insert(con, "params", batch.params)
            cat.insert(con, "metrics", batch.metrics)
            cat.insert(con, "artifacts", batch.artifacts)
            cat.insert(con, "lineage", batch.lineage)

        cat.transaction(write)
        for table, _, _, keys in shared:
            self._present[table].update(keys)

    def count(self, notebook: str | None = None) -> int:
        """How many runs there are (in one notebook, when given)."""
        where, args = ("WHERE notebook = ?", [notebook]) if notebook else ("", [])
        rows = self.catalog.fetchall(f"SELECT count(*) FROM runs {where}", args)
        return int(rows[0][0])

    def resolve_id(self, run_ref: str) -> str:
        """Full run id from an id or a unique prefix of one."""
        rows = self.catalog.fetchall(
            "SELECT run_id FROM runs WHERE run_id = ? OR starts_with(run_id, ?) LIMIT 2", [run_ref, run_ref]
        )
        exact = [r[0] for r in rows if r[0] == run_ref]
        if exact:
            return exact[0]
        if not rows:
            raise NotFound(f"no run {run_ref!r}", hint="list runs with `nbops runs`")
        if len(rows) > 1:
            raise NotFound(f"run prefix {run_ref!r} is ambiguous", hint="give more characters")
        return str(rows[0][0])

    def _runs_select(self, limit: int | None, sort: str, descending: bool,
                     notebook: str | None) -> tuple[str, list[Any]]:
        if sort not in _SORTABLE:
            raise NbopsError(f"cannot sort by {sort!r}",
                             hint=f"choose one of {', '.join(sorted(_SORTABLE))}, metric.X or param.X")
        where, args = ("WHERE notebook = ?", [notebook]) if notebook else ("", [])
        order = f"ORDER BY {sort} {'DESC' if descending else 'ASC'}, run_id"
        lim = f"LIMIT {int(limit)}" if limit else ""
        return (f"SELECT run_id, name, kind, status, user_name, started_at, duration_ms, notebook, "
                f"execution_count, pipeline_run_id FROM runs {where} {order} {lim}", args)

    def runs_frame(self, *, limit: int | None = None, sort: str = "started_at", descending: bool = True,
                   notebook: str | None = None) -> pd.DataFrame:
        return self.catalog.query(*self._runs_select(limit, sort, descending, notebook))

    def runs_wide(self, *, limit: int | None = None, sort: str = "started_at", descending: bool = True,
                  notebook: str | None = None, only_listed: bool = False) -> pd.DataFrame:
        """:meth:`runs_frame` plus a ``param.X`` column per parameter and a ``metric.Y`` column
        per metric (its latest value).

        A parameter whose values were all logged as numbers comes back numeric (int64 when
        all are integers and every listed run has one, float64 otherwise), any other as
        strings. With ``only_listed`` the columns come from the listed runs' values only,
        else from all runs'. The three tables are read once, from one snapshot, and pivoted
        in memory.
        """
        sel, args = self._runs_select(limit, sort, descending, notebook)
        runs, params, metrics = self.catalog.arrow_many([
            (sel, args),
            ("SELECT run_id, key, value, value_type FROM params", []),
            ("SELECT run_id, key, value FROM v_metrics_latest", []),
        ])
        frame = self.catalog.query("SELECT * FROM _nbops_runs", frames={"_nbops_runs": runs}, local=True)
        n = len(frame)
        cols = {**_pivot(params, "param", runs, n, only_listed), **_pivot(metrics, "metric", runs, n, only_listed)}
        if not cols:
            return frame
        return pd.concat([frame, pd.DataFrame(cols, index=frame.index)], axis=1)

    def params_long(self, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
        return self._for_runs("SELECT run_id, key, value, value_type FROM params", run_ids)

    def metrics_latest(self, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
        return self._for_runs("SELECT run_id, key, value FROM v_metrics_latest", run_ids)

    def metric_history(self, run_id: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT key, step, value, ts FROM metrics WHERE run_id = ? ORDER BY key, step, ts", [run_id])

    def _for_runs(self, sql: str, run_ids: Sequence[str] | None) -> pd.DataFrame:
        if run_ids is None:
            return self.catalog.query(sql)
        if not run_ids:
            return self.catalog.query(sql + " WHERE false")
        ids = pd.DataFrame({"run_id": list(run_ids)})
        return self.catalog.query(sql + " WHERE run_id IN (SELECT run_id FROM _nbops_ids)",
                                  frames={"_nbops_ids": ids})

    def run_details(self, run_id: str) -> dict[str, Any]:
        run = self.catalog.query("SELECT * FROM v_runs WHERE run_id = ?", [run_id])
        if run.empty:
            raise NotFound(f"no run {run_id!r}")
        env = self.catalog.query(
            "SELECT * FROM environments WHERE env_hash = ? LIMIT 1", [run.at[0, "env_hash"]])
        return {
            "run": run.iloc[0].to_dict(),
            "params": self.params_long([run_id]),
            "metrics": self.metric_history(run_id),
            "artifacts": self.catalog.query(
                "SELECT * FROM v_artifacts WHERE run_id = ? ORDER BY role, kind, name", [run_id]),
            "lineage": self.catalog.query("SELECT * FROM lineage WHERE run_id = ?", [run_id]),
            "environment": env.iloc[0].to_dict() if not env.empty else {},
        }

    # -- tracking: versions, lineage, diff --------------------------------
    def artifact_versions(self, run_id: str, kind: str | None = None) -> dict[str, int]:
        """name -> version of the artifacts a run wrote."""
        where, args = "run_id = ? AND role = 'output' AND version IS NOT NULL", [run_id]
        if kind:
            where += " AND kind = ?"
            args.append(kind)
        rows = self.catalog.fetchall(f"SELECT name, version FROM v_artifacts WHERE {where}", args)
        return {str(r[0]): int(r[1]) for r in rows}

    def model_versions(self, name: str) -> dict[str, int]:
        """fingerprint -> version of the models stored under ``name``."""
        rows = self.catalog.fetchall(
            "SELECT DISTINCT fingerprint, version FROM v_artifacts WHERE name = ? AND kind = 'model' "
            "AND version IS NOT NULL", [name])
        return {str(r[0]): int(r[1]) for r in rows}

    def all_model_versions(self) -> dict[str, dict[str, int]]:
        """name -> fingerprint -> version of every model in the catalog."""
        rows = self.catalog.fetchall(
            "SELECT DISTINCT name, fingerprint, version FROM v_artifacts WHERE kind = 'model' "
            "AND version IS NOT NULL")
        out: dict[str, dict[str, int]] = {}
        for name, fp, version in rows:
            out.setdefault(str(name), {})[str(fp)] = int(version)
        return out

    def lineage_edges(self, run_id: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT src_kind, src_ref, dst_kind, dst_ref, relation FROM lineage WHERE run_id = ? "
            "ORDER BY relation, src_ref", [run_id])

    def writers_of(self, artifact_refs: Sequence[str]) -> dict[str, str]:
        """'name:fingerprint' -> the run that first wrote it."""
        if not artifact_refs:
            return {}
        marks = ", ".join("?" * len(artifact_refs))
        rows = self.catalog.fetchall(
            f"SELECT dst_ref, arg_min(run_id, created_at) FROM lineage WHERE dst_kind = 'artifact' "
            f"AND relation = 'wrote' AND dst_ref IN ({marks}) GROUP BY dst_ref", list(artifact_refs))
        return {str(r[0]): str(r[1]) for r in rows}

    def run_heads(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """run_id -> name, cell_id, status, started_at, for a few runs."""
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        df = self.catalog.query(
            f"SELECT run_id, name, cell_id, status, started_at, execution_count, notebook "
            f"FROM runs WHERE run_id IN ({marks})", list(run_ids))
        return {r["run_id"]: r for r in df.to_dict("records")}
