"""The scheduler with real kernels and a fake clock: catch-up after a restart, retries, triggers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _pipelines_util import make_notebook, ws_fixture  # noqa: F401

from nbops.catalog.pipeline_records import LeaseRow
from nbops.pipelines import add_schedule, trigger
from nbops.pipelines.clock import FakeClock
from nbops.pipelines.lease import SchedulerLocked
from nbops.pipelines.scheduler import Scheduler

T0 = datetime(2026, 3, 2, 7, 59, tzinfo=UTC)


def _runs(ws, name: str) -> list[tuple[str, str, int]]:
    df = ws.sql("SELECT slot_key, status, attempt FROM v_pipeline_runs WHERE schedule_name = ? "
                "ORDER BY slot_key, attempt", [name])
    return [tuple(r) for r in df.itertuples(index=False)]


def test_restart_mid_day_runs_missed_slots_per_catchup_and_never_twice(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "hourly.ipynb", "x = 1")
    clock = FakeClock(T0)
    for policy in ("none", "latest", "all"):
        add_schedule(policy, str(nb), ws=ws, cron="0 * * * *", catchup=policy, now=T0)

    clock.set(T0.replace(hour=8, minute=0, second=5))  # the 08:00 slot is due for everyone
    assert len(Scheduler(ws, clock=clock).run_once()) == 3

    # The scheduler was down from 08:01 until 11:30: 09:00, 10:00 and 11:00 were missed.
    clock.set(T0.replace(hour=11, minute=30))
    fired = Scheduler(ws, clock=clock).run_once()
    assert sorted((f.schedule.name, f.slot_time.hour) for f in fired) == [
        ("all", 9), ("all", 10), ("all", 11), ("latest", 11)]
    assert Scheduler(ws, clock=clock).run_once() == []  # a second restart fires nothing again

    slot = "cron:2026-03-02T{:02d}:00:00+00:00".format
    assert _runs(ws, "all") == [(slot(h), "succeeded", 1) for h in (8, 9, 10, 11)]
    assert _runs(ws, "latest") == [(slot(8), "succeeded", 1), (slot(11), "succeeded", 1)]
    assert _runs(ws, "none") == [(slot(8), "succeeded", 1)]
    skipped = ws.sql("SELECT schedule_name, action FROM pipeline_events WHERE action = 'slot.skipped'")
    assert skipped["schedule_name"].tolist() == ["none"]


def test_failures_are_retried_with_exponential_backoff_then_reported(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "flaky.ipynb", "raise RuntimeError('upstream not ready')")
    clock = FakeClock(T0)
    add_schedule("flaky", str(nb), ws=ws, retries=2, retry_delay=10, on_failure="ops-mail", now=T0)
    trigger("flaky", "drift on feature x", ws=ws, now=T0)  # the monitoring hook; no cron needed
    fired = Scheduler(ws, clock=clock).run_once()
    assert [f.trigger for f in fired] == ["alert"]
    assert clock.sleeps == [10, 20]
    runs = _runs(ws, "flaky")
    assert [(status, attempt) for _, status, attempt in runs] == [("failed", 1), ("failed", 2), ("failed", 3)]
    events = ws.sql("SELECT action, detail FROM pipeline_events WHERE schedule_name = 'flaky' ORDER BY ts")
    assert events["action"].tolist().count("run.retry") == 2
    failed = events[events["action"] == "run.failed"]["detail"].iloc[0]
    assert "ops-mail" in failed and "upstream not ready" in failed
    log = (ws.settings.home / "logs" / "scheduler.log").read_text()
    assert "flaky" in log and "failed after 3 attempt(s)" in log
    assert Scheduler(ws, clock=clock).run_once() == []  # the trigger was consumed


def test_a_dataset_change_fires_its_schedule_once(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "on_data.ipynb", "x = 1")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    clock = FakeClock(T0)
    add_schedule("ondata", str(nb), ws=ws, watch="data/*.csv", now=T0)
    assert Scheduler(ws, clock=clock).run_once() == []  # unchanged since the schedule was added
    (data / "a.csv").write_text("x\n1\n2\n")
    clock.advance(60)
    assert [f.trigger for f in Scheduler(ws, clock=clock).run_once()] == ["dataset"]
    os.utime(data / "a.csv")  # touched, same content
    clock.advance(60)
    assert Scheduler(ws, clock=clock).run_once() == []
    assert len(_runs(ws, "ondata")) == 1


def test_a_second_scheduler_refuses_and_says_who_holds_the_workspace(ws) -> None:
    first = Scheduler(ws)
    first.start()
    try:
        with pytest.raises(SchedulerLocked, match=f"pid {os.getpid()}"):
            Scheduler(ws).start()
    finally:
        first.stop()
    # A live lease from another machine (team catalog) also refuses; a stale one does not.
    now = datetime.now(UTC)
    ws.catalog.transaction(lambda con: ws.catalog.insert(con, "scheduler_leases", [
        LeaseRow("other", "build-box-7", 4242, "ci", now, now, None)]))
    with pytest.raises(SchedulerLocked, match="build-box-7"):
        Scheduler(ws).start()
    later = FakeClock(now + timedelta(minutes=10))
    third = Scheduler(ws, clock=later)
    third.start()
    third.stop()


def test_sigterm_lets_the_scheduler_record_a_running_notebook_as_interrupted(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "long.ipynb", "import time\nopen('started', 'w').close()\ntime.sleep(300)")
    add_schedule("long", str(nb), ws=ws)
    trigger("long", "test", ws=ws)
    proc = subprocess.Popen([sys.executable, "-m", "nbops", "scheduler", "--interval", "0.5",
                             "--shutdown-wait", "1"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "started").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "nbops", "scheduler", "--once"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert f"pid {proc.pid}" in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _runs(ws, "long")[0][1] == "interrupted"
