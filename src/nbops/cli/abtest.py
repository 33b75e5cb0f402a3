"""``nbops ab create|list|start|stop|weights|report|conclude``: A/B experiments between model versions."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from nbops.cli import main


def _experiment(name: str) -> Any:
    from nbops import abtest
    from nbops.workspace import Workspace

    ws = Workspace.open(create=False)
    try:
        return abtest.get(name, ws=ws)
    except BaseException:
        ws.close()
        raise


def _parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{p!r}: expected NAME=VALUE", param_hint=what)
        out[key] = value
    return out


@main.group()
def ab() -> None:
    """A/B, shadow and canary experiments between registered model versions."""


@ab.command("create")
@click.argument("name")
@click.option("-v", "--variant", "variants", multiple=True, required=True,
              help="NAME=MODEL@ALIAS (repeat; the first is the control)")
@click.option("-w", "--weight", "weights", multiple=True, help="NAME=WEIGHT (default: equal)")
@click.option("--unit", default="unit_id", show_default=True, help="the unit the experiment randomizes")
@click.option("--metric", default="outcome", show_default=True)
@click.option("--kind", type=click.Choice(["binary", "continuous"]), default="binary", show_default=True)
@click.option("--mode", type=click.Choice(["ab", "shadow", "canary"]), default="ab", show_default=True)
@click.option("--guardrail", "guardrails", multiple=True, help="e.g. 'error_rate<0.02' or 'metric_floor 0.05'")
@click.option("--ramp", help="canary ramp as JSON, e.g. '[[0, 0.05], [\"1h\", 0.25]]'")
def create_cmd(name: str, variants: tuple[str, ...], weights: tuple[str, ...], unit: str, metric: str,
               kind: str, mode: str, guardrails: tuple[str, ...], ramp: str | None) -> None:
    """Define experiment NAME (it starts as a draft)."""
    from nbops import abtest
    from nbops.workspace import Workspace

    w = {k: float(v) for k, v in _parse_pairs(weights, "--weight").items()} or None
    with Workspace.open(create=False) as ws:
        exp = abtest.create(name, _parse_pairs(variants, "--variant"), w, unit=unit,
                            metric={"name": metric, "kind": kind}, guardrails=list(guardrails),
                            mode=mode, ramp=json.loads(ramp) if ramp else None, ws=ws)
        click.echo(f"created {exp.name} ({exp.mode}): {exp.variants}")


@ab.command("list")
@click.option("--status", type=click.Choice(["draft", "running", "stopped", "concluded"]))
def list_cmd(status: str | None) -> None:
    """List experiments."""
    import pandas as pd

    from nbops import abtest
    from nbops.workspace import Workspace

    with Workspace.open(create=False) as ws:
        df = abtest.experiments(status, ws=ws)
    if df.empty:
        click.echo("no experiments")
        return
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 60):
        click.echo(df.to_string(index=False))


@ab.command("start")
@click.argument("name")
def start_cmd(name: str) -> None:
    """Pin the variants' versions and start routing."""
    exp = _experiment(name)
    try:
        exp.start()
        click.echo(f"{name} running: {exp.pinned()}")
    finally:
        exp.ws.close()


@ab.command("stop")
@click.argument("name")
@click.option("--reason", default="", help="why (kept in the audit log)")
def stop_cmd(name: str, reason: str) -> None:
    """Stop routing units to the experiment's variants."""
    exp = _experiment(name)
    try:
        exp.stop(reason)
        click.echo(f"{name} stopped")
    finally:
        exp.ws.close()


@ab.command("weights")
@click.argument("name")
@click.argument("weights", nargs=-1, required=True)
def weights_cmd(name: str, weights: tuple[str, ...]) -> None:
    """Set NAME=WEIGHT for new units (exposed units keep their variant)."""
    exp = _experiment(name)
    try:
        exp.set_weights({k: float(v) for k, v in _parse_pairs(weights, "WEIGHTS").items()})
        click.echo(f"{name} weights: {exp.weights}")
    finally:
        exp.ws.close()


@ab.command("report")
@click.argument("name")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--min-units", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable decision")
def report_cmd(name: str, alpha: float, min_units: int, as_json: bool) -> None:
    """The decision with its reasons (exit code 0; a guardrail breach stops the experiment)."""
    exp = _experiment(name)
    try:
        rep = exp.report(alpha=alpha, min_units=min_units)
    finally:
        exp.ws.close()
    if as_json:
        click.echo(json.dumps({"experiment": rep.experiment, "decision": str(rep.decision),
                               "winner": rep.winner, "reasons": list(rep.reasons), "units": rep.units,
                               "srm_p_value": rep.srm.p_value if rep.srm else None,
                               "comparisons": rep.to_frame().to_dict("records")}, default=str))
        return
    click.echo(str(rep))


@ab.command("conclude")
@click.argument("name")
@click.argument("winner")
@click.option("--promote", type=click.Choice(["perform", "request"]),
              help="move --alias to the winner now, or file a promotion request")
@click.option("--alias", default="production", show_default=True)
@click.option("--reason", default="")
def conclude_cmd(name: str, winner: str, promote: str | None, alias: str, reason: str) -> None:
    """Close the experiment with WINNER (a variant name)."""
    exp = _experiment(name)
    try:
        request = exp.conclude(winner, promote=promote, alias=alias, reason=reason)
    finally:
        exp.ws.close()
    click.echo(f"{name} concluded: {winner}" + (f" (promotion request {request})" if request else ""))
    sys.exit(0)
