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
    """Hook for A/B tests: a version in a running experiment must not go away.

    Experiments do not exist in the catalog yet; the A/B testing capability
    replaces this check (or passes its own guard to ``Registry(guards=...)``).
    """
    return None


DEFAULT_GUARDS: tuple[Guard, ...] = (holds_alias, serves_experiment)
