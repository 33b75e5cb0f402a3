"""Alert rules, their evaluation, and alert state with dedup and cooldown.

A rule compares one figure of a model's window report with a threshold:

===============  ===========================  ==========================================
metric           aggregation (default first)  value
===============  ===========================  ==========================================
volume           count                        predictions in the window
error_rate       rate                         share of predictions logged with an error
latency          p95, p50, p99, mean          latency_ms percentile / mean
accuracy, f1...  value                        performance on joined outcomes (see
                                              ``nbops.monitor.performance``)
drift            statistic, drifted, p_value  one ``feature``'s drift test (``drift_method``)
drift_share      share                        share of features that drifted
===============  ===========================  ==========================================

A rule is evaluated only when the window holds at least ``min_samples`` rows
(outcomes for performance metrics). States: a true condition *fires* (once: while
firing or acknowledged nothing more is sent), a false one *resolves* (once). After
a resolve, the rule may not fire again for ``cooldown_s`` seconds, so a flapping
metric does not page every check. Each firing notifies the rule's channels and,
when ``trigger_schedule`` is set, asks the scheduler to run that schedule once.
"""

from __future__ import annotations

import json
import operator
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from nbops.catalog.monitor import MonitorRepository
from nbops.catalog.monitor_records import AlertEventRow, AlertRuleRow, AlertState, DeliveryRow
from nbops.errors import NbopsError
from nbops.governance.context import authorize_and_audit
from nbops.governance.identity import Action
from nbops.monitor import channels as ch
from nbops.monitor.reporting import Monitor, Report, parse_window

if TYPE_CHECKING:
    from nbops.workspace import Workspace

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne}
PERFORMANCE = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
               "calibration_error", "mae", "rmse", "r2", "mape"}
AGGREGATIONS: dict[str, tuple[str, ...]] = {
    "volume": ("count",), "error_rate": ("rate",), "latency": ("p95", "p50", "p99", "mean"),
    "drift": ("statistic", "drifted", "p_value"), "drift_share": ("share",),
    **{m: ("value",) for m in PERFORMANCE}}
SEVERITIES = ("info", "warning", "critical")


def _normalize(metric: str, aggregation: str | None) -> tuple[str, str]:
    if metric.startswith("latency_"):
        metric, aggregation = "latency", metric.split("_", 1)[1]
    if metric not in AGGREGATIONS:
        raise NbopsError(f"unknown metric {metric!r}", hint=f"use one of {', '.join(AGGREGATIONS)}")
    allowed = AGGREGATIONS[metric]
    agg = aggregation or allowed[0]
    if agg not in allowed:
        raise NbopsError(f"metric {metric!r} takes aggregation {', '.join(allowed)}, not {agg!r}")
    return metric, agg


def add_rule(ws: Workspace, name: str, *, model: str, metric: str, comparison: str = ">",
             threshold: float, aggregation: str | None = None, window: str = "1h",
             min_samples: int = 100, severity: str = "warning", channels: list[Any] | None = None,
             feature: str | None = None, drift_method: str | None = None,
             trigger_schedule: str | None = None, cooldown: str = "1h",
             description: str | None = None, actor: str | None = None) -> AlertRuleRow:
    """Create or replace the rule ``name`` (audited; needs the contributor role)."""
    metric, agg = _normalize(metric, aggregation)
    if comparison not in COMPARISONS:
        raise NbopsError(f"unknown comparison {comparison!r}", hint=f"use {' '.join(COMPARISONS)}")
    if severity not in SEVERITIES:
        raise NbopsError(f"unknown severity {severity!r}", hint=f"use {', '.join(SEVERITIES)}")
    if metric == "drift" and not feature:
        raise NbopsError("a drift rule needs a feature", hint="or use metric drift_share")
    specs = [ch.parse_channel(c) for c in channels or []]
    repo = MonitorRepository(ws.catalog)
    actor = actor or ws.settings.user

    def write(con: duckdb.DuckDBPyConnection) -> AlertRuleRow:
        revision, _ = repo.rule_revision(con, name)
        row = AlertRuleRow(name, revision + 1, model, metric, agg, comparison, float(threshold),
                           parse_window(window).total_seconds(), int(min_samples), severity,
                           json.dumps(specs), feature, drift_method, trigger_schedule,
                           parse_window(cooldown).total_seconds(), description, False, actor,
                           datetime.now(UTC))
        authorize_and_audit(ws.catalog, con, actor=actor, action=Action.MANAGE_ALERTS,
                            event="alert.rule_set", target=name,
                            details={"model": model, "metric": metric, "aggregation": agg,
                                     "comparison": comparison, "threshold": float(threshold),
                                     "channels": [ch.describe(c) for c in specs],
                                     "trigger_schedule": trigger_schedule})
        repo.insert_rule(con, row)
        return row

    return ws.catalog.transaction(write)


