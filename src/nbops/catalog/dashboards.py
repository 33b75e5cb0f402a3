"""SQL the dashboards need beyond the other repositories: many runs' step histories and edges,
registry versions made from runs, and a model's gates and approvals."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from nbops.catalog.core import Catalog


class DashboardRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _for_runs(self, sql: str, run_ids: Sequence[str], order: str) -> pd.DataFrame:
        ids = pd.DataFrame({"run_id": pd.Series(list(run_ids), dtype=object)})
        return self.catalog.query(f"{sql} WHERE run_id IN (SELECT run_id FROM _nbops_ids) {order}",
                                  frames={"_nbops_ids": ids})

    def metric_steps(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> pd.DataFrame:
        """run_id, key, step, value for a few runs (the latest value per step)."""
        frame = self._for_runs(
            "SELECT run_id, key, step, arg_max(value, ts) AS value FROM metrics", run_ids,
            "GROUP BY run_id, key, step ORDER BY run_id, key, step")
        return frame[frame["key"].isin(list(keys))] if keys is not None else frame

    def lineage_for_runs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        return self._for_runs(
            "SELECT run_id, src_kind, src_ref, dst_kind, dst_ref, relation FROM lineage", run_ids,
            "ORDER BY run_id, relation, src_ref")

    def versions_from_runs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Registry versions whose model was written by one of ``run_ids``."""
        return self._for_runs(
            "SELECT name, version, status, aliases, run_id, artifact_name, fingerprint, created_by, "
            "created_at FROM v_model_versions", run_ids, "ORDER BY name, version")

    def run_pipeline_runs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """run_id -> the pipeline run (and its schedule, status) it belongs to."""
        ids = pd.DataFrame({"run_id": pd.Series(list(run_ids), dtype=object)})
        return self.catalog.query(
            "SELECT r.run_id, p.pipeline_run_id, p.schedule_name, p.status, p.notebook "
            "FROM runs r JOIN v_pipeline_runs p ON p.pipeline_run_id = r.pipeline_run_id "
            "WHERE r.run_id IN (SELECT run_id FROM _nbops_ids)", frames={"_nbops_ids": ids})

    def validations_frame(self, name: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT version, gate, passed, details, recorded_by, ts FROM validations WHERE name = ? "
            "ORDER BY ts, audit_seq", [name])

    def approvals_frame(self, name: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT r.request_id, r.version, r.alias, r.status, a.actor, a.decision, a.comment, a.ts "
            "FROM approvals a JOIN promotion_requests r ON a.request_id = r.request_id "
            "WHERE r.name = ? ORDER BY a.ts", [name])

    def requests_frame(self, name: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT request_id, version, alias, status, requested_by, reason, ts FROM promotion_requests "
            "WHERE name = ? ORDER BY ts", [name])

    def artifacts_of_runs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        return self._for_runs(
            "SELECT run_id, name, fingerprint, kind, role, version, n_rows, n_cols, format FROM v_artifacts",
            run_ids, "ORDER BY run_id, role, name")
