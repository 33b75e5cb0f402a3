"""SQL for runs and everything a run writes: code, environments, params, metrics, lineage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.records import RunBatch
from nbops.errors import NotFound

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


def _quote(text: str, mark: str) -> str:
    return mark + text.replace(mark, mark * 2) + mark


def _pivot_col(prefix: str, key: str, numeric: bool, whole: bool) -> str:
    value = f"TRY_CAST(value AS {'BIGINT' if whole else 'DOUBLE'})" if numeric and prefix == "param" else "value"
    return f"any_value({value}) FILTER (WHERE key = {_quote(key, chr(39))}) AS {_quote(f'{prefix}.{key}', chr(34))}"


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

        def write(con: duckdb.DuckDBPyConnection) -> None:
            new_code = self._missing(con, "code", "code_hash", [c.code_hash for c in batch.code])
            cat.insert(con, "code", _first_of_each(batch.code, "code_hash", new_code))
            new_env = self._missing(con, "environments", "env_hash", [e.env_hash for e in batch.envs])
            cat.insert(con, "environments", _first_of_each(batch.envs, "env_hash", new_env))
            new_obj = self._missing(con, "objects", "object_key", [o.object_key for o in batch.objects])
            cat.insert(con, "objects", _first_of_each(batch.objects, "object_key", new_obj))
            cat.insert(con, "runs", [batch.run])
            cat.insert(con, "params", batch.params)
            cat.insert(con, "metrics", batch.metrics)
            cat.insert(con, "artifacts", batch.artifacts)
            cat.insert(con, "lineage", batch.lineage)

        cat.transaction(write)
        self._present["code"].update(c.code_hash for c in batch.code)
        self._present["environments"].update(e.env_hash for e in batch.envs)
        self._present["objects"].update(o.object_key for o in batch.objects)

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
            raise ValueError(f"cannot sort by {sort!r}; choose one of {sorted(_SORTABLE)}")
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
        all are integers and none is missing, float64 otherwise), any other as strings.
        With ``only_listed`` the columns come from the listed runs' values only, else from all.
        Each catalog table is read once, into Arrow; the pivot runs on those in memory.
        """
        sel, args = self._runs_select(limit, sort, descending, notebook)
        cat = self.catalog
        runs = cat.arrow(sel, args)
        ids = {"_nbops_ids": runs.select(["run_id"])} if only_listed else None
        where = " WHERE run_id IN (SELECT run_id FROM _nbops_ids)" if only_listed else ""
        frames = {
            "_nbops_runs": runs,
            "_nbops_params": cat.arrow(f"SELECT run_id, key, value, value_type FROM params{where}", frames=ids),
            "_nbops_metrics": cat.arrow(f"SELECT run_id, key, value FROM v_metrics_latest{where}", frames=ids),
        }
        keys = cat.fetchall(
            "SELECT 'param', key, bool_and(value_type IN ('int', 'float')), "
            "bool_and(value_type = 'int' AND TRY_CAST(value AS BIGINT) IS NOT NULL) "
            "FROM _nbops_params GROUP BY key "
            "UNION ALL SELECT 'metric', key, true, false FROM _nbops_metrics GROUP BY key",
            frames=frames, local=True)
        params = sorted((str(k), bool(num), bool(whole)) for kind, k, num, whole in keys if kind == "param")
        metrics = sorted(str(k) for kind, k, *_ in keys if kind == "metric")
        ctes, joins, picks = [], [], ["r.*"]
        for name, source, cols in (
            ("pw", "_nbops_params", [_pivot_col("param", k, num, whole) for k, num, whole in params]),
            ("mw", "_nbops_metrics", [_pivot_col("metric", k, True, False) for k in metrics]),
        ):
            if cols:
                ctes.append(f"{name} AS (SELECT run_id, {', '.join(cols)} FROM {source} GROUP BY run_id)")
                joins.append(f"LEFT JOIN {name} ON {name}.run_id = r.run_id")
                picks.append(f"{name}.* EXCLUDE (run_id)")
        with_ = f"WITH {', '.join(ctes)} " if ctes else ""
        order = f"ORDER BY r.{sort} {'DESC' if descending else 'ASC'}, r.run_id"
        frame = cat.query(f"{with_}SELECT {', '.join(picks)} FROM _nbops_runs r {' '.join(joins)} {order}",
                          frames=frames, local=True)
        for col in frame.columns[frame.dtypes.map(lambda t: isinstance(t, pd.Int64Dtype))]:
            if col.startswith("param."):
                frame[col] = frame[col].astype("float64")  # an integer param missing somewhere
        return frame

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