def remove_rule(ws: Workspace, name: str, *, actor: str | None = None) -> None:
    repo = MonitorRepository(ws.catalog)
    rule = repo.rule(name)
    actor = actor or ws.settings.user

    def write(con: duckdb.DuckDBPyConnection) -> None:
        revision, _ = repo.rule_revision(con, name)
        authorize_and_audit(ws.catalog, con, actor=actor, action=Action.MANAGE_ALERTS,
                            event="alert.rule_removed", target=name, details={})
        values = {**rule.__dict__, "revision": revision + 1, "deleted": True, "changed_by": actor,
                  "changed_at": datetime.now(UTC)}
        repo.insert_rule(con, AlertRuleRow(**values))

    ws.catalog.transaction(write)


def list_rules(ws: Workspace, model: str | None = None) -> pd.DataFrame:
    rows = MonitorRepository(ws.catalog).rules(model)
    cols = list(AlertRuleRow.__dataclass_fields__)
    return pd.DataFrame([r.__dict__ for r in rows], columns=cols).drop(columns=["deleted"])


@dataclass
class CheckResult:
    """What one ``check`` saw and did."""

    evaluated: list[dict[str, Any]] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    deliveries: list[ch.Delivery] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.evaluated)


def _value(rule: AlertRuleRow, rep: Report) -> tuple[float | None, int]:
    n = int(rep.summary.get("n") or 0)
    if rule.metric == "volume":
        return float(n), n
    if rule.metric == "error_rate":
        return rep.summary.get("error_rate"), n
    if rule.metric == "latency":
        return rep.summary.get(f"latency_{rule.aggregation}"), n
    if rule.metric in PERFORMANCE:
        return rep.performance.get(rule.metric), int(rep.performance.get("n_outcomes", 0))
    if rule.metric == "drift_share":
        return (rep.drift_share if len(rep.drift) else None), n
    row = rep.drift[rep.drift["column"] == rule.feature] if len(rep.drift) else rep.drift
    if row.empty:
        return None, n
    r = row.iloc[0]
    value = {"statistic": r["statistic"], "drifted": float(bool(r["drifted"])),
             "p_value": r["p_value"]}[rule.aggregation]
    return (None if value is None or pd.isna(value) else float(value)), n


def check(ws: Workspace, *, now: datetime | None = None,
          sleep: Callable[[float], None] | None = None) -> CheckResult:
    """Evaluate every rule once: fire, resolve, notify, trigger (see the module docstring)."""
    now = now or datetime.now(UTC)
    monitor = Monitor(ws)
    reports: dict[tuple[str, float, str | None], Report] = {}
    result = CheckResult()
    for rule in monitor.repo.rules():
        key = (rule.model, rule.window_s, rule.feature if rule.drift_method else None)
        try:
            if key not in reports:
                methods = ({rule.feature: rule.drift_method} if rule.drift_method and rule.feature
                           else None)
                reports[key] = monitor.report(rule.model, window=f"{rule.window_s}s", until=now,
                                              drift=rule.metric.startswith("drift"), store=False,
                                              drift_methods=methods)
        except Exception as exc:  # one broken rule (e.g. an unreadable reference) spares the rest
            result.evaluated.append({"rule": rule.name, "model": rule.model, "metric": rule.metric,
                                     "value": None, "n": 0, "condition": None, "event": None,
                                     "error": f"{type(exc).__name__}: {exc}"})
            continue
        value, n = _value(rule, reports[key])
        holds = (None if value is None or n < rule.min_samples
                 else COMPARISONS[rule.comparison](value, rule.threshold))
        event = _transition(ws, monitor.repo, rule, holds, value, n, now)
        result.evaluated.append({"rule": rule.name, "model": rule.model, "metric": rule.metric,
                                 "value": value, "n": n, "condition": holds,
                                 "event": event.state if event else None})
        if event is not None:
            _act(ws, monitor.repo, rule, event, result, sleep)
    return result


def _transition(ws: Workspace, repo: MonitorRepository, rule: AlertRuleRow, holds: bool | None,
                value: float | None, n: int, now: datetime) -> AlertEventRow | None:
    if holds is None:
        return None

    def write(con: duckdb.DuckDBPyConnection) -> AlertEventRow | None:
        last = repo.states(con).get(rule.name)
        state = AlertState(last.state) if last else None
        if holds and state in (None, AlertState.RESOLVED):
            if last is not None and (now - _aware(last.ts)).total_seconds() < rule.cooldown_s:
                return None
            new_state, fire_id = AlertState.FIRING, secrets.token_hex(8)
        elif not holds and state in (AlertState.FIRING, AlertState.ACKNOWLEDGED):
            new_state, fire_id = AlertState.RESOLVED, last.fire_id  # type: ignore[union-attr]
        else:
            return None
        row = AlertEventRow(secrets.token_hex(8), rule.name, fire_id, str(new_state), value,
                            rule.threshold, n, rule.severity, _message(rule, value, new_state),
                            "nbops-monitor", now, None)
        repo.insert_event(con, row)
        return row

    return ws.catalog.transaction(write)


