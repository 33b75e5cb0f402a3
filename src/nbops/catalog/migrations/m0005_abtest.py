"""A/B testing: experiment definitions and state changes, the model versions they serve,
and the Parquet files of exposures and outcomes.

Append-only like the pipeline tables: every change of an experiment (create, weight
change, start, stop, conclude) appends a revision; ``v_experiments`` reads the latest.
Exposures and outcomes themselves are never rows here: they are written in batches as
Parquet files under the data path, and ``experiment_files`` lists them.
"""

from __future__ import annotations

import duckdb

VERSION = 5

TABLES = [
    """CREATE TABLE experiments (
        name VARCHAR NOT NULL, revision INTEGER, status VARCHAR, mode VARCHAR, salt VARCHAR,
        unit VARCHAR, variants VARCHAR, weights VARCHAR, metric VARCHAR, guardrails VARCHAR,
        ramp VARCHAR, winner VARCHAR, reason VARCHAR, started_at TIMESTAMPTZ,
        created_by VARCHAR, created_at TIMESTAMPTZ, changed_by VARCHAR, changed_at TIMESTAMPTZ)""",
    # The registered version each variant resolved to (at create, pinned again at start).
    """CREATE TABLE experiment_variants (
        experiment VARCHAR NOT NULL, revision INTEGER, variant VARCHAR, ref VARCHAR,
        model_name VARCHAR, model_version INTEGER)""",
    """CREATE TABLE experiment_files (
        experiment VARCHAR NOT NULL, kind VARCHAR, path VARCHAR, rows BIGINT,
        written_at TIMESTAMPTZ, written_by VARCHAR)""",
]

VIEWS = [
    """CREATE VIEW v_experiments AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY name ORDER BY revision DESC) AS rn
           FROM experiments)
       WHERE rn = 1""",
    """CREATE VIEW v_experiment_variants AS
       SELECT v.* FROM experiment_variants v
       JOIN (SELECT experiment, max(revision) AS revision FROM experiment_variants
             GROUP BY experiment) m USING (experiment, revision)""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
