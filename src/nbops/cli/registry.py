"""``nbops models``, ``register``, ``promote``, ``rollback``, ``card``: the model registry."""

from __future__ import annotations

from typing import Any

import click

from nbops.cli import main


def _registry() -> Any:
    from nbops.registry import Registry
    from nbops.workspace import Workspace

    ws = Workspace.open(create=False)
    return ws, Registry(ws)


def _table(df: Any, empty: str) -> None:
    import pandas as pd

    if df.empty:
        click.echo(empty)
        return
    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 60):
        click.echo(df.to_string(index=False))


@main.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List registered models (subcommands: show, history, archive, delete)."""
    if ctx.invoked_subcommand is None:
        ws, reg = _registry()
        with ws:
            _table(reg.models_frame(), "no registered models (register one with `nbops register`)")


@models.command("show")
@click.argument("name")
def models_show(name: str) -> None:
    """The versions of NAME with their status and aliases."""
    ws, reg = _registry()
    with ws:
        _table(reg.versions(name), f"{name} has no versions")


@models.command("history")
@click.argument("name")
@click.option("--alias", help="only this alias")
def models_history(name: str, alias: str | None) -> None:
    """Every alias move of NAME (promotions and rollbacks)."""
    ws, reg = _registry()
    with ws:
        _table(reg.history(name, alias), f"no alias of {name} was ever set")


@models.command("archive")
@click.argument("name")
@click.argument("version")
@click.option("--reason", default="")
def models_archive(name: str, version: str, reason: str) -> None:
    """Archive a version (it can no longer be promoted)."""
    ws, reg = _registry()
    with ws:
        reg.archive(name, version, reason)
    click.echo(f"archived {name} v{version.lstrip('v')}")


@models.command("delete")
@click.argument("name")
@click.argument("version")
@click.option("--reason", default="")
def models_delete(name: str, version: str, reason: str) -> None:
    """Delete a version (refused while it holds an alias)."""
    ws, reg = _registry()
    with ws:
        reg.delete(name, version, reason)
    click.echo(f"deleted {name} v{version.lstrip('v')}")


@main.command()
@click.argument("ref")
@click.argument("name")
@click.option("--description", help="what this version is")
@click.option("--intended-use", help="what the model is for (shown on its card)")
def register(ref: str, name: str, description: str | None, intended_use: str | None) -> None:
    """Register the tracked model REF (RUN/clf, clf@v3, clf) as the next version of NAME."""
    ws, reg = _registry()
    with ws:
        mv = reg.register(ref, name, description=description, intended_use=intended_use)
    click.echo(f"registered {mv.name} v{mv.version} (run {mv.run_id}, {mv.artifact_name})")


@main.command()
@click.argument("name")
@click.argument("version")
@click.argument("alias")
@click.option("--reason", default="")
def promote(name: str, version: str, alias: str, reason: str) -> None:
    """Point ALIAS of NAME at VERSION (3, v3, latest or another alias), under the alias's policy."""
    ws, reg = _registry()
    with ws:
        mv = reg.promote(name, version, alias, reason)
    click.echo(f"{name}@{alias} -> v{mv.version}")


@main.command()
@click.argument("name")
@click.argument("alias")
@click.option("--reason", required=True, help="why (recorded in the audit log)")
def rollback(name: str, alias: str, reason: str) -> None:
    """Move ALIAS of NAME back to its previous holder."""
    ws, reg = _registry()
    with ws:
        mv = reg.rollback(name, alias, reason)
    click.echo(f"{name}@{alias} rolled back to v{mv.version}")


@main.command()
@click.argument("ref")
@click.option("--out", "out_dir", default=".", show_default=True, help="directory for .md and .html")
@click.option("--intended-use", help="record the model's intended use first")
def card(ref: str, out_dir: str, intended_use: str | None) -> None:
    """Write the model card of REF (NAME@ALIAS, NAME@vN, NAME@latest) as Markdown and HTML."""
    from nbops.governance.cards import build_card
    from nbops.tracking.names import parse_ref

    ws, reg = _registry()
    with ws:
        if intended_use:
            reg.set_intended_use(parse_ref(ref).name, intended_use)
        md, page = build_card(reg, ref).save(out_dir)
    click.echo(f"wrote {md} and {page}")
