"""``nbops request/requests/approve/reject/validate/roles/policy/audit/trace``: governance."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from nbops.cli import main
from nbops.cli.registry import _table


def _governance() -> Any:
    from nbops.governance.service import Governance
    from nbops.workspace import Workspace

    ws = Workspace.open(create=False)
    return ws, Governance(ws)


@main.command()
@click.argument("name")
@click.argument("version")
@click.argument("alias")
@click.option("--reason", default="")
def request(name: str, version: str, alias: str, reason: str) -> None:
    """Ask for VERSION of NAME to be promoted to ALIAS."""
    ws, gov = _governance()
    with ws:
        rid = gov.request_promotion(name, version, alias, reason)
    click.echo(f"request {rid}: {name} v{version.lstrip('v')} -> {alias} (pending)")


@main.command()
@click.option("--model", help="only this model")
@click.option("--all", "show_all", is_flag=True, help="every request, not only open ones")
def requests(model: str | None, show_all: bool) -> None:
    """List promotion requests (open ones by default)."""
    ws, gov = _governance()
    with ws:
        df = gov.requests(model) if show_all else gov.pending(model)
    _table(df, "no open promotion requests")


@main.command()
@click.argument("request_id")
@click.option("--comment", default="")
def approve(request_id: str, comment: str) -> None:
    """Approve a promotion request."""
    ws, gov = _governance()
    with ws:
        status = gov.approve(request_id, comment)
    click.echo(f"request {request_id}: {status}")


@main.command()
@click.argument("request_id")
@click.option("--comment", default="")
def reject(request_id: str, comment: str) -> None:
    """Reject a promotion request."""
    ws, gov = _governance()
    with ws:
        status = gov.reject(request_id, comment)
    click.echo(f"request {request_id}: {status}")


@main.command()
@click.argument("name")
@click.argument("version")
@click.argument("gate")
@click.option("--passed/--failed", required=True)
@click.option("--details", default="{}", help="JSON object")
def validate(name: str, version: str, gate: str, passed: bool, details: str) -> None:
    """Record the result of validation GATE for VERSION of NAME (pipelines call this)."""
    try:
        data = json.loads(details)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"--details is not JSON: {exc}") from None
    ws, gov = _governance()
    with ws:
        gov.record_validation(name, version, gate, passed, data)
    click.echo(f"{name} v{version.lstrip('v')}: gate {gate} {'passed' if passed else 'FAILED'}")


@main.group(invoke_without_command=True)
@click.option("--model", help="roles that apply to this model")
@click.pass_context
def roles(ctx: click.Context, model: str | None) -> None:
    """List roles (subcommands: grant, revoke)."""
    if ctx.invoked_subcommand is None:
        ws, gov = _governance()
        with ws:
            _table(gov.roles(model), "no roles")


@roles.command("grant")
@click.argument("user")
@click.argument("role", type=click.Choice(["viewer", "contributor", "reviewer", "deployer", "admin"]))
@click.option("--model", help="grant on this model only (default: the workspace)")
def roles_grant(user: str, role: str, model: str | None) -> None:
    ws, gov = _governance()
    with ws:
        gov.grant(user, role, model)
    click.echo(f"{user} is {role} on {model or 'the workspace'}")


@roles.command("revoke")
@click.argument("user")
@click.option("--model")
def roles_revoke(user: str, model: str | None) -> None:
    ws, gov = _governance()
    with ws:
        gov.grant(user, None, model)
    click.echo(f"revoked {user}'s role on {model or 'the workspace'}")


@main.group()
def policy() -> None:
    """Promotion policies per model and alias (show, set, clear)."""


@policy.command("show")
@click.argument("name", required=False)
def policy_show(name: str | None) -> None:
    ws, gov = _governance()
    with ws:
        _table(gov.policies(name), "no policies: promotions need the deployer role and nothing else")


_METRIC = re.compile(r"^([A-Za-z0-9_.\-/:]+)\s*(>=|<=)\s*([-+0-9.eE]+)$")


def _metric_gates(absolute: tuple[str, ...], relative: tuple[str, ...]) -> list[dict[str, Any]]:
    gates = []
    for text, rel in [(t, False) for t in absolute] + [(t, True) for t in relative]:
        m = _METRIC.match(text.strip())
        if not m:
            raise click.BadParameter(f"{text!r}: write METRIC>=VALUE or METRIC<=VALUE")
        metric, op, value = m.group(1), m.group(2), float(m.group(3))
        if rel:
            gates.append({"metric": metric, "min_delta": value if op == ">=" else -value,
                          "higher_is_better": op == ">="})
        else:
            gates.append({"metric": metric, "min" if op == ">=" else "max": value})
    return gates


@policy.command("set")
@click.argument("name")
@click.argument("alias")
@click.option("--promote-role", default="deployer", show_default=True)
@click.option("--approver-role", default="reviewer", show_default=True)
@click.option("--approvals", type=int, default=0, show_default=True, help="approvals required")
@click.option("--gate", "gates", multiple=True, help="a validation gate that must have passed")
@click.option("--metric", "metrics", multiple=True, help="absolute threshold, e.g. auc>=0.8")
@click.option("--vs-current", "relative", multiple=True,
              help="relative to the current holder, e.g. auc>=0.0 (at least as good) or loss<=0.01")
@click.option("--separation/--no-separation", default=True, show_default=True,
              help="the author or requester cannot approve")
@click.option("--approval-ttl-hours", type=float, help="approvals expire after this many hours")
@click.option("--on-pass", type=click.Choice(["promote", "request"]),
              help="what gates.validate(..., promote_to=ALIAS) does with a passing version")
def policy_set(name: str, alias: str, promote_role: str, approver_role: str, approvals: int,
               gates: tuple[str, ...], metrics: tuple[str, ...], relative: tuple[str, ...],
               separation: bool, approval_ttl_hours: float | None, on_pass: str | None) -> None:
    """Set the policy for promotions of NAME (or "*" for every model) to ALIAS (admins only)."""
    spec = {"promote_role": promote_role, "approver_role": approver_role,
            "required_approvals": approvals, "gates": list(gates),
            "metrics": _metric_gates(metrics, relative), "separation_of_duties": separation,
            "approval_ttl_hours": approval_ttl_hours, "on_pass": on_pass}
    ws, gov = _governance()
    with ws:
        gov.set_policy(name, alias, spec)
    click.echo(f"policy for {name}@{alias} set")


@policy.command("clear")
@click.argument("name")
@click.argument("alias")
def policy_clear(name: str, alias: str) -> None:
    ws, gov = _governance()
    with ws:
        gov.set_policy(name, alias, None)
    click.echo(f"policy for {name}@{alias} removed")


@main.group()
def audit() -> None:
    """The hash-chained audit log (verify, export, log)."""


@audit.command("verify")
@click.option("--against", "export_file", type=click.Path(exists=True, dir_okay=False),
              help="an earlier `nbops audit export` whose head must still be in the chain")
def audit_verify(export_file: str | None) -> None:
    from nbops.governance.audit import exported_head

    ws, gov = _governance()
    with ws:
        result = gov.verify_audit(exported_head(export_file) if export_file else None)
    if result.ok:
        click.echo(str(result))
        return
    click.secho(str(result), fg="red", err=True)
    sys.exit(1)


@audit.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
def audit_export(path: str) -> None:
    ws, gov = _governance()
    with ws:
        result = gov.export_audit(path)
    click.echo(f"wrote {result.entries} entries to {path}; head {result.head_hash}")
    if not result.ok:
        click.secho(f"warning: {result}", fg="red", err=True)


@audit.command("log")
@click.option("--model", help="only entries about this model")
@click.option("--limit", type=int, default=50, show_default=True)
def audit_log(model: str | None, limit: int) -> None:
    ws, gov = _governance()
    with ws:
        df = gov.audit_log(model, limit)
    _table(df.drop(columns=["prev_hash"]).assign(hash=df["hash"].str[:12]) if not df.empty else df,
           "the audit log is empty")


@main.command()
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="print the trace as JSON")
def trace(request_id: str, as_json: bool) -> None:
    """Trace a logged prediction to model version → run → data → code."""
    from nbops.governance.tracing import trace as trace_request
    from nbops.workspace import Workspace

    with Workspace.open(create=False) as ws:
        t = trace_request(request_id, ws=ws)
    click.echo(json.dumps(t.to_dict(), indent=2, default=str) if as_json else str(t))
