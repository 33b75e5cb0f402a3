"""Monitoring: alert rules, alert events (firing/resolved/acknowledged), deliveries, report history.

Append-only like the pipeline tables: a rule change appends a revision, an alert's
state change appends an event, and the ``v_*`` views pick the latest row per key.
Prediction and outcome logs are NOT here: they are Parquet files under the data
path (see ``nbops.monitor.files``), so high-volume rows never reach the metadata
database.
"""

from __future__ import annotations

import duckdb

VERSION = 4

TABLES = [
    """CREATE TABLE alert_rules (
        name VARCHAR NOT NULL, revision INTEGER, model VARCHAR, metric VARCHAR,
        aggregation VARCHAR, comparison VARCHAR, threshold DOUBLE, window_s DOUBLE,
        min_samples INTEGER, severity VARCHAR, channels VARCHAR, feature VARCHAR,
        drift_method VARCHAR, trigger_schedule VARCHAR, cooldown_s DOUBLE, description VARCHAR,
        deleted BOOLEAN, changed_by VARCHAR, changed_at TIMESTAMPTZ)""",
    # One row per state change of a rule's alert; fire_id groups one firing's rows.
    """CREATE TABLE alert_events (
        event_id VARCHAR NOT NULL, rule_name VARCHAR, fire_id VARCHAR, state VARCHAR,
        value DOUBLE, threshold DOUBLE, n_samples BIGINT, severity VARCHAR, message VARCHAR,
        actor VARCHAR, ts TIMESTAMPTZ, details VARCHAR)""",
    """CREATE TABLE alert_deliveries (
        delivery_id VARCHAR NOT NULL, fire_id VARCHAR, rule_name VARCHAR, state VARCHAR,
        channel VARCHAR, ok BOOLEAN, attempts INTEGER, error VARCHAR, ts TIMESTAMPTZ)""",
    # Report history in long form (one row per metric), so any metric can be plotted over time.
    """CREATE TABLE monitor_reports (
        report_id VARCHAR NOT NULL, model VARCHAR, model_version INTEGER,
        window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, section VARCHAR, metric VARCHAR,
        feature VARCHAR, value DOUBLE, details VARCHAR, created_at TIMESTAMPTZ)""",
]

VIEWS = [
    """CREATE VIEW v_alert_rules AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY name ORDER BY revision DESC) AS rn
           FROM alert_rules)
       WHERE rn = 1 AND NOT deleted""",
    """CREATE VIEW v_alert_state AS
       SELECT * EXCLUDE (rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY rule_name ORDER BY ts DESC, event_id) AS rn
           FROM alert_events)
       WHERE rn = 1""",
]


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in TABLES + VIEWS:
        con.execute(stmt)
