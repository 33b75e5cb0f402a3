"""Placeholder on this branch: the registry/governance branch supplies the real migration 2."""

from __future__ import annotations

import duckdb

VERSION = 2


def apply(con: duckdb.DuckDBPyConnection) -> None:
    return None
