"""SQL for stored objects and artifact versions."""

from __future__ import annotations

from typing import Any

from nbops.catalog.core import Catalog
from nbops.errors import NotFound


class ArtifactRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def object_for_fingerprint(self, fingerprint: str) -> tuple[str, str, int] | None:
        """An already stored object with this content fingerprint: (key, format, size)."""
        rows = self.catalog.fetchall(
            "SELECT object_key, format, size_bytes FROM objects WHERE fingerprint = ? LIMIT 1", [fingerprint])
        return (str(rows[0][0]), str(rows[0][1]), int(rows[0][2])) if rows else None

    def find(self, name: str, *, version: int | None = None, run_id: str | None = None,
             kind: str | None = None) -> dict[str, Any]:
        """The artifact named ``name``: a given version, the one a run wrote, or the latest."""
        clauses = ["name = ?", "object_key IS NOT NULL"]
        args: list[Any] = [name]
        if version is not None:
            clauses.append("version = ?")
            args.append(version)
        if run_id is not None:
            clauses.append("run_id = ?")
            args.append(run_id)
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        df = self.catalog.query(
            f"SELECT * FROM v_artifacts WHERE {' AND '.join(clauses)} "
            "ORDER BY (role = 'output') DESC, version DESC, created_at DESC LIMIT 1", args)
        if df.empty:
            what = f"{name}@v{version}" if version else name
            where = f" in run {run_id}" if run_id else ""
            raise NotFound(f"no stored artifact {what!r}{where}", hint="list them with `nbops sql \"SELECT * FROM v_artifacts\"`")
        return df.iloc[0].to_dict()

    def referenced_keys(self) -> list[str]:
        return [r[0] for r in self.catalog.fetchall(
            "SELECT DISTINCT object_key FROM artifacts WHERE object_key IS NOT NULL")]

    def latest_versions(self, kind: str | None = None) -> Any:
        where = "WHERE kind = ?" if kind else ""
        return self.catalog.query(
            "SELECT kind, name, max(version) AS versions, count(DISTINCT run_id) AS runs, max(created_at) AS last_seen "
            f"FROM v_artifacts {where} GROUP BY kind, name ORDER BY kind, name", [kind] if kind else [])
