"""``nbops serve``: the model server; ``nbops serve keys create|list|revoke``: its API keys."""

from __future__ import annotations

import json
import os

import click

from nbops.cli import main

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="worker processes")
@click.option("--no-auth", is_flag=True, help="no API keys (local development; loopback only)")
@click.option("--no-log", is_flag=True, help="do not write requests to the monitoring log")
@click.option("--trust", is_flag=True, help="load models stored with joblib (registered with trust=True)")
@click.option("--reload-interval", type=float, default=2.0, show_default=True,
              help="seconds between checks for moved aliases, experiment changes and new keys")
@click.option("--check-interval", type=float, default=30.0, show_default=True,
              help="seconds between guardrail checks of running experiments")
@click.option("--alert", "alerts", multiple=True,
              help="where a guardrail breach is sent: webhook:URL, slack:URL, email:ADDR, log:PATH")
@click.option("--access-log", is_flag=True, help="uvicorn's access log")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, no_auth: bool, no_log: bool, trust: bool,
          reload_interval: float, check_interval: float, alerts: tuple[str, ...], access_log: bool) -> None:
    """Serve registered models and experiments over HTTP (see docs/serving.md)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from nbops.config import find_workspace
    from nbops.errors import NbopsError, WorkspaceNotFound

    if no_auth and host not in _LOOPBACK:
        raise NbopsError(f"--no-auth serves without API keys: only on loopback, not {host}",
                         hint="drop --no-auth and create keys with `nbops serve keys create --user NAME`")
    if find_workspace() is None:
        raise WorkspaceNotFound("no workspace here", hint="run `nbops init` first")
    config = {"auth": not no_auth, "trust": trust, "log_requests": not no_log,
              "reload_interval_s": reload_interval, "check_interval_s": check_interval,
              "alert_channels": list(alerts)}
    os.environ["NBOPS_SERVE_CONFIG"] = json.dumps(config)
    click.echo(f"nbops serve on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}, "
               f"auth {'off' if no_auth else 'on'})", err=True)
    uvicorn.run("nbops.serve.app:from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=access_log, timeout_graceful_shutdown=30)


@serve.group()
def keys() -> None:
    """API keys: each acts as its user, with that user's role."""


@keys.command("create")
@click.option("--user", required=True, help="the user the key acts as (its role decides what it may do)")
@click.option("--note", default=None, help="what the key is for")
def keys_create(user: str, note: str | None) -> None:
    """Create a key and print it once (only its hash is stored); needs the admin role."""
    from nbops.serve.keys import create_key
    from nbops.workspace import Workspace

    with Workspace.open() as ws:
        key = create_key(ws, user, note=note)
    click.echo(key)
    click.echo(f"  the key for {user}: shown once, store it now", err=True)


@keys.command("list")
def keys_list() -> None:
    """Keys (ids, users, notes; never the keys)."""
    from nbops.catalog.serve import ServeRepository
    from nbops.workspace import Workspace

    with Workspace.open() as ws:
        df = ServeRepository(ws.catalog).keys_frame()
    click.echo(df.to_string(index=False) if not df.empty else "no keys")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after nbk_ up to the next _); needs the admin role."""
    from nbops.serve.keys import revoke_key
    from nbops.workspace import Workspace

    with Workspace.open() as ws:
        revoke_key(ws, key_id)
    click.echo(f"revoked {key_id}")
