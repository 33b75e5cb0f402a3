"""``nbops diff`` and ``nbops lineage``: the %nbops views from the shell."""

from __future__ import annotations

import click

from nbops.cli import _workspace, main


@main.command()
@click.argument("run_a")
@click.argument("run_b")
def diff(run_a: str, run_b: str) -> None:
    """Compare two runs: code, params, metrics, data and model hyperparameters."""
    from nbops.tracking.views import render_diff

    with _workspace() as ws:
        click.echo(render_diff(ws, run_a, run_b))


@main.command()
@click.argument("ref")
def lineage(ref: str) -> None:
    """The chain data → cells → model behind a run or an artifact (name, name@vN, RUN/name)."""
    from nbops.tracking.lineage_view import render_lineage

    with _workspace() as ws:
        click.echo(render_lineage(ws, ref))
