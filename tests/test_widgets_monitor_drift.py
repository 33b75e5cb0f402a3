"""show.monitor's drift heat map and distribution overlay built from real catalog data: the cells
are the stored statistics over their thresholds, and the overlay's shares are those of the
logged features and of the training data, counted here independently with numpy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from widgets_support import opened

import nbops
import nbops.monitor as mon
from nbops import show
from nbops.monitor.files import LogFiles

START = datetime(2026, 5, 4, 8, tzinfo=UTC)  # three hours of traffic; "plan" shifts in hour 2, tenure in 3
UNTIL = START + timedelta(hours=3)
PLANS = np.array(["basic", "plus", "pro"])


def _frame(rng: np.random.Generator, n: int, tenure_shift: float, plan_p: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"tenure": rng.normal(24 + 12 * tenure_shift, 12, n),
                         "spend": rng.gamma(2, 30, n), "plan": rng.choice(PLANS, n, p=plan_p)})


def _fill(ws: Any) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    X = _frame(rng, 1500, 0.0, [0.6, 0.3, 0.1])
    y = (X["tenure"] > 24).astype(int)
    with ws.run(name="train") as run:
        run.log_dataset(X, "X_train", role="input")
        model = LogisticRegression(max_iter=300).fit(X[["tenure", "spend"]], y)
        run.log_model(model, "clf")
    nbops.registry.register(f"{run.run_id}/clf", "churn", ws=ws)
    mon.add_rule("tenure-drift", model="churn", metric="drift", feature="tenure", comparison=">",
                 threshold=0.5, window="1h", ws=ws)
    for hour, (shift, plan_p) in enumerate([(0.0, [0.6, 0.3, 0.1]), (0.0, [0.2, 0.3, 0.5]),
                                            (2.0, [0.2, 0.3, 0.5])]):
        Xh, t0 = _frame(rng, 400, shift, plan_p), START + timedelta(hours=hour)
        stamps = (np.datetime64(t0.replace(tzinfo=None), "us")
                  + np.sort(rng.integers(0, 3_599_000_000, len(Xh))).astype("timedelta64[us]"))
        mon.log_predictions("churn", Xh, model.predict(Xh[["tenure", "spend"]]), timestamp=stamps, ws=ws)
        mon.log_predictions("adhoc", Xh[["spend"]], np.zeros(len(Xh)), timestamp=stamps, ws=ws)
        mon.flush(ws)
        mon.report("churn", since=t0, until=t0 + timedelta(hours=1), ws=ws)
    return X


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    with opened(tmp_path_factory.mktemp("drift")) as ws:
        X = _fill(ws)
        yield ws, X


def _logged(ws: Any, model: str) -> pd.DataFrame:
    """The logged predictions of the window, read straight from the Parquet files."""
    root = Path(LogFiles.for_settings(ws.settings).root) / "predictions" / f"model={model}"
    frame = pd.concat([pd.read_parquet(f) for f in sorted(root.rglob("*.parquet"))])
    ts = pd.to_datetime(frame["ts"], utc=True)
    return frame[(ts >= START) & (ts < UNTIL)]


def _bin_shares(values: np.ndarray, bins: pd.DataFrame) -> list[float]:
    """Share of ``values`` per drawn bin: [left, right] for the first, (left, right] after."""
    lefts, rights = bins["left"].to_numpy(), bins["right"].to_numpy()
    inside = [((values > lo) | ((values >= lo) & (i == 0))) & (values <= hi)
              for i, (lo, hi) in enumerate(zip(lefts, rights, strict=True))]
    return [float(m.mean()) for m in inside]


def _bars(fig: Any) -> dict[str, Any]:
    return {t.name.split(":")[0].split(" (")[0]: t for t in fig.data}


def test_heatmap_has_a_row_per_feature_and_each_cell_is_the_stored_statistic_over_its_threshold(monitored):
    ws, _ = monitored
    d = show.monitor("churn", window="3h", until=UNTIL, bucket="1h", ws=ws)
    heat = d.fig_heatmap.data[0]
    assert d.fig_heatmap.layout.title.text == "Drift per feature and report window (statistic ÷ threshold)"
    hist = mon.history("churn", ws=ws)
    drift = hist[(hist["section"] == "drift") & (hist["metric"] != "share_drifted")]
    assert list(heat.y) == sorted(set(drift["feature"]) - {"prediction"}) + (
        ["prediction"] if "prediction" in set(drift["feature"]) else [])
    assert list(heat.x) == [f"2026-05-04 {h:02d}:00" for h in (9, 10, 11)]
    z = np.asarray(heat.z, dtype=float)
    for r in drift.itertuples():
        i, j = list(heat.y).index(r.feature), pd.Timestamp(r.window_end).hour - 9
        threshold = 0.5 if r.feature == "tenure" else 0.1  # the rule's, else the method's default
        assert z[i, j] == pytest.approx(r.value / threshold), (r.feature, r.metric)
        assert heat.customdata[i][j][0] == r.metric
        assert heat.text[i][j].startswith("▲") == (r.value > threshold)
    tenure = list(heat.y).index("tenure")
    assert heat.text[tenure][2].startswith("▲") and not heat.text[tenure][0].startswith("▲")
    flip = 1 / heat.zmax  # blue up to the threshold, red from it
    assert heat.zmin == 0 and [list(c) for c in heat.colorscale if c[0] == flip] == [
        [flip, "#d1e5f0"], [flip, "#fddbc7"]]
    d.close()


def test_overlay_starts_on_the_most_drifted_feature_with_shares_of_the_logs_and_the_training_data(
        monitored):
    ws, X = monitored
    d = show.monitor("churn", window="3h", until=UNTIL, bucket="1h", ws=ws)
    assert d.feature_picker.value == "tenure" and list(d.feature_picker.options) == ["tenure", "spend", "plan"]
    ov = d.overlay
    assert ov is not None and ov.kind == "numeric" and ov.reference.endswith("/X_train (training data)")
    interior = np.quantile(X["tenure"], np.arange(1, 20) / 20)  # the drift's (PSI's) deciles, halved
    assert ov.bins["right"].iloc[:-1].tolist() == pytest.approx(interior.tolist())
    assert (ov.bins["left"].iloc[0], ov.bins["right"].iloc[-1]) == (X["tenure"].min(), X["tenure"].max())
    logged = _logged(ws, "churn")["f__tenure"].to_numpy()
    bars = _bars(d.fig_overlay)
    assert [c[1] for c in bars["current window"].customdata] == pytest.approx(_bin_shares(logged, ov.bins))
    assert [c[1] for c in bars["reference"].customdata] == pytest.approx(
        _bin_shares(X["tenure"].to_numpy(), ov.bins))
    assert [c[1] for c in bars["reference"].customdata] == pytest.approx([0.05] * 20, abs=1e-3)
    assert ov.n_current == len(logged) == 1200
    assert ov.outside["above"] == pytest.approx(float((logged > X["tenure"].max()).mean()))
    assert ov.outside["above"] > 0 and ov.outside["below"] >= 0  # the shifted hour goes past the top
    widths = (ov.bins["right"] - ov.bins["left"]).to_numpy()
    assert list(bars["current window"].y) == pytest.approx(list(ov.bins["current"] / widths))
    assert d.fig_overlay.layout.yaxis.title.text == "density (share ÷ bin width)"
    assert f"outside the reference's range: {ov.outside['above']:.1%} above" in d.fig_overlay.layout.title.text
    d.close()


def test_the_dropdown_draws_a_categorical_feature_as_shares_per_category(monitored):
    ws, X = monitored
    d = show.monitor("churn", window="3h", until=UNTIL, bucket="1h", ws=ws)
    d.feature_picker.value = "plan"
    assert d.fig_overlay.layout.title.text == "plan: current window against the reference"
    bars = _bars(d.fig_overlay)
    assert list(bars["current window"].x) == list(PLANS) and d.fig_overlay.layout.barmode == "group"
    logged = _logged(ws, "churn")["f__plan"].value_counts(normalize=True)
    assert list(bars["current window"].y) == pytest.approx(logged.reindex(PLANS).tolist())
    assert list(bars["reference"].y) == pytest.approx(
        X["plan"].value_counts(normalize=True).reindex(PLANS).tolist())
    d.feature_picker.value = "spend"
    assert d.overlay is not None and d.overlay.feature == "spend"
    assert d.fig_overlay.layout.title.text.startswith("spend:")
    d.close()


def test_html_export_has_the_heatmap_and_the_overlay(monitored):
    ws, _ = monitored
    d = show.monitor("churn", window="3h", until=UNTIL, bucket="1h", ws=ws)
    page = d.to_html()
    assert page.count("plotly-graph-div") == 3
    assert "Drift per feature and report window" in page
    assert "tenure: current window against the reference" in page
    d.close()


def test_without_a_reference_the_overlay_says_so_and_draws_the_current_distribution(monitored):
    ws, _ = monitored
    d = show.monitor("adhoc", window="3h", until=UNTIL, bucket="1h", ws=ws)
    assert d.feature == "spend" and d.overlay is not None and d.overlay.reference == "none"
    assert [t.name for t in d.fig_overlay.data] == ["current window (1,200 values)"]
    assert "no reference: the model is not registered from a tracked run — the current window alone" \
        in d.fig_overlay.layout.title.text
    logged = _logged(ws, "adhoc")["f__spend"].to_numpy()
    bins = d.overlay.bins
    assert len(bins) == 20 and bins["left"].iloc[0] == logged.min() and bins["right"].iloc[-1] == logged.max()
    assert [c[1] for c in d.fig_overlay.data[0].customdata] == pytest.approx(_bin_shares(logged, bins))
    assert "no stored drift report" in d.fig_heatmap.layout.annotations[0].text
    repo, scan = d.data["overlays"].mon.repo, d.data["overlays"].scan  # the range from the footers
    footers = repo.feature_range(scan, START, UNTIL, "f__spend", LogFiles.for_settings(ws.settings)
                                 .glob("predictions", "adhoc"))
    assert footers == repo.feature_range(scan, START, UNTIL, "f__spend") == (logged.min(), logged.max())
    d.close()


def test_a_p_value_test_is_drawn_grey_with_its_value_not_on_the_threshold_scale():
    from nbops.widgets.figures_monitor import drift_heatmap_figure

    ends = pd.to_datetime(["2026-05-04 09:00", "2026-05-04 10:00"], utc=True)
    drift = pd.DataFrame({"window_end": [*ends, *ends], "feature": ["age", "age", "tenure", "tenure"],
                          "method": ["ks", "ks", "wasserstein", "wasserstein"],
                          "value": [0.04, 0.31, 0.05, 0.3], "threshold": [np.nan, np.nan, 0.1, 0.1]})
    fig = drift_heatmap_figure(drift)
    ratio, grey = fig.data
    assert list(ratio.y) == ["age", "tenure"] and grey.name == "no threshold on the statistic's scale"
    assert np.isnan(np.asarray(ratio.z, dtype=float)[0]).all()
    assert list(np.asarray(ratio.z, dtype=float)[1]) == pytest.approx([0.5, 3.0])
    assert ratio.text[1] == ["0.05", "▲ 0.3"] and grey.text[0] == ["0.04", "0.31"]
    assert grey.customdata[0][1][2] == "on its p-value (not drawn)"
