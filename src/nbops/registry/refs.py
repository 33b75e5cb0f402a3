"""Registry references for the workspace: ``name@alias`` resolves to the version the alias holds."""

from __future__ import annotations

from typing import Any

from nbops.catalog.registry import ModelRepository
from nbops.errors import NotFound


def alias_artifact(catalog: Any, name: str, alias: str) -> dict[str, Any] | None:
    """The artifact row of the version ``name@alias`` holds, or None when no such alias exists."""
    models = ModelRepository(catalog)
    event = models.alias_event(None, name, alias)
    if event is None or event["version"] is None:
        return None
    v = models.version(None, name, int(event["version"]))
    if v is None:
        raise NotFound(f"{name}@{alias} points at a missing version {event['version']}")
    row = models.artifact_row(v["run_id"], v["artifact_name"], v["fingerprint"]) or {
        "name": v["artifact_name"], "run_id": v["run_id"], "kind": "model",
        "fingerprint": v["fingerprint"]}
    return {**row, "object_key": v["object_key"], "format": v["format"],
            "model_name": name, "model_version": int(v["version"]), "alias": alias}
