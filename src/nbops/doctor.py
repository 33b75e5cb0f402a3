"""Health checks behind ``nbops doctor``: each says what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nbops.errors import NbopsError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(verify_objects: bool = True) -> Iterator[Check]:
    from nbops.catalog import extensions
    from nbops.config import find_workspace, load_settings

    home = find_workspace()
    if home is None:
        yield Check("workspace", False, "no .nbops/ here or above; run `nbops init`")
        return
    yield Check("workspace", True, str(home))
    try:
        settings = load_settings(home)
    except NbopsError as exc:
        yield Check("config", False, str(exc))
        return
    yield Check("config", True, f"catalog {settings.catalog_url}, data {settings.data_path}")
    con = extensions.connect()
    needed = ["ducklake", "sqlite" if settings.is_embedded else "postgres"]
    if "s3://" in settings.data_path + settings.store_path:
        needed.append("httpfs")
    for name in needed:
        try:
            extensions.load(con, name)
            yield Check(f"extension {name}", True, "loaded")
        except NbopsError as exc:
            yield Check(f"extension {name}", False, str(exc))
            return
    con.close()
    try:
        from nbops.workspace import Workspace

        ws = Workspace(settings)
    except NbopsError as exc:
        yield Check("catalog", False, str(exc))
        return
    with ws:
        n = ws.runs_repo.count()
        yield Check("catalog", True, f"schema v{ws.catalog.schema_version}, {n} runs")
        try:
            key, _ = ws.store.put(b"nbops doctor probe")
            ws.store.get(key)
            yield Check("store", True, f"{ws.store.describe()} is writable")
        except (NbopsError, OSError) as exc:
            yield Check("store", False, f"{ws.store.describe()}: {exc}")
            return
        if verify_objects:
            bad = []
            keys = ws.artifacts.referenced_keys()
            for key in keys:
                try:
                    ws.store.get(key)
                except NbopsError as exc:
                    bad.append(str(exc))
            detail = f"{len(keys)} objects verified" if not bad else f"{len(bad)} bad: " + "; ".join(bad[:5])
            yield Check("objects", not bad, detail)
