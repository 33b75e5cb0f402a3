"""A run: parameters, metrics and artifacts gathered in memory, saved in one commit."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import sys
import time
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import xxhash

from nbops._active import current_run
from nbops.catalog.records import (
    ArtifactKind,
    ArtifactRow,
    CodeRow,
    LineageRow,
    MetricRow,
    ObjectRow,
    ParamRow,
    Role,
    RunBatch,
    RunRow,
    RunStatus,
)
from nbops.errors import NbopsError, UnsupportedObject
from nbops.store import serializers
from nbops.tracking.environment import capture_environment
from nbops.tracking.fingerprint import fingerprint
from nbops.tracking.names import check_artifact_name, check_key

if TYPE_CHECKING:
    from nbops.workspace import Workspace


# Values up to this size are copied and serialized off the cell's path when deferral is asked.
_DEFER_MAX_BYTES = 512 * 2**20


def _frozen_copy(value: Any) -> Any:
    """A copy that later changes to ``value`` cannot reach (None when it cannot be made)."""
    try:
        if hasattr(value, "copy") and type(value).__module__.split(".")[0] in ("pandas", "numpy"):
            return value.copy()  # pandas: deep by default; numpy: a new buffer
        if type(value).__module__.split(".")[0] == "pyarrow":
            return value  # Arrow tables are immutable
        return copy.deepcopy(value)
    except Exception:
        return None


def new_run_id() -> str:
    return secrets.token_hex(6)


def _param_value(value: Any) -> tuple[str, str]:
    if value is None:
        return "None", "none"
    if isinstance(value, bool):
        return str(value), "bool"
    if isinstance(value, int):
        return str(value), "int"
    if isinstance(value, float):
        return repr(value), "float"
    if isinstance(value, str):
        return value, "str"
    try:
        return json.dumps(value, sort_keys=True, default=str), "json"
    except (TypeError, ValueError):
        return repr(value), "repr"


def _artifact_name_for(filename: str) -> str:
    """A valid artifact name from a file name ("my report.html" -> "my_report.html")."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", filename).strip("._-") or "file"
    return cleaned.replace("..", ".")[:128]


def code_hash(source: str) -> str:
    return xxhash.xxh3_128_hexdigest(source.encode())


def _now() -> datetime:
    return datetime.now(UTC)


