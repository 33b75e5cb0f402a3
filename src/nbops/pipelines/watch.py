"""Content fingerprints of watched dataset files (a path or glob under the workspace root).

xxh3_128 over each file's bytes, combined with the sorted relative paths: a
file added, removed, renamed or edited changes the fingerprint; touching a
file without changing it does not. A per-process cache keyed by (size,
mtime) avoids re-reading unchanged files on every scheduler tick.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import xxhash

_CHUNK = 1 << 22
FileCache = dict[str, tuple[int, int, str]]


def _file_digest(path: str, cache: FileCache | None) -> str:
    st = os.stat(path)
    if cache is not None:
        hit = cache.get(path)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    if cache is not None:
        cache[path] = (st.st_size, st.st_mtime_ns, digest)
    return digest


def matching_files(root: Path, pattern: str) -> list[str]:
    """Files matched by ``pattern`` (relative to ``root`` unless absolute), sorted."""
    full = pattern if os.path.isabs(pattern) else str(root / pattern)
    paths = glob.glob(full, recursive=True) if glob.has_magic(full) else [full]
    found: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found += [os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs]
        elif os.path.isfile(p):
            found.append(p)
    return sorted(found)


def dataset_fingerprint(root: Path, pattern: str, cache: FileCache | None = None) -> str:
    """One fingerprint for everything ``pattern`` names (an empty match has one too)."""
    h = xxhash.xxh3_128()
    for path in matching_files(root, pattern):
        try:
            digest = _file_digest(path, cache)
        except FileNotFoundError:  # removed while we looked: the next tick sees the new state
            continue
        rel = os.path.relpath(path, root)
        h.update(f"{rel}\0{digest}\0".encode())
    return h.hexdigest()
