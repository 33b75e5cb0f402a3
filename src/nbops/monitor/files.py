"""Where prediction and outcome logs live: Parquet files under ``<data_path>/monitor``.

Layout (hive partitioning, so a time window reads only its own files)::

    <data_path>/monitor/predictions/model=<name>/date=YYYY-MM-DD/hour=HH/<uuid>.parquet
    <data_path>/monitor/outcomes/date=YYYY-MM-DD/hour=HH/<uuid>.parquet

The files are written with pyarrow straight to the local disk or to S3
(``pyarrow.fs.S3FileSystem`` with the workspace's S3 settings), and read back
with DuckDB's ``read_parquet`` on the catalog's connection, which holds the S3
secret in team mode. They are not DuckLake tables: high-volume logs stay out of
the metadata database. (So never run DuckLake's orphan-file cleanup over the
whole data path: it would treat these files as orphans.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from nbops.config import Settings

COMPACT_MIN_FILES = 32


@dataclass(frozen=True)
class LogFiles:
    """One workspace's log directory and the filesystem that holds it."""

    root: str  # as DuckDB sees it: a local path or s3://bucket/prefix/monitor
    fs: pafs.FileSystem
    fs_root: str  # as pyarrow sees it (no scheme)

    @classmethod
    def for_settings(cls, settings: Settings) -> LogFiles:
        base = settings.data_path.rstrip("/") + "/monitor"
        if base.startswith("s3://"):
            s3 = settings.s3
            scheme = "https" if s3.use_ssl else "http"
            filesystem = pafs.S3FileSystem(
                access_key=s3.key_id, secret_key=s3.secret, region=s3.region,
                endpoint_override=s3.endpoint, scheme=scheme,
                force_virtual_addressing=s3.url_style == "vhost")
            return cls(base, filesystem, base[len("s3://"):])
        return cls(base, pafs.LocalFileSystem(), base)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def partition(self, kind: str, model: str | None, date: str, hour: int) -> str:
        model_part = f"model={model}/" if model is not None else ""
        return f"{kind}/{model_part}date={date}/hour={hour:02d}"

    def write(self, partition: str, table: pa.Table) -> str:
        """Write ``table`` as one new file of ``partition``; atomic on local disks."""
        directory = f"{self.fs_root}/{partition}"
        name = f"{uuid.uuid4().hex}.parquet"
        if self.is_local:
            self.fs.create_dir(directory, recursive=True)
            tmp = f"{directory}/.{name}.tmp"
            pq.write_table(table, tmp, filesystem=self.fs, compression="zstd")
            self.fs.move(tmp, f"{directory}/{name}")
        else:
            pq.write_table(table, f"{directory}/{name}", filesystem=self.fs, compression="zstd")
        return f"{directory}/{name}"

    def files(self, partition: str) -> list[str]:
        sel = pafs.FileSelector(f"{self.fs_root}/{partition}", allow_not_found=True)
        return sorted(i.path for i in self.fs.get_file_info(sel)
                      if i.type == pafs.FileType.File and i.path.endswith(".parquet")
                      and not i.base_name.startswith("."))

    def partitions(self, kind: str) -> list[str]:
        """Every leaf partition (``.../hour=HH``) of ``kind``."""
        sel = pafs.FileSelector(f"{self.fs_root}/{kind}", recursive=True, allow_not_found=True)
        out = {i.path.rsplit("/", 1)[0] for i in self.fs.get_file_info(sel)
               if i.type == pafs.FileType.File and i.path.endswith(".parquet")}
        return sorted(p[len(self.fs_root) + 1:] for p in out)

    def listing(self, kind: str, model: str | None) -> dict[str, list[str]]:
        """Every file of ``kind`` (one model's predictions, or all outcomes) by leaf partition
        (``date=YYYY-MM-DD/hour=HH``), in one listing; paths as DuckDB reads them."""
        model_part = f"/model={model}" if model is not None else ""
        base = f"{self.fs_root}/{kind}{model_part}"
        sel = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        out: dict[str, list[str]] = {}
        for i in self.fs.get_file_info(sel):
            if i.type == pafs.FileType.File and i.path.endswith(".parquet") \
                    and not i.base_name.startswith("."):
                part = i.path[len(base) + 1:].rsplit("/", 1)[0]
                out.setdefault(part, []).append(self.duck_path(i.path))
        return {k: sorted(v) for k, v in sorted(out.items())}

    def duck_path(self, fs_path: str) -> str:
        return fs_path if self.is_local else f"s3://{fs_path}"

    def compact(self, partition: str, min_files: int = COMPACT_MIN_FILES) -> int:
        """Merge a partition's files into one when it has at least ``min_files``; returns
        the number of files merged (0 if left alone). Readers may briefly see both the merged
        file and the originals (never neither): the merged file lands before the others go."""
        paths = self.files(partition)
        if len(paths) < max(min_files, 2):
            return 0
        tables = [pq.read_table(p, filesystem=self.fs) for p in paths]
        merged = pa.concat_tables(tables, promote_options="permissive")
        self.write(partition, merged)
        for p in paths:
            self.fs.delete_file(p)
        return len(paths)

    def glob(self, kind: str, model: str | None) -> str:
        model_part = f"model={model}/" if model is not None else ""
        return f"{self.root}/{kind}/{model_part}date=*/hour=*/*.parquet"


def scan_sql(glob: str) -> str:
    """A ``read_parquet`` over one kind of log with typed partition columns."""
    from nbops.catalog.monitor import parquet_scan

    return parquet_scan(glob)


def any_files(files: LogFiles, kind: str, model: str | None) -> bool:
    model_part = f"model={model}" if model is not None else ""
    sel = pafs.FileSelector(f"{files.fs_root}/{kind}/{model_part}".rstrip("/"), recursive=True,
                            allow_not_found=True)
    return any(i.path.endswith(".parquet") for i in files.fs.get_file_info(sel))

