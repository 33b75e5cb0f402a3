"""SQL for the audit chain: the log, its one-row head, and reads for verification."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.governance_records import AuditRow

_COLUMNS = "seq, actor, action, target, details, ts, prev_hash, hash"


class AuditRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def head(self, con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
        """(seq, hash) of the last entry, read inside the caller's transaction."""
        row = con.execute("SELECT seq, hash FROM audit_head").fetchone()
        if row is None:
            raise AssertionError("audit_head is empty; the catalog was not migrated")
        return int(row[0]), str(row[1])

    def append(self, con: duckdb.DuckDBPyConnection, entry: AuditRow) -> None:
        """Insert the entry and move the head; the UPDATE makes concurrent appenders conflict."""
        self.catalog.insert(con, "audit_log", [entry])
        con.execute("UPDATE audit_head SET seq = ?, hash = ?", [entry.seq, entry.hash])

    def rows(self) -> list[tuple[Any, ...]]:
        """Every entry in storage order of ``seq`` (duplicates and gaps kept for verification)."""
        return self.catalog.fetchall(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq, hash")

    def head_rows(self) -> list[tuple[Any, ...]]:
        return self.catalog.fetchall("SELECT seq, hash FROM audit_head")

    def frame(self, *, model: str | None = None, limit: int | None = None) -> pd.DataFrame:
        where, args = "", []
        if model:
            # Targets are "model:NAME", "model:NAME@vN", "model:NAME@alias", "request:ID (NAME ...)".
            where = "WHERE target = ? OR starts_with(target, ?) OR json_extract_string(details, '$.model') = ?"
            args = [f"model:{model}", f"model:{model}@", model]
        lim = f"LIMIT {int(limit)}" if limit else ""
        return self.catalog.query(
            f"SELECT {_COLUMNS} FROM audit_log {where} ORDER BY seq DESC {lim}", args)
