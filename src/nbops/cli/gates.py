"""``nbops gates show NAME@REF``: the validation gate results recorded on a model version."""

from __future__ import annotations

import click

from nbops.cli import main


@main.group()
def gates() -> None:
    """Validation gate results recorded on model versions (see docs/gates.md)."""


@gates.command("show")
@click.argument("ref")
@click.option("--history", is_flag=True, help="every recorded result, not only each gate's latest")
@click.option("--json", "as_json", is_flag=True, help="JSON lines with the full recorded details")
def gates_show(ref: str, history: bool, as_json: bool) -> None:
    """List the gate results of REF (NAME@vN, NAME@ALIAS, NAME@latest); exit 1 if one failed."""
    import pandas as pd

    from nbops.gates.results import results
    from nbops.workspace import Workspace

    with Workspace.open(create=False) as ws:
        frame = results(ref, history=history, ws=ws)
    if frame.empty:
        click.echo(f"no validation gate results recorded for {ref}")
        return
    if as_json:
        click.echo(frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n"))
    else:
        click.echo(f"{ref}: v{frame['version'].iloc[0]}, {len(frame)} gate result(s)")
        width = int(frame["gate"].str.len().max())
        for r in frame.itertuples():
            when = pd.Timestamp(r.ts).strftime("%Y-%m-%d %H:%M") if r.ts is not None else "?"
            vs = f", vs {r.against}" if r.against else ""
            click.echo(f"  {'ok' if r.passed else 'FAILED':<6}  {r.gate:<{width}}  {r.summary}"
                       f"  [{r.recorded_by} {when}{vs}]")
    latest = frame.drop_duplicates("gate", keep="last")
    if not latest["passed"].all():
        raise SystemExit(1)
