"""``nbops monitor ...`` from the shell: rules, report, check, alerts, ack, compact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

import nbops.monitor as mon
from nbops.cli import main
from nbops.workspace import Workspace


def test_monitor_cli_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for _ in range(3):
        mon.log_predictions("svc", pd.DataFrame({"x": rng.normal(size=50)}), np.zeros(50),
                            latency_ms=np.full(50, 40.0), ws=workspace)
        mon.flush(workspace)
    run = CliRunner().invoke
    log = tmp_path / "alerts.jsonl"
    out = run(main, ["monitor", "rules", "add", "slow", "--model", "svc", "--metric", "latency",
                     "--aggregation", "p99", "--threshold", "30", "--min-samples", "10",
                     "--channel", f"log:{log}"])
    assert out.exit_code == 0, out.output
    assert "slow" in run(main, ["monitor", "rules", "list"]).output

    rep = run(main, ["monitor", "report", "svc", "--json", "--no-drift"])
    assert rep.exit_code == 0, rep.output
    assert json.loads(rep.output)["summary"]["n"] == 150

    timeline = run(main, ["monitor", "timeline", "svc", "--bucket", "1h"])
    assert timeline.exit_code == 0 and "150" in timeline.output

    chk = run(main, ["monitor", "check"])
    assert chk.exit_code == 0 and "firing" in chk.output
    assert json.loads(log.read_text())["state"] == "firing"
    assert "firing" in run(main, ["monitor", "alerts"]).output
    assert run(main, ["monitor", "ack", "slow", "--note", "on it"]).exit_code == 0
    assert "acknowledged" in run(main, ["monitor", "alerts"]).output
    assert "merged 3 files" in run(main, ["monitor", "compact"]).output
    assert "latency_p99" in run(main, ["monitor", "history", "svc"]).output

    bad = run(main, ["monitor", "rules", "add", "x", "--model", "svc", "--metric", "speed",
                     "--threshold", "1"])
    assert bad.exit_code == 1 and "unknown metric" in bad.output


def test_public_api_names_are_functions_even_after_submodules_load() -> None:
    import nbops.monitor.alerting  # noqa: F401
    import nbops.monitor.reporting  # noqa: F401

    assert set(mon.__all__) == {"ack", "add_rule", "alerts", "check", "compact", "flush",
                                "get_logger", "history", "log_outcomes", "log_predictions",
                                "remove_rule", "report", "rules", "timeline"}
    assert all(callable(getattr(mon, name)) for name in mon.__all__)
