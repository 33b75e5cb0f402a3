"""Pipelines: schedules, slot claims, triggers, pipeline runs, events and the scheduler lease.

Every table is append-only except ``scheduler_leases`` (the holder updates its
own heartbeat): appends never conflict between concurrent DuckLake writers,
and the history of a schedule or a run stays queryable. The ``v_*`` views pick
the latest row per key.
"""

from __future__ import annotations

import duckdb

VERSION = 3

TABLES = [
    # One row per change of a schedule (revision 1, 2, ...); the latest revision wins.
    """CREATE TABLE schedules (
        name VARCHAR NOT NULL, revision INTEGER, notebook VARCHAR, cron VARCHAR, tz VARCHAR,
        watch VARCHAR, parameters VARCHAR, retries INTEGER, retry_delay_s DOUBLE,
        timeout_s DOUBLE, catchup VARCHAR, on_failure VARCHAR, kernel VARCHAR, cwd VARCHAR,
        paused BOOLEAN, deleted BOOLEAN, created_by VARCHAR, created_at TIMESTAMPTZ,
        changed_by VARCHAR, changed_at TIMESTAMPTZ)""",
    # A fired (or deliberately skipped) occasion of a schedule: claimed before it runs.
    """CREATE TABLE pipeline_slots (
        schedule_name VARCHAR NOT NULL, slot_key VARCHAR NOT NULL, slot_time TIMESTAMPTZ,
        trigger VARCHAR, status VARCHAR, claimed_at TIMESTAMPTZ, claimed_by VARCHAR,
        detail VARCHAR)""",
    # Requests to run a schedule outside its cron (monitoring alerts, `schedule trigger`).
    """CREATE TABLE pipeline_triggers (
        trigger_id VARCHAR NOT NULL, schedule_name VARCHAR, kind VARCHAR, reason VARCHAR,
        requested_at TIMESTAMPTZ, requested_by VARCHAR)""",
    # One row per state of a pipeline run ('running' at start, the final state at the end).
    """CREATE TABLE pipeline_runs (
        pipeline_run_id VARCHAR NOT NULL, notebook VARCHAR, parameters VARCHAR, status VARCHAR,
        started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, duration_ms DOUBLE, attempt INTEGER,
        schedule_name VARCHAR, slot_key VARCHAR, kernel VARCHAR, cwd VARCHAR,
        user_name VARCHAR, host VARCHAR, pid INTEGER, output_key VARCHAR,
        error_cell_index INTEGER, error_name VARCHAR, error_message VARCHAR,
        error_traceback VARCHAR, recorded_at TIMESTAMPTZ)""",
    # Schedule changes and scheduler notices (failures, skipped slots, ...).
    """CREATE TABLE pipeline_events (
        event_id VARCHAR NOT NULL, ts TIMESTAMPTZ, actor VARCHAR, action VARCHAR,
        schedule_name VARCHAR, pipeline_run_id VARCHAR, detail VARCHAR)""",
    """CREATE TABLE scheduler_leases (
        holder_id VARCHAR NOT NULL, host VARCHAR, pid INTEGER, user_name VARCHAR,
        acquired_at TIMESTAMPTZ, heartbeat_at TIMESTAMPTZ, released_at TIMESTAMPTZ)""",
]

VIEWS = [
    """CREATE VIEW v_schedules AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY name ORDER BY revision DESC) AS rn
           FROM schedules)
       WHERE rn = 1 AND NOT deleted""",
    """CREATE VIEW v_pipeline_runs AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (
               PARTITION BY pipeline_run_id
               ORDER BY (status <> 'running') DESC, recorded_at DESC) AS rn
           FROM pipeline_runs)
       WHERE rn = 1""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
