"""Catalog values to JSON: DataFrames to records, timestamps to ISO 8601, NaN to null."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd


def value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return v.total_seconds()
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [value(x) for x in v]
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return value(v.tolist())
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str | int | bool):
        return v
    return str(v)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): value(v) for k, v in row.items()} for row in frame.to_dict("records")]
