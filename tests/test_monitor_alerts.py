"""Alerts for real: a signed webhook on loopback, a flaky receiver, an SMTP server, state rules."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from servers import free_port

import nbops.monitor as mon
from nbops.errors import NbopsError
from nbops.governance.errors import PermissionDenied
from nbops.monitor import channels as ch
from nbops.workspace import Workspace

SECRET = "s3cret-for-tests"


class Receiver:
    """A loopback HTTP server that records requests; answers ``fail_first`` requests with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _traffic(ws: Workspace, latency: float, n: int = 200, now: datetime | None = None) -> None:
    lg = mon.get_logger(ws)
    ts = (now or datetime.now(UTC)) - timedelta(minutes=1)
    lg.log_predictions("svc", pd.DataFrame({"x": np.arange(n, dtype=float)}), np.zeros(n),
                       latency_ms=np.full(n, latency), timestamp=ts)
    lg.flush()


def test_signed_webhook_fires_once_while_true_and_resolves_once(
        workspace: Workspace, receiver: Receiver) -> None:
    mon.add_rule("slow", model="svc", metric="latency", aggregation="p95", comparison=">",
                 threshold=100, window="10m", min_samples=50, severity="critical", cooldown="0s",
                 channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET}], ws=workspace)
    _traffic(workspace, 250.0)
    first = mon.check(ws=workspace)
    assert first.fired == ["slow"]
    for _ in range(2):  # still true: no new notification
        assert mon.check(ws=workspace).fired == []
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req["headers"][ch.SIGNATURE_HEADER], expected)
    payload = json.loads(req["body"])
    assert payload["state"] == "firing" and payload["value"] == 250.0 and payload["rule"] == "slow"
    assert mon.alerts(ws=workspace)["state"].tolist() == ["firing"]

    later = datetime.now(UTC) + timedelta(minutes=20)  # the slow rows left the window
    _traffic(workspace, 5.0, now=later)
    assert mon.check(ws=workspace, now=later).resolved == ["slow"]
    assert mon.check(ws=workspace, now=later).resolved == []
    assert [json.loads(r["body"])["state"] for r in receiver.requests] == ["firing", "resolved"]
    hist = mon.alerts(history=True, ws=workspace)
    assert sorted(hist["state"]) == ["firing", "resolved"]


def test_a_receiver_failing_twice_gets_exactly_one_delivery(workspace: Workspace) -> None:
    flaky = Receiver(fail_first=2)
    try:
        waits: list[float] = []
        d = ch.deliver({"type": "webhook", "url": flaky.url, "backoff_s": 0.01, "retries": 3},
                       {"rule": "r", "state": "firing", "fire_id": "f1"}, sleep=waits.append)
        assert d.ok and d.attempts == 3 and flaky.attempts == 3
        assert len(flaky.requests) == 1
        assert waits == [0.01, 0.02]  # exponential backoff
    finally:
        flaky.close()


def test_unreachable_webhook_fails_after_retries_without_raising() -> None:
    d = ch.deliver({"type": "webhook", "url": "http://127.0.0.1:9/none", "retries": 2,
                    "timeout_s": 0.5}, {"state": "firing"}, sleep=lambda s: None)
    assert not d.ok and d.attempts == 3 and d.error


def test_email_reaches_a_local_smtp_server() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    port = free_port()
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        d = ch.deliver({"type": "email", "host": "127.0.0.1", "port": port,
                        "to": ["oncall@example.org"], "from": "nbops@example.org"},
                       {"rule": "drift", "state": "firing", "severity": "critical",
                        "message": "churn: drift_share is > 0.3"})
    finally:
        ctl.stop()
    assert d.ok, d.error
    (msg,) = received
    assert msg["To"] == "oncall@example.org"
    assert "drift" in msg["Subject"] and "FIRING" in msg["Subject"]
    assert json.loads(msg.get_payload())["message"] == "churn: drift_share is > 0.3"


def test_slack_and_log_channels(workspace: Workspace, receiver: Receiver, tmp_path: Path) -> None:
    log = tmp_path / "alerts.jsonl"
    mon.add_rule("busy", model="svc", metric="volume", comparison=">=", threshold=10,
                 min_samples=1, channels=[f"slack:{receiver.url}", f"log:{log}"], ws=workspace)
    _traffic(workspace, 1.0, n=20)
    res = mon.check(ws=workspace)
    assert all(d.ok for d in res.deliveries)
    assert "busy" in json.loads(receiver.requests[0]["body"])["text"]
    assert json.loads(log.read_text())["rule"] == "busy"


