"""Tracking one block of code (a notebook cell or a ``with`` block) as a run; no IPython here.

A :class:`TrackingSession` belongs to one namespace (a kernel's ``user_ns`` or a
script's globals): it holds the workspace, the fingerprint cache and the
:class:`~nbops.tracking.lineage.Lineage`. ``session.begin(...)`` snapshots the
values the code can touch and returns a :class:`TrackedCell`; the caller runs
the code, then calls ``finish``, which records the run in one commit and
returns a :class:`~nbops.tracking.summary.Summary`. Nothing nbops does here may
break the user's code: every failure becomes a warning on the summary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import BuiltinFunctionType, FunctionType
from typing import TYPE_CHECKING, Any

from nbops._active import current_run
from nbops.catalog.records import Role, RunStatus
from nbops.tracking import namespace as nsp
from nbops.tracking.committer import Committer
from nbops.tracking.lineage import HiddenState, Lineage, NotebookCells, Producer
from nbops.tracking.names_ast import CellNames, analyze
from nbops.tracking.run import Run, code_hash
from nbops.tracking.summary import Summary

if TYPE_CHECKING:
    from nbops.workspace import Workspace

SESSION_KEY = "__nbops_session__"


@dataclass
class TrackOptions:
    """What to record; ``params``/``metrics``, when given, replace the inferred ones."""

    name: str | None = None
    params: list[str] | None = None
    metrics: list[str] | None = None
    data: bool = True
    models: bool = True
    quiet: bool = False


@dataclass
class CellContext:
    """Where the code comes from: the Python that runs, what the user typed, and where."""

    source: str | None
    raw: str | None = None
    cell_id: str | None = None
    notebook: str | None = None
    execution_count: int | None = None
    hidden: frozenset[str] = frozenset()  # names of the host (IPython's own), never tracked

    @property
    def raw_hash(self) -> str:
        return code_hash(self.raw if self.raw is not None else (self.source or ""))


@dataclass
class Timings:
    analysis: float = 0.0
    fingerprints: float = 0.0
    serialization: float = 0.0
    commit: float = 0.0

    def as_ms(self) -> dict[str, float]:
        return {k: v * 1000.0 for k, v in vars(self).items()}


class TrackingSession:
    """The tracking state of one namespace: workspace, lineage, fingerprint cache."""

    def __init__(self, workspace: Workspace | None = None,
                 opener: Callable[[], Workspace] | None = None, *, background: bool = False) -> None:
        self._ws = workspace
        self._opener = opener
        self.committer = Committer(background)
        self._barrier_set = False
        self._versions: dict[str, dict[str, int]] = {}  # model name -> fingerprint -> version
        self._versions_ready = threading.Event()
        self._versions_ready.set()  # until a prefetch starts
        self._all_versions = False  # the prefetch read every model's versions
        self.lineage = Lineage()
        self._warmed = False
        self.cache = nsp.FingerprintCache()
        self.run_ids: list[str] = []
        self.last: Summary | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            if self._opener is not None:
                self._ws = self._opener()
            else:
                from nbops.workspace import Workspace

                self._ws = Workspace.open()
        if not self._barrier_set:
            # Anyone reading this catalog in this process waits for our queued commits first.
            self._ws.catalog.add_barrier(self.committer.flush)
            self._barrier_set = True
        return self._ws

    @classmethod
    def for_namespace(cls, ns: MutableMapping[str, Any],
                      workspace: Workspace | None = None) -> TrackingSession:
        """The session stored in ``ns`` (created on first use): lineage belongs to a namespace."""
        session = ns.get(SESSION_KEY)
        if not isinstance(session, cls):
            session = cls(workspace)
            ns[SESSION_KEY] = session
        return session

    def begin(self, ctx: CellContext, options: TrackOptions,
              ns: MutableMapping[str, Any]) -> TrackedCell:
        if not self._warmed:
            self._warmed = True
            _warm_serializers()
            self._prefetch_versions()
        return TrackedCell(self, ctx, options, ns)

    def _prefetch_versions(self) -> None:
        """Read every model's versions while the first tracked cell runs (not on its path)."""
        try:
            ws = self.ws  # opened here, on the caller's thread
        except Exception:  # the cell reports it; model_version() falls back to queries
            return

        def load() -> None:
            try:
                found = ws.runs_repo.all_model_versions()
                for name, versions in found.items():
                    self._versions.setdefault(name, versions)
                self._all_versions = True
            except Exception:  # model_version() falls back to one query per name
                pass
            finally:
                self._versions_ready.set()

        self._versions_ready.clear()
        threading.Thread(target=load, name="nbops-versions", daemon=True).start()

    def flush(self) -> None:
        """Wait for queued commits (before reading the catalog)."""
        self.committer.flush()

    def failures(self) -> list[str]:
        """Warnings for runs whose commit failed; their lineage is forgotten."""
        out = []
        for f in self.committer.take_failures():
            self.lineage.forget_run(f.run_id)
            if f.run_id in self.run_ids:
                self.run_ids.remove(f.run_id)
            out.append(f"run {f.run_id} not recorded: {f.reason}")
        return out

    def model_version(self, name: str, fp: str | None) -> int | None:
        """The version a model's content has (or gets) under ``name``; one query per name."""
        if fp is None:
            return None
        self._versions_ready.wait(30)
        known = self._versions.get(name)
        if known is None and self._all_versions:
            known = self._versions[name] = {}  # a model name the catalog has not seen yet
        if known is None:
            self.flush()
            known = self._versions[name] = self.ws.runs_repo.model_versions(name)
        if fp not in known:
            known[fp] = max(known.values(), default=0) + 1
        return known[fp]

    def cell_ran(self, ctx: CellContext, name: str | None = None) -> None:
        """Any cell ran (tracked or not): remember its code for the "cell changed" check."""
        code = ctx.raw if ctx.raw is not None else (ctx.source or "")
        self.lineage.cell_ran(ctx.cell_id, code)
        if name and not ctx.cell_id:  # without cell ids, a run's name identifies its cell
            self.lineage.cell_ran(f"name:{name}", code)


