"""Team mode: exposures and outcomes go to S3 as Parquet batches and the report reads them there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import S3Server, s3_config
from sklearn.linear_model import LogisticRegression

import nbops
from nbops.config import init_workspace


@pytest.mark.slow
def test_experiment_logs_to_s3_and_reports(workspace_dir: Path, moto_server: S3Server,
                                           s3_bucket: str) -> None:
    home = init_workspace()
    (home / "config.toml").write_text(s3_config(
        moto_server, s3_bucket, catalog_url=f"ducklake:sqlite:{home / 'catalog.sqlite'}"))
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    with nbops.open(create=False) as ws:
        for c in (1.0, 0.1):
            nbops.registry.register(LogisticRegression(C=c).fit(X, X.a > 0), "m", ws=ws)
        exp = nbops.ab.create("s3-exp", {"control": "m@v1", "treatment": "m@v2"}, ws=ws).start()
        out = exp.predict(np.arange(400), pd.DataFrame(rng.normal(size=(400, 2)), columns=["a", "b"]))
        exp.log_outcomes(np.arange(0, 400, 4), np.ones(100))
        rep = exp.report(min_units=10)
    assert sum(rep.units.values()) == 400
    assert rep.units["treatment"] == int((out["variant"] == "treatment").sum())
    keys = [o["Key"] for o in moto_server.client().list_objects_v2(
        Bucket=s3_bucket, Prefix="data/abtest/s3-exp/")["Contents"]]
    assert any("/exposures/" in k for k in keys) and any("/outcomes/" in k for k in keys)
