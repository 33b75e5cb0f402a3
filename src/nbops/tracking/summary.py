"""What a tracked cell recorded, and its one-line rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbops.tracking.lineage import HiddenState


def _fmt_shape(shape: tuple[int, ...] | None) -> str:
    return f"({'×'.join(str(s) for s in shape)})" if shape else ""


def _fmt_number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


@dataclass
class Summary:
    run_id: str | None
    name: str | None
    body_ms: float
    failed: bool = False
    saved: bool = False
    reads: list[tuple[str, tuple[int, ...] | None]] = field(default_factory=list)
    writes: list[tuple[str, tuple[int, ...] | None]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    model_versions: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    hidden: list[HiddenState] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        """``tracked run 1a2b3c · read df(150×5) · model clf v3 · acc=0.953 · 18 ms``."""
        head = "tracked run" if self.saved else "not recorded:"
        parts = [f"{head} {self.run_id}" + (f" {self.name}" if self.name else "")
                 + (" (failed)" if self.failed else "")]
        if self.reads:
            parts.append("read " + ", ".join(f"{n}{_fmt_shape(s)}" for n, s in self.reads))
        if self.writes:
            parts.append("wrote " + ", ".join(f"{n}{_fmt_shape(s)}" for n, s in self.writes))
        for m in self.models:
            v = self.model_versions.get(m)
            parts.append(f"model {m}" + (f" v{v}" if v else ""))
        if self.params:
            parts.append(", ".join(f"{k}={v!r}" for k, v in list(self.params.items())[:4]))
        if self.metrics:
            parts.append(", ".join(f"{k}={_fmt_number(v)}" for k, v in list(self.metrics.items())[:4]))
        parts.append(f"{self.body_ms:.0f} ms")
        return " · ".join(parts)

    def lines(self) -> list[str]:
        """The summary line, then one line per hidden-state flag, skipped value and warning."""
        out = [self.line()] if self.saved or self.run_id else []
        out += [f"⚠ hidden state: {h}" for h in self.hidden]
        out += [f"⚠ {name} skipped: {reason}" for name, reason in self.skipped]
        out += [f"⚠ nbops: {w}" for w in self.warnings]
        return out
