"""``nbops run``, ``nbops schedule ...``, ``nbops scheduler`` and ``nbops pipeline ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nbops.cli import _workspace, main

_EXIT = {"succeeded": 0, "failed": 1, "timeout": 124, "killed": 137, "interrupted": 130}

_param = click.option("-p", "--parameter", "parameters", nargs=2, multiple=True,
                      metavar="NAME VALUE", help="a parameter (typed like papermill: 3, 0.5, True, None, text)")
_yaml = click.option("-y", "--parameters-yaml", "yaml_text", help="parameters as a YAML mapping")
_file = click.option("-f", "--parameters-file", "yaml_file", type=click.Path(dir_okay=False),
                     help="a YAML file of parameters")


def _params(pairs: Any, yaml_text: str | None, yaml_file: str | None) -> dict[str, Any]:
    from nbops.pipelines.params import collect_parameters

    return collect_parameters(pairs, yaml_text=yaml_text, yaml_file=yaml_file)


@main.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False))
@_param
@_yaml
@_file
@click.option("--timeout", type=float, help="seconds for the whole run; the kernel is killed after")
@click.option("--cell-timeout", type=float, help="seconds for any single cell")
@click.option("--kernel", help="kernel name (default: the notebook's, else python3)")
@click.option("--cwd", type=click.Path(file_okay=False), help="working directory of the kernel")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="also write the executed notebook here")
@click.option("--schedule", "schedule_name", help="label the run with this schedule name")
@click.option("-q", "--quiet", is_flag=True, help="no per-cell progress")
def run_cmd(notebook: str, parameters: Any, yaml_text: str | None, yaml_file: str | None,
            timeout: float | None, cell_timeout: float | None, kernel: str | None, cwd: str | None,
            output: str | None, schedule_name: str | None, quiet: bool) -> None:
    """Execute NOTEBOOK with papermill as a recorded pipeline run."""
    from nbops.pipelines.runner import run

    params = _params(parameters, yaml_text, yaml_file)
    with _workspace(create=True) as ws:
        try:
            result = run(notebook, params, ws=ws, timeout=timeout, cell_timeout=cell_timeout,
                         kernel=kernel, cwd=cwd, output=output, progress=not quiet,
                         schedule=schedule_name)
        except KeyboardInterrupt:
            sys.exit(_EXIT["interrupted"])
    if not result.ok and result.error_traceback and not quiet:
        click.echo(result.error_traceback, err=True)
    click.echo(result.id)
    sys.exit(_EXIT.get(str(result.status), 1))


@main.group()
def schedule() -> None:
    """Schedules: notebooks run on cron, on dataset changes, or on alerts."""


@schedule.command("add")
@click.argument("name")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--cron", help="5-field cron expression, or @hourly/@daily/...")
@click.option("--tz", default="UTC", show_default=True, help="time zone of the cron expression")
@click.option("--watch", help="path or glob (under the workspace) whose content change fires it")
@_param
@_yaml
@_file
@click.option("--retries", type=int, default=0, show_default=True)
@click.option("--retry-delay", type=float, default=60, show_default=True,
              help="seconds before the first retry; doubles for each further one")
@click.option("--timeout", type=float, help="seconds per attempt; the kernel is killed after")
@click.option("--catchup", type=click.Choice(["none", "latest", "all"]), default="none",
              show_default=True, help="what a scheduler that was down does with missed cron slots")
@click.option("--on-failure", help="alert channel to notify when a run fails for good")
@click.option("--kernel")
@click.option("--cwd", help="working directory (relative to the workspace root)")
@click.option("--paused", is_flag=True, help="create it paused")
@click.option("--replace", is_flag=True, help="redefine an existing schedule")
def schedule_add(name: str, notebook: str, cron: str | None, tz: str, watch: str | None,
                 parameters: Any, yaml_text: str | None, yaml_file: str | None, retries: int,
                 retry_delay: float, timeout: float | None, catchup: str, on_failure: str | None,
                 kernel: str | None, cwd: str | None, paused: bool, replace: bool) -> None:
    """Add schedule NAME that runs NOTEBOOK."""
    from nbops.pipelines.schedules import add_schedule

    with _workspace(create=True) as ws:
        row = add_schedule(name, notebook, ws=ws, cron=cron, watch=watch,
                           parameters=_params(parameters, yaml_text, yaml_file), retries=retries,
                           retry_delay=retry_delay, timeout=timeout, catchup=catchup,
                           on_failure=on_failure, kernel=kernel, cwd=cwd, tz=tz, paused=paused,
                           replace_existing=replace)
    when = [f"cron '{row.cron}' ({row.tz})"] if row.cron else []
    when += [f"changes of {row.watch}"] if row.watch else []
    click.echo(f"schedule {row.name} (revision {row.revision}): {row.notebook} on "
               f"{' or '.join(when) or 'triggers only'}")


@schedule.command("list")
def schedule_list() -> None:
    """List schedules with their next cron fire time."""
    from datetime import UTC, datetime

    from nbops.pipelines.cron import describe_next
    from nbops.pipelines.schedules import list_schedules

    with _workspace() as ws:
        rows = list_schedules(ws=ws)
    if not rows:
        click.echo("no schedules")
        return
    now = datetime.now(UTC)
    for s in rows:
        state = "paused" if s.paused else "active"
        nxt = describe_next(s.cron, s.tz, now) if s.cron and not s.paused else "-"
        trig = s.cron or ""
        trig += f" watch={s.watch}" if s.watch else ""
        click.echo(f"{s.name:<20} {state:<7} {trig or 'triggers only':<24} next {nxt:<22} "
                   f"{s.notebook}  retries={s.retries} catchup={s.catchup}")


def _change(fn_name: str, name: str, verb: str) -> None:
    from nbops.pipelines import schedules

    with _workspace() as ws:
        getattr(schedules, fn_name)(name, ws=ws)
    click.echo(f"schedule {name} {verb}")


@schedule.command("pause")
@click.argument("name")
def schedule_pause(name: str) -> None:
    """Stop firing NAME (its runs in progress finish)."""
    _change("pause_schedule", name, "paused")


@schedule.command("resume")
@click.argument("name")
def schedule_resume(name: str) -> None:
    """Fire NAME again (slots missed while paused are not caught up)."""
    _change("resume_schedule", name, "resumed")


@schedule.command("remove")
@click.argument("name")
def schedule_remove(name: str) -> None:
    """Remove NAME (its history stays in the catalog)."""
    _change("remove_schedule", name, "removed")


@schedule.command("trigger")
@click.argument("name")
@click.option("--reason", default="manual trigger", show_default=True)
def schedule_trigger(name: str, reason: str) -> None:
    """Ask the scheduler to run NAME at its next tick."""
    from nbops.pipelines.schedules import trigger

    with _workspace() as ws:
        tid = trigger(name, reason, ws=ws, kind="manual")
    click.echo(f"trigger {tid} queued for {name}")


@schedule.command("run-now")
@click.argument("name")
@_param
@click.option("-q", "--quiet", is_flag=True)
def schedule_run_now(name: str, parameters: Any, quiet: bool) -> None:
    """Run NAME now in this terminal, with its parameters, timeout and retries."""
    from nbops.pipelines.schedules import run_schedule_now

    with _workspace() as ws:
        result = run_schedule_now(name, ws=ws, progress=not quiet,
                                  parameters=_params(parameters, None, None))
    click.echo(result.id)
    sys.exit(_EXIT.get(str(result.status), 1))


@schedule.command("export")
@click.option("--airflow", "airflow_dir", type=click.Path(file_okay=False), help="write DAG files here")
@click.option("--operator", type=click.Choice(["bash", "papermill"]), default="bash", show_default=True,
              help="Airflow: BashOperator calling `nbops run`, or the papermill provider")
@click.option("--cron", "as_cron", is_flag=True, help="print crontab lines")
@click.option("--systemd", "systemd_dir", type=click.Path(file_okay=False),
              help="write .service/.timer units here")
@click.option("--name", "names", multiple=True, help="only these schedules")
def schedule_export(airflow_dir: str | None, operator: str, as_cron: bool,
                    systemd_dir: str | None, names: tuple[str, ...]) -> None:
    """Export schedules to Airflow, cron or systemd."""
    from nbops.errors import NbopsError
    from nbops.pipelines import export
    from nbops.pipelines.schedules import list_schedules

    if not (airflow_dir or as_cron or systemd_dir):
        raise NbopsError("choose --airflow DIR, --cron or --systemd DIR")
    with _workspace() as ws:
        rows = [s for s in list_schedules(ws=ws) if not names or s.name in names]
        home = ws.settings.home.resolve()
    root = home.parent
    if airflow_dir:
        for path in export.write_airflow(rows, Path(airflow_dir), root, home, flavour=operator):
            click.echo(f"wrote {path}", err=True)
    if systemd_dir:
        out = Path(systemd_dir)
        out.mkdir(parents=True, exist_ok=True)
        for fname, text in export.systemd_units(rows, root, home).items():
            (out / fname).write_text(text)
            click.echo(f"wrote {out / fname}", err=True)
    if as_cron:
        click.echo(export.crontab(rows, root, home), nl=False)


@main.command("scheduler")
@click.option("--once", is_flag=True, help="fire what is due now, wait for it, exit")
@click.option("--interval", type=float, default=30, show_default=True, help="seconds between ticks")
@click.option("--workers", type=int, default=2, show_default=True, help="notebooks run at once")
@click.option("--shutdown-wait", type=float, default=300, show_default=True,
              help="on SIGTERM, seconds running notebooks may take to finish before being killed")
def scheduler_cmd(once: bool, interval: float, workers: int, shutdown_wait: float) -> None:
    """Run the scheduler of this workspace in the foreground (one per workspace)."""
    import logging
    import signal

    from nbops.pipelines.scheduler import Scheduler

    with _workspace() as ws:
        sched = Scheduler(ws, interval=interval, max_workers=workers, shutdown_wait=shutdown_wait,
                          progress=True)
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        sched.log.addHandler(console)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sched.request_stop())
        if once:
            fired = sched.run_once()
            click.echo(f"fired {len(fired)} run(s)", err=True)
        else:
            sched.run_forever()


@main.group()
def pipeline() -> None:
    """Pipeline runs: list, show, fetch the executed notebook."""


@pipeline.command("runs")
@click.option("--schedule", "schedule_name")
@click.option("--status", type=click.Choice(list(_EXIT)))
@click.option("--limit", type=int, default=20, show_default=True)
def pipeline_runs(schedule_name: str | None, status: str | None, limit: int) -> None:
    """List pipeline runs, newest first."""
    import pandas as pd

    from nbops.catalog.pipelines import PipelineRepository

    with _workspace() as ws:
        df = PipelineRepository(ws.catalog).runs_frame(schedule_name=schedule_name, status=status,
                                                        limit=limit)
    if df.empty:
        click.echo("no pipeline runs")
        return
    df = df[["pipeline_run_id", "schedule_name", "notebook", "status", "attempt", "started_at",
             "duration_ms", "error_name"]]
    df = df.assign(started_at=df["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with pd.option_context("display.max_columns", None, "display.width", 200):
        click.echo(df.to_string(index=False))


@pipeline.command("show")
@click.argument("run_id")
def pipeline_show(run_id: str) -> None:
    """Show one pipeline run, with the failing cell's traceback."""
    import json

    from nbops.catalog.pipelines import PipelineRepository

    with _workspace() as ws:
        r = PipelineRepository(ws.catalog).pipeline_run(run_id)
    click.echo(f"pipeline run {r.pipeline_run_id}  [{r.status}]  attempt {r.attempt}"
               + (f"  schedule {r.schedule_name} ({r.slot_key})" if r.schedule_name else ""))
    click.echo(f"  notebook {r.notebook}  kernel {r.kernel}  by {r.user_name} on {r.host}")
    took = f"  took {r.duration_ms / 1000:.1f} s" if r.duration_ms is not None else ""
    click.echo(f"  started {r.started_at}{took}")
    click.echo(f"  parameters {json.dumps(json.loads(r.parameters))}")
    if r.output_key:
        click.echo(f"  output notebook: object {r.output_key} (`nbops pipeline output {r.pipeline_run_id}`)")
    if r.error_name:
        click.secho(f"  error in cell [{r.error_cell_index}]: {r.error_name}: {r.error_message}", fg="red")
        if r.error_traceback:
            click.echo(r.error_traceback)


@pipeline.command("output")
@click.argument("run_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="file to write (default stdout)")
def pipeline_output(run_id: str, output: str | None) -> None:
    """Fetch the executed notebook of a pipeline run from the object store."""
    from nbops.catalog.pipelines import PipelineRepository
    from nbops.errors import NotFound

    with _workspace() as ws:
        r = PipelineRepository(ws.catalog).pipeline_run(run_id)
        if not r.output_key:
            raise NotFound(f"pipeline run {r.pipeline_run_id} has no output notebook")
        data = ws.store.get(r.output_key)
    if output:
        Path(output).write_bytes(data)
    else:
        click.echo(data.decode(), nl=False)
