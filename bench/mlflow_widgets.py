"""The MLflow side of bench_widgets' runs dashboard; runs inside bench/.venv-mlflow through
anchor_worker.

What a notebook user of MLflow writes to look at their runs the way ``show.runs()`` shows them:
``mlflow.search_runs`` into a DataFrame, then with plotly a metric-over-runs chart (one trace
per metric, runs along a categorical x axis) and a parallel-coordinates figure of the params
(strings in MLflow: numeric ones converted, the others as category codes) → the first metric,
both built into ``go.FigureWidget`` (what the notebook displays). Times itself.
"""

from __future__ import annotations

from typing import Any

from common import measure


def _dimension(label: str, values: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():  # every logged value is a number
        return {"label": label, "values": numeric.to_numpy(dtype=float, na_value=np.nan)}
    cats = sorted(values.dropna().astype(str).unique().tolist())
    codes = pd.Categorical(values.astype("string"), categories=cats).codes.astype(float)
    codes[codes < 0] = np.nan
    return {"label": label, "values": codes, "tickvals": list(range(len(cats))), "ticktext": cats}


def _figures(df: Any) -> list[Any]:
    import plotly.graph_objects as go

    metrics = [c for c in df.columns if c.startswith("metrics.")]
    params = [c for c in df.columns if c.startswith("params.")]
    labels = (df["tags.mlflow.runName"].fillna("") + " · " + df["run_id"].str[:8]).tolist()
    runs = go.Figure([go.Scatter(x=labels, y=df[m].to_numpy(), name=m.removeprefix("metrics."),
                                 mode="lines+markers", customdata=df["run_id"].to_numpy(),
                                 hovertemplate="%{x}<br>%{y:.6g}<extra></extra>") for m in metrics])
    runs.update_layout(title="Metrics over runs", xaxis_title="run", yaxis_title="value",
                       dragmode="select", height=340)
    runs.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    metric = sorted(metrics)[0]
    color = df[metric].to_numpy(dtype=float)
    dims = [_dimension(p.removeprefix("params."), df[p]) for p in params]
    dims.append({"label": metric.removeprefix("metrics."), "values": color})
    par = go.Figure(go.Parcoords(dimensions=dims, line={"color": color, "colorscale": "Viridis",
                                                        "showscale": True}))
    par.update_layout(title=f"Parameters → {metric.removeprefix('metrics.')}", height=340)
    return [go.FigureWidget(runs), go.FigureWidget(par)]


def runs_dashboard(uri: str, n: int) -> dict[str, Any]:
    """search_runs(max_results=n), then the two FigureWidgets; ``seconds`` is both (each timed
    on its own, back to back), ``search`` the first alone."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp_id = mlflow.get_experiment_by_name("bench-list").experiment_id
    search, df = measure(lambda: mlflow.search_runs([exp_id], max_results=n))
    figures, widgets = measure(lambda: _figures(df))
    return {"seconds": search + figures, "search": search, "rows": len(df), "cols": df.shape[1],
            "points": sum(len(t.x) if t.type == "scatter" else len(t.dimensions[0].values)
                          for w in widgets for t in w.data)}
