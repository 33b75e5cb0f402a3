"""Registered models as the server holds them: each version loaded once, refs kept current.

A request names a ref (``churn``, ``churn@production``, ``churn@v3``). The first request
for a ref resolves and loads it; after that the ref is a dictionary lookup. Alias moves are
noticed by :meth:`ModelTable.refresh`, which the server calls every few seconds from its
background thread: one catalog read of every alias and every model's latest version. When
a ref now points at another version, that version is loaded *before* the ref is switched,
so no request waits for a load and none is answered by a half-loaded model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbops.catalog.serve import ServeRepository
from nbops.serve.schema import Schema, training_schema
from nbops.tracking.names import parse_ref

if TYPE_CHECKING:
    from nbops.workspace import Workspace

Key = tuple[str, int]


@dataclass(frozen=True)
class Loaded:
    """One registered version in memory, with the schema its inputs are checked against."""

    name: str
    version: int
    model: Any
    schema: Schema | None

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


class ModelTable:
    def __init__(self, ws: Workspace, *, trust: bool = False) -> None:
        self.ws, self.trust = ws, trust
        self.repo = ServeRepository(ws.catalog)
        self._refs: dict[str, Key] = {}
        self._loaded: dict[Key, Loaded] = {}
        self._lock = threading.Lock()
        self.reloads = 0

    def cached(self, ref: str) -> Loaded | None:
        """The model a ref serves now, when already loaded (no I/O: the request path)."""
        key = self._refs.get(ref)
        return self._loaded.get(key) if key is not None else None

    def get(self, ref: str) -> Loaded:
        """The model of ``ref``, resolving and loading it on first use (blocking: call off the loop)."""
        hit = self.cached(ref)
        if hit is not None:
            return hit
        from nbops import registry

        mv = registry.resolve(ref, ws=self.ws)
        loaded = self._load((mv.name, mv.version), mv.run_id)
        with self._lock:
            self._refs[ref] = (mv.name, mv.version)
        return loaded

    def _load(self, key: Key, run_id: str | None = None) -> Loaded:
        with self._lock:
            hit = self._loaded.get(key)
        if hit is not None:
            return hit
        from nbops import registry

        if run_id is None:
            run_id = registry.resolve(f"{key[0]}@v{key[1]}", ws=self.ws).run_id
        model = registry.load(f"{key[0]}@v{key[1]}", trust=self.trust, ws=self.ws)
        schema = training_schema(model, self.repo.training_schemas(run_id)) if run_id else \
            training_schema(model, [])
        loaded = Loaded(key[0], key[1], model, schema)
        with self._lock:
            return self._loaded.setdefault(key, loaded)

    def refresh(self) -> list[str]:
        """Re-point refs whose alias moved (loading the new version first); returns the moved refs."""
        aliases, latest = self.repo.serving_snapshot()
        moved = []
        for ref, key in list(self._refs.items()):
            r = parse_ref(ref)
            version = r.version if r.version is not None else (
                aliases.get((r.name, r.alias)) if r.alias else latest.get(r.name))
            if version == key[1]:
                continue
            if version is None:  # alias removed: the next request resolves again (and gets a 404)
                with self._lock:
                    self._refs.pop(ref, None)
            else:
                self._load((r.name, version))
                with self._lock:
                    self._refs[ref] = (r.name, version)
            moved.append(ref)
        if moved:
            self.reloads += len(moved)
            self._drop_unused()
        return moved

    def _drop_unused(self) -> None:
        with self._lock:
            used = set(self._refs.values())
            for key in [k for k in self._loaded if k not in used]:
                del self._loaded[key]

    def describe(self) -> dict[str, str]:
        """Ref -> the version it serves now (``name@vN``), for ``GET /v1/models``."""
        return {ref: f"{k[0]}@v{k[1]}" for ref, k in sorted(self._refs.items())}
