"""Settings: where the workspace is, which catalog and data path it uses, who is acting.

A workspace is a ``.nbops/`` directory, found by walking up from the current
directory (like ``.git``) or named by ``NBOPS_HOME``. Its ``config.toml``
holds the catalog URL and data path; ``NBOPS_CATALOG`` / ``NBOPS_DATA_PATH``
override them, ``NBOPS_USER`` overrides the OS user.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from nbops.errors import ConfigError, WorkspaceNotFound

WORKSPACE_DIR = ".nbops"
CONFIG_FILE = "config.toml"
DEFAULT_MAX_OBJECT_MB = 2048

_DEFAULT_CONFIG = """\
# nbops workspace settings. Environment variables override them:
# NBOPS_CATALOG, NBOPS_DATA_PATH, NBOPS_STORE, NBOPS_USER.
[catalog]
# Embedded: DuckLake with metadata in SQLite. Team mode, for example:
#   url = "ducklake:postgres:dbname=nbops host=db.internal user=nbops"
#   data_path = "s3://bucket/nbops/data/"
url = "ducklake:sqlite:catalog.sqlite"
data_path = "data/"

[store]
# Content-addressed objects (datasets, models, files): a directory or s3://bucket/prefix/
path = "objects/"
# Values larger than this are recorded as skipped, with the reason.
max_object_mb = {max_mb}

[s3]
# Only for s3:// paths. Credentials may also come from AWS_* variables.
# endpoint = "127.0.0.1:9000"
# region = "us-east-1"
# use_ssl = true
# url_style = "path"
"""


@dataclass(frozen=True)
class S3Settings:
    endpoint: str | None = None
    region: str = "us-east-1"
    key_id: str | None = None
    secret: str | None = None
    use_ssl: bool = True
    url_style: str = "vhost"


@dataclass(frozen=True)
class Settings:
    """Everything nbops needs to open one workspace."""

    home: Path
    catalog_url: str
    data_path: str
    store_path: str
    user: str
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB * 1024 * 1024
    s3: S3Settings = field(default_factory=S3Settings)

    @property
    def is_embedded(self) -> bool:
        return self.catalog_url.startswith("ducklake:sqlite:")

    def with_user(self, user: str) -> Settings:
        return replace(self, user=user)


def find_workspace(start: Path | None = None) -> Path | None:
    """Return the ``.nbops`` directory for ``start``, walking up from it.

    Without ``start``, ``NBOPS_HOME`` names the workspace; otherwise the walk starts
    at the current directory. An explicit ``start`` wins over ``NBOPS_HOME``, as
    it does in :func:`init_workspace`.
    """
    env_home = os.environ.get("NBOPS_HOME")
    if env_home and start is None:
        p = Path(env_home).expanduser()
        return p if p.name == WORKSPACE_DIR else p / WORKSPACE_DIR
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / WORKSPACE_DIR
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def init_workspace(root: Path | None = None, *, exist_ok: bool = True) -> Path:
    """Create ``ROOT/.nbops`` with a default config; return its path."""
    env_home = os.environ.get("NBOPS_HOME")
    if root is None and env_home:
        home = Path(env_home).expanduser()
        home = home if home.name == WORKSPACE_DIR else home / WORKSPACE_DIR
    else:
        home = (root or Path.cwd()).resolve() / WORKSPACE_DIR
    cfg = home / CONFIG_FILE
    if cfg.exists():
        if not exist_ok:
            raise ConfigError(f"a workspace already exists at {home}")
        return home
    home.mkdir(parents=True, exist_ok=True)
    tmp = cfg.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(_DEFAULT_CONFIG.format(max_mb=DEFAULT_MAX_OBJECT_MB))
    os.replace(tmp, cfg)
    (home / ".gitignore").write_text("*\n")
    return home


def current_user() -> str:
    return os.environ.get("NBOPS_USER") or getpass.getuser()


def load_settings(home: Path) -> Settings:
    """Read ``home/config.toml`` and apply environment overrides."""
    cfg_path = home / CONFIG_FILE
    if not cfg_path.is_file():
        raise WorkspaceNotFound(f"no {CONFIG_FILE} in {home}", hint="run `nbops init`")
    try:
        raw = tomllib.loads(cfg_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path} is not valid TOML: {exc}", hint="fix or delete the file") from exc
    catalog = _table(raw, "catalog", cfg_path)
    store = _table(raw, "store", cfg_path)
    s3 = _table(raw, "s3", cfg_path)
    url = os.environ.get("NBOPS_CATALOG") or _str(catalog, "url", "ducklake:sqlite:catalog.sqlite", cfg_path)
    data = os.environ.get("NBOPS_DATA_PATH") or _str(catalog, "data_path", "data/", cfg_path)
    store_path = os.environ.get("NBOPS_STORE") or _str(store, "path", "objects/", cfg_path)
    max_mb = store.get("max_object_mb", DEFAULT_MAX_OBJECT_MB)
    if not isinstance(max_mb, int | float) or isinstance(max_mb, bool) or max_mb <= 0:
        raise ConfigError(f"{cfg_path}: store.max_object_mb must be a positive number, got {max_mb!r}")
    if not url.startswith(("ducklake:sqlite:", "ducklake:postgres:", "ducklake:duckdb:")):
        raise ConfigError(
            f"{cfg_path}: catalog.url {url!r} is not a DuckLake URL",
            hint="use ducklake:sqlite:PATH or ducklake:postgres:CONNINFO",
        )
    return Settings(
        home=home,
        catalog_url=_resolve_url(url, home),
        data_path=_resolve_path(data, home),
        store_path=_resolve_path(store_path, home),
        user=current_user(),
        max_object_bytes=int(max_mb * 1024 * 1024),
        s3=S3Settings(
            endpoint=os.environ.get("NBOPS_S3_ENDPOINT") or s3.get("endpoint"),
            region=os.environ.get("AWS_DEFAULT_REGION") or s3.get("region", "us-east-1"),
            key_id=os.environ.get("AWS_ACCESS_KEY_ID") or s3.get("key_id"),
            secret=os.environ.get("AWS_SECRET_ACCESS_KEY") or s3.get("secret"),
            use_ssl=_bool(s3, "use_ssl", True, cfg_path),
            url_style=str(s3.get("url_style", "vhost")),
        ),
    )


def _table(raw: dict, key: str, path: Path) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{key}] must be a table")
    return value


def _str(table: dict, key: str, default: str, path: Path) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {key} must be a non-empty string, got {value!r}")
    return value


def _bool(table: dict, key: str, default: bool, path: Path) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):  # "false" as a string would otherwise mean True
        raise ConfigError(f"{path}: {key} must be true or false (unquoted), got {value!r}")
    return value


def _resolve_path(p: str, home: Path) -> str:
    """Relative local paths are relative to the workspace; URLs stay as they are."""
    if "://" in p:
        return p if p.endswith("/") else p + "/"
    path = Path(p).expanduser()
    if not path.is_absolute():
        path = home / path
    return str(path) + os.sep


def _resolve_url(url: str, home: Path) -> str:
    prefix = "ducklake:sqlite:"
    if url.startswith(prefix):
        path = Path(url[len(prefix):]).expanduser()
        if not path.is_absolute():
            path = home / path
        return prefix + str(path)
    return url


