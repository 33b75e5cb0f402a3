"""The Workspace: settings, catalog and object store of one ``.nbops`` directory."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from nbops.catalog.artifacts import ArtifactRepository
from nbops.catalog.core import Catalog
from nbops.catalog.runs import RunRepository
from nbops.config import Settings, find_workspace, init_workspace, load_settings
from nbops.errors import CatalogError, NbopsError, NotFound, WorkspaceNotFound
from nbops.store import ObjectStore, open_store
from nbops.store.serializers import deserialize
from nbops.tracking.names import parse_ref
from nbops.tracking.run import Run, script_source

_FILTER_NAME = re.compile(r"\b(metrics?|params?|attributes?|attr)\.([A-Za-z0-9_.\-]+)")


class Workspace:
    """An opened workspace. Create with :func:`nbops.open`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog.shared(settings)
        self.store: ObjectStore = open_store(settings)
        self.runs_repo = RunRepository(self.catalog)
        self.artifacts = ArtifactRepository(self.catalog)
        self._objects: dict[str, tuple[str, str, int]] = {}

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Workspace:
        start = Path(path) if path else None
        home = find_workspace(start)
        if home is None or not (home / "config.toml").is_file():
            if not create:
                raise WorkspaceNotFound("no nbops workspace here or above", hint="run `nbops init`")
            home = init_workspace(start)
            print(f"nbops: created a workspace at {home}", file=sys.stderr)
        return cls(load_settings(home))

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- objects seen by this process (fingerprint -> stored object) ---------
    def known_object(self, fp: str, *, query: bool = True) -> tuple[str, str, int] | None:
        """The stored object holding content ``fp``, if the catalog has one and the store too.

        A catalog hit whose object has gone from the store counts as unknown, so logging
        the value again stores it again (how a user repairs what `nbops doctor` reports).
        With ``query=False`` only objects this process has already seen are looked at.
        """
        hit = self._objects.get(fp)
        if hit is None and query:
            hit = self.artifacts.object_for_fingerprint(fp)
            if hit is None or not self.store.exists(hit[0]):
                return None
            self._objects[fp] = hit
        return hit

    def remember_object(self, fp: str, key: str, fmt: str, size: int) -> None:
        self._objects[fp] = (key, fmt, size)

    # -- runs ---------------------------------------------------------------
    def run(self, name: str | None = None, **kwargs: Any) -> Run:
        """A new run; use it as a context manager so it is saved (in one commit) at the end."""
        if "source" not in kwargs:
            path, source = script_source()
            kwargs["source"] = source
            kwargs.setdefault("notebook", path)
        return Run(self, name, **kwargs)

    def runs(self, filter: str | None = None, *, sort: str = "started_at", ascending: bool = False,
             limit: int | None = None, notebook: str | None = None) -> pd.DataFrame:
        """Runs as a DataFrame, one row per run, with ``param.X`` and ``metric.Y`` columns.

        ``filter`` is a pandas-style expression over those columns, e.g.
        ``"metric.acc > 0.9 and param.model == 'rf'"`` (MLflow's ``metrics.``/``params.``
        prefixes and ``=`` work too).
        """
        sort_key = sort.split(".", 1)
        by_value = sort_key[0] in ("metric", "metrics", "param", "params")
        limited = limit is not None and not (filter or by_value)
        frame = self.runs_repo.runs_wide(
            sort="started_at" if by_value else sort, descending=not ascending,
            limit=limit if limited else None, notebook=notebook, only_listed=limited)
        if filter:
            frame = _apply_filter(frame, filter)
        if by_value and not frame.empty:
            col = _column_name(sort_key[0], sort_key[1])
            if col not in frame.columns:
                raise NbopsError(f"cannot sort by {sort!r}: no such column", hint="see the columns of ws.runs()")
            frame = frame.sort_values(col, ascending=ascending, na_position="last")
        if limit is not None:
            frame = frame.head(limit)
        return frame.reset_index(drop=True)

    def run_details(self, run_ref: str) -> dict[str, Any]:
        return self.runs_repo.run_details(self.runs_repo.resolve_id(run_ref))

    # -- artifacts ----------------------------------------------------------
    def artifact(self, ref: str) -> dict[str, Any]:
        """The catalog row of the artifact ``ref`` names (``name``, ``name@vN``, ``RUN/name``,
        or ``name@alias``: the registered version the alias holds)."""
        r = parse_ref(ref)
        if r.alias is not None:
            from nbops.registry.refs import alias_artifact

            row = None if r.run_id else alias_artifact(self.catalog, r.name, r.alias)
            if row is None:
                raise NotFound(f"no alias {r.alias!r} for {r.name!r}",
                               hint="use NAME, NAME@vN, NAME@latest or a registry alias (`nbops models`)")
            return row
        run_id = self.runs_repo.resolve_id(r.run_id) if r.run_id else None
        return self.artifacts.find(r.name, version=r.version, run_id=run_id)

    def load(self, ref: str, *, trust: bool = False) -> Any:
        """Load an artifact back: a DataFrame, an estimator, a file's bytes, ..."""
        row = self.artifact(ref)
        return deserialize(self.store.get(row["object_key"]), row["format"], trust=trust)

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run SQL over the catalog's tables and views (see docs/catalog.md)."""
        import duckdb

        try:
            return self.catalog.query(query, params)
        except duckdb.Error as exc:
            raise CatalogError(f"the query failed: {exc}",
                               hint="tables: runs, params, metrics, artifacts, lineage; "
                                    "views: v_runs, v_artifacts, v_metrics_latest") from exc


def _column_name(prefix: str, name: str) -> str:
    if prefix.startswith("metric"):
        return f"metric.{name}"
    if prefix.startswith("param"):
        return f"param.{name}"
    return name


def _apply_filter(frame: pd.DataFrame, expr: str) -> pd.DataFrame:
    """Rows of ``frame`` matching ``expr``; a param or metric no run has matches nothing."""
    query = _pandas_filter(expr)
    absent = [c for c in re.findall(r"`([^`]+)`", query) if c not in frame.columns]
    frame = frame.assign(**{c: float("nan") for c in absent})
    try:
        matched = frame.query(query, engine="python")
    except Exception as exc:  # pandas raises SyntaxError, NameError, TypeError, ... here
        raise NbopsError(f"invalid filter {expr!r}: {exc}",
                         hint="e.g. \"metric.acc > 0.9 and param.model = 'rf'\" (quote text values)") from exc
    return matched.drop(columns=absent)


def _pandas_filter(expr: str) -> str:
    expr = _FILTER_NAME.sub(lambda m: f"`{_column_name(m.group(1), m.group(2))}`", expr)
    # MLflow writes equality as '='; pandas needs '=='.
    expr = re.sub(r"(?<![=!<>])=(?!=)", "==", expr)
    return expr.replace(" AND ", " and ").replace(" OR ", " or ")


def open(path: str | Path | None = None, *, create: bool = True) -> Workspace:  # noqa: A001
    """Open the workspace for ``path`` (or the current directory), creating one if none is found."""
    return Workspace.open(path, create=create)


__all__ = ["Workspace", "open", "find_workspace"]
