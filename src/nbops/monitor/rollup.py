"""Per-hour rollups of one model's prediction log, kept as a cache in the workspace.

A dashboard over a week of traffic would otherwise re-read every logged prediction and join
every request id to the outcomes each time it is drawn (about a second per 10M predictions
here, most of it the join). The rollups hold, per log partition (one hour), the volume, errors
and latency sum, the latency counts per bin (percentiles of any set of hours are read from
summed bins), and the error-free predictions with their latest outcome. Queries over whole
hours read the rollups instead of the logs.

Refreshing is incremental. A partition whose file list changed (new files, or compaction)
is rolled up again from its files, joined to all outcomes. New outcome files are joined to
the other partitions' predictions and merged into their joined rows, keeping each
prediction's latest outcome. The state (which files were rolled up) is
``<workspace>/.nbops/cache/monitor/<model>/state.json``; deleting the directory only costs a
full rebuild. When outcome files disappear, compaction (a new file in the same partition)
changes nothing, since its rows are the merged file's; any other deletion rebuilds the rollups.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from nbops.catalog.monitor_rollup import RollupQueries, dataset_sql
from nbops.monitor.files import LogFiles

T = TypeVar("T")
FORMAT = 1
ANNOUNCE_PARTITIONS = 48  # a first rollup this large takes seconds: say what is happening
FILES = ("hourly",)  # small, rewritten whole


class Rollup:
    """The rollups of ``model``'s prediction log (see the module docstring)."""

    def __init__(self, catalog: Any, files: LogFiles, home: Path, model: str) -> None:
        self.q = RollupQueries(catalog)
        self.files, self.model = files, model
        self.root = Path(home) / "cache" / "monitor" / model

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Rollup]:
        """Bring the rollups up to date and hold them steady while the caller reads."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "a+") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                try:
                    self.refresh()
                except Exception:  # e.g. a file compacted away between listing and reading
                    self.refresh()  # list again, once
                yield self
            except Exception:
                (self.root / "state.json").unlink(missing_ok=True)  # rebuilt next time
                raise
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def refresh(self) -> dict[str, int]:
        """Roll up what changed since the last refresh; returns what was done (for progress)."""
        state = self._state()
        preds = self._predictions()
        outcomes = sorted(f for fs in self.files.listing("outcomes", None).values() for f in fs)
        if _outcomes_deleted(state["outcomes"], outcomes) or (
                state["predictions"] and not os.path.exists(self.path("hourly"))):
            state = self._state(reset=True)
        changed, gone = _diff(state["predictions"], preds)
        new_outcomes = sorted(set(outcomes) - set(state["outcomes"]))
        if not (changed or gone or new_outcomes):
            return {"partitions": 0, "outcome_files": 0}
        if len(changed) >= ANNOUNCE_PARTITIONS:
            print(f"nbops: rolling up {len(changed)} hours of {self.model}'s prediction log into "
                  f"{self.root} (once: later dashboards read the rollups)", file=sys.stderr, flush=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            merged = self._roll(tmp, preds, changed, gone, outcomes, new_outcomes)
            for name in FILES if changed or gone else ():
                new = tmp / f"{name}.parquet"
                if new.exists():
                    os.replace(new, self.path(name))
                else:
                    Path(self.path(name)).unlink(missing_ok=True)
            for part in changed + gone:
                _replace(tmp / "joined" / part, self.root / "joined" / part, tmp)
            for part in merged:
                _replace(tmp / "merged" / part, self.root / "joined" / part, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        kept = {k: v for k, v in state.items() if k.startswith("histogram:")}
        self._save({"format": FORMAT, "predictions": preds, "outcomes": outcomes, **kept})
        return {"partitions": len(changed), "outcome_files": len(new_outcomes)}

    def _roll(self, tmp: Path, preds: dict[str, list[str]], changed: list[str], gone: list[str],
              outcomes: list[str], new_outcomes: list[str]) -> list[str]:
        files = [f for p in changed for f in preds[p]]
        if files or gone:
            keep = self.path("hourly") if os.path.exists(self.path("hourly")) else None
            self.q.write_hourly(files, keep, changed + gone, str(tmp / "hourly.parquet"))
        if files:
            if outcomes:
                self.q.write_joined(files, outcomes, str(tmp / "joined"))
        rest = [f for p, fs in preds.items() if p not in set(changed) for f in fs]
        if not (rest and new_outcomes):
            return []
        joined = [str(p) for p in (self.root / "joined").glob("*/*/*.parquet")]
        parts = self.q.merge_joined(rest, new_outcomes, joined, str(tmp / "merged"))
        return [f"date={d}/hour={h}" for d, h in parts]

    def _predictions(self) -> dict[str, list[str]]:
        """The model's log files by partition as rollups name it (``hour=0`` and ``hour=00``
        folders of one hour are one partition)."""
        out: dict[str, list[str]] = {}
        for part, files in self.files.listing("predictions", self.model).items():
            out.setdefault(_dirname(part), []).extend(files)
        return {k: sorted(v) for k, v in out.items()}

    def histogram(self, column: str, edges: list[float], where: str,
                  params: list[Any]) -> tuple[int, list[int]]:
        """A numeric log column's counts per bin of ``edges`` over the partitions ``where`` selects
        (as :meth:`MonitorRepository.feature_histogram`). Each (column, edges) is rolled up on
        first use, then kept up to date partition by partition; other edges start it again."""
        state = self._state()
        preds = self._predictions()
        key = f"histogram:{column}"
        mine = state.get(key) if state.get(key, {}).get("edges") == edges else None
        changed, gone = _diff(mine["predictions"] if mine else {}, preds)
        path = self.path("histogram-" + hashlib.sha1(column.encode()).hexdigest()[:20])
        if changed or gone or not os.path.exists(path):
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            files = [f for p in changed for f in preds[p]]
            keep = path if mine and os.path.exists(path) else None
            present = bool(files) and column in self.q.columns(files)
            try:
                self.q.write_histogram(files, column if present else None, edges, keep,
                                       changed + gone, tmp)
                if not os.path.exists(tmp):
                    return 0, [0] * (len(edges) + 1)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            state[key] = {"edges": edges, "predictions": preds}
            self._save(state)
        return self.q.histogram(path, edges, where, params)

    def path(self, name: str) -> str:
        """A single-file rollup (``hourly``)."""
        return str(self.root / f"{name}.parquet")

    def joined(self) -> str | None:
        """A ``read_parquet`` over the joined rows, or None before any outcome matched."""
        return dataset_sql(str(self.root / "joined")) \
            if any((self.root / "joined").glob("*/*/*.parquet")) else None

    def _state(self, *, reset: bool = False) -> dict[str, Any]:
        for leftover in self.root.glob(".tmp-*"):  # from a process killed mid-refresh
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            state = {} if reset else json.loads((self.root / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("format") != FORMAT:
            shutil.rmtree(self.root / "joined", ignore_errors=True)
            for name in FILES:
                Path(self.path(name)).unlink(missing_ok=True)
            return {"format": FORMAT, "predictions": {}, "outcomes": []}
        return state

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.root / f".state-{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.root / "state.json")


def read_rolled_up(mon: Any, model: str, read: Callable[[Rollup], T]) -> T | None:
    """``read(rollup)`` on ``model``'s rollups brought up to date, or None with a warning when
    they cannot be used (the caller then reads the logs): a cache never costs a dashboard."""
    try:
        with Rollup(mon.ws.catalog, mon.files, mon.ws.settings.home, model).fresh() as r:
            return read(r)
    except Exception as exc:
        warnings.warn(f"nbops: monitoring rollups unavailable ({type(exc).__name__}: {exc}); "
                      "reading the logs instead", stacklevel=3)
        return None


def _diff(seen: dict[str, list[str]], now: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """(partitions whose files changed or are new, partitions gone) since ``seen``."""
    return sorted(p for p, f in now.items() if seen.get(p) != f), sorted(set(seen) - set(now))


def _outcomes_deleted(before: list[str], now: list[str]) -> bool:
    """Whether outcome files went away other than by compaction (which writes the merged file
    into the same partition): then the joined rows are rebuilt, not patched."""
    current = set(now)
    gone = [f for f in before if f not in current]
    if not gone:
        return False
    fresh = {f.rsplit("/", 1)[0] for f in current.difference(before)}
    return any(f.rsplit("/", 1)[0] not in fresh for f in gone)


def _dirname(partition: str) -> str:
    """The logger's ``date=D/hour=HH`` as DuckDB's partitioned writes name it (``hour=H``)."""
    date, hour = partition.split("/")
    return f"{date}/hour={int(hour.split('=', 1)[1])}"


def _replace(src: Path, dst: Path, trash: Path) -> None:
    """Put ``src`` (a partition directory, or nothing) where ``dst`` was; the old one goes to
    ``trash`` (outside every dataset, so no reader globs it)."""
    if dst.exists():
        old = trash / f".old-{uuid.uuid4().hex}"
        dst.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    if src.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)