def test_min_samples_and_cooldown(workspace: Workspace) -> None:
    mon.add_rule("errors", model="svc", metric="error_rate", comparison=">", threshold=0.1,
                 min_samples=100, cooldown="30m", ws=workspace)
    lg = mon.get_logger(workspace)
    lg.log_predictions("svc", None, np.zeros(10), error=["boom"] * 10)
    lg.flush()
    assert mon.check(ws=workspace).evaluated[0]["condition"] is None  # too few rows
    lg.log_predictions("svc", None, np.zeros(100), error="boom")
    lg.flush()
    now = datetime.now(UTC)
    assert mon.check(ws=workspace, now=now).fired == ["errors"]
    quiet = now + timedelta(hours=2)
    lg.log_predictions("svc", None, np.zeros(100), timestamp=quiet - timedelta(minutes=1))
    lg.flush()
    assert mon.check(ws=workspace, now=quiet).resolved == ["errors"]
    lg.log_predictions("svc", None, np.zeros(200), error="boom", timestamp=quiet)
    lg.flush()
    assert mon.check(ws=workspace, now=quiet + timedelta(minutes=5)).fired == []  # cooling down
    assert mon.check(ws=workspace, now=quiet + timedelta(minutes=31)).fired == ["errors"]


def test_acknowledge_is_audited_and_needs_a_firing_alert(workspace: Workspace) -> None:
    mon.add_rule("busy", model="svc", metric="volume", comparison=">", threshold=1,
                 min_samples=1, ws=workspace)
    with pytest.raises(NbopsError, match="no firing alert"):
        mon.ack("busy", ws=workspace)
    _traffic(workspace, 1.0, n=5)
    mon.check(ws=workspace)
    mon.ack("busy", note="looking", ws=workspace)
    assert mon.alerts(ws=workspace)["state"].tolist() == ["acknowledged"]
    assert mon.check(ws=workspace).fired == []  # still true, already handled
    audit = workspace.sql("SELECT action, target FROM audit_log ORDER BY seq")
    assert ("alert.acknowledged", "busy") in list(audit.itertuples(index=False, name=None))
    with pytest.raises(PermissionDenied):
        mon.add_rule("x", model="svc", metric="volume", threshold=1, actor="stranger",
                     ws=workspace)


def test_bad_rules_are_refused_with_a_hint(workspace: Workspace) -> None:
    with pytest.raises(NbopsError, match="unknown metric"):
        mon.add_rule("r", model="m", metric="speed", threshold=1, ws=workspace)
    with pytest.raises(NbopsError, match="needs a feature"):
        mon.add_rule("r", model="m", metric="drift", threshold=0.1, ws=workspace)
    with pytest.raises(NbopsError, match="channel"):
        mon.add_rule("r", model="m", metric="volume", threshold=1, channels=["pager"],
                     ws=workspace)
    mon.add_rule("r", model="m", metric="volume", threshold=1, ws=workspace)
    mon.remove_rule("r", ws=workspace)
    assert mon.rules(ws=workspace).empty


def test_feature_drift_rule_uses_the_training_data_from_lineage(workspace: Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    import nbops

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    with workspace.run(name="train") as run:
        run.log_dataset(X, "X_train", role="input")
        model = LinearRegression().fit(X, X["a"] + X["b"])
        run.log_model(model, "reg")
    mv = nbops.registry.register(f"{run.run_id}/reg", "price", ws=workspace)
    mon.add_rule("a-drift", model="price@latest", metric="drift", feature="a",
                 aggregation="drifted", comparison="==", threshold=1, min_samples=100,
                 ws=workspace)
    mon.add_rule("b-drift", model="price@latest", metric="drift", feature="b",
                 aggregation="drifted", comparison="==", threshold=1, min_samples=100,
                 ws=workspace)
    cur = pd.DataFrame({"a": rng.normal(2.0, 1, 1500), "b": rng.normal(size=1500)})
    mon.log_predictions(mv.ref, cur, model.predict(cur), ws=workspace)
    mon.flush(workspace)
    assert mon.check(ws=workspace).fired == ["a-drift"]
    rep = mon.report("price@latest", ws=workspace)
    assert rep.reference.endswith("X_train (training data)") and rep.model_version == 1
    assert set(rep.drift["column"]) == {"a", "b", "prediction"}
    assert rep.drift.set_index("column")["drifted"].to_dict() == {"a": True, "b": False,
                                                                   "prediction": True}


def test_a_rule_that_cannot_be_evaluated_does_not_stop_the_others(workspace: Workspace) -> None:
    from sklearn.dummy import DummyClassifier

    import nbops

    X = pd.DataFrame({"x": ["a", "b"] * 50})
    with workspace.run(name="train") as run:
        run.log_dataset(X, "X_train", role="input")
        run.log_model(DummyClassifier().fit(np.zeros((100, 1)), np.zeros(100)), "clf")
    nbops.registry.register(f"{run.run_id}/clf", "svc", ws=workspace)
    mon.add_rule("broken", model="svc", metric="drift", feature="x", drift_method="psi",
                 threshold=0.1, min_samples=1, ws=workspace)  # PSI of text cannot be computed
    mon.add_rule("busy", model="svc", metric="volume", comparison=">", threshold=1,
                 min_samples=1, ws=workspace)
    lg = mon.get_logger(workspace)
    lg.log_predictions("svc", pd.DataFrame({"x": ["a", "b"] * 5}), np.zeros(10))
    lg.flush()
    res = mon.check(ws=workspace)
    by_rule = {e["rule"]: e for e in res.evaluated}
    assert res.fired == ["busy"]
    assert by_rule["broken"]["condition"] is None and "Error" in by_rule["broken"]["error"]
