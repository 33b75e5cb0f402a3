"""Turn values into stored bytes and back.

Tables (pandas, Arrow, numpy) become Parquet with zstd; scikit-learn
estimators go through skops, which loads without executing code; any other
object is pickled with joblib only when the caller says it trusts it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from nbops.catalog.records import ArtifactKind
from nbops.errors import UnsupportedObject

_META_KEY = b"nbops"
_SAFE_MODULES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


@dataclass(frozen=True)
class Serialized:
    data: bytes
    format: str
    kind: ArtifactKind
    py_type: str
    schema: dict[str, str] | None = None
    n_rows: int | None = None
    n_cols: int | None = None
    shape: tuple[int, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def type_name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def is_table(obj: Any) -> bool:
    module = type(obj).__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        return isinstance(obj, np.ndarray) and obj.dtype.kind in "biufcmMUS"
    if module == "pandas":
        import pandas as pd

        return isinstance(obj, pd.DataFrame | pd.Series)
    if module == "pyarrow":
        import pyarrow as pa

        return isinstance(obj, pa.Table | pa.RecordBatch)
    return False


def is_estimator(obj: Any) -> bool:
    """A scikit-learn-style estimator instance (has get_params and fit)."""
    return not isinstance(obj, type) and callable(getattr(obj, "get_params", None)) and callable(
        getattr(obj, "fit", None)
    )


def is_safely_serializable(obj: Any) -> bool:
    """Tables and scikit-learn estimators: what serialize() stores without a trust decision."""
    return is_table(obj) or (is_estimator(obj) and type(obj).__module__.startswith("sklearn"))


def is_fitted(obj: Any) -> bool:
    try:
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:
        return True
    try:
        check_is_fitted(obj)
        return True
    except NotFittedError:
        return False
    except Exception:
        return True


def estimate_size(obj: Any) -> int | None:
    """Bytes held in memory by a table-like value, without copying it."""
    try:
        if hasattr(obj, "memory_usage") and callable(obj.memory_usage):
            usage = obj.memory_usage(index=True, deep=False)
            return int(usage.sum() if hasattr(usage, "sum") else usage)
        if hasattr(obj, "nbytes"):
            return int(obj.nbytes)
    except Exception:
        return None
    return None


def hyperparameters(est: Any) -> dict[str, Any]:
    try:
        params = est.get_params(deep=False)
    except Exception:
        return {}
    return {k: v if isinstance(v, int | float | str | bool | type(None)) else repr(v) for k, v in params.items()}


def serialize(obj: Any, *, trust: bool = False) -> Serialized:
    """Serialize ``obj``; raise UnsupportedObject with the reason when it may not be stored."""
    if is_table(obj):
        return _serialize_table(obj)
    if is_estimator(obj):
        return _serialize_estimator(obj, trust=trust)
    if trust:
        return _serialize_joblib(obj, ArtifactKind.OBJECT)
    raise UnsupportedObject(
        f"cannot store a {type_name(obj)} safely",
        hint="pass trust=True to store it with joblib (loading it runs code)",
    )


def describe(obj: Any) -> Serialized:
    """What serialize() would record about ``obj``, without producing its bytes."""
    if is_table(obj):
        return _serialize_table(obj, with_bytes=False)
    kind = ArtifactKind.MODEL if is_estimator(obj) else ArtifactKind.OBJECT
    meta = {"hyperparameters": hyperparameters(obj)} if kind == ArtifactKind.MODEL else {}
    return Serialized(b"", "", kind, type_name(obj), metadata=meta)


def _parquet_bytes(table: Any, meta: dict[str, Any]) -> bytes:
    import pyarrow.parquet as pq

    md = dict(table.schema.metadata or {})
    md[_META_KEY] = json.dumps(meta).encode()
    table = table.replace_schema_metadata(md)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=_dictionary_columns(table))
    return buf.getvalue()


_DICT_SAMPLE = 4096


def _dictionary_columns(table: Any) -> bool | list[str]:
    """Columns worth dictionary-encoding: those with many repeated values in a sample.

    Parquet writers dictionary-encode every column by default; on high-cardinality
    columns (measurements, ids) building the dictionary costs several times the write
    and the file comes out larger, so those are written plain.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if any(pa.types.is_nested(f.type) for f in table.schema):
        return True  # leaf column paths differ from the names: keep the writer's default
    idx = pa.array(np.linspace(0, max(table.num_rows - 1, 0), _DICT_SAMPLE, dtype=np.int64))
    out = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if len(col) <= _DICT_SAMPLE or pa.types.is_dictionary(col.type) or pa.types.is_boolean(col.type):
            out.append(name)
            continue
        try:
            distinct = len(pd.unique(col.take(idx).to_numpy(zero_copy_only=False)))
        except (pa.ArrowException, TypeError, ValueError):
            out.append(name)  # a type the sample cannot be counted for: keep the default
            continue
        if distinct <= _DICT_SAMPLE // 2:
            out.append(name)
    return out


def _table_meta(obj: Any) -> tuple[dict[str, Any], tuple[int, ...]]:
    import pandas as pd

    if isinstance(obj, pd.Series):
        return {"type": "series", "name": obj.name}, (len(obj),)
    if isinstance(obj, pd.DataFrame):
        meta: dict[str, Any] = {"type": "dataframe"}
        if not all(isinstance(c, str) for c in obj.columns):
            meta["renamed_columns"] = True
        return meta, obj.shape
    if type(obj).__module__.split(".")[0] == "numpy":
        return {"type": "ndarray", "shape": list(obj.shape), "dtype": obj.dtype.str}, obj.shape
    return {"type": "arrow"}, (obj.num_rows, obj.num_columns)


