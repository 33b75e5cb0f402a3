"""Schedules in the catalog, cron helpers and the exports (no kernels)."""

from __future__ import annotations

import json
import py_compile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _pipelines_util import make_notebook, ws_fixture  # noqa: F401
from click.testing import CliRunner

from nbops.cli import main
from nbops.errors import NotFound
from nbops.pipelines import (
    add_schedule,
    list_schedules,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from nbops.pipelines.cron import ScheduleError, latest_slot, next_slot
from nbops.pipelines.export import airflow_dag, crontab, on_calendar, systemd_units
from nbops.pipelines.schedules import ScheduleExists


@pytest.fixture
def nb(ws, tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "train.ipynb", "x = 1", parameters="alpha = 1")


def test_schedule_lifecycle_is_stored_and_every_change_recorded(ws, nb: Path) -> None:
    row = add_schedule("nightly", str(nb), ws=ws, cron="@daily", parameters={"alpha": 2}, retries=1)
    assert (row.cron, row.notebook, json.loads(row.parameters)) == ("0 0 * * *", "train.ipynb", {"alpha": 2})
    with pytest.raises(ScheduleExists):
        add_schedule("nightly", str(nb), ws=ws, cron="@daily")
    pause_schedule("nightly", ws=ws)
    assert list_schedules(ws=ws)[0].paused
    resume_schedule("nightly", ws=ws)
    add_schedule("nightly", str(nb), ws=ws, cron="0 6 * * *", replace_existing=True)
    assert list_schedules(ws=ws)[0].cron == "0 6 * * *"
    remove_schedule("nightly", ws=ws)
    assert list_schedules(ws=ws) == []
    with pytest.raises(NotFound):
        pause_schedule("nightly", ws=ws)
    actions = ws.sql("SELECT action FROM pipeline_events ORDER BY ts")["action"].tolist()
    assert actions == ["schedule.add", "schedule.pause", "schedule.resume", "schedule.update",
                       "schedule.remove"]


def test_bad_schedules_are_refused_with_a_hint(ws, nb: Path) -> None:
    with pytest.raises(ScheduleError, match="invalid cron"):
        add_schedule("x", str(nb), ws=ws, cron="61 * * * *")
    with pytest.raises(ScheduleError, match="catchup"):
        add_schedule("x", str(nb), ws=ws, cron="@hourly", catchup="sometimes")
    with pytest.raises(ScheduleError, match="time zone"):
        add_schedule("x", str(nb), ws=ws, cron="@hourly", tz="Mars/Olympus")
    with pytest.raises(NotFound, match="no notebook"):
        add_schedule("x", "missing.ipynb", ws=ws, cron="@hourly")
    res = CliRunner().invoke(main, ["schedule", "add", "bad name", str(nb), "--cron", "@hourly"])
    assert res.exit_code == 2 and "invalid schedule name" in res.output


def test_cli_add_list_and_export(ws, nb: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    res = cli.invoke(main, ["schedule", "add", "retrain", str(nb), "--cron", "30 2 * * 1-5",
                            "--tz", "Europe/Berlin", "-p", "alpha", "3", "--retries", "2",
                            "--timeout", "600", "--catchup", "latest"])
    assert res.exit_code == 0, res.output
    assert "retrain" in cli.invoke(main, ["schedule", "list"]).output
    cron = cli.invoke(main, ["schedule", "export", "--cron"]).output
    assert "CRON_TZ=Europe/Berlin" in cron and "30 2 * * 1-5 cd " in cron
    assert "run train.ipynb --schedule retrain -p alpha 3 --timeout 600" in cron
    res = cli.invoke(main, ["schedule", "export", "--systemd", str(tmp_path / "units"),
                            "--airflow", str(tmp_path / "dags")])
    assert res.exit_code == 0, res.output
    timer = (tmp_path / "units" / "nbops-retrain.timer").read_text()
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00 Europe/Berlin" in timer
    assert "Persistent=true" in timer
    service = (tmp_path / "units" / "nbops-retrain.service").read_text()
    assert "Restart=on-failure" in service and "ExecStart=" in service
    py_compile.compile(str(tmp_path / "dags" / "nbops_retrain.py"), doraise=True)


def test_cron_slots_and_their_systemd_translation() -> None:
    t = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert next_slot("0 * * * *", "UTC", t) == t.replace(hour=11, minute=0)
    assert latest_slot("0 * * * *", "UTC", t) == t.replace(minute=0)
    assert latest_slot("30 10 * * *", "UTC", t) == t  # a slot exactly now counts
    # 09:00 in Berlin is 08:00 UTC in winter
    assert next_slot("0 9 * * *", "Europe/Berlin", t) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert on_calendar("*/15 * * * *", "UTC") == ["*-*-* *:00,15,30,45:00 UTC"]
    assert on_calendar("0 6 * * 0,6", "UTC") == ["Sun,Sat *-*-* 06:00:00 UTC"]
    # cron fires when either day field matches; systemd needs one line for each
    assert on_calendar("0 0 1 * mon", "UTC") == ["*-*-01 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC"]


def test_exports_of_non_cron_schedules(ws, nb: Path) -> None:
    row = add_schedule("ondata", str(nb), ws=ws, watch="data/*.csv", parameters={"alpha": 0.5})
    root, home = ws.settings.home.parent, ws.settings.home
    assert "# ondata: skipped" in crontab([row], root, home)
    assert systemd_units([row], root, home) == {}
    source = airflow_dag(row, root, home, flavour="papermill")
    compile(source, "dag.py", "exec")
    assert "schedule=None" in source and "{'alpha': 0.5}" in source


def test_schedule_changes_are_authorized_and_on_the_audit_chain(ws, nb: Path, monkeypatch) -> None:
    from nbops import governance
    from nbops.governance.errors import PermissionDenied

    add_schedule("weekly", str(nb), ws=ws, cron="@weekly")
    pause_schedule("weekly", ws=ws)
    log = governance.audit_log(ws=ws)
    assert {"schedule.add", "schedule.pause"} <= set(log["action"])
    assert governance.verify_audit(ws=ws).ok
    governance.grant("alice", "admin", ws=ws)
    # A user without a role may not change schedules, and nothing is recorded for the attempt.
    with pytest.raises(PermissionDenied):
        resume_schedule("weekly", ws=ws, actor="mallory")
    assert list_schedules(ws=ws)[0].paused
    assert len(governance.audit_log(ws=ws)) == len(log) + 1  # the grant only
