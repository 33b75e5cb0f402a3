"""Content-addressed objects on a local directory or S3.

The key of an object is ``xxh3_128`` of its bytes (hex). Writing bytes whose
key exists costs one existence check; writes go to a temporary name and are
renamed into place, so a crash never leaves a partial object under a real
key; every read re-hashes the bytes and refuses a mismatch.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import xxhash

from nbops.config import Settings
from nbops.errors import ObjectCorrupted, ObjectMissing, StoreError

_KEY = re.compile(r"^[0-9a-f]{32}$")


def content_key(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise StoreError(f"{key!r} is not an object key (32 hex digits)")
    return key


class Backend(Protocol):
    def exists(self, rel: str) -> bool: ...
    def write(self, rel: str, data: bytes) -> None: ...
    def read(self, rel: str) -> bytes: ...
    def describe(self) -> str: ...


class LocalBackend:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def write(self, rel: str, data: bytes) -> None:
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(rel.replace("/", "")) from None

    def describe(self) -> str:
        return str(self.root)


class S3Backend:
    """S3 (or an S3-compatible server) through boto3; PUT is atomic on S3."""

    def __init__(self, url: str, settings: Settings) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise StoreError("an s3:// store needs boto3", hint="pip install 'nbops[team]'") from exc
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix, self.url = bucket, prefix, url
        s3 = settings.s3
        endpoint = None
        if s3.endpoint:
            scheme = "https" if s3.use_ssl else "http"
            endpoint = s3.endpoint if "://" in s3.endpoint else f"{scheme}://{s3.endpoint}"
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name=s3.region,
            aws_access_key_id=s3.key_id, aws_secret_access_key=s3.secret,
        )

    def exists(self, rel: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + rel)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StoreError(f"S3 error on {self.url}{rel}: {exc}") from exc

    def write(self, rel: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + rel, Body=data)

    def read(self, rel: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + rel)["Body"].read()
        except ClientError as exc:
            raise ObjectMissing(rel.replace("/", "")) from exc

    def describe(self) -> str:
        return self.url


class ObjectStore:
    """Put and get bytes by content key."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @staticmethod
    def _rel(key: str) -> str:
        return f"{key[:2]}/{key[2:]}"

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its key and whether new bytes were written."""
        key = content_key(data)
        rel = self._rel(key)
        if self.backend.exists(rel):
            return key, False
        self.backend.write(rel, data)
        return key, True

    def get(self, key: str) -> bytes:
        data = self.backend.read(self._rel(_check_key(key)))
        actual = content_key(data)
        if actual != key:
            raise ObjectCorrupted(key, actual)
        return data

    def exists(self, key: str) -> bool:
        return self.backend.exists(self._rel(_check_key(key)))

    def describe(self) -> str:
        return self.backend.describe()


def open_store(settings: Settings) -> ObjectStore:
    path = settings.store_path
    backend: Backend = S3Backend(path, settings) if path.startswith("s3://") else LocalBackend(path)
    return ObjectStore(backend)
