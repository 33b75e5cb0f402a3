"""Local servers for tests (PostgreSQL, an S3 server) and small helpers; the fixtures that
start them are in conftest.py. Test modules import from here, not from conftest."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def set_config(home: Path, text: str) -> None:
    """Replace the workspace's config.toml."""
    (home / "config.toml").write_text(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


@dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    port: int
    user: str

    def conninfo(self, dbname: str) -> str:
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user={self.user}"

    def create_database(self) -> str:
        name = f"nbops_{uuid.uuid4().hex[:10]}"
        subprocess.run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", self.user, name], check=True, capture_output=True, text=True)
        return name


def _postgres_bin() -> Path | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for d in reversed(dirs):
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "createdb")):
            return Path(d)
    found = shutil.which("initdb"), shutil.which("pg_ctl"), shutil.which("createdb")
    return Path(found[0]).parent if all(found) else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the Debian ``postgres`` user then."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-c", " ".join(cmd)]


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port
    key_id: str = "testing"
    secret: str = "testing"
    region: str = "us-east-1"

    def client(self) -> Any:  # a boto3 S3 client
        import boto3

        return boto3.client("s3", endpoint_url=f"http://{self.endpoint}", region_name=self.region,
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)

    def create_bucket(self) -> str:
        name = f"nbops-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name


def s3_config(s3: S3Server, bucket: str, *, catalog_url: str, data_path: str | None = None) -> str:
    """A config.toml putting the catalog at ``catalog_url`` and data and objects on S3."""
    return f"""\
[catalog]
url = "{catalog_url}"
data_path = "{data_path or f's3://{bucket}/data/'}"

[store]
path = "s3://{bucket}/objects/"

[s3]
endpoint = "{s3.endpoint}"
region = "{s3.region}"
url_style = "path"
use_ssl = false
key_id = "{s3.key_id}"
secret = "{s3.secret}"
"""
