"""``nbops monitor report|timeline|history|check|alerts|ack|compact|rules ...``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from nbops.cli import _workspace, main


def _echo_frame(df: Any, empty: str) -> None:
    import pandas as pd

    if df is None or len(df) == 0:
        click.echo(empty)
        return
    with pd.option_context("display.max_columns", None, "display.width", 200):
        click.echo(df.to_string(index=False))


@main.group()
def monitor() -> None:
    """Prediction logs, window reports, drift and alerts."""


@monitor.command("report")
@click.argument("model")
@click.option("--window", default="1h", show_default=True, help="e.g. 15m, 1h, 7d")
@click.option("--since", help="ISO start (UTC); default: now minus the window")
@click.option("--until", help="ISO end (UTC); default: now")
@click.option("--reference", help="a dataset ref for drift (default: the training data in lineage)")
@click.option("--no-drift", is_flag=True, help="skip the drift tests")
@click.option("--no-store", is_flag=True, help="do not add the report to the history")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def report_cmd(model: str, window: str, since: str | None, until: str | None,
               reference: str | None, no_drift: bool, no_store: bool, as_json: bool) -> None:
    """Volume, errors, latency, performance and drift of MODEL (name, name@alias, name@vN)."""
    from nbops.monitor.reporting import Monitor

    with _workspace() as ws:
        rep = Monitor(ws).report(model, window=window, since=since, until=until,
                                 reference=reference, drift=not no_drift, store=not no_store)
    if as_json:
        click.echo(json.dumps({"model": rep.model, "version": rep.model_version,
                               "since": rep.since.isoformat(), "until": rep.until.isoformat(),
                               "summary": rep.summary, "performance": rep.performance,
                               "drift": rep.drift.to_dict("records"), "reference": rep.reference,
                               "notes": rep.notes}, default=str))
        return
    click.echo(f"{rep.model} v{rep.model_version}  {rep.since:%Y-%m-%d %H:%M} – "
               f"{rep.until:%Y-%m-%d %H:%M} UTC  reference: {rep.reference}")
    for k, v in {**rep.summary, **rep.performance}.items():
        click.echo(f"  {k:<18} {v if v is None or isinstance(v, int) else round(float(v), 4)}")
    if len(rep.drift):
        click.echo(f"drift ({rep.drift_share:.0%} of features drifted):")
        _echo_frame(rep.drift[["column", "method", "statistic", "p_value", "threshold", "drifted"]], "")
    for note in rep.notes:
        click.echo(f"note: {note}")


@monitor.command("timeline")
@click.argument("model")
@click.option("--window", default="1h", show_default=True)
@click.option("--bucket", default="5m", show_default=True)
def timeline_cmd(model: str, window: str, bucket: str) -> None:
    """Volume, error rate and latency of MODEL per BUCKET."""
    from nbops.monitor.reporting import Monitor

    with _workspace() as ws:
        _echo_frame(Monitor(ws).timeline(model, window=window, bucket=bucket), "no predictions")


@monitor.command("history")
@click.argument("model", required=False)
@click.option("--metric", help="e.g. latency_p95, accuracy, wasserstein")
def history_cmd(model: str | None, metric: str | None) -> None:
    """Stored report figures over time."""
    from nbops.catalog.monitor import MonitorRepository

    with _workspace() as ws:
        df = MonitorRepository(ws.catalog).report_history(model, metric)
    _echo_frame(df.drop(columns=["details"]) if len(df) else df, "no reports")


@monitor.command("check")
def check_cmd() -> None:
    """Evaluate every alert rule once (run it from cron or a schedule)."""
    from nbops.monitor.alerting import check

    with _workspace() as ws:
        res = check(ws)
    _echo_frame(res.table(), "no rules")
    failed = [d for d in res.deliveries if not d.ok]
    for d in failed:
        click.echo(f"delivery failed: {d.channel}: {d.error}", err=True)
    if failed:
        sys.exit(2)


@monitor.command("alerts")
@click.option("--history", is_flag=True, help="every state change, newest first")
@click.option("--rule", help="only this rule")
def alerts_cmd(history: bool, rule: str | None) -> None:
    """Current alert state per rule (firing / acknowledged / resolved)."""
    from nbops.monitor.alerting import alert_table

    with _workspace() as ws:
        df = alert_table(ws, history=history, rule=rule)
    cols = ["rule_name", "state", "severity", "value", "threshold", "ts", "message"]
    _echo_frame(df[cols] if len(df) else df, "no alerts")


@monitor.command("ack")
@click.argument("rule")
@click.option("--note", default="", help="why, or who is on it")
def ack_cmd(rule: str, note: str) -> None:
    """Acknowledge RULE's firing alert (audited)."""
    from nbops.monitor.alerting import acknowledge

    with _workspace() as ws:
        acknowledge(ws, rule, note=note)
    click.echo(f"acknowledged {rule}")


@monitor.command("compact")
@click.option("--min-files", type=int, default=2, show_default=True)
def compact_cmd(min_files: int) -> None:
    """Merge the small Parquet files of each log partition."""
    import nbops.monitor as mon

    with _workspace() as ws:
        click.echo(f"merged {mon.compact(ws=ws, min_files=min_files)} files")


@monitor.group("rules")
def rules() -> None:
    """Alert rules."""


@rules.command("list")
@click.option("--model")
def rules_list(model: str | None) -> None:
    from nbops.monitor.alerting import list_rules

    with _workspace() as ws:
        df = list_rules(ws, model)
    cols = ["name", "model", "metric", "aggregation", "feature", "comparison", "threshold",
            "window_s", "min_samples", "severity", "trigger_schedule"]
    _echo_frame(df[cols] if len(df) else df, "no rules")


@rules.command("add")
@click.argument("name")
@click.option("--model", required=True)
@click.option("--metric", required=True,
              help="volume, error_rate, latency, accuracy, f1, ..., drift, drift_share")
@click.option("--threshold", type=float, required=True)
@click.option("--comparison", default=">", show_default=True)
@click.option("--aggregation", help="latency: p50/p95/p99/mean; drift: statistic/drifted/p_value")
@click.option("--window", default="1h", show_default=True)
@click.option("--min-samples", type=int, default=100, show_default=True)
@click.option("--severity", default="warning", show_default=True)
@click.option("--channel", "channels", multiple=True,
              help="webhook:URL, slack:URL, email:ADDR, log:PATH (repeatable)")
@click.option("--feature", help="the feature of a drift rule")
@click.option("--drift-method", help="ks, wasserstein, psi, chi2, jensenshannon")
@click.option("--trigger-schedule", help="a schedule to run once per firing (retraining)")
@click.option("--cooldown", default="1h", show_default=True)
@click.option("--description")
def rules_add(name: str, **options: Any) -> None:
    """Create or replace rule NAME (audited)."""
    from nbops.monitor.alerting import add_rule

    options["channels"] = list(options["channels"])
    with _workspace() as ws:
        row = add_rule(ws, name, **options)
    click.echo(f"rule {row.name} revision {row.revision}")


@rules.command("remove")
@click.argument("name")
def rules_remove(name: str) -> None:
    from nbops.monitor.alerting import remove_rule

    with _workspace() as ws:
        remove_rule(ws, name)
    click.echo(f"removed rule {name}")
