"""What a replay starts from: the run behind a model version, an artifact or a run id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbops.errors import NbopsError, NotFound

if TYPE_CHECKING:
    from nbops.workspace import Workspace


def _clean(value: Any) -> Any:
    """None for the catalog's NULLs (NaN/NaT/pd.NA in frames)."""
    try:
        import pandas as pd

        return None if value is None or pd.isna(value) else value
    except (TypeError, ValueError):
        return value


@dataclass(frozen=True)
class Target:
    """What is replayed: the run that produced it and, for an artifact, its name and content."""

    ref: str
    run_id: str
    artifact: str | None = None
    fingerprint: str | None = None
    kind: str | None = None
    label: str = ""


def resolve_target(ws: Workspace, ref: str) -> Target:
    """The run behind a model version, an artifact reference or a run id."""
    ref = ref.strip()
    looks_like_run = re.fullmatch(r"[0-9a-f]{6,}", ref) is not None  # else `df` could match run df01...
    if looks_like_run:
        try:
            run_id = ws.runs_repo.resolve_id(ref)
            return Target(ref, run_id, label=f"run {run_id}")
        except NotFound:
            pass
    if "/" not in ref:
        found = _registered(ws, ref)
        if found is not None:
            return found
    try:
        row = ws.artifact(ref)
    except NotFound:
        if "/" in ref or "@" in ref:
            raise
        run_id = ws.runs_repo.resolve_id(ref)  # a short run id prefix
        return Target(ref, run_id, label=f"run {run_id}")
    name, fp = str(row["name"]), _clean(row.get("fingerprint"))
    run_id = str(row["run_id"])
    if row.get("role") == "input" and fp:  # a value read, not written, by that run: its writer
        run_id = ws.runs_repo.writers_of([f"{name}:{fp}"]).get(f"{name}:{fp}", run_id)
    version = _clean(row.get("version"))
    label = f"{name}@v{int(version)}" if version is not None else name
    return Target(ref, run_id, name, fp, _clean(row.get("kind")), f"{label} ({row.get('kind')}, run {run_id})")


def _registered(ws: Workspace, ref: str) -> Target | None:
    """A registered model version (``churn@v2``, ``churn@production``), when ``ref`` names one."""
    from nbops.registry import Registry

    try:
        mv = Registry(ws).resolve(ref)
    except NbopsError:
        return None
    if not mv.run_id:
        raise NotFound(f"{mv.ref} was registered from an object no tracked run produced",
                       hint="register models from tracked runs (RUN/name) to replay them")
    return Target(ref, mv.run_id, mv.artifact_name, mv.fingerprint, "model",
                  f"{mv.ref} (registered model, artifact {mv.artifact_name}, run {mv.run_id})")


