"""Placeholder on this branch: the monitoring branch supplies the real migration 4."""

from __future__ import annotations

import duckdb

VERSION = 4


def apply(con: duckdb.DuckDBPyConnection) -> None:
    return None
