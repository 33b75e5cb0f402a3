"""Runs, code, environments, params, metrics, objects, artifacts and lineage, with their views."""

from __future__ import annotations

import duckdb

VERSION = 1

TABLES = [
    """CREATE TABLE runs (
        run_id VARCHAR NOT NULL, name VARCHAR, kind VARCHAR, status VARCHAR, user_name VARCHAR,
        started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, duration_ms DOUBLE,
        code_hash VARCHAR, env_hash VARCHAR, notebook VARCHAR, cell_id VARCHAR,
        execution_count INTEGER, pipeline_run_id VARCHAR, error VARCHAR, tags VARCHAR)""",
    "CREATE TABLE code (code_hash VARCHAR NOT NULL, language VARCHAR, source VARCHAR)",
    """CREATE TABLE environments (env_hash VARCHAR NOT NULL, python VARCHAR, platform VARCHAR,
        packages VARCHAR, git_commit VARCHAR, git_dirty BOOLEAN)""",
    "CREATE TABLE params (run_id VARCHAR NOT NULL, key VARCHAR, value VARCHAR, value_type VARCHAR)",
    "CREATE TABLE metrics (run_id VARCHAR NOT NULL, key VARCHAR, value DOUBLE, step BIGINT, ts TIMESTAMPTZ)",
    """CREATE TABLE objects (object_key VARCHAR NOT NULL, fingerprint VARCHAR, format VARCHAR,
        size_bytes BIGINT, created_at TIMESTAMPTZ)""",
    """CREATE TABLE artifacts (artifact_id VARCHAR NOT NULL, run_id VARCHAR, name VARCHAR,
        kind VARCHAR, role VARCHAR, object_key VARCHAR, fingerprint VARCHAR, format VARCHAR,
        py_type VARCHAR, schema_json VARCHAR, n_rows BIGINT, n_cols BIGINT, shape VARCHAR,
        size_bytes BIGINT, metadata VARCHAR, skipped_reason VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE lineage (run_id VARCHAR, src_kind VARCHAR, src_ref VARCHAR, dst_kind VARCHAR,
        dst_ref VARCHAR, relation VARCHAR, created_at TIMESTAMPTZ)""",
]

VIEWS = [
    # Versions are derived, never stored: the n-th distinct content seen under a name is vN.
    """CREATE VIEW v_artifacts AS
       WITH firsts AS (
           SELECT kind, name, fingerprint, min(created_at) AS first_seen
           FROM artifacts WHERE fingerprint IS NOT NULL GROUP BY kind, name, fingerprint),
       versions AS (
           SELECT kind, name, fingerprint,
                  row_number() OVER (PARTITION BY kind, name ORDER BY first_seen, fingerprint) AS version
           FROM firsts)
       SELECT a.*, v.version FROM artifacts a
       LEFT JOIN versions v ON a.kind = v.kind AND a.name = v.name AND a.fingerprint = v.fingerprint""",
    """CREATE VIEW v_metrics_latest AS
       SELECT run_id, key, arg_max(value, (step, ts)) AS value, max(step) AS last_step, count(*) AS n_values
       FROM metrics GROUP BY run_id, key""",
    """CREATE VIEW v_runs AS
       SELECT r.*, c.source AS code FROM runs r
       LEFT JOIN (SELECT code_hash, any_value(source) AS source FROM code GROUP BY code_hash) c
       ON r.code_hash = c.code_hash""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
