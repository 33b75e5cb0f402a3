"""What an experiment measures: its metric, its guardrails and its canary ramp (parsed and checked)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from nbops.errors import NbopsError


class ExperimentError(NbopsError):
    http_status = 400


class MetricKind(StrEnum):
    BINARY = "binary"  # a unit converts (1) or not (0); units without an outcome count as 0
    CONTINUOUS = "continuous"  # a number per unit (mean of its outcomes); units without one are left out


class GuardrailKind(StrEnum):
    ERROR_RATE = "error_rate"  # share of a variant's predictions that raised: breach when above
    METRIC_FLOOR = "metric_floor"  # a variant's mean metric: breach when below


@dataclass(frozen=True)
class Metric:
    name: str = "outcome"
    kind: MetricKind = MetricKind.BINARY
    higher_is_better: bool = True

    @property
    def agg(self) -> str:
        return "max" if self.kind == MetricKind.BINARY else "mean"


@dataclass(frozen=True)
class Guardrail:
    kind: GuardrailKind
    threshold: float
    min_units: int = 100  # judged only once a variant has this many units

    def describe(self) -> str:
        op = ">" if self.kind == GuardrailKind.ERROR_RATE else "<"
        return f"{self.kind} {op} {self.threshold:g}"


def parse_metric(metric: str | Mapping[str, Any] | Metric | None) -> Metric:
    if metric is None:
        return Metric()
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        return Metric(name=metric)
    try:
        return Metric(name=str(metric.get("name", "outcome")), kind=MetricKind(metric.get("kind", "binary")),
                      higher_is_better=bool(metric.get("higher_is_better", True)))
    except ValueError:
        raise ExperimentError(f"bad metric {dict(metric)!r}",
                              hint="kind is 'binary' or 'continuous'") from None


_TEXT = re.compile(r"^\s*(error_rate|metric_floor)\s*([<>]=?)?\s*([0-9.eE+-]+)\s*$")


def parse_guardrail(g: str | Mapping[str, Any] | Guardrail) -> Guardrail:
    """``Guardrail(...)``, ``{"error_rate": 0.05}``, ``{"metric_floor": 0.08, "min_units": 500}``
    or the text ``"error_rate < 0.05"`` / ``"metric_floor 0.08"``."""
    if isinstance(g, Guardrail):
        return g
    try:
        if isinstance(g, str):
            m = _TEXT.match(g)
            if not m:
                raise ValueError(g)
            return Guardrail(GuardrailKind(m.group(1)), float(m.group(3)))
        d = dict(g)
        if "kind" in d:
            return Guardrail(GuardrailKind(d["kind"]), float(d["threshold"]), int(d.get("min_units", 100)))
        (kind,) = [k for k in d if k != "min_units"]
        return Guardrail(GuardrailKind(kind), float(d[kind]), int(d.get("min_units", 100)))
    except (ValueError, KeyError, TypeError):
        raise ExperimentError(f"bad guardrail {g!r}",
                              hint='use {"error_rate": 0.05} or {"metric_floor": 0.08}') from None


def parse_ramp(ramp: Sequence[Sequence[Any]] | None) -> list[tuple[float, float]] | None:
    """Canary ramp: ``[(seconds after start, treatment weight), ...]``; durations may be '30m', '2h', '1d'."""
    if ramp is None:
        return None
    steps = []
    for step in ramp:
        at, weight = step
        steps.append((_seconds(at), float(weight)))
    steps.sort()
    if not steps or steps[0][0] != 0 or any(not 0 <= w <= 1 for _, w in steps):
        raise ExperimentError("a canary ramp starts at 0 with treatment weights between 0 and 1",
                              hint='e.g. ramp=[(0, 0.05), ("1h", 0.2), ("1d", 0.5)]')
    return steps


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(value))
    if not m:
        raise ExperimentError(f"bad duration {value!r}", hint="seconds, or '30m', '2h', '1d'")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def metric_json(m: Metric) -> str:
    return json.dumps({"name": m.name, "kind": str(m.kind), "higher_is_better": m.higher_is_better})


def guardrails_json(gs: Sequence[Guardrail]) -> str:
    return json.dumps([{**asdict(g), "kind": str(g.kind)} for g in gs])


def guardrails_from_json(text: str) -> list[Guardrail]:
    return [parse_guardrail(d) for d in json.loads(text or "[]")]
