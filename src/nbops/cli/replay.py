"""``nbops replay``: a clean pipeline notebook from the lineage of a model version or a run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from nbops.cli import _workspace, main


def _default_output(ref: str) -> Path:
    return Path(f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', ref).strip('_.') or 'replay'}.pipeline.ipynb")


@main.command()
@click.argument("ref")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the notebook (default: REF.pipeline.ipynb)")
@click.option("--verify", is_flag=True,
              help="run it as a pipeline and compare datasets, hyperparameters and metrics")
def replay(ref: str, output: Path | None, verify: bool) -> None:
    """Build a pipeline notebook from what produced REF (MODEL@VERSION, MODEL@ALIAS, RUN/NAME, RUN).

    Exit code 0 when the notebook has no hidden state (and, with --verify, reproduces
    the originals), 1 otherwise.
    """
    from nbops.pipelines.replay_build import replay as build_replay

    with _workspace(create=False) as ws:
        result = build_replay(ref, output or _default_output(ref), verify=verify, ws=ws)
    click.echo(result.report())
    sys.exit(0 if result.ok else 1)