@dataclass
class _Inputs:
    entries: dict[str, nsp.Entry] = field(default_factory=dict)
    producers: dict[str, Producer] = field(default_factory=dict)
    hidden: list[HiddenState] = field(default_factory=list)


class TrackedCell:
    """One execution being tracked: snapshot before, record after."""

    def __init__(self, session: TrackingSession, ctx: CellContext, options: TrackOptions,
                 ns: MutableMapping[str, Any]) -> None:
        self.session, self.ctx, self.options, self.ns = session, ctx, options, ns
        self.timings = Timings()
        self.warnings: list[str] = []
        self.run: Run | None = None
        self._token: Any = None
        self._begin()
        self._t_body = time.perf_counter()

    # -- before ---------------------------------------------------------------
    def _begin(self) -> None:
        t0 = time.perf_counter()
        self.names: CellNames | None = None
        if self.ctx.source is not None:
            try:
                self.names = analyze(self.ctx.source)
            except SyntaxError:
                self.names = None
        self.timings.analysis = time.perf_counter() - t0
        self.keys_before = set(self.ns)
        try:
            self.before = self._snapshot(self._candidates(self.keys_before))
        except Exception as exc:  # never break the cell
            self.before = {}
            self.warnings.append(f"could not snapshot the namespace: {exc}")
        try:
            ws = self.session.ws
            self.run = Run(ws, self.options.name, kind="cell", source=self.ctx.source,
                           notebook=self.ctx.notebook, cell_id=self.ctx.cell_id,
                           execution_count=self.ctx.execution_count)
        except Exception as exc:
            self.warnings.append(f"run not recorded: cannot open the workspace: {exc}")

    def _tracked_name(self, name: str) -> bool:
        return not name.startswith("_") and name not in self.ctx.hidden and name != SESSION_KEY

    def _candidates(self, keys: set[str]) -> set[str]:
        names = self.names.candidates if self.names is not None else keys
        return {n for n in names if self._tracked_name(n)}

    def _snapshot(self, names: set[str]) -> dict[str, nsp.Entry]:
        t0 = time.perf_counter()
        cache = self.session.cache
        spent = cache.seconds
        snap = nsp.take(self.ns, names, cache)
        # fingerprints are counted as such; the rest of the snapshot (classification) as analysis
        self.timings.fingerprints += cache.seconds - spent
        self.timings.analysis += (time.perf_counter() - t0) - (cache.seconds - spent)
        return snap

    def __enter__(self) -> TrackedCell:
        if self.run is not None:
            self._token = current_run.set(self.run)
        self._t_body = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.finish(exc)

    # -- after ----------------------------------------------------------------
    def finish(self, error: BaseException | None = None) -> Summary:
        """Record the run (one commit); never raises."""
        body_s = time.perf_counter() - self._t_body
        if self._token is not None:
            current_run.reset(self._token)
            self._token = None
        summary = Summary(run_id=self.run.run_id if self.run else None, name=self.options.name,
                          body_ms=body_s * 1000.0, failed=error is not None)
        try:
            self._record(error, summary)
        except Exception as exc:
            summary.saved = False
            self.warnings.append(f"run not recorded: {type(exc).__name__}: {exc}")
        summary.warnings = self.warnings + [w for w in self.session.failures() if w not in self.warnings]
        summary.timings = self.timings.as_ms()
        self.session.cell_ran(self.ctx, self.options.name)
        self.session.last = summary
        return summary

    def _record(self, error: BaseException | None, summary: Summary) -> None:
        keys_after = set(self.ns)
        names = self._candidates(keys_after) | {
            n for n in keys_after ^ self.keys_before if self._tracked_name(n)}
        after = self._snapshot(names)
        changes = nsp.compare(self.before, after, names)
        if self.names is not None:  # re-bound to equal content: still this cell's output
            for n in self.names.writes & set(after) - set(changes.outputs):
                if n in self.before and after[n].obj_id != self.before[n].obj_id:
                    changes.rebound[n] = after[n]
        inputs = self._inputs()
        summary.hidden = inputs.hidden
        if self.run is None:
            self._update_lineage(changes, None)
            return
        run = self.run
        self._record_inputs(run, inputs, summary)
        self._record_outputs(run, changes, summary)
        self._record_values(run, changes, summary)
        if inputs.hidden:
            run.set_tag("hidden_state", "; ".join(str(h) for h in inputs.hidden))
        status = RunStatus.FAILED if error is not None else RunStatus.FINISHED
        summary.skipped = list(run.skipped)
        summary.model_versions = {n: v for n in summary.models
                                  if (v := self._version(n, changes)) is not None}
        self._update_lineage(changes, run)
        self.session.run_ids.append(run.run_id)
        t0 = time.perf_counter()
        self.session.committer.submit(run, status, f"{type(error).__name__}: {error}"
                                      if error is not None else None)
        self.timings.commit = time.perf_counter() - t0
        failures = self.session.failures()
        self.warnings.extend(failures)
        summary.saved = not any(run.run_id in f for f in failures)

    def _inputs(self) -> _Inputs:
        out = _Inputs()
        if self.names is None:
            return out
        nb_path = self.ctx.notebook
        nb = NotebookCells.read(nb_path) if nb_path and nb_path.endswith(".ipynb") else None
        for name in sorted(self.names.reads & set(self.before)):
            entry = self.before[name]
            if _is_library_object(self.ns.get(name), self.ns):
                continue
            out.entries[name] = entry
            producer, flag = self.session.lineage.check(name, entry.obj_id, entry.fp, nb)
            if producer is not None:
                out.producers[name] = producer
            if flag is not None:
                out.hidden.append(flag)
        return out

    def _record_inputs(self, run: Run, inputs: _Inputs, summary: Summary) -> None:
        for name, p in inputs.producers.items():
            run.add_lineage("run", p.run_id, "run", run.run_id, f"var:{name}")
        for h in inputs.hidden:
            run.add_lineage("hidden", str(h.reason), "run", run.run_id, f"var:{h.name}")
        for name, entry in inputs.entries.items():
            if entry.kind == nsp.ValueKind.DATASET:
                summary.reads.append((name, _shape(self.before_value(name))))
                if self.options.data:
                    self._log(run, name, entry, Role.INPUT)

    def before_value(self, name: str) -> Any:
        return self.ns.get(name)

    def _record_outputs(self, run: Run, changes: nsp.Changes, summary: Summary) -> None:
        for name, entry in sorted({**changes.outputs, **changes.rebound}.items()):
            value = self.ns.get(name)
            if entry.kind == nsp.ValueKind.DATASET:
                summary.writes.append((name, _shape(value)))
                if self.options.data:
                    self._log(run, name, entry, Role.OUTPUT)
            elif entry.kind == nsp.ValueKind.MODEL and self.options.models:
                summary.models.append(name)
                self._log(run, name, entry, Role.OUTPUT)
        summary.created = sorted(changes.created)
        summary.changed = sorted(changes.changed)
        summary.deleted = sorted(changes.deleted)

    def _log(self, run: Run, name: str, entry: nsp.Entry, role: Role) -> None:
        t0 = time.perf_counter()
        value = self.ns.get(name)
        try:
            run.log_value(value, name, role=role, fp=entry.fp, defer=self.session.committer.background)
        except Exception as exc:  # a value nbops cannot store must not lose the rest
            reason = f"{type(exc).__name__}: {exc}"
            run.skipped.append((name, reason))
            self.warnings.append(f"{name} not stored: {reason}")
        finally:
            self.timings.serialization += time.perf_counter() - t0

    def _record_values(self, run: Run, changes: nsp.Changes, summary: Summary) -> None:
        names = self.names
        logged = {m.key for m in run.metrics}
        if self.options.params is not None:
            params = {n: self.ns[n] for n in self.options.params if n in self.ns}
        else:
            params = {n: v for n, v in (names.literals.items() if names else [])
                      if self._tracked_name(n) and n in self.ns}
        for key, value in params.items():
            self._safely(run.log_param, key, value)
        summary.params = dict(params)
        if self.options.metrics is not None:
            metric_names = [n for n in self.options.metrics if n in self.ns]
        else:
            metric_names = sorted(n for n in (names.computed if names else set())
                                  if n in self.ns and self._tracked_name(n))
        for key in metric_names:
            value = self.ns[key]
            if key not in logged and nsp.is_number(value):
                self._safely(run.log_metric, key, float(value))
        summary.metrics = {m.key: m.value for m in run.metrics}

    def _safely(self, fn: Callable[..., None], key: str, value: Any) -> None:
        try:
            fn(key, value)
        except Exception as exc:
            self.warnings.append(f"{key} not recorded: {exc}")

    def _update_lineage(self, changes: nsp.Changes, run: Run | None) -> None:
        lineage = self.session.lineage
        for name in changes.deleted:
            lineage.forget(name)
        for name, entry in {**changes.outputs, **changes.rebound}.items():
            if run is None or _is_library_object(self.ns.get(name), self.ns):
                lineage.forget(name)
                continue
            lineage.produced(name, Producer(run.run_id, entry.fp, entry.obj_id, self.ctx.cell_id,
                                            self.ctx.raw_hash, self.options.name,
                                            datetime.now(UTC)))

    def _version(self, name: str, changes: nsp.Changes) -> int | None:
        entry = changes.outputs.get(name) or changes.rebound.get(name)
        try:
            return self.session.model_version(name, entry.fp if entry else None)
        except Exception:
            return None


def _warm_serializers() -> None:
    """Import skops (seconds) in the background while the first tracked cell runs."""

    def load() -> None:
        try:
            import pyarrow.parquet  # noqa: F401
            import skops.io  # noqa: F401
        except Exception:
            pass

    threading.Thread(target=load, name="nbops-warm", daemon=True).start()


def _is_module(value: Any) -> bool:
    return type(value).__name__ == "module"


def _is_library_object(value: Any, ns: MutableMapping[str, Any]) -> bool:
    """Modules, and classes or functions imported from them: environment, not lineage."""
    if _is_module(value):
        return True
    if isinstance(value, type | FunctionType | BuiltinFunctionType):
        return getattr(value, "__module__", None) != ns.get("__name__", "__main__")
    return False


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    try:
        return tuple(int(s) for s in shape) if shape is not None else None
    except (TypeError, ValueError):
        return None
