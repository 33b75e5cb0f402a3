"""SQL for registered models, their versions, aliases and validation results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.governance_records import (
    AliasEventRow,
    ModelRow,
    ModelVersionRow,
    ValidationRow,
)

Con = duckdb.DuckDBPyConnection | None


class ModelRepository:
    """Reads take ``con`` inside a transaction (so they join its snapshot) or None outside one."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _rows(self, con: Con, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if con is None:
            return self.catalog.fetchall(sql, list(args))
        return con.execute(sql, list(args)).fetchall()

    def _dicts(self, con: Con, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if con is None:
            return self.catalog.query(sql, list(args)).to_dict("records")
        cur = con.execute(sql, list(args))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- models and versions ---------------------------------------------
    def model(self, con: Con, name: str) -> dict[str, Any] | None:
        rows = self._dicts(con, "SELECT * FROM registered_models WHERE name = ? "
                                "ORDER BY created_at LIMIT 1", [name])
        return rows[0] if rows else None

    def add_model(self, con: duckdb.DuckDBPyConnection, row: ModelRow) -> None:
        self.catalog.insert(con, "registered_models", [row])

    def set_intended_use(self, con: duckdb.DuckDBPyConnection, name: str, text: str) -> None:
        con.execute("UPDATE registered_models SET intended_use = ? WHERE name = ?", [text, name])

    def next_version(self, con: duckdb.DuckDBPyConnection, name: str) -> int:
        row = con.execute("SELECT coalesce(max(version), 0) FROM model_versions WHERE name = ?",
                          [name]).fetchone()
        return int(row[0] if row else 0) + 1

    def add_version(self, con: duckdb.DuckDBPyConnection, row: ModelVersionRow) -> None:
        self.catalog.insert(con, "model_versions", [row])

    def version(self, con: Con, name: str, version: int) -> dict[str, Any] | None:
        rows = self._dicts(con, "SELECT * FROM model_versions WHERE name = ? AND version = ?",
                           [name, version])
        return rows[0] if rows else None

    def latest_version(self, con: Con, name: str) -> int | None:
        rows = self._rows(con, "SELECT max(version) FROM model_versions "
                               "WHERE name = ? AND status <> 'deleted'", [name])
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_status(self, con: duckdb.DuckDBPyConnection, name: str, version: int, status: str) -> None:
        con.execute("UPDATE model_versions SET status = ? WHERE name = ? AND version = ?",
                    [status, name, version])

    # -- aliases ----------------------------------------------------------
    def alias_event(self, con: Con, name: str, alias: str) -> dict[str, Any] | None:
        """The latest move of ``alias`` (its ``version`` is the current holder)."""
        rows = self._dicts(con, "SELECT * FROM alias_events WHERE name = ? AND alias = ? "
                                "ORDER BY audit_seq DESC LIMIT 1", [name, alias])
        return rows[0] if rows else None

    def aliases_of(self, con: Con, name: str, version: int) -> list[str]:
        rows = self._rows(con, "SELECT alias FROM v_aliases WHERE name = ? AND version = ? "
                               "ORDER BY alias", [name, version])
        return [str(r[0]) for r in rows]

    def add_alias_event(self, con: duckdb.DuckDBPyConnection, row: AliasEventRow) -> None:
        self.catalog.insert(con, "alias_events", [row])

    # -- validations and metrics -----------------------------------------
    def add_validation(self, con: duckdb.DuckDBPyConnection, row: ValidationRow) -> None:
        self.catalog.insert(con, "validations", [row])

    def validations(self, con: Con, name: str, version: int) -> dict[str, dict[str, Any]]:
        """The latest result of each gate for one version."""
        rows = self._dicts(con, "SELECT * FROM validations WHERE name = ? AND version = ? "
                                "ORDER BY audit_seq", [name, version])
        return {r["gate"]: r for r in rows}

    def run_metrics(self, con: Con, run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        rows = self._rows(con, "SELECT key, value FROM v_metrics_latest WHERE run_id = ?", [run_id])
        return {str(k): float(v) for k, v in rows}

    # -- frames for people ------------------------------------------------
    def models_frame(self) -> pd.DataFrame:
        return self.catalog.query(
            """SELECT m.name, m.description, count(v.version) AS versions,
                      max(v.version) AS latest,
                      (SELECT string_agg(a.alias || '=v' || a.version, ', ' ORDER BY a.alias)
                       FROM v_aliases a WHERE a.name = m.name) AS aliases,
                      m.created_by, m.created_at
               FROM registered_models m
               LEFT JOIN model_versions v ON v.name = m.name AND v.status <> 'deleted'
               GROUP BY ALL ORDER BY m.name""")

    def versions_frame(self, name: str) -> pd.DataFrame:
        return self.catalog.query(
            "SELECT name, version, status, aliases, run_id, artifact_name, fingerprint, description, "
            "created_by, created_at FROM v_model_versions WHERE name = ? ORDER BY version", [name])

    def alias_history(self, name: str, alias: str | None = None) -> pd.DataFrame:
        where, args = ("AND alias = ?", [name, alias]) if alias else ("", [name])
        return self.catalog.query(
            "SELECT alias, version, previous_version, kind, reason, actor, ts, audit_seq "
            f"FROM alias_events WHERE name = ? {where} ORDER BY audit_seq", args)

    def artifact_row(self, run_id: str | None, artifact_name: str | None,
                     fingerprint: str | None) -> dict[str, Any] | None:
        rows = self._dicts(None, "SELECT * FROM v_artifacts WHERE run_id = ? AND name = ? "
                                 "AND fingerprint = ? LIMIT 1", [run_id, artifact_name, fingerprint])
        return rows[0] if rows else None

    def producing_artifact(self, fingerprint: str) -> dict[str, Any] | None:
        """The first run output with this content (so a registered object keeps its training lineage)."""
        rows = self._dicts(None, "SELECT * FROM v_artifacts WHERE fingerprint = ? AND role = 'output' "
                                 "AND object_key IS NOT NULL ORDER BY created_at LIMIT 1", [fingerprint])
        return rows[0] if rows else None

    def alias_events(self, con: Con, name: str, alias: str) -> list[dict[str, Any]]:
        return self._dicts(con, "SELECT * FROM alias_events WHERE name = ? AND alias = ? "
                                "ORDER BY audit_seq", [name, alias])
