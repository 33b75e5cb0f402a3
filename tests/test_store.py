"""The content-addressed object store: dedup, atomic writes, verified reads, S3."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from servers import S3Server

from nbops.config import S3Settings, Settings
from nbops.errors import ObjectCorrupted, ObjectMissing, StoreError
from nbops.store import ObjectStore, open_store
from nbops.store.objects import LocalBackend, content_key
from nbops.workspace import Workspace


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(LocalBackend(str(tmp_path / "objects")))


def test_the_key_is_the_hash_of_the_bytes(store: ObjectStore, tmp_path: Path) -> None:
    key, written = store.put(b"hello")
    assert written and key == content_key(b"hello") and len(key) == 32
    assert store.get(key) == b"hello"
    assert (tmp_path / "objects" / key[:2] / key[2:]).read_bytes() == b"hello"


def test_the_same_bytes_twice_write_nothing(store: ObjectStore, tmp_path: Path) -> None:
    key, _ = store.put(b"x" * 10_000)
    path = tmp_path / "objects" / key[:2] / key[2:]
    before = path.stat()
    again, written = store.put(b"x" * 10_000)
    after = path.stat()
    assert (again, written) == (key, False)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _files(tmp_path / "objects") == [path]


def test_writes_leave_no_temporary_files(store: ObjectStore, tmp_path: Path) -> None:
    for i in range(20):
        store.put(os.urandom(1000) + bytes([i]))
    files = _files(tmp_path / "objects")
    assert len(files) == 20
    assert not [p for p in files if p.name.startswith(".tmp")]


def test_a_failed_write_leaves_neither_a_temp_file_nor_a_partial_object(
        store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.put(b"important bytes")
    assert _files(tmp_path / "objects") == []
    monkeypatch.undo()
    key, written = store.put(b"important bytes")  # and a later attempt stores it whole
    assert written and store.get(key) == b"important bytes"


def test_a_flipped_byte_is_detected_on_read(store: ObjectStore, tmp_path: Path) -> None:
    key, _ = store.put(b"0123456789" * 100)
    path = tmp_path / "objects" / key[:2] / key[2:]
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ObjectCorrupted) as info:
        store.get(key)
    assert info.value.key == key and key in str(info.value)


def test_a_missing_object_names_its_key(store: ObjectStore, tmp_path: Path) -> None:
    key, _ = store.put(b"soon gone")
    (tmp_path / "objects" / key[:2] / key[2:]).unlink()
    with pytest.raises(ObjectMissing) as info:
        store.get(key)
    assert info.value.key == key and key in str(info.value)
    assert not store.exists(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "ab/../../cd", "", "ABCDEF" * 6,
                                 "0" * 31, "0" * 33, "g" * 32, "/" + "0" * 31])
def test_invalid_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(StoreError, match="not an object key"):
        store.get(key)
    with pytest.raises(StoreError, match="not an object key"):
        store.exists(key)


def _stored_file(ws: Workspace, ref: str) -> Path:
    key = ws.artifact(ref)["object_key"]
    return Path(ws.settings.store_path) / key[:2] / key[2:]


def test_a_corrupted_dataset_is_reported_by_load_with_its_key(workspace: Workspace) -> None:
    df = pd.DataFrame({"a": range(1000), "b": [f"s{i}" for i in range(1000)]})
    with workspace.run(name="make") as run:
        run.log_dataset(df, "table")
    pd.testing.assert_frame_equal(workspace.load("table"), df)
    path = _stored_file(workspace, "table")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    key = workspace.artifact("table")["object_key"]
    with pytest.raises(ObjectCorrupted) as info:
        workspace.load("table")
    assert info.value.key == key and f"object {key}" in str(info.value)


def test_a_truncated_object_is_reported_too(workspace: Workspace) -> None:
    with workspace.run() as run:
        run.log_dataset(pd.DataFrame({"a": range(100)}), "t")
    path = _stored_file(workspace, "t")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ObjectCorrupted, match=workspace.artifact("t")["object_key"]):
        workspace.load("t")


# -- S3 ------------------------------------------------------------------------


def _s3_settings(tmp_path: Path, moto_server: S3Server, bucket: str) -> Settings:
    return Settings(
        home=tmp_path, catalog_url="ducklake:sqlite:unused", data_path=str(tmp_path),
        store_path=f"s3://{bucket}/team/objects/", user="tester",
        s3=S3Settings(endpoint=moto_server.endpoint, key_id=moto_server.key_id,
                      secret=moto_server.secret, use_ssl=False, url_style="path"))


def test_s3_store_against_a_local_s3_server(tmp_path: Path, moto_server: S3Server,
                                            s3_bucket: str) -> None:
    store = open_store(_s3_settings(tmp_path, moto_server, s3_bucket))
    client = moto_server.client()
    key, written = store.put(b"model bytes" * 100)
    assert written and store.exists(key) and store.get(key) == b"model bytes" * 100
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert listed == [f"team/objects/{key[:2]}/{key[2:]}"]
    assert store.put(b"model bytes" * 100) == (key, False)
    assert client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 1

    client.put_object(Bucket=s3_bucket, Key=listed[0], Body=b"tampered")
    with pytest.raises(ObjectCorrupted, match=key):
        store.get(key)
    client.delete_object(Bucket=s3_bucket, Key=listed[0])
    assert not store.exists(key)
    with pytest.raises(ObjectMissing, match=key):
        store.get(key)
