"""Fast content fingerprints of in-memory values (xxh3_128 over canonical buffers).

A fingerprint identifies a value's content without serializing it, so an
unchanged dataset or model is never written twice. Numeric columns hash
their raw buffers (tens of GB/s); strings hash Arrow offsets and data when
they are laid out canonically (object columns of str are converted to Arrow
first), and fall back to per-row hashes otherwise.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import xxhash

_NUMERIC_KINDS = "biufcmM"


def _raw(arr: np.ndarray) -> memoryview:
    """The bytes of a fixed-width array (datetime64 too, which has no buffer interface)."""
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data


def _update_ndarray(h: xxhash.xxh3_128, arr: np.ndarray) -> None:
    h.update(f"nd|{arr.dtype.str}|{arr.shape}|".encode())
    if arr.dtype.kind in _NUMERIC_KINDS or arr.dtype.kind in "US":  # US: fixed width, canonical
        h.update(_raw(arr))
    elif arr.dtype.kind == "O":
        _update_objects(h, arr.reshape(-1))
    else:
        h.update(_pickle_digest(arr).encode())


def _update_objects(h: xxhash.xxh3_128, flat: np.ndarray) -> None:
    """Python objects: all-string arrays through Arrow's buffers, anything else per row."""
    import pandas as pd
    import pyarrow as pa

    try:
        arr: Any = pa.array(flat)  # infers string only when every item is a str
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        arr = None
    if arr is not None and arr.null_count == 0 and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        h.update(b"objstr|")
        _update_arrow_array(h, arr)
        return
    try:
        h.update(_raw(pd.util.hash_array(flat, categorize=False)))
    except TypeError:
        h.update(_pickle_digest(flat.tolist()).encode())


def _update_arrow_array(h: xxhash.xxh3_128, arr: Any) -> None:
    import pyarrow as pa

    h.update(f"pa|{arr.type}|{len(arr)}|{arr.null_count}|".encode())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if arr.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t)):
        h.update(_raw(arr.to_numpy(zero_copy_only=False)))
        return
    if arr.null_count == 0 and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        _update_arrow_strings(h, arr, np.int32 if pa.types.is_string(t) else np.int64)
        return
    _update_ndarray(h, np.asarray(arr.to_pandas(), dtype=object))


def _update_arrow_strings(h: xxhash.xxh3_128, arr: Any, width: type[np.integer]) -> None:
    """Hash a string array's offsets (rebased to 0) and the bytes they span.

    A slice shares its parent's buffers: its offsets start past 0 and its data
    past the first byte. Rebasing makes a slice hash like a fresh copy.
    """
    buffers = arr.buffers()
    if buffers[1] is None or len(arr) == 0:
        return
    offsets = np.frombuffer(buffers[1], dtype=width)[arr.offset: arr.offset + len(arr) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    h.update((offsets - start if start else offsets).view(np.uint8).data)
    if buffers[2] is not None and end > start:
        h.update(memoryview(buffers[2])[start:end])


def _update_series(h: xxhash.xxh3_128, s: Any) -> None:
    import pandas as pd

    h.update(f"col|{s.name!r}|{s.dtype}|".encode())
    arr = s.array
    pa_array = getattr(arr, "_pa_array", None)
    if pa_array is not None:
        _update_arrow_array(h, pa_array)
    elif isinstance(arr, pd.Categorical):
        h.update(b"ordered|" if arr.ordered else b"unordered|")
        _update_ndarray(h, arr.codes)
        _update_index(h, arr.categories)
    elif hasattr(arr, "_mask") and hasattr(arr, "_data"):
        data, mask = arr._data, arr._mask
        if mask.any():  # values under the mask are leftovers, not content
            data = data.copy()
            data[mask] = 0
        _update_ndarray(h, data)
        _update_ndarray(h, mask)
    elif hasattr(arr, "_ndarray"):
        _update_ndarray(h, arr._ndarray)
    else:
        _update_ndarray(h, s.to_numpy())


def _update_index(h: xxhash.xxh3_128, index: Any) -> None:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        h.update(f"range|{index.start}|{index.stop}|{index.step}|{index.name!r}".encode())
    else:
        _update_series(h, pd.Series(index, name=index.name))


class _Sink:
    def __init__(self, h: xxhash.xxh3_128) -> None:
        self.write = h.update


def _pickle_digest(obj: Any) -> str:
    """Hash an arbitrary picklable object; out-of-band buffers are hashed without a copy.

    The pickle runs without its memo ("fast" mode) where it can: with a memo, equal objects
    are written once or twice depending on whether they happen to be the same object (a
    cached numpy dtype, an interned string), so the same content could hash differently.
    Self-referencing objects need the memo and are hashed with it.
    """
    for fast in (True, False):
        h = xxhash.xxh3_128()

        def on_buffer(buf: pickle.PickleBuffer, h: xxhash.xxh3_128 = h) -> bool:
            h.update(buf.raw())
            return False  # keep the buffer out of band: it is hashed already

        pickler = pickle.Pickler(_Sink(h), protocol=5, buffer_callback=on_buffer)
        pickler.fast = fast
        try:
            pickler.dump(obj)
        except (RecursionError, ValueError):
            if not fast:
                raise
            continue
        return h.hexdigest()
    raise AssertionError("unreachable")


def fingerprint(value: Any) -> str | None:
    """Content fingerprint of ``value``, or None when it cannot be computed."""
    h = xxhash.xxh3_128()
    module = type(value).__module__.split(".")[0]
    try:
        if module == "pandas":
            import pandas as pd

            if isinstance(value, pd.DataFrame):
                h.update(f"df|{value.shape}|".encode())
                _update_index(h, value.index)
                for i in range(value.shape[1]):
                    _update_series(h, value.iloc[:, i])
                return h.hexdigest()
            if isinstance(value, pd.Series):
                h.update(b"series|")
                _update_index(h, value.index)
                _update_series(h, value)
                return h.hexdigest()
        if isinstance(value, np.ndarray):
            _update_ndarray(h, value)
            return h.hexdigest()
        if module == "pyarrow":
            import pyarrow as pa

            if isinstance(value, pa.RecordBatch):
                value = pa.Table.from_batches([value])
            if isinstance(value, pa.Table):
                h.update(f"table|{value.schema}|".encode())
                for col in value.columns:
                    _update_arrow_array(h, col)
                return h.hexdigest()
        return _pickle_digest(value)
    except Exception:
        return None
