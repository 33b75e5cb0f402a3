"""Values survive storage unchanged, and fingerprints follow content, not layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nbops.catalog.records import ArtifactKind
from nbops.errors import UnsupportedObject
from nbops.store.serializers import Serialized, describe, deserialize, serialize
from nbops.tracking.fingerprint import fingerprint


@dataclass
class Thresholds:
    """A plain object: neither a table nor an estimator (module level, so it pickles)."""

    low: float
    high: float


def _round_trip(value: Any, **kw: Any) -> tuple[Serialized, Any]:
    s = serialize(value, **kw)
    return s, deserialize(s.data, s.format, **kw)


def _mixed_frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "name": [f"user{i}" for i in range(n)],
        "city": pd.Categorical(rng.choice(["Oslo", "Lima", "Pune"], n)),
        "visits": pd.array([None if i % 7 == 0 else i for i in range(n)], dtype="Int64"),
        "seen": pd.date_range("2024-03-30", periods=n, freq="h", tz="Europe/Paris"),
        "score": rng.normal(size=n),
        "active": rng.random(n) > 0.5,
    })


# -- round trips -----------------------------------------------------------------


def test_dataframe_keeps_its_dtypes() -> None:
    df = _mixed_frame()
    assert str(df["name"].dtype) == "str"  # pandas 3's default string dtype
    s, back = _round_trip(df)
    assert (s.format, s.kind, s.n_rows, s.n_cols) == ("parquet", ArtifactKind.DATASET, 50, 6)
    assert s.schema is not None and s.schema["visits"] == "Int64"
    pd.testing.assert_frame_equal(back, df)
    assert back["city"].cat.categories.tolist() == ["Lima", "Oslo", "Pune"]
    assert str(back["seen"].dt.tz) == "Europe/Paris"


def test_dataframe_index_and_non_string_columns() -> None:
    df = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index(["a", "b"], name="key"))
    pd.testing.assert_frame_equal(_round_trip(df)[1], df)
    numbered = pd.DataFrame([[1, 2], [3, 4]])  # integer column labels are stored as text
    back = _round_trip(numbered)[1]
    assert back.columns.tolist() == ["0", "1"] and back.to_numpy().tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("series", [
    pd.Series([1.0, None, 3.0], name="price"),
    pd.Series(["a", "b", None]),
    pd.Series(pd.array([True, None, False], dtype="boolean"), name="flag"),
])
def test_series(series: pd.Series) -> None:
    s, back = _round_trip(series)
    pd.testing.assert_series_equal(back, series)
    assert s.n_rows == 3


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.arange(24, dtype=np.int16).reshape(2, 3, 4),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.array([["a", "bb"], ["ccc", "d"]]),
    np.array([True, False, True]),
])
def test_ndarray_keeps_shape_and_dtype(array: np.ndarray) -> None:
    s, back = _round_trip(array)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    assert s.shape == array.shape


def test_arrow_table() -> None:
    table = pa.table({"id": pa.array([1, 2, None], pa.int64()), "label": ["x", None, "z"],
                      "when": pa.array([0, 1, 2], pa.timestamp("ms", tz="UTC"))})
    s, back = _round_trip(table)
    assert isinstance(back, pa.Table) and back.equals(table)
    assert s.schema == {"id": "int64", "label": "string", "when": "timestamp[ms, tz=UTC]"}
    batch = table.to_batches()[0]
    assert _round_trip(batch)[1].equals(table)


def test_sklearn_estimator_through_skops() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 4)), rng.integers(0, 2, 200)
    for est in (RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0),
                make_pipeline(StandardScaler(), LogisticRegression(C=0.5))):
        est.fit(X, y)
        s, back = _round_trip(est)
        assert (s.format, s.kind) == ("skops", ArtifactKind.MODEL)
        assert type(back) is type(est)
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    hyper = describe(RandomForestClassifier(n_estimators=7)).metadata["hyperparameters"]
    assert hyper["n_estimators"] == 7


def test_other_objects_need_trust_to_store_and_to_load() -> None:
    value = Thresholds(0.2, 0.8)
    with pytest.raises(UnsupportedObject, match="trust=True"):
        serialize(value)
    s = serialize(value, trust=True)
    assert (s.format, s.kind) == ("joblib", ArtifactKind.OBJECT)
    with pytest.raises(UnsupportedObject, match="loading it runs code"):
        deserialize(s.data, s.format)
    assert deserialize(s.data, s.format, trust=True) == value


def test_unknown_format_is_refused() -> None:
    with pytest.raises(UnsupportedObject, match="unknown stored format"):
        deserialize(b"...", "pickle")


# -- fingerprints ------------------------------------------------------------------


def test_equal_frames_built_differently_have_one_fingerprint() -> None:
    df = _mixed_frame()
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df) == fingerprint(pd.DataFrame(df.to_dict("list")).astype(df.dtypes))
    block = pd.DataFrame(np.arange(12).reshape(4, 3), columns=list("abc"))
    by_column = pd.DataFrame({"a": [0, 3, 6, 9], "b": [1, 4, 7, 10], "c": [2, 5, 8, 11]})
    assert fingerprint(block) == fingerprint(by_column)
    # A slice shares its parent's buffers (string offsets that do not start at 0).
    tail = df.iloc[10:].reset_index(drop=True)
    assert fingerprint(tail) == fingerprint(tail.copy(deep=True)) == fingerprint(
        pd.DataFrame(tail.to_dict("list")).astype(df.dtypes))


def test_rechunked_and_sliced_arrow_tables_have_one_fingerprint() -> None:
    table = pa.table({"n": pa.array(range(1000), pa.int64()),
                      "s": [f"row{i}" for i in range(1000)]})
    pieces = pa.concat_tables([table.slice(0, 100), table.slice(100, 650), table.slice(750)])
    assert pieces.column("s").num_chunks == 3
    assert fingerprint(pieces) == fingerprint(table)
    fresh = pa.table({"n": pa.array(range(500, 800), pa.int64()),
                      "s": [f"row{i}" for i in range(500, 800)]})
    assert fingerprint(table.slice(500, 300)) == fingerprint(fresh)
    assert fingerprint(table.slice(500, 299)) != fingerprint(fresh)


def test_layout_does_not_change_an_array_fingerprint() -> None:
    a = np.arange(20.0).reshape(4, 5)
    assert fingerprint(a) == fingerprint(np.asfortranarray(a)) == fingerprint(a.T.copy().T)
    assert fingerprint(a) != fingerprint(a.reshape(5, 4))
    assert fingerprint(a) != fingerprint(a.astype(np.float32))


def test_values_hidden_under_missing_entries_do_not_count() -> None:
    edited = pd.Series([1, 5, 3], dtype="Int64")
    edited[1] = pd.NA  # leaves the old 5 under the mask
    assert fingerprint(edited) == fingerprint(pd.Series([1, None, 3], dtype="Int64"))


@pytest.mark.parametrize("column", ["score", "name", "visits", "city", "active", "seen"])
def test_an_in_place_change_changes_the_fingerprint(column: str) -> None:
    df = _mixed_frame()
    before = fingerprint(df)
    old = df.loc[3, column]
    new = {"score": lambda: old + 1, "name": lambda: "changed", "visits": lambda: pd.NA,
           "city": lambda: "Oslo" if old != "Oslo" else "Lima", "active": lambda: not old,
           "seen": lambda: old + pd.Timedelta(seconds=1)}[column]()
    df.loc[3, column] = new
    assert fingerprint(df) != before
    df.loc[3, column] = old
    assert fingerprint(df) == before


def test_what_else_changes_a_fingerprint() -> None:
    df = pd.DataFrame({"a": [1, 2, 3]})
    fp = fingerprint(df)
    assert fingerprint(df.rename(columns={"a": "b"})) != fp
    assert fingerprint(df.set_axis([5, 6, 7])) != fp
    assert fingerprint(df.astype("float64")) != fp
    assert fingerprint(df["a"]) != fp
    ordered = pd.Series(pd.Categorical(["x", "y"], ordered=True))
    assert fingerprint(ordered) != fingerprint(ordered.cat.as_unordered())
    arr = np.zeros(1000)
    before = fingerprint(arr)
    arr[999] = 1e-12
    assert fingerprint(arr) != before


def test_a_value_that_cannot_be_fingerprinted_gives_none() -> None:
    assert fingerprint(x for x in range(3)) is None
    assert fingerprint(Thresholds(1, 2)) == fingerprint(Thresholds(1, 2))


def test_equal_content_has_one_fingerprint_whatever_the_object_identities() -> None:
    shared = "feature_" * 20
    same_object = {"names": [shared, shared], "dtype": np.dtype([("a", "<f8"), ("b", "<i8")])}
    twin = "".join(["feature_"] * 20)
    assert twin is not shared
    equal_objects = {"names": [shared, twin], "dtype": np.dtype([("a", "<f8"), ("b", "<i8")])}
    # a pickle memo would write the shared string once and the twins twice: a model fitted
    # twice from the same data must not get two versions because of that
    assert fingerprint(same_object) == fingerprint(equal_objects)
    cyclic: list = [1]
    cyclic.append(cyclic)
    assert fingerprint(cyclic) is not None  # self-references still hash (with the memo)
