"""example_notebooks/07_team_mode.ipynb runs (papermill) against a local PostgreSQL and S3 server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from servers import Postgres, S3Server

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "example_notebooks" / "07_team_mode.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.slow
def test_team_mode_notebook_runs_against_postgres_and_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         postgres: Postgres, moto_server: S3Server,
                                                         s3_bucket: str) -> None:
    import papermill

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    db = postgres.create_database()
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(out), cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
        parameters={"pg_host": "127.0.0.1", "pg_port": postgres.port, "pg_user": postgres.user,
                    "pg_dbname": db, "s3_endpoint": moto_server.endpoint,
                    "s3_key_id": moto_server.key_id, "s3_secret": moto_server.secret,
                    "s3_region": moto_server.region, "bucket": s3_bucket, "prefix": "team"})

    cells = json.loads(out.read_text())["cells"]
    text = "\n".join(str(o.get("text", "")) + json.dumps(o.get("data", {}))
                     for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []))
    assert "embedded: False" in text and "audit chain intact" in text
    assert any(WIDGET in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    # the catalog is in PostgreSQL and the objects on S3; locally only config.toml
    keys = [o["Key"] for o in moto_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("team/objects/") for k in keys)
    local = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "team-workspace").rglob("*") if p.is_file())
    assert local == ["team-workspace/.nbops/.gitignore", "team-workspace/.nbops/config.toml"], local
    assert "tree-on-another-machine" in text
