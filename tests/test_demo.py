"""`make demo` runs the whole loop end to end on the embedded catalog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "nbops.demo", str(target)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-3000:]
    assert "tracked run" in out and "4 candidates tracked" in out  # %%track cells
    assert "promote without approval refused" in out and "cancer@production -> v1" in out
    assert "before the shift: 0 alert(s) fired" in out and "fired ['cancer-drift']" in out
    assert "scheduler ran ['retrain-cancer']" in out
    assert "cancer@v3 passed 6/6 gates" in out and "waits for a reviewer" in out
    assert "winner -> treatment" in out and "SRM check" in out
    assert "audit chain intact" in out and "8/8 steps passed" in out
    report = (target / "report.html").read_text()
    assert "A/B experiment" in report and "plotly" in report and "cancer-followup" in report
    assert (target / ".nbops" / "catalog.sqlite").is_file()
