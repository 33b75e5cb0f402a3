"""The ``nbops`` command line. Commands import the core lazily so ``nbops --help`` stays fast."""

from __future__ import annotations

import sys
from typing import Any

import click

from nbops.errors import NbopsError


class _Group(click.Group):
    """Renders NbopsError as a short message with its hint, and exits with its code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NbopsError as exc:
            click.secho(f"Error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="nbops")
def main() -> None:
    """nbops: notebook-first MLOps on one DuckLake catalog."""


def _workspace(create: bool = False) -> Any:
    from nbops.workspace import Workspace

    return Workspace.open(create=create)


@main.command()
@click.argument("directory", required=False, default=".")
def init(directory: str) -> None:
    """Create a workspace (.nbops/) in DIRECTORY."""
    from pathlib import Path

    from nbops.config import init_workspace, load_settings

    home = init_workspace(Path(directory))
    from nbops.workspace import Workspace

    Workspace(load_settings(home)).close()
    click.echo(f"workspace ready at {home}")


@main.command()
@click.option("--filter", "filter_", help="e.g. \"metric.acc > 0.9 and param.model = 'rf'\"")
@click.option("--sort", default="started_at", show_default=True, help="a column, or metric.X / param.X")
@click.option("--asc", is_flag=True, help="sort ascending")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--all-columns", is_flag=True, help="show every column")
def runs(filter_: str | None, sort: str, asc: bool, limit: int, all_columns: bool) -> None:
    """List runs with their params and metrics."""
    import pandas as pd

    with _workspace() as ws:
        df = ws.runs(filter_, sort=sort, ascending=asc, limit=limit)
    if df.empty:
        click.echo("no runs")
        return
    if not all_columns:
        keep = ["run_id", "name", "status", "started_at", "duration_ms"]
        keep += [c for c in df.columns if c.startswith(("param.", "metric."))]
        df = df[keep]
    df = df.assign(started_at=df["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with pd.option_context("display.max_columns", None, "display.width", 200):
        click.echo(df.to_string(index=False))


@main.command()
@click.argument("run")
def show(run: str) -> None:
    """Show one run: code, params, metrics, artifacts, lineage."""
    with _workspace() as ws:
        d = ws.run_details(run)
    r = d["run"]
    click.echo(f"run {r['run_id']}  {r['name'] or ''}  [{r['status']}]  by {r['user_name']}")
    click.echo(f"  started {r['started_at']}  took {r['duration_ms']:.0f} ms")
    if r.get("notebook"):
        click.echo(f"  source {r['notebook']}")
    if r.get("error"):
        click.secho(f"  error: {r['error']}", fg="red")
    env = d["environment"]
    if env:
        click.echo(f"  python {env['python']}  git {env.get('git_commit') or '-'}")
    for _, p in d["params"].iterrows():
        click.echo(f"  param  {p['key']} = {p['value']}")
    for key, g in d["metrics"].groupby("key"):
        click.echo(f"  metric {key} = {g['value'].iloc[-1]:.6g}" + (f"  ({len(g)} steps)" if len(g) > 1 else ""))
    for _, a in d["artifacts"].iterrows():
        what = f"{a['role']:<6} {a['kind']:<7} {a['name']}"
        if a["skipped_reason"]:
            click.echo(f"  {what}  skipped: {a['skipped_reason']}")
        else:
            click.echo(f"  {what}@v{int(a['version'])}  {a['shape'] or ''}  {a['size_bytes']} B")
    if r.get("code"):
        click.echo("  code:")
        for line in str(r["code"]).splitlines():
            click.echo(f"    {line}")


@main.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def sql(query: str, fmt: str) -> None:
    """Run SQL over the catalog (tables and v_* views; see docs/catalog.md)."""
    import pandas as pd

    with _workspace() as ws:
        df = ws.sql(query)
    if fmt == "csv":
        click.echo(df.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(df.to_json(orient="records", date_format="iso"))
    else:
        with pd.option_context("display.max_columns", None, "display.width", 200):
            click.echo(df.to_string(index=False))


@main.command()
def doctor() -> None:
    """Check the workspace, catalog, extensions and object store."""
    from nbops.doctor import run_checks

    ok = True
    for check in run_checks():
        mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
        click.echo(f"[{mark}] {check.name}: {check.detail}")
        ok &= check.ok
    sys.exit(0 if ok else 1)


def _register_command_modules() -> None:
    """Each capability adds its commands from its own module ``nbops.cli.<area>``."""
    import importlib
    import importlib.util

    for area in ("track", "registry", "governance", "pipelines", "gates", "replay", "monitor",
                 "abtest", "serve"):
        if importlib.util.find_spec(f"nbops.cli.{area}") is not None:
            importlib.import_module(f"nbops.cli.{area}")


_register_command_modules()
