"""SQL for pipelines: schedules, slot claims, triggers, pipeline runs, events, the scheduler lease.

Tables are append-only (see migration 3): a schedule change appends a new
revision, a pipeline run appends its 'running' row and then its final row,
and the ``v_*`` views read the latest. Only the lease row is updated in place,
and only by its holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from nbops.catalog.core import Catalog
from nbops.catalog.pipeline_records import (
    EventRow,
    LeaseRow,
    PipelineRunRow,
    ScheduleRow,
    SlotRow,
    TriggerRow,
)
from nbops.catalog.records import ObjectRow, columns
from nbops.errors import NotFound

_SCHEDULE_COLS = ", ".join(columns(ScheduleRow))
_RUN_COLS = ", ".join(columns(PipelineRunRow))
_LEASE_COLS = ", ".join(columns(LeaseRow))


class PipelineRepository:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- schedules --------------------------------------------------------
    def schedule_revision(self, con: duckdb.DuckDBPyConnection, name: str) -> tuple[int, bool]:
        """Latest revision number of ``name`` (0 if never seen) and whether it is live."""
        row = con.execute(
            "SELECT revision, deleted FROM schedules WHERE name = ? ORDER BY revision DESC LIMIT 1",
            [name]).fetchone()
        return (0, False) if row is None else (int(row[0]), not row[1])

    def current_schedule(self, con: duckdb.DuckDBPyConnection | None, name: str) -> ScheduleRow:
        sql = f"SELECT {_SCHEDULE_COLS} FROM v_schedules WHERE name = ?"
        rows = (con.execute(sql, [name]).fetchall() if con is not None
                else self.catalog.fetchall(sql, [name]))
        if not rows:
            raise NotFound(f"no schedule {name!r}", hint="list schedules with `nbops schedule list`")
        return ScheduleRow(*rows[0])

    def insert_schedule(self, con: duckdb.DuckDBPyConnection, row: ScheduleRow) -> None:
        self.catalog.insert(con, "schedules", [row])

    def schedules(self, *, include_paused: bool = True) -> list[ScheduleRow]:
        where = "" if include_paused else "WHERE NOT paused"
        rows = self.catalog.fetchall(f"SELECT {_SCHEDULE_COLS} FROM v_schedules {where} ORDER BY name")
        return [ScheduleRow(*r) for r in rows]

    # -- slots and triggers -----------------------------------------------
    def claim_slot(self, con: duckdb.DuckDBPyConnection, slot: SlotRow) -> bool:
        """Record ``slot`` unless that slot of that schedule was already claimed or skipped."""
        seen = con.execute(
            "SELECT count(*) FROM pipeline_slots WHERE schedule_name = ? AND slot_key = ?",
            [slot.schedule_name, slot.slot_key]).fetchone()
        if seen and seen[0]:
            return False
        self.catalog.insert(con, "pipeline_slots", [slot])
        return True

    def insert_slot(self, con: duckdb.DuckDBPyConnection, slot: SlotRow) -> None:
        self.catalog.insert(con, "pipeline_slots", [slot])

    def cron_watermarks(self) -> dict[str, datetime]:
        """The latest cron slot claimed or skipped, per schedule."""
        rows = self.catalog.fetchall(
            "SELECT schedule_name, max(slot_time) FROM pipeline_slots WHERE trigger = 'cron' "
            "GROUP BY schedule_name")
        return {r[0]: r[1] for r in rows}

    def dataset_states(self) -> dict[str, tuple[str, int]]:
        """Per schedule: the detail (fingerprint) of its latest dataset slot and how many there are."""
        rows = self.catalog.fetchall(
            "SELECT schedule_name, arg_max(detail, claimed_at), count(*) FROM pipeline_slots "
            "WHERE trigger = 'dataset' GROUP BY schedule_name")
        return {r[0]: (r[1], int(r[2])) for r in rows}

    def insert_trigger(self, con: duckdb.DuckDBPyConnection, row: TriggerRow) -> None:
        self.catalog.insert(con, "pipeline_triggers", [row])

    def pending_triggers(self) -> list[TriggerRow]:
        rows = self.catalog.fetchall(
            "SELECT t.* FROM pipeline_triggers t WHERE NOT EXISTS ("
            "  SELECT 1 FROM pipeline_slots s WHERE s.schedule_name = t.schedule_name"
            "  AND s.slot_key = 'trigger:' || t.trigger_id) ORDER BY t.requested_at")
        return [TriggerRow(*r) for r in rows]

    def slots_frame(self, schedule_name: str | None = None) -> pd.DataFrame:
        where, args = ("WHERE schedule_name = ?", [schedule_name]) if schedule_name else ("", [])
        return self.catalog.query(
            f"SELECT * FROM pipeline_slots {where} ORDER BY claimed_at, slot_key", args)

    # -- pipeline runs ----------------------------------------------------
    def save_run_state(self, row: PipelineRunRow, obj: ObjectRow | None = None,
                       events: Sequence[EventRow] = ()) -> None:
        cat = self.catalog

        def write(con: duckdb.DuckDBPyConnection) -> None:
            if obj is not None:
                seen = con.execute("SELECT count(*) FROM objects WHERE object_key = ?",
                                   [obj.object_key]).fetchone()
                if not (seen and seen[0]):
                    cat.insert(con, "objects", [obj])
            cat.insert(con, "pipeline_runs", [row])
            cat.insert(con, "pipeline_events", list(events))

        cat.transaction(write)

    def pipeline_run(self, run_ref: str) -> PipelineRunRow:
        rows = self.catalog.fetchall(
            f"SELECT {_RUN_COLS} FROM v_pipeline_runs WHERE pipeline_run_id = ? "
            "OR starts_with(pipeline_run_id, ?) LIMIT 2", [run_ref, run_ref])
        exact = [r for r in rows if r[0] == run_ref]
        if exact:
            return PipelineRunRow(*exact[0])
        if not rows:
            raise NotFound(f"no pipeline run {run_ref!r}", hint="list them with `nbops pipeline runs`")
        if len(rows) > 1:
            raise NotFound(f"pipeline run prefix {run_ref!r} is ambiguous", hint="give more characters")
        return PipelineRunRow(*rows[0])

    def runs_frame(self, *, schedule_name: str | None = None, status: str | None = None,
                   limit: int | None = 50) -> pd.DataFrame:
        conds: list[str] = []
        args: list[Any] = []
        if schedule_name:
            conds.append("schedule_name = ?")
            args.append(schedule_name)
        if status:
            conds.append("status = ?")
            args.append(status)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        lim = f"LIMIT {int(limit)}" if limit else ""
        return self.catalog.query(
            f"SELECT * FROM v_pipeline_runs {where} ORDER BY started_at DESC, attempt DESC {lim}", args)

    def running_runs(self, host: str) -> list[PipelineRunRow]:
        rows = self.catalog.fetchall(
            f"SELECT {_RUN_COLS} FROM v_pipeline_runs WHERE status = 'running' AND host = ?", [host])
        return [PipelineRunRow(*r) for r in rows]

    # -- events -----------------------------------------------------------
    def insert_events(self, con: duckdb.DuckDBPyConnection, rows: Sequence[EventRow]) -> None:
        self.catalog.insert(con, "pipeline_events", list(rows))

    def events_frame(self, schedule_name: str | None = None, limit: int | None = 100) -> pd.DataFrame:
        where, args = ("WHERE schedule_name = ?", [schedule_name]) if schedule_name else ("", [])
        lim = f"LIMIT {int(limit)}" if limit else ""
        return self.catalog.query(f"SELECT * FROM pipeline_events {where} ORDER BY ts DESC {lim}", args)

    # -- the scheduler lease ----------------------------------------------
    def live_leases(self, con: duckdb.DuckDBPyConnection, stale_before: datetime) -> list[LeaseRow]:
        rows = con.execute(
            f"SELECT {_LEASE_COLS} FROM scheduler_leases WHERE released_at IS NULL "
            "AND heartbeat_at >= ? ORDER BY acquired_at, holder_id", [stale_before]).fetchall()
        return [LeaseRow(*r) for r in rows]

    def insert_lease(self, con: duckdb.DuckDBPyConnection, row: LeaseRow) -> None:
        self.catalog.insert(con, "scheduler_leases", [row])

    def heartbeat(self, holder_id: str, now: datetime) -> None:
        self.catalog.transaction(lambda con: con.execute(
            "UPDATE scheduler_leases SET heartbeat_at = ? WHERE holder_id = ?", [now, holder_id]))

    def release_lease(self, holder_id: str, now: datetime) -> None:
        self.catalog.transaction(lambda con: con.execute(
            "UPDATE scheduler_leases SET released_at = ? WHERE holder_id = ?", [now, holder_id]))
