"""``%nbops`` subcommands for the registry and governance: parse words, call the core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from nbops.magics.track import NbopsMagics


def _models(m: NbopsMagics, args: list[str]) -> Any:
    """%nbops models [NAME]

    The registered models, or the versions of NAME, as a DataFrame.
    """
    from nbops import registry

    if len(args) > 1:
        raise UsageError("usage: %nbops models [NAME]")
    ws = m.session.ws
    return registry.versions(args[0], ws=ws) if args else registry.models(ws=ws)


def _register(m: NbopsMagics, args: list[str]) -> None:
    """%nbops register REF|VARIABLE NAME

    Register a tracked model (`RUN/clf`, `clf@v3`) or a variable's value as the next version of NAME.
    """
    from nbops import registry

    if len(args) != 2:
        raise UsageError("usage: %nbops register REF|VARIABLE NAME")
    ref, name = args
    model = m.shell.user_ns[ref] if ref in m.shell.user_ns else ref
    mv = registry.register(model, name, ws=m.session.ws)
    print(f"registered {name} v{mv.version}")


def _promote(m: NbopsMagics, args: list[str]) -> None:
    """%nbops promote NAME VERSION ALIAS [REASON...]

    Point ALIAS of NAME at VERSION, under the alias's policy.
    """
    from nbops import registry

    if len(args) < 3:
        raise UsageError("usage: %nbops promote NAME VERSION ALIAS [REASON...]")
    mv = registry.promote(args[0], args[1], args[2], " ".join(args[3:]), ws=m.session.ws)
    print(f"{args[0]}@{args[2]} → v{mv.version}")


def _rollback(m: NbopsMagics, args: list[str]) -> None:
    """%nbops rollback NAME ALIAS REASON...

    Move ALIAS of NAME back to its previous holder.
    """
    from nbops import registry

    if len(args) < 3:
        raise UsageError("usage: %nbops rollback NAME ALIAS REASON...")
    mv = registry.rollback(args[0], args[1], " ".join(args[2:]), ws=m.session.ws)
    print(f"{args[0]}@{args[1]} rolled back to v{mv.version}")


def _request(m: NbopsMagics, args: list[str]) -> None:
    """%nbops request NAME VERSION ALIAS [REASON...]

    File a promotion request (for policies that need approvals).
    """
    from nbops import governance

    if len(args) < 3:
        raise UsageError("usage: %nbops request NAME VERSION ALIAS [REASON...]")
    rid = governance.request_promotion(args[0], args[1], args[2], " ".join(args[3:]), ws=m.session.ws)
    print(f"promotion request {rid} filed")


def _approve(m: NbopsMagics, args: list[str]) -> None:
    """%nbops approve REQUEST [COMMENT...]

    Approve a promotion request.
    """
    from nbops import governance

    if not args:
        raise UsageError("usage: %nbops approve REQUEST [COMMENT...]")
    print(governance.approve(args[0], " ".join(args[1:]), ws=m.session.ws))


def _audit(m: NbopsMagics, args: list[str]) -> Any:
    """%nbops audit [log|verify]

    The audit log as a DataFrame, or verify its hash chain.
    """
    from nbops import governance

    if args == ["verify"]:
        print(governance.verify_audit(ws=m.session.ws))
        return None
    if args in (["log"], []):
        return governance.audit_log(ws=m.session.ws)
    raise UsageError("usage: %nbops audit [log|verify]")


def _trace(m: NbopsMagics, args: list[str]) -> None:
    from nbops.governance.tracing import trace

    if len(args) != 1:
        raise UsageError("usage: %nbops trace REQUEST_ID")
    print(trace(args[0], ws=m.session.ws))


COMMANDS = {"models": _models, "register": _register, "promote": _promote,
            "rollback": _rollback, "request": _request, "approve": _approve, "audit": _audit,
            "trace": _trace}
