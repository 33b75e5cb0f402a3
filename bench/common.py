"""Timing helpers shared by the benchmarks: repeated, alternating, reported as medians and ratios.

A benchmark module ``bench/bench_<area>.py`` exposes ``SECTION`` (its heading in
docs/benchmarks.md), optionally ``INTRO`` (a paragraph under it), and
``run(quick: bool) -> list[Result]``. ``bench/run_all.py`` runs every such module and
rewrites that module's section only.

The machine is shared and small, so every figure is measured as: one untimed warm-up
of each side, then ``repeat`` rounds that alternate the anchor and nbops (the order
flips every round), each timed on its own; the report gives the median and min–max
of each side and the ratio of the medians.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache"

FULL_REPEAT = 7
QUICK_REPEAT = 3


@dataclass(frozen=True)
class Stat:
    """Repeated measurements of one quantity."""

    samples: list[float]
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        return min(self.samples)

    @property
    def hi(self) -> float:
        return max(self.samples)

    def show(self) -> str:
        """``median (min–max) unit``, all three on the median's scale."""
        scale, unit = _scale(self.median, self.unit)
        med = _num(self.median / scale)
        if self.lo == self.hi:
            return f"{med} {unit}"
        return f"{med} ({_num(self.lo / scale)}–{_num(self.hi / scale)}) {unit}"


@dataclass
class Result:
    """One row of a benchmark table.

    ``ratio`` is anchor/nbops for times (how many times faster nbops is); ``passed``
    is None for informational rows without a target. ``anchor_name`` names the anchor of a
    row whose anchor differs from its module's ``ANCHOR`` (the table prints it in the cell).
    """

    figure: str
    nbops: Stat | None
    anchor: Stat | None = None
    target: str = "—"
    passed: bool | None = None
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    anchor_name: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for side in ("nbops", "anchor"):
            stat = getattr(self, side)
            if stat is not None:
                d[side]["median"] = stat.median
        return d


def _scale(value: float, unit: str) -> tuple[float, str]:
    if unit == "s":
        return (1.0, "s") if value >= 1 else (1e-3, "ms") if value >= 1e-3 else (1e-6, "µs")
    if unit == "bytes":
        for name, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if abs(value) >= size:
                return size, name
        return 1.0, "B"
    return 1.0, unit


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt(value: float, unit: str) -> str:
    """A number with its unit, scaled for reading (seconds become ms or µs when small)."""
    scale, name = _scale(value, unit)
    return f"{_num(value / scale)} {name}"


def measure(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds taken by ``fn()``, its result), with the garbage collector quiet during the call.

    Both sides of every comparison are timed through this (the anchor's worker too).
    """
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn()
        return time.perf_counter() - t0, result
    finally:
        gc.enable()


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()`` (see :func:`measure`)."""
    return measure(fn)[0]


def alternate(sides: dict[str, Callable[[int], float]], repeat: int, *, warmup: bool = True,
              unit: str = "s") -> dict[str, Stat]:
    """Run every side ``repeat`` times, interleaved, the order reversed every other round.

    Each callable receives the round number (−1 for the untimed warm-up) and returns
    what it measured (seconds, usually), so an anchor may time itself in another process.
    """
    names = list(sides)
    if warmup:
        for name in names:
            sides[name](-1)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        for name in names if i % 2 == 0 else reversed(names):
            samples[name].append(sides[name](i))
    return {name: Stat(v, unit) for name, v in samples.items()}


def speedup(anchor: Stat | None, nbops: Stat | None) -> float | None:
    if anchor is None or nbops is None or nbops.median <= 0:
        return None
    return anchor.median / nbops.median


def compare(figure: str, anchor: Stat | None, nbops: Stat, *, min_ratio: float | None = None,
            note: str = "") -> Result:
    """A timing row: ratio of the medians, pass/fail against ``min_ratio`` when given."""
    ratio = speedup(anchor, nbops)
    passed = None if min_ratio is None or ratio is None else bool(ratio >= min_ratio)
    target = f"≥ {min_ratio:g}× faster" if min_ratio is not None else "—"
    return Result(figure, nbops, anchor, target=target, passed=passed, ratio=ratio, note=note)


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": f"{cpu}, {cores} cores" + (f", {mem}" if mem else ""),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(*dists: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for d in dists:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = "not installed"
    return out


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the files under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def print_rows(rows: list[dict[str, Any]], argv: list[str]) -> None:
    """Print a bench module's plain rows (case, value, unit, detail); ``--json`` adds them raw."""
    import json

    width = max(len(str(r["case"])) for r in rows)
    print(f"{'case':<{width}}  {'median':>9}  detail")
    for r in rows:
        print(f"{r['case']:<{width}}  {float(r['value']):>7.3f} {r['unit']}  {r['detail']}")
    if "--json" in argv:
        print(json.dumps(rows, indent=1))
