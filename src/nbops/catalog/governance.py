"""SQL for role grants, policies, promotion requests and approvals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.governance_records import ApprovalRow, PolicyRow, RequestRow, RoleGrantRow

Con = duckdb.DuckDBPyConnection | None


class GovernanceRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _dicts(self, con: Con, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if con is None:
            return self.catalog.query(sql, list(args)).to_dict("records")
        cur = con.execute(sql, list(args))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- roles ------------------------------------------------------------
    def current_roles(self, con: Con, principal: str | None = None) -> list[dict[str, Any]]:
        """The latest grant per (principal, scope); revoked ones (role NULL) left out."""
        return [g for g in self.latest_grants(con, principal) if g["role"] is not None]

    def latest_grants(self, con: Con, principal: str | None = None) -> list[dict[str, Any]]:
        """The latest grant per (principal, scope), revocations (role NULL) included."""
        where, args = ("WHERE principal = ?", [principal]) if principal else ("", [])
        return self._dicts(con, f"""
            SELECT principal, scope, role, granted_by, ts FROM (
                SELECT *, row_number() OVER (PARTITION BY principal, scope ORDER BY audit_seq DESC) AS rn
                FROM role_grants {where}) WHERE rn = 1
            ORDER BY scope, principal""", args)

    def any_grant(self, con: Con) -> bool:
        return bool(self._dicts(con, "SELECT 1 AS x FROM role_grants LIMIT 1"))

    def add_grant(self, con: duckdb.DuckDBPyConnection, row: RoleGrantRow) -> None:
        self.catalog.insert(con, "role_grants", [row])

    def workspace_creator(self, con: Con) -> str | None:
        rows = self._dicts(con, "SELECT applied_by FROM schema_version ORDER BY version LIMIT 1")
        return str(rows[0]["applied_by"]) if rows else None

    # -- policies ---------------------------------------------------------
    def policy(self, con: Con, name: str, alias: str) -> dict[str, Any] | None:
        """The policy for (model, alias), else the one for ("*", alias); spec None = removed."""
        rows = self._dicts(con, """
            SELECT * FROM (
                SELECT *, row_number() OVER (PARTITION BY name, alias ORDER BY audit_seq DESC) AS rn
                FROM policies WHERE alias = ? AND name IN (?, '*'))
            WHERE rn = 1 AND spec IS NOT NULL ORDER BY (name = '*') LIMIT 1""", [alias, name])
        return rows[0] if rows else None

    def add_policy(self, con: duckdb.DuckDBPyConnection, row: PolicyRow) -> None:
        self.catalog.insert(con, "policies", [row])

    def policies_frame(self, name: str | None = None) -> pd.DataFrame:
        where, args = ("AND name IN (?, '*')", [name]) if name else ("", [])
        return self.catalog.query(f"""
            SELECT name, alias, spec, set_by, ts, audit_seq FROM (
                SELECT *, row_number() OVER (PARTITION BY name, alias ORDER BY audit_seq DESC) AS rn
                FROM policies) WHERE rn = 1 AND spec IS NOT NULL {where} ORDER BY name, alias""", args)

    # -- requests and approvals ------------------------------------------
    def add_request(self, con: duckdb.DuckDBPyConnection, row: RequestRow) -> None:
        self.catalog.insert(con, "promotion_requests", [row])

    def request(self, con: Con, request_id: str) -> dict[str, Any] | None:
        rows = self._dicts(con, "SELECT * FROM promotion_requests WHERE request_id = ? "
                                "OR starts_with(request_id, ?) LIMIT 2", [request_id, request_id])
        exact = [r for r in rows if r["request_id"] == request_id]
        return exact[0] if exact else (rows[0] if len(rows) == 1 else None)

    def open_requests(self, con: Con, name: str | None = None, version: int | None = None,
                      alias: str | None = None) -> list[dict[str, Any]]:
        clauses, args = ["status IN ('pending', 'approved')"], []
        for col, val in (("name", name), ("version", version), ("alias", alias)):
            if val is not None:
                clauses.append(f"{col} = ?")
                args.append(val)
        return self._dicts(con, f"SELECT * FROM promotion_requests WHERE {' AND '.join(clauses)} "
                                "ORDER BY ts", args)

    def set_request_status(self, con: duckdb.DuckDBPyConnection, request_id: str, status: str,
                           reason: str | None) -> None:
        con.execute("UPDATE promotion_requests SET status = ?, status_reason = ? WHERE request_id = ?",
                    [status, reason, request_id])

    def add_approval(self, con: duckdb.DuckDBPyConnection, row: ApprovalRow) -> None:
        self.catalog.insert(con, "approvals", [row])

    def approvals(self, con: Con, request_id: str) -> list[dict[str, Any]]:
        return self._dicts(con, "SELECT * FROM approvals WHERE request_id = ? ORDER BY audit_seq",
                           [request_id])

    def requests_frame(self, *, status: str | None = None, name: str | None = None) -> pd.DataFrame:
        clauses, args = ["true"], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        if name:
            clauses.append("name = ?")
            args.append(name)
        return self.catalog.query(f"""
            SELECT r.request_id, r.name, r.version, r.alias, r.status, r.requested_by, r.reason, r.ts,
                   (SELECT count(*) FROM approvals a WHERE a.request_id = r.request_id
                    AND a.decision = 'approve') AS approvals, r.status_reason
            FROM promotion_requests r WHERE {' AND '.join(clauses)} ORDER BY r.ts""", args)

    def approvals_for_version(self, name: str, version: int) -> pd.DataFrame:
        return self.catalog.query("""
            SELECT r.request_id, r.alias, r.status, a.actor, a.decision, a.comment, a.ts
            FROM approvals a JOIN promotion_requests r ON a.request_id = r.request_id
            WHERE r.name = ? AND r.version = ? ORDER BY a.ts""", [name, version])
