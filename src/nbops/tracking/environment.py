"""The environment a run executed in: Python, platform, imported packages, git state."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

import xxhash

from nbops.catalog.records import EnvRow

_GIT_TTL_S = 5.0
_git_cache: dict[str, tuple[float, tuple[str | None, bool | None]]] = {}
_pkg_cache: dict[int, dict[str, str]] = {}


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())


def imported_packages() -> dict[str, str]:
    """Versions of the distributions behind every imported top-level module."""
    from importlib.metadata import PackageNotFoundError, version

    tops = sorted({m.split(".", 1)[0] for m in list(sys.modules) if not m.startswith("_")})
    key = hash(tuple(tops))
    if key in _pkg_cache:
        return _pkg_cache[key]
    dists = _distributions()
    out: dict[str, str] = {}
    for top in tops:
        for dist in dists.get(top, []):
            if dist not in out:
                try:
                    out[dist] = version(dist)
                except PackageNotFoundError:
                    pass
    _pkg_cache[key] = out
    return out


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git repository holding ``directory``, cached briefly."""
    k = str(directory)
    now = time.monotonic()
    hit = _git_cache.get(k)
    if hit and now - hit[0] < _GIT_TTL_S:
        return hit[1]
    state: tuple[str | None, bool | None] = (None, None)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                              text=True, timeout=2)
        if head.returncode == 0:
            status = subprocess.run(["git", "status", "--porcelain", "-uno"], cwd=directory,
                                    capture_output=True, text=True, timeout=2)
            state = (head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None)
    except (OSError, subprocess.TimeoutExpired):
        pass
    _git_cache[k] = (now, state)
    return state


def capture_environment(directory: Path | None = None) -> EnvRow:
    packages = imported_packages()
    commit, dirty = git_state(directory or Path.cwd())
    py = platform.python_version()
    plat = platform.platform()
    pkgs = json.dumps(packages, sort_keys=True)
    h = xxhash.xxh3_128(f"{py}|{plat}|{pkgs}|{commit}|{dirty}".encode()).hexdigest()
    return EnvRow(env_hash=h, python=py, platform=plat, packages=pkgs, git_commit=commit, git_dirty=dirty)
