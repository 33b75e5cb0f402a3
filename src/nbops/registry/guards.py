"""Guards consulted before a version is archived or deleted; each returns a reason to refuse, or None."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from nbops.catalog.registry import ModelRepository

Guard = Callable[[duckdb.DuckDBPyConnection, ModelRepository, str, int], str | None]


def holds_alias(con: duckdb.DuckDBPyConnection, models: ModelRepository, name: str,
                version: int) -> str | None:
    aliases = models.aliases_of(con, name, version)
    if aliases:
        return f"it holds the alias(es) {', '.join(aliases)}: promote another version first"
    return None


def serves_experiment(con: duckdb.DuckDBPyConnection, models: ModelRepository, name: str,
                      version: int) -> str | None:
    """A version pinned by a running A/B experiment must not go away."""
    from nbops.catalog.abtest import ExperimentRepository

    running = ExperimentRepository(models.catalog).serving(con, name, version)
    if running:
        return (f"it serves the running experiment(s) {', '.join(running)}: "
                "stop them first (`nbops ab stop NAME`)")
    return None


DEFAULT_GUARDS: tuple[Guard, ...] = (holds_alias, serves_experiment)
