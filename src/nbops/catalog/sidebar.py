"""Queries the JupyterLab sidebar needs beyond the run and registry repositories."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbops.catalog.core import Catalog


class SidebarQueries:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def run_tags(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """run_id -> its tags (a dict), for a page of runs."""
        if not run_ids:
            return {}
        ids = pd.DataFrame({"run_id": list(run_ids)})
        df = self.catalog.query("SELECT run_id, tags FROM runs WHERE run_id IN "
                                "(SELECT run_id FROM _nbops_ids)", frames={"_nbops_ids": ids})
        out: dict[str, dict[str, Any]] = {}
        for rid, tags in zip(df["run_id"], df["tags"], strict=True):
            try:
                out[str(rid)] = json.loads(tags) if isinstance(tags, str) and tags else {}
            except ValueError:
                out[str(rid)] = {}
        return out
