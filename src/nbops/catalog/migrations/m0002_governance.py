"""Registry and governance: models, versions, aliases, roles, policies, requests, audit chain.

DuckLake has no unique constraints, so histories are append-only rows and the
current state is the latest row (by audit ``seq``). ``audit_head`` holds one
row that every audited change UPDATEs: two processes changing governed state at
once therefore conflict, and the loser's retry re-reads everything it checked.
"""

from __future__ import annotations

import duckdb

VERSION = 2

GENESIS_HASH = "0" * 64

TABLES = [
    """CREATE TABLE registered_models (name VARCHAR NOT NULL, description VARCHAR,
        intended_use VARCHAR, created_by VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE model_versions (name VARCHAR NOT NULL, version INTEGER NOT NULL,
        run_id VARCHAR, artifact_name VARCHAR, object_key VARCHAR, fingerprint VARCHAR,
        format VARCHAR, description VARCHAR, status VARCHAR, created_by VARCHAR,
        created_at TIMESTAMPTZ, audit_seq BIGINT)""",
    """CREATE TABLE alias_events (name VARCHAR NOT NULL, alias VARCHAR NOT NULL, version INTEGER,
        previous_version INTEGER, kind VARCHAR, reason VARCHAR, actor VARCHAR, ts TIMESTAMPTZ,
        audit_seq BIGINT)""",
    """CREATE TABLE validations (name VARCHAR NOT NULL, version INTEGER NOT NULL, gate VARCHAR,
        passed BOOLEAN, details VARCHAR, recorded_by VARCHAR, ts TIMESTAMPTZ, audit_seq BIGINT)""",
    """CREATE TABLE role_grants (principal VARCHAR NOT NULL, scope VARCHAR NOT NULL, role VARCHAR,
        granted_by VARCHAR, ts TIMESTAMPTZ, audit_seq BIGINT)""",
    """CREATE TABLE policies (name VARCHAR NOT NULL, alias VARCHAR NOT NULL, spec VARCHAR,
        set_by VARCHAR, ts TIMESTAMPTZ, audit_seq BIGINT)""",
    """CREATE TABLE promotion_requests (request_id VARCHAR NOT NULL, name VARCHAR, version INTEGER,
        alias VARCHAR, reason VARCHAR, requested_by VARCHAR, ts TIMESTAMPTZ, policy_seq BIGINT,
        status VARCHAR, status_reason VARCHAR, audit_seq BIGINT)""",
    """CREATE TABLE approvals (request_id VARCHAR NOT NULL, actor VARCHAR, decision VARCHAR,
        comment VARCHAR, ts TIMESTAMPTZ, audit_seq BIGINT)""",
    """CREATE TABLE audit_log (seq BIGINT NOT NULL, actor VARCHAR, action VARCHAR, target VARCHAR,
        details VARCHAR, ts TIMESTAMPTZ, prev_hash VARCHAR, hash VARCHAR)""",
    "CREATE TABLE audit_head (seq BIGINT NOT NULL, hash VARCHAR)",
]

VIEWS = [
    """CREATE VIEW v_aliases AS
       SELECT name, alias, version, actor AS moved_by, ts AS moved_at, audit_seq FROM (
           SELECT *, row_number() OVER (PARTITION BY name, alias ORDER BY audit_seq DESC) AS rn
           FROM alias_events) WHERE rn = 1 AND version IS NOT NULL""",
    """CREATE VIEW v_model_versions AS
       SELECT v.*, (SELECT string_agg(a.alias, ',' ORDER BY a.alias) FROM v_aliases a
                    WHERE a.name = v.name AND a.version = v.version) AS aliases
       FROM model_versions v""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
    con.execute("INSERT INTO audit_head VALUES (0, ?)", [GENESIS_HASH])
