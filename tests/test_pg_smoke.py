import pandas as pd
from conftest import s3_config, set_config

import nbops


def test_team(postgres, s3_bucket, moto_server, workspace_dir):
    db = postgres.create_database()
    home = workspace_dir / ".nbops"
    from nbops.config import init_workspace
    init_workspace()
    set_config(home, s3_config(moto_server, s3_bucket, catalog_url="ducklake:postgres:" + postgres.conninfo(db)))
    ws = nbops.open()
    df = pd.DataFrame({"a": range(100), "s": [str(i) for i in range(100)]})
    from sklearn.linear_model import LogisticRegression
    m = LogisticRegression().fit(df[["a"]], df["a"] % 2)
    with ws.run(name="r") as run:
        run.log_param("p", 1); run.log_metric("m", 0.5)
        run.log_dataset(df, "d"); run.log_model(m, "clf")
    print(ws.runs())
    print(ws.load("d").head())
    print(ws.load("clf"))
    print(ws.sql("select * from v_artifacts"))
    big = pd.DataFrame({"x": range(100)})
    with ws.run() as run:
        for i in range(30):
            run.log_param(f"k{i}", i)
    print(ws.runs())
    print(moto_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"])