class Run:
    """One recorded execution. Use as ``with ws.run(name=...) as run:``."""

    def __init__(self, ws: Workspace, name: str | None = None, *, kind: str = "script",
                 source: str | None = None, notebook: str | None = None, cell_id: str | None = None,
                 execution_count: int | None = None, pipeline_run_id: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        self.ws = ws
        self.run_id = new_run_id()
        self.name = name
        self.kind = kind
        self.source = source
        self.notebook = notebook
        self.cell_id = cell_id
        self.execution_count = execution_count
        self.pipeline_run_id = pipeline_run_id or os.environ.get("NBOPS_PIPELINE_RUN_ID")
        self.tags = dict(tags or {})
        self.started_at = _now()
        self._t0 = time.perf_counter()
        self.params: dict[str, ParamRow] = {}
        self.metrics: list[MetricRow] = []
        self._steps: dict[str, int] = defaultdict(int)
        self.artifacts: list[ArtifactRow] = []
        self.objects: list[ObjectRow] = []
        self.lineage: list[LineageRow] = []
        self.skipped: list[tuple[str, str]] = []
        self._deferred: list[tuple[Any, str, str, bool, str | None, serializers.Serialized]] = []
        self.saved = False
        self._token: Any = None

    # -- params and metrics ----------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        text, vtype = _param_value(value)
        self.params[check_key(key)] = ParamRow(self.run_id, key, text, vtype)

    def log_params(self, params: dict[str, Any]) -> None:
        for k, v in params.items():
            self.log_param(k, v)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        check_key(key, "metric")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise NbopsError(f"metric {key!r} must be a number, got {type(value).__name__}") from None
        if step is None:
            step = self._steps[key]
        self._steps[key] = max(self._steps[key], int(step) + 1)
        self.metrics.append(MetricRow(self.run_id, key, number, int(step), _now()))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for k, v in metrics.items():
            self.log_metric(k, v, step=step)

    def set_tag(self, key: str, value: str) -> None:
        self.tags[check_key(key, "tag")] = str(value)

    # -- artifacts --------------------------------------------------------
    def log_dataset(self, value: Any, name: str, *, role: str = Role.OUTPUT) -> ArtifactRow:
        """Snapshot a DataFrame, Series, ndarray or Arrow table (bytes stored once)."""
        if not serializers.is_table(value):
            raise UnsupportedObject(f"{serializers.type_name(value)} is not a dataset",
                                    hint="log DataFrames, Series, numpy arrays or Arrow tables")
        return self._logged(self.log_value(value, name, role=role))

    def log_model(self, model: Any, name: str, *, trust: bool = False) -> ArtifactRow:
        """Store a fitted estimator (skops), with its get_params() as hyperparameters."""
        return self._logged(self.log_value(model, name, role=Role.OUTPUT, trust=trust))

    @staticmethod
    def _logged(row: ArtifactRow | None) -> ArtifactRow:
        assert row is not None  # only defer=True postpones the row, and these never defer
        return row

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> ArtifactRow:
        """Store a file's bytes under ``name`` (its file name by default)."""
        p = Path(path)
        if not p.is_file():
            raise NbopsError(f"{p} is not a file", hint="pass the path of an existing file")
        name = check_artifact_name(name or _artifact_name_for(p.name))
        size = p.stat().st_size
        if size > self.ws.settings.max_object_bytes:
            return self._skipped(name, ArtifactKind.FILE, Role.OUTPUT, "builtins.bytes",
                                 self._too_big(size))
        data = p.read_bytes()
        key, _ = self.ws.store.put(data)
        self.objects.append(ObjectRow(key, key, "file", len(data), _now()))
        return self._add(name, ArtifactKind.FILE, Role.OUTPUT, key, key, "file",
                         serializers.Serialized(b"", "file", ArtifactKind.FILE, "builtins.bytes",
                                                metadata={"filename": p.name}), len(data))

    def log_value(self, value: Any, name: str, *, role: str = Role.OUTPUT, trust: bool = False,
                  fp: str | None = None, defer: bool = False) -> ArtifactRow | None:
        """Snapshot any supported value; unsupported or oversized ones are recorded as skipped.

        With ``defer=True`` a value whose content is new is copied now and serialized when
        the run is saved (on the committer thread for tracked cells), so the cell does not
        wait for Parquet or skops; the artifact row is then added at save time.
        """
        check_artifact_name(name)
        desc = serializers.describe(value)
        size = serializers.estimate_size(value)
        if size is not None and size > self.ws.settings.max_object_bytes:
            return self._skipped(name, desc.kind, role, desc.py_type, self._too_big(size), desc)
        fp = fp or fingerprint(value)
        if fp and (seen := self.ws.known_object(fp, query=not defer)) is not None:
            return self._reuse(seen, name, role, fp, desc)
        if defer and (size or 0) <= _DEFER_MAX_BYTES and serializers.is_safely_serializable(value):
            frozen = _frozen_copy(value)
            if frozen is not None:  # the catalog is asked whether it is known at save time
                self._deferred.append((frozen, name, role, trust, fp, desc))
                return None
        if defer and fp and (known := self.ws.known_object(fp)) is not None:
            return self._reuse(known, name, role, fp, desc)
        return self._store(value, name, role, trust, fp, desc)

    def _reuse(self, known: tuple[str, str, int], name: str, role: str, fp: str,
               desc: serializers.Serialized) -> ArtifactRow:
        key, fmt, nbytes = known
        self.objects.append(ObjectRow(key, fp, fmt, nbytes, _now()))
        return self._add(name, desc.kind, role, key, fp, fmt, desc, nbytes)

    def _store(self, value: Any, name: str, role: str, trust: bool, fp: str | None,
               desc: serializers.Serialized) -> ArtifactRow:
        try:
            ser = serializers.serialize(value, trust=trust)
        except UnsupportedObject as exc:
            return self._skipped(name, desc.kind, role, desc.py_type, str(exc), desc)
        if len(ser.data) > self.ws.settings.max_object_bytes:
            return self._skipped(name, desc.kind, role, desc.py_type, self._too_big(len(ser.data)), desc)
        key, _ = self.ws.store.put(ser.data)
        fp = fp or key
        self.ws.remember_object(fp, key, ser.format, len(ser.data))
        self.objects.append(ObjectRow(key, fp, ser.format, len(ser.data), _now()))
        return self._add(name, desc.kind, role, key, fp, ser.format, desc, len(ser.data))

    def _store_deferred(self) -> None:
        while self._deferred:
            value, name, role, trust, fp, desc = self._deferred.pop(0)
            if fp and (known := self.ws.known_object(fp)) is not None:
                self._reuse(known, name, role, fp, desc)
            else:
                self._store(value, name, role, trust, fp, desc)

    def _too_big(self, size: int) -> str:
        limit = self.ws.settings.max_object_bytes
        return (f"{size / 2**20:.1f} MB is over the {limit / 2**20:.3g} MB limit "
                "(store.max_object_mb in .nbops/config.toml)")

    def _skipped(self, name: str, kind: str, role: str, py_type: str, reason: str,
                 desc: serializers.Serialized | None = None) -> ArtifactRow:
        self.skipped.append((name, reason))
        d = desc or serializers.Serialized(b"", "", ArtifactKind(kind), py_type)
        return self._add(name, kind, role, None, None, None, d, None, skipped=reason)

    def _add(self, name: str, kind: str, role: str, key: str | None, fp: str | None, fmt: str | None,
             desc: serializers.Serialized, size: int | None, skipped: str | None = None) -> ArtifactRow:
        row = ArtifactRow(
            artifact_id=f"{self.run_id}-{len(self.artifacts)}", run_id=self.run_id, name=name,
            kind=str(kind), role=str(role), object_key=key, fingerprint=fp, format=fmt,
            py_type=desc.py_type, schema_json=json.dumps(desc.schema) if desc.schema else None,
            n_rows=desc.n_rows, n_cols=desc.n_cols,
            shape=json.dumps(list(desc.shape)) if desc.shape else None, size_bytes=size,
            metadata=json.dumps(desc.metadata, default=str) if desc.metadata else None,
            skipped_reason=skipped, created_at=_now(),
        )
        self.artifacts.append(row)
        if fp:
            src, dst = (("artifact", f"{name}:{fp}"), ("run", self.run_id)) if role == Role.INPUT else (
                ("run", self.run_id), ("artifact", f"{name}:{fp}"))
            self.lineage.append(LineageRow(self.run_id, *src, *dst,
                                           "read" if role == Role.INPUT else "wrote", _now()))
        return row

    def add_lineage(self, src_kind: str, src_ref: str, dst_kind: str, dst_ref: str, relation: str) -> None:
        self.lineage.append(LineageRow(self.run_id, src_kind, src_ref, dst_kind, dst_ref, relation, _now()))

    # -- finishing --------------------------------------------------------
    def batch(self, status: RunStatus, error: str | None) -> RunBatch:
        ended = _now()
        env = capture_environment(Path(self.notebook).parent if self.notebook else None)
        code = [CodeRow(code_hash(self.source), "python", self.source)] if self.source is not None else []
        run = RunRow(
            run_id=self.run_id, name=self.name, kind=self.kind, status=str(status),
            user_name=self.ws.settings.user, started_at=self.started_at, ended_at=ended,
            duration_ms=(time.perf_counter() - self._t0) * 1000.0,
            code_hash=code[0].code_hash if code else None, env_hash=env.env_hash,
            notebook=self.notebook, cell_id=self.cell_id, execution_count=self.execution_count,
            pipeline_run_id=self.pipeline_run_id, error=error,
            tags=json.dumps(self.tags) if self.tags else None,
        )
        return RunBatch(run=run, code=code, envs=[env], params=list(self.params.values()),
                        metrics=self.metrics, objects=self.objects, artifacts=self.artifacts,
                        lineage=self.lineage)

    def finish(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        """Save the run and all it gathered in one commit."""
        if self.saved:
            return
        self._store_deferred()
        self.ws.runs_repo.save(self.batch(status, error))
        self.saved = True

    def __enter__(self) -> Run:
        self._token = current_run.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        current_run.reset(self._token)
        if exc is None:
            self.finish(RunStatus.FINISHED)
            return
        try:
            self.finish(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
        except NbopsError as failure:
            # The body's own error is what the user must see; the catalog's comes as a warning.
            warnings.warn(f"nbops: failed run {self.run_id} was not recorded: {failure}",
                          stacklevel=2)

    def __repr__(self) -> str:
        return f"<Run {self.run_id} {self.name or ''}>"


def script_source() -> tuple[str | None, str | None]:
    """(path, source) of the running script, when there is one."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not os.path.isfile(path) or os.path.getsize(path) > 1_000_000:
        return None, None
    try:
        return path, Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return path, None
