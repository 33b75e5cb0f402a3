"""show.monitor and show.ab built from real catalog data without a kernel: what the user sees
(trace names, axis titles, the numbers) equals what the monitoring and A/B code computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from test_widgets_dashboards import ip  # noqa: F401  (a real IPython shell with %nbops)
from widgets_support import fill_experiment, opened

import nbops
import nbops.monitor as mon
from nbops import show
from nbops.monitor.reporting import Monitor

START = datetime(2026, 3, 2, 8, tzinfo=UTC)  # three hours of traffic from here; the last one shifted


def _frame(rng: np.random.Generator, n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
    X = pd.DataFrame({"tenure": rng.normal(24 + 12 * shift, 12, n), "spend": rng.gamma(2, 30, n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.05 * X.tenure - 1.2)))).astype(int)
    return X, y


def fill_monitoring(ws: Any) -> LogisticRegression:
    rng = np.random.default_rng(0)
    X, y = _frame(rng, 2000, 0.0)
    with ws.run(name="train") as run:
        run.log_dataset(X, "X_train", role="input")
        model = LogisticRegression(max_iter=500).fit(X, y)
        run.log_model(model, "clf")
    nbops.registry.register(f"{run.run_id}/clf", "churn", ws=ws)
    nbops.registry.promote("churn", 1, "prod", reason="first", ws=ws)
    mon.add_rule("churn-drift", model="churn@prod", metric="drift_share", comparison=">",
                 threshold=0.4, window="1h", min_samples=100, ws=ws)
    for hour, shift in enumerate((0.0, 0.0, 2.0)):
        Xh, yh = _frame(rng, 600, shift)
        t0 = START + timedelta(hours=hour)
        stamps = (np.datetime64(t0.replace(tzinfo=None), "us")
                  + np.sort(rng.integers(0, 3_599_000_000, len(Xh))).astype("timedelta64[us]"))
        ids = mon.log_predictions("churn@prod", Xh, model.predict(Xh), latency_ms=rng.gamma(2, 4, len(Xh)),
                                  timestamp=stamps, error=[("boom" if i % 50 == 0 else None)
                                                           for i in range(len(Xh))], ws=ws)
        mon.log_outcomes(ids[:400], yh[:400], timestamp=t0 + timedelta(hours=1), ws=ws)
        mon.flush(ws)
        mon.report("churn@prod", since=t0, until=t0 + timedelta(hours=1), ws=ws)
        mon.check(ws=ws, now=t0 + timedelta(hours=1))
    return model


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory):
    with opened(tmp_path_factory.mktemp("mon")) as ws:
        fill_monitoring(ws)
        yield ws


def _trace(fig: Any, name: str) -> Any:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def test_monitor_shows_volume_errors_and_accuracy_per_hour_as_the_reports_compute(monitoring):
    ws = monitoring
    d = show.monitor("churn@prod", window="3h", until=START + timedelta(hours=3), bucket="1h", ws=ws)
    fig = d.fig
    assert fig.layout.title.text == "Monitoring churn@prod"
    assert [a.text for a in fig.layout.annotations][:5] == [
        "Predictions per bucket", "Latency", "Performance on logged outcomes",
        "Drift against the reference", "Alerts"]
    assert fig.layout.yaxis.title.text == "predictions" and fig.layout.yaxis2.title.text == "error rate"
    assert fig.layout.yaxis3.title.text == "latency (ms)" and fig.layout.yaxis4.title.text == "accuracy"
    assert fig.layout.yaxis5.title.text == "drift statistic"
    assert fig.layout.xaxis5.title.text == "time (UTC)"
    volume, errors, acc = _trace(fig, "predictions"), _trace(fig, "error rate"), _trace(fig, "accuracy")
    assert list(volume.y) == [600, 600, 600]
    assert [pd.Timestamp(x).hour for x in volume.x] == [8, 9, 10]
    for i in range(3):
        rep = mon.report("churn@prod", since=START + timedelta(hours=i),
                         until=START + timedelta(hours=i + 1), drift=False, store=False, ws=ws)
        assert errors.y[i] == pytest.approx(rep.summary["error_rate"])
        assert acc.y[i] == pytest.approx(rep.performance["accuracy"])  # sklearn's, on the joined rows
        assert acc.customdata[i] == rep.performance["n_outcomes"]
    assert "1,800 predictions" in d.summary.value and "36 errors" in d.summary.value
    d.close()


def test_sub_hour_buckets_count_what_the_monitor_timeline_counts(monitoring):
    ws = monitoring
    until = START + timedelta(hours=3)
    d = show.monitor("churn", window="3h", until=until, bucket="15m", ws=ws)
    ref = Monitor(ws).timeline("churn", since=START, until=until, bucket="15m")
    assert list(_trace(d.fig, "predictions").y) == ref["n"].tolist() and len(ref) == 12
    # below an hour the logs are read directly: exact percentiles, as the timeline's
    assert list(_trace(d.fig, "latency p99").y) == pytest.approx(ref["latency_p99"].tolist())
    d.close()


def test_monitor_draws_drift_per_feature_with_thresholds_and_the_alert_firing(monitoring):
    ws = monitoring
    d = show.monitor("churn@prod", window="1d", until=START + timedelta(hours=3), ws=ws)
    fig = d.fig
    hist = mon.history("churn", ws=ws)
    for feature in ("tenure", "spend"):
        rows = hist[(hist["section"] == "drift") & (hist["feature"] == feature)]
        method = rows["metric"].iloc[0]
        trace = _trace(fig, f"{feature} ({method})")
        assert list(trace.y) == pytest.approx(rows["value"].tolist())
    share = _trace(fig, "share of features drifted")
    assert list(share.y) == [0.0, 0.0, 0.5]  # tenure drifted in the last hour, spend did not
    assert list(_trace(fig, "threshold churn-drift (share >) = 0.4").y) == [0.4, 0.4]
    assert _trace(fig, "threshold jensenshannon, wasserstein default = 0.1").line.dash == "dash"
    fired = _trace(fig, "alert fired")
    alerts = mon.alerts(history=True, ws=ws)
    fired_at = pd.Timestamp(alerts.loc[alerts["state"] == "firing", "ts"].iloc[0])
    assert fired_at.tz_convert("UTC") == START + timedelta(hours=3)  # the check of the shifted hour
    assert [pd.Timestamp(x) for x in fired.x] == [fired_at.tz_convert("UTC").tz_localize(None)]
    assert list(fired.y) == ["churn-drift"] and "value 0.5" in fired.customdata[0][0]
    assert "share_drifted" not in {t.name for t in fig.data}
    page = d.to_html()
    assert page.count("plotly-graph-div") == 3 and "alert fired" in page and "churn-drift" in page
    assert "1 alert firing(s)" in d.summary.value
    d.close()


def test_monitor_of_a_model_without_logs_still_draws(monitoring):
    d = show.monitor("nobody", window="1h", ws=monitoring)
    notes = [a.text for a in d.fig.layout.annotations]
    assert "no predictions logged in this window" in notes and "no alert events in this window" in notes
    assert "0 predictions" in d.summary.value
    d.close()


# -- A/B ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    with opened(tmp_path_factory.mktemp("ab")) as ws:
        fill_experiment(ws)
        yield ws


def test_ab_estimates_equal_the_report(experiment):
    ws = experiment
    d = show.ab(nbops.ab.get("retention", ws=ws), ws=ws)  # the experiment object or its name
    rep = nbops.ab.get("retention", ws=ws).report(enforce=False)
    c = rep.comparison("treatment")
    assert [f.layout.title.text for f in d.figures()] == [
        "retention: winner → treatment", "Posterior densities", "Cumulative lift with its confidence sequence",
        "Units per variant · " + f"SRM ok (p={rep.srm.p_value:.3g}; observed "
        f"{rep.units['control']:,}, {rep.units['treatment']:,}, expected 1,500, 1,500)"]
    fig = d.fig_estimates
    means = _trace(fig, "mean")
    assert list(means.x) == ["control", "treatment"]
    assert list(means.y) == pytest.approx([c.test.mean_control, c.test.mean_treatment])
    ci = _trace(fig, "lift, 95% CI (fixed horizon)")
    assert ci.x[0] == pytest.approx(c.test.estimate)
    assert ci.x[0] - ci.error_x.arrayminus[0] == pytest.approx(c.test.interval[0])
    assert ci.x[0] + ci.error_x.array[0] == pytest.approx(c.test.interval[1])
    cs = _trace(fig, "lift, always-valid CS")
    assert cs.x[0] + cs.error_x.array[0] == pytest.approx(c.sequential.interval[1])
    assert list(_trace(fig, "P(better)").y) == pytest.approx([c.bayes.probability])
    assert fig.layout.xaxis2.title.text == "lift (treatment − control)"
    assert "Decision: winner" in d.decision.value and "treatment wins" in d.decision.value
    d.close()


def test_cumulative_lift_ends_at_the_report_and_units_add_up(experiment):
    ws = experiment
    d = show.ab("retention", ws=ws)
    rep = d.data["report"]
    c = rep.comparison("treatment")
    lift = _trace(d.fig_lift, "cumulative lift: treatment")
    assert len(lift.x) >= 5
    assert lift.y[-1] == pytest.approx(c.sequential.estimate)
    assert (lift.customdata[-1][0], lift.customdata[-1][1]) == pytest.approx(c.sequential.interval)
    band = _trace(d.fig_lift, "always-valid CS: treatment")
    assert band.fill == "tonexty"
    widths = [h - lo for lo, h in lift.customdata[:, :2]] if hasattr(lift.customdata, "shape") else \
        [h - lo for lo, h, _ in lift.customdata]
    assert widths[-1] < widths[0]  # the sequence narrows as units come in
    units = {t.name: t for t in d.fig_units.data}
    assert {k: units[k].y[-1] for k in units} == rep.units
    assert d.fig_units.layout.yaxis.title.text == "units (cumulative)"
    page = d.to_html()
    assert page.count("plotly-graph-div") == 4 and "treatment wins" in page and "<table" in page
    d.close()


def _outcomes(ws: Any, name: str, kind: str, means: tuple[float, float], n: int = 2400) -> None:
    """An experiment on the fixture's models: binary conversions or normal(mean, 2) values per unit."""
    rng = np.random.default_rng(7)
    exp = nbops.ab.create(name, variants={"control": "m@production", "treatment": "m@challenger"},
                          metric={"name": name, "kind": kind}, salt=name, ws=ws, actor="alice")
    exp.start()
    served = exp.predict(np.array([f"{name}{i}" for i in range(n)]),
                         pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"]))
    mean = np.where(served["variant"] == "treatment", means[1], means[0])
    if kind == "binary":
        hit = rng.random(n) < mean
        exp.log_outcomes(served.loc[hit, "unit_id"], np.ones(int(hit.sum())))
    else:
        exp.log_outcomes(served["unit_id"], rng.normal(mean, 2.0))


def _area(x: Any, y: Any, shape: str) -> float:
    """The area under a drawn curve: steps ("hv": each y holds until the next x) or straight lines."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float((y[:-1] * np.diff(x)).sum() if shape == "hv" else np.trapezoid(y, x))


@pytest.mark.parametrize(("kind", "means"), [("binary", (0.10, 0.11)), ("continuous", (10.0, 10.08))])
def test_posteriors_peak_at_the_means_and_shade_the_reports_p_better(experiment, kind, means):
    ws = experiment
    name = f"post-{kind}"
    _outcomes(ws, name, kind, means)
    d = show.ab(name, ws=ws)
    rep = d.data["report"]
    c = rep.comparison("treatment")
    assert 0.05 < c.bayes.probability < 0.99  # a close call: the shaded part is a real share
    fig = d.fig_posterior
    assert fig.layout.title.text == "Posterior densities"
    for variant, mean in (("control", c.test.mean_control), ("treatment", c.test.mean_treatment)):
        curve = _trace(fig, variant)
        step = curve.x[1] - curve.x[0]
        assert curve.x[int(np.argmax(curve.y))] == pytest.approx(mean, abs=2 * step + 1e-3 * abs(mean))
        assert curve.xaxis == "x"  # both variants on one axis
    notes = [a.text for a in fig.layout.annotations if a.text.startswith("P(better)")]
    assert notes == [f"P(better) = {c.bayes.probability:.3f}"]
    lift, shaded = _trace(fig, "lift: treatment"), _trace(fig, "P(better): treatment")
    assert shaded.fill == "tozeroy" and min(shaded.x) == 0 and list(shaded.y) == list(lift.y[-len(shaded.y):])
    shape = lift.line.shape
    assert shape == ("hv" if kind == "binary" else "linear")  # the engine's draws vs the closed form
    total, above = _area(lift.x, lift.y, shape), _area(shaded.x, shaded.y, shape)
    assert total == pytest.approx(1, abs=2e-3)
    assert above == pytest.approx(c.bayes.probability, abs=2e-3 if kind == "binary" else 1e-3)
    assert fig.layout.xaxis2.title.text == "lift (treatment − control)"
    page = d.to_html()
    assert page.count("plotly-graph-div") == 4 and "Posterior densities" in page
    assert f"P(better) = {c.bayes.probability:.3f}" in page
    d.close()


def test_looking_does_not_stop_an_experiment_and_magic_shows_ab_and_monitor(ip):  # noqa: F811
    magics = ip.magics_manager.registry["NbopsMagics"]
    ws = magics.session.ws
    fill_experiment(ws, "tiny", n=120)
    res = ip.run_cell("%nbops show ab tiny", store_history=True)
    assert res.success, res.error_in_exec
    assert "not enough data" in res.result.decision.value
    assert str(nbops.ab.get("tiny", ws=ws).status) == "running"
    mon_res = ip.run_cell("%nbops show monitor m 2h", store_history=True)
    assert mon_res.success and mon_res.result.data["bucket_s"] == 60
    bad = ip.run_cell("%nbops show ab", store_history=True)
    assert not bad.success and "show ab EXPERIMENT" in str(bad.error_in_exec)
    res.result.close()
    mon_res.result.close()


def _strict_json(d: Any) -> None:
    """What the comm sends: a widget's state must be strict JSON (NaN breaks the message)."""
    import json

    for fig in d.figures():
        json.dumps(fig.get_state(), allow_nan=False, default=lambda o: None)


def test_a_run_without_the_metric_still_sends_valid_widget_state(tmp_path):
    with opened(tmp_path) as ws:
        with ws.run(name="scored") as run:
            run.log_param("C", 1.0)
            run.log_metric("acc", 0.9)
        with ws.run(name="unscored") as run:
            run.log_param("C", 2.0)
        d = show.runs(ws=ws, sort="name", ascending=True)
        _strict_json(d)
        y = d.fig_runs.data[0].y
        assert y[0] == 0.9 and (y[1] is None or np.isnan(y[1]))  # a gap where the run has no acc
        assert list(d.fig_params.data[0].dimensions[-1]["values"]) == [0.9]
        d.close()


def test_monitor_and_ab_widget_state_is_valid_json(monitoring, experiment):
    for d in (show.monitor("churn", window="1d", until=START + timedelta(hours=3), ws=monitoring),
              show.ab("retention", ws=experiment)):
        _strict_json(d)
        d.close()
