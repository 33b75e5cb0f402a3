"""Pipeline events: schedule changes and scheduler notices, written in the caller's transaction.

``record_change`` is the one door for every schedule change (add, update,
pause, resume, remove, trigger); it appends to ``pipeline_events`` inside the
transaction that makes the change, so a change is never recorded without its
event or the other way round. The same transaction authorizes the actor and appends the
governance audit entry, so schedule changes are on the tamper-evident chain.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import duckdb

from nbops.catalog.pipeline_records import EventAction, EventRow
from nbops.catalog.pipelines import PipelineRepository


def event_row(*, actor: str, action: EventAction, schedule_name: str | None = None,
              pipeline_run_id: str | None = None, detail: dict[str, Any] | None = None,
              now: datetime | None = None) -> EventRow:
    return EventRow(
        event_id=secrets.token_hex(8), ts=now or datetime.now(UTC), actor=actor, action=str(action),
        schedule_name=schedule_name, pipeline_run_id=pipeline_run_id,
        detail=json.dumps(detail, sort_keys=True, default=str) if detail else None)


def record_change(con: duckdb.DuckDBPyConnection, repo: PipelineRepository, *, actor: str,
                  action: EventAction, schedule_name: str, detail: dict[str, Any] | None = None,
                  now: datetime | None = None) -> EventRow:
    """Record a schedule change by ``actor`` in the same transaction ``con`` is in."""
    from nbops.governance.context import authorize_and_audit
    from nbops.governance.identity import Action

    row = event_row(actor=actor, action=action, schedule_name=schedule_name, detail=detail, now=now)
    repo.insert_events(con, [row])
    authorize_and_audit(repo.catalog, con, actor=actor, action=Action.CHANGE_SCHEDULE,
                        event=str(action), target=f"schedule:{schedule_name}", details=detail or {})
    return row
