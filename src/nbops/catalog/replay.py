"""SQL for replaying runs: the runs, edges, artifacts, params and metrics of many runs at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbops.catalog.core import Catalog

_RUN_COLUMNS = ("run_id, name, kind, status, notebook, cell_id, execution_count, started_at, "
                "pipeline_run_id, error, tags, code")


class ReplayRepository:
    """Reads only: a replay never writes to the catalog itself (its pipeline run does)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _for_runs(self, sql: str, run_ids: Sequence[str], order: str = "") -> pd.DataFrame:
        ids = pd.DataFrame({"run_id": list(dict.fromkeys(run_ids))}, dtype=object)
        return self.catalog.query(f"{sql} WHERE run_id IN (SELECT run_id FROM _nbops_ids) {order}",
                                  frames={"_nbops_ids": ids})

    def runs(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """run_id -> the run's row with its code, for the given runs."""
        df = self._for_runs(f"SELECT {_RUN_COLUMNS} FROM v_runs", run_ids)
        return {r["run_id"]: r for r in df.to_dict("records")}

    def edges(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The lineage rows the given runs wrote (reads of variables, data, hidden state)."""
        df = self._for_runs("SELECT run_id, src_kind, src_ref, dst_kind, dst_ref, relation FROM lineage",
                            run_ids, "ORDER BY run_id, relation, src_ref")
        return list(df.to_dict("records"))

    def artifacts(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Artifact rows (with their version) of the given runs."""
        df = self._for_runs(
            "SELECT run_id, name, kind, role, fingerprint, version, shape, metadata, object_key, "
            "skipped_reason FROM v_artifacts", run_ids, "ORDER BY run_id, role, name")
        return list(df.to_dict("records"))

    def params(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        df = self._for_runs("SELECT run_id, key, value, value_type FROM params", run_ids)
        return list(df.to_dict("records"))

    def metrics(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        df = self._for_runs("SELECT run_id, key, value FROM v_metrics_latest", run_ids)
        return list(df.to_dict("records"))

    def runs_of_pipeline(self, pipeline_run_id: str) -> list[dict[str, Any]]:
        """The runs recorded inside one pipeline run, in the order they started."""
        df = self.catalog.query(
            f"SELECT {_RUN_COLUMNS} FROM v_runs WHERE pipeline_run_id = ? ORDER BY started_at, run_id",
            [pipeline_run_id])
        return list(df.to_dict("records"))

    def runs_of_notebooks(self, notebooks: Sequence[str]) -> list[dict[str, Any]]:
        """Every run recorded from the given notebooks, oldest first."""
        if not notebooks:
            return []
        marks = ", ".join("?" * len(notebooks))
        df = self.catalog.query(
            f"SELECT {_RUN_COLUMNS} FROM v_runs WHERE notebook IN ({marks}) ORDER BY started_at, run_id",
            list(notebooks))
        return list(df.to_dict("records"))

    def runs_without_notebook(self, start: Any, end: Any) -> list[dict[str, Any]]:
        """Runs with no notebook path (a console, a shell) that started in [start, end]."""
        df = self.catalog.query(
            f"SELECT {_RUN_COLUMNS} FROM v_runs WHERE notebook IS NULL AND started_at BETWEEN ? AND ? "
            "ORDER BY started_at, run_id", [start, end])
        return list(df.to_dict("records"))
