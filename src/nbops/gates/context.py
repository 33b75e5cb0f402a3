"""What a rule sees: the data, the candidate and baseline models, cached predictions, training data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbops.errors import NbopsError
from nbops.gates.metrics import MetricSpec, Needs

if TYPE_CHECKING:
    from nbops.registry.service import ModelVersion
    from nbops.workspace import Workspace

CANDIDATE, BASELINE = "candidate", "baseline"


@dataclass
class GateContext:
    """The inputs of one ``validate`` call; predictions and training data are computed once.

    ``baseline`` is the version holding ``against`` (None when the alias has no holder yet).
    """

    ws: Workspace
    candidate: ModelVersion
    model: Any
    X: pd.DataFrame
    y: Any
    baseline: ModelVersion | None = None
    baseline_model: Any = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def model_of(self, which: str) -> Any:
        return self.model if which == CANDIDATE else self.baseline_model

    def output(self, which: str, needs: Needs) -> np.ndarray:
        """``predict`` (labels) or ``predict_proba`` (scores) of one model on X, cached."""
        key = (which, str(needs))
        if key not in self._cache:
            m = self.model_of(which)
            if needs == Needs.LABEL:
                self._cache[key] = np.asarray(m.predict(self.X))
            else:
                if not hasattr(m, "predict_proba"):
                    raise NbopsError(f"the {which} model has no predict_proba")
                proba = np.asarray(m.predict_proba(self.X))
                self._cache[key] = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        return self._cache[key]

    def score(self, which: str, spec: MetricSpec, rows: np.ndarray | None = None) -> float:
        """``spec`` of one model on all rows of (X, y), or on the boolean mask ``rows``."""
        if self.y is None:
            raise NbopsError(f"metric {spec.name} needs labels", hint="pass data=(X, y)")
        out, y = self.output(which, spec.needs), np.asarray(self.y)
        if rows is not None:
            out, y = out[rows], y[rows]
        return float(spec.fn(y, out))

    # -- what the candidate was trained on ------------------------------------
    def _training_ref(self) -> str | None:
        if "train_ref" not in self._cache:
            from nbops.catalog.monitor import training_datasets

            run_id = self.candidate.run_id
            inputs = training_datasets(self.ws.catalog, run_id) if run_id else []
            self._cache["train_ref"] = f"{run_id}/{inputs[0]['name']}" if inputs else None
        return self._cache["train_ref"]

    def training_schema(self) -> dict[str, str] | None:
        """{column: dtype} of the candidate's training data, as recorded when its run logged it."""
        ref = self._training_ref()
        if ref is None:
            return None
        text = self.ws.artifact(ref).get("schema_json")
        return dict(json.loads(text)) if text else None

    def training_data(self) -> pd.DataFrame | None:
        """The candidate's training data (its run's largest input dataset), loaded once."""
        if "train_data" not in self._cache:
            ref = self._training_ref()
            data = self.ws.load(ref) if ref else None
            if data is not None and not isinstance(data, pd.DataFrame):
                data = pd.DataFrame(np.asarray(data))
            self._cache["train_data"] = data
        return self._cache["train_data"]

    @property
    def label(self) -> str | None:
        """The label's column name (``y.name``), left out of schema and data checks."""
        name = getattr(self.y, "name", None)
        return None if name is None else str(name)

    def describe_training(self) -> str:
        return self._training_ref() or "(none recorded)"