def _aware(t: Any) -> datetime:
    t = t.to_pydatetime() if hasattr(t, "to_pydatetime") else t
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _message(rule: AlertRuleRow, value: float | None, state: AlertState) -> str:
    what = f"{rule.metric}" + (f"[{rule.feature}]" if rule.feature else "")
    what += f" {rule.aggregation}" if rule.aggregation not in ("value", "count", "rate", "share") else ""
    shown = "n/a" if value is None else f"{value:.4g}"
    verb = "is" if state == AlertState.FIRING else "is back: no longer"
    return f"{rule.model}: {what} {verb} {rule.comparison} {rule.threshold:g} (value {shown})"


def _act(ws: Workspace, repo: MonitorRepository, rule: AlertRuleRow, event: AlertEventRow,
         result: CheckResult, sleep: Callable[[float], None] | None) -> None:
    (result.fired if event.state == AlertState.FIRING else result.resolved).append(rule.name)
    payload = {"rule": rule.name, "state": event.state, "fire_id": event.fire_id,
               "model": rule.model, "metric": rule.metric, "aggregation": rule.aggregation,
               "feature": rule.feature, "value": event.value, "threshold": rule.threshold,
               "comparison": rule.comparison, "severity": rule.severity,
               "n_samples": event.n_samples, "message": event.message, "ts": event.ts.isoformat()}
    rows = []
    for spec in json.loads(rule.channels or "[]"):
        d = ch.deliver(spec, payload, **({"sleep": sleep} if sleep else {}))
        result.deliveries.append(d)
        rows.append(DeliveryRow(secrets.token_hex(8), event.fire_id, rule.name, event.state,
                                d.channel, d.ok, d.attempts, d.error, datetime.now(UTC)))
    if event.state == AlertState.FIRING and rule.trigger_schedule:
        rows.append(_trigger(ws, rule, event, result))
    if rows:
        ws.catalog.transaction(lambda con: repo.insert_deliveries(con, rows))


def _trigger(ws: Workspace, rule: AlertRuleRow, event: AlertEventRow,
             result: CheckResult) -> DeliveryRow:
    from nbops.pipelines.schedules import trigger

    channel = f"schedule:{rule.trigger_schedule}"
    try:
        # On the authority of whoever set the rule up: the check itself runs unattended.
        tid = trigger(str(rule.trigger_schedule), f"alert {rule.name}: {event.message}", ws=ws,
                      actor=rule.changed_by)
        result.triggers.append(tid)
        return DeliveryRow(secrets.token_hex(8), event.fire_id, rule.name, event.state, channel,
                           True, 1, f"trigger {tid}", datetime.now(UTC))
    except Exception as exc:  # a missing schedule must not stop the other rules
        return DeliveryRow(secrets.token_hex(8), event.fire_id, rule.name, event.state, channel,
                           False, 1, f"{type(exc).__name__}: {exc}", datetime.now(UTC))


def acknowledge(ws: Workspace, rule: str, *, note: str = "", actor: str | None = None) -> None:
    """Mark a firing alert as seen (audited); it still resolves when its condition clears."""
    repo = MonitorRepository(ws.catalog)
    actor = actor or ws.settings.user

    def write(con: duckdb.DuckDBPyConnection) -> None:
        last = repo.states(con).get(rule)
        if last is None or last.state != AlertState.FIRING:
            raise NbopsError(f"rule {rule!r} has no firing alert to acknowledge",
                             hint="see `nbops monitor alerts`")
        authorize_and_audit(ws.catalog, con, actor=actor, action=Action.ACK_ALERT,
                            event="alert.acknowledged", target=rule,
                            details={"fire_id": last.fire_id, "note": note})
        repo.insert_event(con, AlertEventRow(
            secrets.token_hex(8), rule, last.fire_id, str(AlertState.ACKNOWLEDGED), last.value,
            last.threshold, last.n_samples, last.severity, note or "acknowledged", actor,
            datetime.now(UTC), None))

    ws.catalog.transaction(write)


def alert_table(ws: Workspace, *, history: bool = False, rule: str | None = None) -> pd.DataFrame:
    repo = MonitorRepository(ws.catalog)
    if history:
        return repo.events(rule, limit=1000)
    df = repo.current_alerts()
    return df[df["rule_name"] == rule] if rule else df
