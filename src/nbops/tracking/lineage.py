"""Which run produced each value in the kernel, and when a cell depends on hidden state.

A :class:`Lineage` lives on one tracking session (one kernel or script), never
in a module global. It knows, per variable, the run and cell that last
produced its current value, and, per cell id, the hash of the code that last
ran there. A tracked cell that reads a variable is flagged when:

* **untracked** — no tracked run produced the current value (it was made, or
  changed in place, by a cell that ran without tracking: the value's
  fingerprint no longer matches the one recorded);
* **cell changed** — the producing cell has since run with different code,
  or its source in the saved notebook differs from what ran;
* **cell deleted** — the producing cell's id is no longer in the notebook.

What is knowable: the kernel sees code only when it runs. Cell ids come from
the frontend (JupyterLab, VS Code and nbclient/papermill send them); without
an id, "changed" is judged by run name only and "deleted" cannot be known.
Deletion and unsaved edits are read from the notebook file on disk, so they
are detected once the notebook is saved (a file older than the producing run
says nothing about it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from nbops.tracking.run import code_hash


class HiddenReason(StrEnum):
    UNTRACKED = "untracked"
    CELL_CHANGED = "cell-changed"
    CELL_DELETED = "cell-deleted"


@dataclass(frozen=True)
class Producer:
    """The tracked run that produced a variable's current value."""

    run_id: str
    fp: str | None
    obj_id: int
    cell_id: str | None
    code_hash: str
    name: str | None
    at: datetime


@dataclass(frozen=True)
class HiddenState:
    name: str
    reason: HiddenReason
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass(frozen=True)
class NotebookCells:
    """Cell ids and sources of the saved notebook, with the file's modification time."""

    sources: dict[str, str]
    saved_at: float

    @classmethod
    def read(cls, path: str | os.PathLike[str] | None) -> NotebookCells | None:
        if not path:
            return None
        p = Path(path)
        try:
            stat = p.stat()
            nb = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        cells = {c["id"]: "".join(c.get("source", "")) if isinstance(c.get("source"), list)
                 else str(c.get("source", "")) for c in nb.get("cells", []) if c.get("id")}
        return cls(cells, stat.st_mtime) if cells else None


class Lineage:
    """Per-session map of variable -> producing run, and cell id -> code last run there."""

    def __init__(self) -> None:
        self.producers: dict[str, Producer] = {}
        self.cell_code: dict[str, str] = {}  # cell id (or run name) -> code hash last run

    def cell_ran(self, key: str | None, source: str) -> None:
        """Any cell, tracked or not, ran ``source`` under ``key`` (cell id or run name)."""
        if key:
            self.cell_code[key] = code_hash(source)

    def produced(self, name: str, producer: Producer) -> None:
        self.producers[name] = producer

    def forget(self, name: str) -> None:
        self.producers.pop(name, None)

    def forget_run(self, run_id: str) -> None:
        """A run was not recorded after all: its values count as untracked."""
        for name in [n for n, p in self.producers.items() if p.run_id == run_id]:
            del self.producers[name]

    def producer(self, name: str) -> Producer | None:
        return self.producers.get(name)

    def check(self, name: str, obj_id: int, fp: str | None,
              notebook: NotebookCells | None = None) -> tuple[Producer | None, HiddenState | None]:
        """The producer of ``name``'s current value, and a hidden-state flag when there is one."""
        p = self.producers.get(name)
        if p is None:
            return None, HiddenState(name, HiddenReason.UNTRACKED, "made by an untracked cell")
        same = (fp == p.fp) if (fp is not None and p.fp is not None) else obj_id == p.obj_id
        if not same:
            return None, HiddenState(name, HiddenReason.UNTRACKED,
                                     f"changed by an untracked cell after run {p.run_id}")
        return p, self._cell_state(name, p, notebook)

    def _cell_state(self, name: str, p: Producer, nb: NotebookCells | None) -> HiddenState | None:
        key = p.cell_id or (f"name:{p.name}" if p.name else None)
        where = f"cell {p.cell_id}" if p.cell_id else f"run {p.run_id}"
        if key and self.cell_code.get(key, p.code_hash) != p.code_hash:
            return HiddenState(name, HiddenReason.CELL_CHANGED,
                               f"made by {where}, whose code has changed since")
        if p.cell_id and nb is not None and nb.saved_at >= p.at.timestamp():
            if p.cell_id not in nb.sources:
                return HiddenState(name, HiddenReason.CELL_DELETED,
                                   f"made by {where}, which was deleted from the notebook")
            if not _same_code(nb.sources[p.cell_id], p.code_hash):
                return HiddenState(name, HiddenReason.CELL_CHANGED,
                                   f"made by {where}, whose code has changed since")
        return None


def _same_code(saved_source: str, ran_hash: str) -> bool:
    """Does the saved cell still hold the code that ran? Compares with and without the magic line."""
    candidates = {saved_source, saved_source.strip()}
    lines = saved_source.split("\n", 1)
    if lines[0].lstrip().startswith("%%"):
        body = lines[1] if len(lines) > 1 else ""
        candidates |= {body, body.strip()}
    return any(code_hash(c) == ran_hash for c in candidates)
