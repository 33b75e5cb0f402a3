"""SQL for the model server: API keys, the alias snapshot it polls, a model's training schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from nbops.catalog.core import Catalog
from nbops.catalog.records import columns

Con = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class ApiKeyRow:
    key_id: str
    revision: int
    user_name: str
    key_hash: str
    note: str | None
    revoked: bool
    changed_by: str
    changed_at: datetime


_KEY_COLS = ", ".join(columns(ApiKeyRow))


class ServeRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- API keys -----------------------------------------------------------
    def add_key(self, con: Con, row: ApiKeyRow) -> None:
        self.catalog.insert(con, "api_keys", [row])

    def key(self, con: Con | None, key_id: str) -> ApiKeyRow | None:
        sql, args = f"SELECT {_KEY_COLS} FROM v_api_keys WHERE key_id = ?", [key_id]
        rows = con.execute(sql, args).fetchall() if con is not None else self.catalog.fetchall(sql, args)
        return ApiKeyRow(*rows[0]) if rows else None

    def active_keys(self) -> list[ApiKeyRow]:
        rows = self.catalog.fetchall(f"SELECT {_KEY_COLS} FROM v_api_keys WHERE NOT revoked")
        return [ApiKeyRow(*r) for r in rows]

    def keys_frame(self) -> Any:
        return self.catalog.query("SELECT key_id, user_name, note, revoked, changed_by, changed_at "
                                  "FROM v_api_keys ORDER BY changed_at")

    # -- what the server polls ---------------------------------------------
    def serving_snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """(alias -> version per (model, alias), the latest live version per model): one read."""
        aliases, latest = self.catalog.arrow_many([
            ("SELECT name, alias, version FROM v_aliases", []),
            ("SELECT name, max(version) AS version FROM model_versions WHERE status <> 'deleted' "
             "GROUP BY name", [])])
        a = aliases.to_pydict()
        la = latest.to_pydict()
        return ({(n, al): int(v) for n, al, v in zip(a["name"], a["alias"], a["version"], strict=True)},
                {n: int(v) for n, v in zip(la["name"], la["version"], strict=True)})

    def training_schemas(self, run_id: str) -> list[dict[str, Any]]:
        """The schemas of the datasets a run read, largest first (a model's training data)."""
        rows = self.catalog.fetchall(
            "SELECT name, schema_json, n_cols FROM artifacts WHERE run_id = ? AND role = 'input' "
            "AND kind = 'dataset' AND schema_json IS NOT NULL ORDER BY n_rows DESC NULLS LAST, name",
            [run_id])
        return [{"name": r[0], "schema_json": r[1], "n_cols": r[2]} for r in rows]
