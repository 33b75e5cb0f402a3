"""The model server: API keys.

Append-only like the other state tables: creating a key adds revision 1, revoking it
adds a revision with ``revoked = true``; ``v_api_keys`` reads the latest revision.
Only a hash of each key is stored (SHA-256 of the secret); the key itself is shown once.
"""

from __future__ import annotations

import duckdb

VERSION = 6

TABLES = [
    """CREATE TABLE api_keys (
        key_id VARCHAR NOT NULL, revision INTEGER, user_name VARCHAR, key_hash VARCHAR,
        note VARCHAR, revoked BOOLEAN, changed_by VARCHAR, changed_at TIMESTAMPTZ)""",
]

VIEWS = [
    """CREATE VIEW v_api_keys AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY key_id ORDER BY revision DESC) AS rn
           FROM api_keys)
       WHERE rn = 1""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
