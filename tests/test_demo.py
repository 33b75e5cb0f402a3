"""`make demo` runs the main job end to end on the embedded catalog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_trains_registers_promotes_retrains_and_verifies(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "nbops.demo", str(target)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "training 5 candidate models" in out
    assert "promote without approval refused" in out and "cancer@production -> v1" in out
    assert "inside pipeline run" in out
    assert "audit chain intact" in out
    assert (target / ".nbops" / "catalog.sqlite").is_file()