def _to_arrow(obj: Any) -> Any:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if isinstance(obj, pd.Series):
        name = obj.name if obj.name is not None else "__series__"
        return pa.Table.from_pandas(obj.to_frame(name=name), preserve_index=None)
    if isinstance(obj, pd.DataFrame):
        if not all(isinstance(c, str) for c in obj.columns):
            obj = obj.rename(columns=str)
        return pa.Table.from_pandas(obj, preserve_index=None)
    if isinstance(obj, np.ndarray):
        return pa.table({"values": np.ascontiguousarray(obj).reshape(-1)})
    return pa.Table.from_batches([obj]) if isinstance(obj, pa.RecordBatch) else obj


def _serialize_table(obj: Any, *, with_bytes: bool = True) -> Serialized:
    meta, shape = _table_meta(obj)
    # DataFrames and arrays describe themselves; Arrow conversion only when it is needed.
    table = _to_arrow(obj) if with_bytes or meta["type"] == "arrow" else None
    if meta["type"] == "ndarray":
        schema = {"values": str(obj.dtype)}
    elif meta["type"] == "dataframe":
        schema = {str(c): str(t) for c, t in obj.dtypes.items()}
    elif meta["type"] == "series":
        schema = {str(obj.name if obj.name is not None else "__series__"): str(obj.dtype)}
    else:
        assert table is not None
        schema = {f.name: str(f.type) for f in table.schema if not f.name.startswith("__index_level")}
    return Serialized(
        data=_parquet_bytes(table, meta) if table is not None and with_bytes else b"",
        format="parquet",
        kind=ArtifactKind.DATASET,
        py_type=type_name(obj),
        schema=schema,
        n_rows=int(shape[0]) if shape else None,
        n_cols=int(shape[1]) if len(shape) > 1 else (1 if shape else None),
        shape=tuple(int(s) for s in shape),
    )


def _serialize_estimator(obj: Any, *, trust: bool) -> Serialized:
    meta = {"hyperparameters": hyperparameters(obj)}
    if type(obj).__module__.startswith("sklearn"):
        try:
            data = _skops_dumps(obj)
            return Serialized(data, "skops", ArtifactKind.MODEL, type_name(obj), metadata=meta)
        except Exception as exc:
            if not trust:
                raise UnsupportedObject(
                    f"skops cannot store this {type_name(obj)}: {exc}",
                    hint="pass trust=True to store it with joblib",
                ) from exc
    if trust:
        s = _serialize_joblib(obj, ArtifactKind.MODEL)
        return Serialized(s.data, s.format, s.kind, s.py_type, metadata=meta)
    raise UnsupportedObject(
        f"{type_name(obj)} is not a scikit-learn estimator skops can store safely",
        hint="pass trust=True to store it with joblib (loading it runs code)",
    )


def _skops_dumps(obj: Any) -> bytes:
    """``skops.io.dumps(obj)`` with a compact ``schema.json``.

    skops indents its schema, which sends ``json.dumps`` down the pure-Python
    encoder: for a 100-tree forest that is over half of the time. The same
    schema written compactly is the same skops file to ``skops.io.loads``.
    Falls back to ``skops.io.dumps`` when skops' internals differ.
    """
    import skops.io as sio

    try:
        import zipfile

        import skops
        from skops.io._persist import SaveContext, get_state
    except ImportError:
        return sio.dumps(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        ctx = SaveContext(zip_file=zf)
        state = get_state(obj, ctx)
        ctx.clear_memo()
        state["protocol"] = ctx.protocol
        state["_skops_version"] = skops.__version__
        zf.writestr("schema.json", json.dumps(state, separators=(",", ":")))
    return buf.getvalue()


def _serialize_joblib(obj: Any, kind: ArtifactKind) -> Serialized:
    import joblib

    buf = io.BytesIO()
    try:
        joblib.dump(obj, buf, compress=("zlib", 3))
    except Exception as exc:
        raise UnsupportedObject(f"cannot pickle a {type_name(obj)}: {exc}") from exc
    return Serialized(buf.getvalue(), "joblib", kind, type_name(obj))


def deserialize(data: bytes, fmt: str, *, trust: bool = False) -> Any:
    """Load bytes written by :func:`serialize`; joblib needs ``trust=True``."""
    if fmt == "parquet":
        return _load_parquet(data)
    if fmt == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=data)
        unsafe = [t for t in untrusted if not t.startswith(_SAFE_MODULES)]
        if unsafe and not trust:
            raise UnsupportedObject(
                f"the model uses types outside scikit-learn/numpy/scipy: {', '.join(unsafe)}",
                hint="pass trust=True to load it",
            )
        return sio.loads(data, trusted=untrusted)
    if fmt == "joblib":
        if not trust:
            raise UnsupportedObject(
                "this object was stored with joblib; loading it runs code",
                hint="pass trust=True if you trust whoever recorded it",
            )
        import joblib

        return joblib.load(io.BytesIO(data))
    if fmt == "file":
        return data
    raise UnsupportedObject(f"unknown stored format {fmt!r}")


def _load_parquet(data: bytes) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    kind = meta.get("type")
    if kind == "ndarray":
        flat = table.column("values").to_numpy()
        return np.asarray(flat, dtype=np.dtype(meta["dtype"])).reshape(meta["shape"])
    if kind == "arrow":
        md = dict(table.schema.metadata or {})
        md.pop(_META_KEY, None)
        return table.replace_schema_metadata(md or None)
    df = table.to_pandas()
    if kind == "series":
        s = df.iloc[:, 0]
        s.name = meta.get("name")
        return s
    return df
