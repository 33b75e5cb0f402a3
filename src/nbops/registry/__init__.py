"""The model registry: ``register``, ``promote``, ``rollback``, ``history``, ``archive``, ``delete``.

Use :class:`Registry` on an open workspace (``Registry(ws, actor=...)``), or the
module functions, which take ``ws=`` or open the workspace of the current
directory and act as the current user (``NBOPS_USER`` or the OS user).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from nbops._opened import opened as _opened
from nbops.registry.service import ModelVersion, Registry

if TYPE_CHECKING:
    import pandas as pd

    from nbops.governance.cards import ModelCard
    from nbops.workspace import Workspace

T = TypeVar("T")

__all__ = ["ModelVersion", "Registry", "archive", "card", "delete", "history", "load", "models",
           "promote", "register", "resolve", "rollback", "versions"]


def _call(ws: Workspace | None, actor: str | None, fn: Callable[[Registry], T]) -> T:
    with _opened(ws) as w:
        return fn(Registry(w, actor))


def register(model: Any, name: str, *, description: str | None = None, intended_use: str | None = None,
             trust: bool = False, ws: Workspace | None = None, actor: str | None = None) -> ModelVersion:
    """Register a tracked model (``RUN/clf``, ``clf@v3``) or a fitted object as the next version."""
    return _call(ws, actor, lambda r: r.register(model, name, description=description,
                                                 intended_use=intended_use, trust=trust))


def promote(name: str, version: int | str, alias: str, reason: str = "", *,
            ws: Workspace | None = None, actor: str | None = None) -> ModelVersion:
    return _call(ws, actor, lambda r: r.promote(name, version, alias, reason))


def rollback(name: str, alias: str, reason: str, *, ws: Workspace | None = None,
             actor: str | None = None) -> ModelVersion:
    return _call(ws, actor, lambda r: r.rollback(name, alias, reason))


def archive(name: str, version: int | str, reason: str = "", *, ws: Workspace | None = None,
            actor: str | None = None) -> None:
    _call(ws, actor, lambda r: r.archive(name, version, reason))


def delete(name: str, version: int | str, reason: str = "", *, ws: Workspace | None = None,
           actor: str | None = None) -> None:
    _call(ws, actor, lambda r: r.delete(name, version, reason))


def history(name: str, alias: str | None = None, *, ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda r: r.history(name, alias))


def versions(name: str, *, ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda r: r.versions(name))


def models(*, ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda r: r.models_frame())


def resolve(ref: str, *, ws: Workspace | None = None) -> ModelVersion:
    return _call(ws, None, lambda r: r.resolve(ref))


def load(ref: str, *, trust: bool = False, ws: Workspace | None = None) -> Any:
    return _call(ws, None, lambda r: r.load(ref, trust=trust))


def card(ref: str, *, intended_use: str | None = None, ws: Workspace | None = None) -> ModelCard:
    """The model card of ``name@ref`` (``.markdown``, ``.html``, ``.save(dir)``)."""
    from nbops.governance.cards import build_card

    return _call(ws, None, lambda r: build_card(r, ref, intended_use=intended_use))
