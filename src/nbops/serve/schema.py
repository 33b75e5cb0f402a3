"""A model's input schema, and turning a JSON body (rows or columns) into the frame it predicts on.

The schema is the training data recorded in the catalog: the input datasets of the run
that produced the registered version (largest first). When the model knows its feature
names (scikit-learn's ``feature_names_in_``), the first dataset holding all of them gives
their types; otherwise the first dataset with as many columns as the model has features.
Without either, the model's feature names alone are checked (any type), and without those
the body is passed on as it is.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbops.serve.errors import BadRequest, InvalidInput

_NUMPY = {"int": "int64", "float": "float64", "bool": "bool", "str": "object", "any": None}


def kind_of(dtype: str) -> str:
    """The JSON kind a recorded dtype (pandas or Arrow spelling) accepts."""
    d = dtype.lower()
    if d.startswith(("int", "uint")):
        return "int"
    if d.startswith(("float", "double", "halffloat", "decimal")):
        return "float"
    if d in ("bool", "boolean"):
        return "bool"
    if d in ("object", "string", "str", "large_string", "utf8", "category") or d.startswith("dictionary"):
        return "str"
    return "any"


@dataclass(frozen=True)
class Schema:
    """Feature name -> kind (int, float, bool, str, any), in the model's order; ``source`` says whence."""

    fields: dict[str, str]
    source: str

    def describe(self) -> dict[str, Any]:
        return {"fields": self.fields, "source": self.source}


def training_schema(model: Any, datasets: list[dict[str, Any]]) -> Schema | None:
    """The schema of ``model`` from its training datasets (``ServeRepository.training_schemas``)."""
    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else None
    n_features = getattr(model, "n_features_in_", None)
    for ds in datasets:
        cols = {str(k): str(v) for k, v in json.loads(ds["schema_json"]).items()}
        if names is not None and all(n in cols for n in names):
            return Schema({n: kind_of(cols[n]) for n in names}, f"training data {ds['name']}")
        if names is None and n_features is not None and len(cols) == n_features and "values" not in cols:
            return Schema({n: kind_of(t) for n, t in cols.items()}, f"training data {ds['name']}")
    if names is not None:
        return Schema(dict.fromkeys(names, "any"), "the model's feature names")
    return None


def _columns(body: Any) -> dict[str, list[Any]]:
    """Rows (a list of objects), columns (an object of lists) or one row (an object of values)."""
    if isinstance(body, list):
        if not body:
            raise InvalidInput("no rows to predict", hint='send [{"feature": value, ...}, ...]')
        cols: dict[str, list[Any]] = {}
        for i, row in enumerate(body):
            if not isinstance(row, dict):
                raise InvalidInput(f"row {i} is not an object", hint='each row is {"feature": value, ...}')
            for k in row:
                cols.setdefault(k, [])
        for name, values in cols.items():
            for i, row in enumerate(body):
                if name not in row:
                    raise InvalidInput(f"row {i} has no field {name!r}", field=name,
                                       hint="every row needs the same fields")
                values.append(row[name])
        return cols
    if isinstance(body, dict):
        if body and all(isinstance(v, list) for v in body.values()):
            lengths = {len(v) for v in body.values()}
            if len(lengths) != 1 or 0 in lengths:
                raise InvalidInput("columns have different (or zero) lengths",
                                   hint='send {"feature": [v1, v2, ...], ...} with equal lengths')
            return {str(k): v for k, v in body.items()}
        if body and not any(isinstance(v, list | dict) for v in body.values()):
            return {str(k): [v] for k, v in body.items()}
    raise BadRequest("the body is neither rows nor columns",
                     hint='send [{"f": 1, ...}, ...] (rows), {"f": [1, 2], ...} (columns) or {"f": 1} (one row)')


def _bad(value: Any, kind: str) -> bool:
    if kind == "any":
        return False
    if value is None:
        return kind not in ("float", "str")
    if kind == "float":
        return isinstance(value, bool) or not isinstance(value, int | float)
    if kind == "int":
        return isinstance(value, bool) or not (isinstance(value, int) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()))
    if kind == "bool":
        return not isinstance(value, bool)
    return not isinstance(value, str)


def _check(cols: dict[str, list[Any]], schema: Schema) -> None:
    missing = [f for f in schema.fields if f not in cols]
    if missing:
        raise InvalidInput(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
                           field=missing[0], hint=f"the model expects {', '.join(schema.fields)}")
    extra = [f for f in cols if f not in schema.fields]
    if extra:
        raise InvalidInput(f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}",
                           field=extra[0], hint=f"the model expects {', '.join(schema.fields)}")
    for name, kind in schema.fields.items():
        for i, v in enumerate(cols[name]):
            if _bad(v, kind):
                raise InvalidInput(f"field {name!r} (row {i}) must be {'a ' + kind if kind != 'int' else 'an int'}"
                                   f", got {json.dumps(v)[:40]}", field=name,
                                   hint=f"{name} is {kind} in the training data")


def to_frame(body: Any, schema: Schema | None) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """The frame the model predicts on, and the validated columns (for the request log)."""
    cols = _columns(body)
    if schema is None:
        return pd.DataFrame(cols), cols
    _check(cols, schema)
    arrays = []
    for name, kind in schema.fields.items():
        vals = cols[name]
        arrays.append(np.asarray([np.nan if v is None else v for v in vals] if kind == "float" else vals,
                                 dtype=_NUMPY[kind]))
    ordered = {name: cols[name] for name in schema.fields}
    return _frame(list(schema.fields), arrays), ordered


@functools.lru_cache(maxsize=256)
def _index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(names)  # a string Index costs more to build than the rest of a one-row frame


def _frame(names: list[str], arrays: list[np.ndarray]) -> pd.DataFrame:
    # DataFrame(dict) re-checks and consolidates every column: ~5x the cost of a one-row predict's
    # own validation. The arrays are already typed and of one length, so build it directly.
    try:
        return pd.DataFrame._from_arrays(arrays, columns=_index(tuple(names)),
                                         index=pd.RangeIndex(len(arrays[0])), verify_integrity=False)
    except (AttributeError, TypeError):  # a pandas without the private constructor
        return pd.DataFrame(dict(zip(names, arrays, strict=True)))


def pop_units(cols_body: Any, unit: str) -> tuple[Any, list[Any] | None]:
    """Take the unit id out of the body: field ``unit`` (or ``unit_id``) of each row / column."""
    for key in dict.fromkeys((unit, "unit_id")):
        if isinstance(cols_body, list) and cols_body and all(isinstance(r, dict) and key in r for r in cols_body):
            return [{k: v for k, v in r.items() if k != key} for r in cols_body], [r[key] for r in cols_body]
        if isinstance(cols_body, dict) and key in cols_body:
            rest = {k: v for k, v in cols_body.items() if k != key}
            units = cols_body[key]
            return rest, units if isinstance(units, list) else [units]
    return cols_body, None
