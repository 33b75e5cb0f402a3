"""Shared fixtures: temporary workspaces, and the real servers team mode needs.

Team mode runs against a real PostgreSQL (Debian's ``postgresql``, started with
``initdb`` + ``pg_ctl``) and a real S3 server (``moto_server``). The fixtures
start them once per test session and stop them at the end; a test that needs
them is skipped only when the binaries are missing, and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (  # noqa: F401  (re-exported for fixtures)
    Postgres,
    S3Server,
    _as_server_user,
    _postgres_bin,
    _wait_for_port,
    free_port,
    s3_config,
    set_config,
)

from nbops.workspace import Workspace

_ENV_VARS = ("NBOPS_HOME", "NBOPS_CATALOG", "NBOPS_DATA_PATH", "NBOPS_STORE", "NBOPS_USER",
             "NBOPS_S3_ENDPOINT", "NBOPS_PIPELINE_RUN_ID", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the developer's shell leaks into a test."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NBOPS_USER", "tester")


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, the current directory and NBOPS_HOME's parent."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("NBOPS_HOME", str(project / ".nbops"))
    return project


@pytest.fixture
def workspace(workspace_dir: Path) -> Iterator[Workspace]:
    """A fresh embedded workspace (DuckLake on SQLite, objects in a local directory)."""
    import nbops

    ws = nbops.open()
    yield ws
    ws.close()








# -- PostgreSQL ----------------------------------------------------------------








@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on a free loopback port, trusting local connections."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    if os.geteuid() == 0:
        import pwd

        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="nbops-pg-"))
    data, log = root / "data", root / "server.log"
    data.mkdir()
    if os.geteuid() == 0:
        for p in (root, data):
            os.chown(p, server_user.pw_uid, server_user.pw_gid)
    root.chmod(0o755)
    port, user = free_port(), "nbops"
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", user,
                                    "-A", "trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, text=True)
    opts = f"-p {port} -h 127.0.0.1 -k {data} -c fsync=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                    "-o", opts, "-w", "-t", "60", "start"]),
                   check=True, capture_output=True, text=True)
    try:
        yield Postgres(bin_dir, port, user)
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                        "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# -- S3 (moto_server) ----------------------------------------------------------




@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """A local S3 server (moto) on a free loopback port."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto[server] and boto3 are not installed: pip install -e '.[test]'")
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, "moto_server")
        yield S3Server(endpoint=f"127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def s3_bucket(moto_server: S3Server) -> str:
    """A fresh, empty bucket on the local S3 server."""
    return moto_server.create_bucket()


