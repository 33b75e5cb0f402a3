"""The ``%nbops`` subcommands: parse words, call the core, display the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from nbops.errors import NbopsError
from nbops.magics.registry import COMMANDS as REGISTRY_COMMANDS

if TYPE_CHECKING:
    from nbops.magics.track import NbopsMagics


def _runs(m: NbopsMagics, args: list[str]) -> Any:
    """%nbops runs

    This notebook's runs (or, outside a saved notebook, this session's) as a DataFrame.
    """
    ws = m.session.ws
    notebook = m._notebook()
    frame = ws.runs(notebook=notebook) if notebook else ws.runs()
    if not notebook and m.session.run_ids:
        frame = frame[frame["run_id"].isin(m.session.run_ids)].reset_index(drop=True)
    drop = [c for c in ("user_name", "pipeline_run_id", "notebook", "kind") if c in frame.columns]
    return frame.drop(columns=drop)


# `%nbops show WORD ...` draws a dashboard; any other word is a run id for the text view.
_SHOW_USAGE = {"runs": (0, 99, "show runs [FILTER]"), "compare": (2, 2, "show compare RUN_A RUN_B"),
               "lineage": (1, 1, "show lineage REF"), "model": (1, 1, "show model NAME"),
               "pipeline": (1, 1, "show pipeline SCHEDULE"), "monitor": (1, 2, "show monitor MODEL [WINDOW]"),
               "ab": (1, 1, "show ab EXPERIMENT")}


def _show(m: NbopsMagics, args: list[str]) -> Any:
    """%nbops show RUN | show runs [FILTER] | show compare RUN_A RUN_B | show lineage REF | show model NAME | show pipeline SCHEDULE

    `show RUN` prints one run: code, params, metrics, inputs, outputs. The other forms draw a
    dashboard (see [widgets.md](widgets.md)).
    """
    if args and args[0] in _SHOW_USAGE:
        low, high, usage = _SHOW_USAGE[args[0]]
        if not low <= len(args) - 1 <= high:
            raise UsageError(f"usage: %nbops {usage}")
        return _dashboard(m, args[0], args[1:])
    from nbops.tracking.views import render_run

    _need(args, 1, "show RUN | show runs|compare|lineage|model|pipeline|monitor|ab ...")
    print(render_run(m.session.ws, args[0]))
    return None


def _dashboard(m: NbopsMagics, kind: str, args: list[str]) -> Any:
    from nbops.widgets import show

    ws = m.session.ws
    if kind == "runs":
        return show.runs(" ".join(args) or None, ws=ws)
    if kind == "monitor":
        return show.monitor(args[0], window=args[1], ws=ws) if len(args) > 1 else show.monitor(args[0], ws=ws)
    return getattr(show, kind)(*args, ws=ws)


def _diff(m: NbopsMagics, args: list[str]) -> None:
    """%nbops diff RUN_A RUN_B

    Code diff, params, metrics, input data (schema, shape, fingerprint) and model hyperparameters.
    """
    from nbops.tracking.views import render_diff

    _need(args, 2, "diff RUN_A RUN_B")
    print(render_diff(m.session.ws, args[0], args[1]))


def _checkout(m: NbopsMagics, args: list[str]) -> None:
    """%nbops checkout REF [as NAME]

    Load a dataset or model version into the namespace (`clf@v2`, `RUN/clf`, `churn@production`).
    """
    from nbops.tracking.views import checkout

    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "as"):
        raise UsageError("usage: %nbops checkout REF [as NAME]")
    name, value = checkout(m.session.ws, args[0], m.shell.user_ns,
                           args[2] if len(args) == 3 else None, m.session)
    print(f"checked out {args[0]} as {name} ({type(value).__name__})")


def _restore(m: NbopsMagics, args: list[str]) -> None:
    """%nbops restore RUN

    Load every stored output of a run into the namespace.
    """
    from nbops.tracking.views import restore

    _need(args, 1, "restore RUN")
    names = restore(m.session.ws, args[0], m.shell.user_ns, m.session)
    print(f"restored {', '.join(names)}" if names else "nothing stored to restore")


def _lineage(m: NbopsMagics, args: list[str]) -> None:
    """%nbops lineage NAME|RUN|MODEL

    The chain data → cells → model behind a variable, a run or an artifact.
    """
    from nbops.tracking.lineage_view import render_lineage

    _need(args, 1, "lineage NAME|RUN|MODEL")
    print(render_lineage(m.session.ws, args[0], ns=m.shell.user_ns, session=m.session))


def _status(m: NbopsMagics, args: list[str]) -> None:
    """%nbops status

    Which run produced each variable, with hidden-state flags.
    """
    s = m.session
    print(f"workspace {s.ws.settings.home} · autotrack {'on' if m.autotrack else 'off'} · "
          f"{len(s.run_ids)} runs this session")
    ns = m.shell.user_ns
    from nbops.tracking.namespace import take

    current = take(ns, [n for n in s.lineage.producers if n in ns], s.cache)
    for name, p in sorted(s.lineage.producers.items()):
        if name in current:
            _, flag = s.lineage.check(name, current[name].obj_id, current[name].fp)
            note = f"  ⚠ {flag.detail}" if flag else ""
            print(f"  {name:<20} ← run {p.run_id}{' ' + p.name if p.name else ''}{note}")
    if s.last and s.last.hidden:
        print("last tracked cell read hidden state: " + "; ".join(str(h) for h in s.last.hidden))


def _autotrack(m: NbopsMagics, args: list[str]) -> None:
    """%nbops autotrack on|off

    Track every cell without writing `%%track`.
    """
    if args not in (["on"], ["off"]):
        raise UsageError("usage: %nbops autotrack on|off")
    m.autotrack = args[0] == "on"
    print(f"autotrack {args[0]}: " + ("every cell is tracked" if m.autotrack else "use %%track"))


def _need(args: list[str], n: int, usage: str) -> None:
    if len(args) != n:
        raise UsageError(f"usage: %nbops {usage}")


COMMANDS: dict[str, Callable[[NbopsMagics, list[str]], Any]] = {
    "runs": _runs, "show": _show, "diff": _diff, "checkout": _checkout, "restore": _restore,
    "lineage": _lineage, "status": _status, "autotrack": _autotrack,
    **REGISTRY_COMMANDS,
}


def dispatch(m: NbopsMagics, command: str, args: list[str]) -> Any:
    fn = COMMANDS.get(command)
    if fn is None:
        raise UsageError(f"unknown %nbops command {command!r}; one of: {', '.join(COMMANDS)}")
    m.session.flush()
    for warning in m.session.failures():
        print(f"⚠ nbops: {warning}")
    try:
        return fn(m, args)
    except NbopsError as exc:
        raise UsageError(str(exc)) from exc
