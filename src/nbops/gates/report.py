"""The outcome of ``validate``: one :class:`GateOutcome` per rule, a readable text/HTML report."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nbops.errors import NbopsError


@dataclass(frozen=True)
class GateOutcome:
    """One gate's verdict. ``details`` holds its numbers and is what the catalog records."""

    name: str
    kind: str
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def recorded(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, **self.details}


@dataclass
class ValidationResult:
    """Every gate's outcome for one candidate version, and what happened afterwards."""

    name: str
    version: int
    against: str | None
    baseline_version: int | None
    n_rows: int
    gates: list[GateOutcome]
    notes: list[str] = field(default_factory=list)
    promotion: str | None = None
    request_id: str | None = None

    @property
    def candidate(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateOutcome]:
        return [g for g in self.gates if not g.passed]

    def __getitem__(self, gate: str) -> GateOutcome:
        for g in self.gates:
            if g.name == gate:
                return g
        raise KeyError(gate)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"gate": g.name, "kind": g.kind, "passed": g.passed, "summary": g.summary}
                             for g in self.gates], columns=["gate", "kind", "passed", "summary"])

    def _header(self) -> str:
        base = (f"against {self.against} (v{self.baseline_version})" if self.baseline_version
                else f"against {self.against} (no current holder)" if self.against else "absolute only")
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.failed)} of {len(self.gates)} gates)"
        return f"validation of {self.candidate} on {self.n_rows} rows, {base}: {verdict}"

    def text(self) -> str:
        lines = [self._header()]
        width = max((len(g.name) for g in self.gates), default=4)
        for g in self.gates:
            lines.append(f"  {'ok  ' if g.passed else 'FAIL'}  {g.name:<{width}}  {g.summary}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.promotion:
            lines.append(f"  {self.promotion}")
        return "\n".join(lines)

    __str__ = text

    def html(self) -> str:
        rows = "".join(
            f"<tr><td style='color:{'#1a7f37' if g.passed else '#cf222e'}'>"
            f"{'passed' if g.passed else 'FAILED'}</td><td><code>{html.escape(g.name)}</code></td>"
            f"<td>{html.escape(g.summary)}</td></tr>" for g in self.gates)
        extra = "".join(f"<li>{html.escape(x)}</li>" for x in [*self.notes, self.promotion or ""] if x)
        return (f"<div class='nbops-gates'><p><b>{html.escape(self._header())}</b></p>"
                f"<table><thead><tr><th>result</th><th>gate</th><th>details</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>{f'<ul>{extra}</ul>' if extra else ''}</div>")

    def _repr_html_(self) -> str:
        return self.html()

    def raise_for_failure(self) -> ValidationResult:
        if not self.passed:
            raise GatesFailed(self)
        return self


class GatesFailed(NbopsError):
    """A candidate failed one or more validation gates; ``result`` holds every outcome.

    Its message is the whole text report, so a failed pipeline run shows it as the
    failing cell's error message.
    """

    def __init__(self, result: ValidationResult) -> None:
        self.result = result
        names = ", ".join(g.name for g in result.failed)
        super().__init__(f"{result.candidate} failed validation gate(s) {names}\n{result.text()}\n"
                         f"(recorded: `nbops gates show {result.candidate}`)")
