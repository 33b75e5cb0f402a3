"""Assignment: weights respected, deterministic across processes and restarts, sticky on weight changes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as st

from nbops.abtest import assignment

VARIANTS = ["control", "treatment", "other"]


def test_weights_are_respected_within_sampling_error_on_a_million_ids() -> None:
    weights = {"control": 0.7, "treatment": 0.2, "other": 0.1}
    ids = np.arange(1_000_000)
    out = assignment.assign(ids, VARIANTS, weights, salt="exp-salt")
    counts = [int((out == v).sum()) for v in VARIANTS]
    # Chi-square goodness of fit: a biased hash would fail this at 1M units.
    p = st.chisquare(counts, np.array([0.7, 0.2, 0.1]) * 1_000_000).pvalue
    assert p > 0.001
    for v, c in zip(VARIANTS, counts, strict=True):
        assert abs(c / 1e6 - weights[v]) < 5 * np.sqrt(weights[v] * (1 - weights[v]) / 1e6)


def test_ids_hash_as_text_and_different_salts_give_independent_splits() -> None:
    w = {"control": 0.5, "treatment": 0.5}
    a = assignment.assign(np.arange(1000), VARIANTS[:2], w, "s1")
    b = assignment.assign([str(i) for i in range(1000)], VARIANTS[:2], w, "s1")
    c = assignment.assign(np.arange(1000), VARIANTS[:2], w, "s2")
    assert (a == b).all()
    assert 0.4 < (a == c).mean() < 0.6


def test_the_same_id_gets_the_same_variant_in_another_process() -> None:
    ids = [f"user-{i}" for i in range(2000)]
    here = assignment.assign(ids, VARIANTS, {"control": 0.5, "treatment": 0.3, "other": 0.2}, "salty")
    code = ("import json, sys; from nbops.abtest import assignment; "
            "ids = [f'user-{i}' for i in range(2000)]; "
            "out = assignment.assign(ids, ['control', 'treatment', 'other'], "
            "{'control': 0.5, 'treatment': 0.3, 'other': 0.2}, 'salty'); "
            "print(json.dumps(list(out)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == list(here)


def test_changing_weights_keeps_exposed_units_and_moves_only_new_ones() -> None:
    sticky = assignment.StickyAssigner(VARIANTS[:2], "salt")
    old_ids = [f"u{i}" for i in range(10000)]
    first = sticky.assign(old_ids, {"control": 0.9, "treatment": 0.1})
    sticky.remember(old_ids, list(first))
    again = sticky.assign(old_ids, {"control": 0.1, "treatment": 0.9})
    assert (again == first).all()
    new_ids = [f"n{i}" for i in range(10000)]
    fresh = sticky.assign(new_ids, {"control": 0.1, "treatment": 0.9})
    assert 0.87 < (fresh == "treatment").mean() < 0.93


def test_bad_ids_and_weights_are_refused() -> None:
    with pytest.raises(assignment.AssignmentError, match="floats"):
        assignment.unit_keys(np.array([1.5, 2.5]))
    with pytest.raises(assignment.AssignmentError, match="missing"):
        assignment.unit_keys(["a", None])
    with pytest.raises(assignment.AssignmentError, match="exactly the variants"):
        assignment.normalize_weights(["a", "b"], {"a": 1})
    with pytest.raises(assignment.AssignmentError, match="non-negative"):
        assignment.normalize_weights(["a", "b"], [1, -1])
