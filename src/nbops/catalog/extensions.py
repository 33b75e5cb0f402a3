"""Load DuckDB extensions offline, from the ``duckdb-extension-*`` wheels.

DuckDB normally downloads extensions at run time, which fails on an offline
machine. The wheels ship the binaries; we point the connection's
``extension_directory`` at a folder of links to them, named by each
extension's real name (``sqlite`` is ``sqlite_scanner``). Where no wheel
exists for the platform, DuckDB's own INSTALL is tried, and a failure says
what to install.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import duckdb

from nbops.errors import ExtensionMissing

# extension name used in LOAD -> (wheel package, binary file name in the wheel, real name)
_WHEELS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    "httpfs": ("duckdb_extension_httpfs", "httpfs", "httpfs"),
}


def _platform_dir() -> str:
    return duckdb.execute("PRAGMA platform").fetchone()[0]  # type: ignore[index]


def extension_directory() -> Path:
    """A directory DuckDB can load the wheel-shipped extensions from (built once per version)."""
    version = duckdb.__version__
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nbops" / "duckdb-extensions"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = Path(tempfile.gettempdir()) / f"nbops-duckdb-extensions-{os.getuid()}"
    target = base / f"v{version}" / _platform_dir()
    target.mkdir(parents=True, exist_ok=True)
    for package, binary, real in _WHEELS.values():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        src = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{version}" / f"{binary}.duckdb_extension"
        link = target / f"{real}.duckdb_extension"
        if src.is_file() and (not link.exists() or link.resolve() != src.resolve()):
            tmp = target / f".{real}.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(src)
            os.replace(tmp, link)
    return base


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB whose extensions come from the local wheels."""
    return duckdb.connect(
        ":memory:",
        config={
            "extension_directory": str(extension_directory()),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
        },
    )


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension; try INSTALL from the internet only when no wheel provides it."""
    try:
        con.execute(f"LOAD {name}")
        return
    except duckdb.Error as first:
        if importlib.util.find_spec(_WHEELS.get(name, (name,))[0]) is not None:
            raise ExtensionMissing(name, hint=f"the wheel is installed but did not load: {first}") from first
    try:
        con.execute(f"INSTALL {name}")
        con.execute(f"LOAD {name}")
    except duckdb.Error as exc:
        raise ExtensionMissing(name) from exc
