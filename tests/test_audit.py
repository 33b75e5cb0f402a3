"""The audit chain: every change is in it, tampering is named, concurrency and crashes never fork it."""

from __future__ import annotations

import glob
import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from governance_support import as_, inlined_table, open_workspace

from nbops.cli import main
from nbops.governance.audit import exported_head
from nbops.workspace import Workspace

WORKER = str(Path(__file__).with_name("governance_worker.py"))


def _five_entries(tmp_path, monkeypatch) -> Path:
    """A closed workspace whose audit log holds entries 1..5; returns its .nbops directory."""
    with open_workspace(tmp_path, monkeypatch) as ws:
        gov = as_(ws, "alice")[1]
        for user in ("bob", "carol", "dave", "erin", "frank"):
            gov.grant(user, "viewer")
        assert gov.verify_audit().ok
        return ws.settings.home


def _verify(home: Path):
    with Workspace.open(home.parent, create=False) as ws:
        return as_(ws, "alice")[1].verify_audit()


def _sqlite(home: Path, sql: str, args: list | None = None) -> None:
    table = inlined_table(home / "catalog.sqlite", "audit_log")
    con = sqlite3.connect(home / "catalog.sqlite")
    con.execute(sql.format(t=table), args or [])
    con.commit()
    con.close()


@pytest.mark.parametrize("tamper, broken, problem", [
    ("UPDATE {t} SET actor = 'mallory' WHERE seq = 3", 3, "edited"),
    ("UPDATE {t} SET details = replace(details, 'viewer', 'admin') WHERE seq = 4", 4, "edited"),
    ("DELETE FROM {t} WHERE seq = 3", 3, "entry 3 is missing"),
    ("UPDATE {t} SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)", 2, "prev_hash"),
    ("DELETE FROM {t} WHERE seq = 5", 5, "entries at the end were removed"),
])
def test_tampering_in_sqlite_metadata_is_named(tmp_path, monkeypatch, tamper, broken, problem):
    home = _five_entries(tmp_path, monkeypatch)
    _sqlite(home, tamper)
    result = _verify(home)
    assert not result.ok and result.broken_seq == broken, result
    assert problem in result.problem
    cli = CliRunner().invoke(main, ["audit", "verify"])
    assert cli.exit_code == 1 and f"BROKEN at entry {broken}" in cli.output


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next(tmp_path, monkeypatch):
    home = _five_entries(tmp_path, monkeypatch)
    from nbops.governance.audit import entry_hash

    con = sqlite3.connect(home / "catalog.sqlite")
    table = inlined_table(home / "catalog.sqlite", "audit_log")
    seq, actor, action, target, details, prev = con.execute(
        f"SELECT seq, actor, action, target, details, prev_hash FROM {table} WHERE seq = 2").fetchone()
    from datetime import UTC, datetime
    at = datetime.now(UTC)
    fresh = entry_hash(seq, "mallory", action, target, details, at, prev)
    con.execute(f"UPDATE {table} SET actor = 'mallory', ts = ?, hash = ? WHERE seq = 2",
                [at.strftime("%Y-%m-%d %H:%M:%S.%f+00"), fresh])
    con.commit()
    con.close()
    result = _verify(home)
    assert not result.ok and result.broken_seq == 3 and "prev_hash" in result.problem


def test_tampering_in_parquet_files_is_detected(tmp_path, monkeypatch):
    home = _five_entries(tmp_path, monkeypatch)
    with Workspace.open(home.parent, create=False) as ws:
        ws.catalog.fetchall("CALL ducklake_flush_inlined_data('lake', table_name => 'audit_log')")
    (path,) = glob.glob(str(home / "data" / "**" / "audit_log" / "*.parquet"), recursive=True)
    table = pq.read_table(path)
    actors = table.column("actor").to_pylist()
    seqs = table.column("seq").to_pylist()
    actors[seqs.index(4)] = "mallory"
    pq.write_table(table.set_column(table.schema.get_field_index("actor"), "actor", pa.array(actors)), path)
    crude = _verify(home)  # sizes no longer match the catalog's record of the file
    assert not crude.ok and "cannot be read" in crude.problem
    data = Path(path).read_bytes()
    con = sqlite3.connect(home / "catalog.sqlite")  # a careful attacker fixes the file's metadata too
    con.execute("UPDATE ducklake_data_file SET file_size_bytes = ?, footer_size = ? WHERE path LIKE ?",
                [len(data), struct.unpack("<I", data[-8:-4])[0], "%" + os.path.basename(path)])
    con.commit()
    con.close()
    careful = _verify(home)
    assert not careful.ok and careful.broken_seq == 4 and "edited" in careful.problem


def test_export_keeps_the_head_outside_the_catalog(tmp_path, monkeypatch):
    home = _five_entries(tmp_path, monkeypatch)
    out = tmp_path / "audit.jsonl"
    assert CliRunner().invoke(main, ["audit", "export", str(out)]).exit_code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["seq"] for x in lines[:-1]] == [1, 2, 3, 4, 5]
    assert lines[-1]["head"]["hash"] == lines[-2]["hash"] == exported_head(out)
    assert lines[0]["prev_hash"] == "0" * 64 and lines[0]["action"] == "grant_role"
    # Truncating the log and moving the head back passes the chain check but not the export's head.
    _sqlite(home, "DELETE FROM {t} WHERE seq = 5")
    con = sqlite3.connect(home / "catalog.sqlite")
    head = inlined_table(home / "catalog.sqlite", "audit_head")
    con.execute(f"UPDATE {head} SET seq = 4, hash = ? WHERE end_snapshot IS NULL", [lines[3]["hash"]])
    con.commit()
    con.close()
    assert _verify(home).ok
    cli = CliRunner().invoke(main, ["audit", "verify", "--against", str(out)])
    assert cli.exit_code == 1 and "the log was rewritten" in cli.output


def _spawn(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "NBOPS_HOME": str(home), "NBOPS_USER": "alice"}
    return subprocess.Popen([sys.executable, WORKER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _alias_and_audit(ws: Workspace, name: str, alias: str):
    events = ws.sql("SELECT version, previous_version, audit_seq FROM alias_events "
                    "WHERE name = ? AND alias = ? ORDER BY audit_seq", [name, alias])
    entries = ws.sql("SELECT seq, details FROM audit_log WHERE target = ? ORDER BY seq",
                     [f"model:{name}@{alias}"])
    return events, entries


def _assert_consistent(events, entries) -> None:
    """Every alias move has its audit entry (same seq and version) and vice versa; no lost update."""
    assert events["audit_seq"].tolist() == entries["seq"].tolist()
    assert events["version"].tolist() == [json.loads(d)["version"] for d in entries["details"]]
    prev = None
    for _, e in events.iterrows():
        assert (None if pd.isna(e["previous_version"]) else int(e["previous_version"])) == prev
        prev = int(e["version"])


@pytest.mark.parametrize("versions", [(1, 2), (2, 2)])
def test_concurrent_promotions_leave_one_consistent_result(tmp_path, monkeypatch, versions):
    from sklearn.linear_model import LogisticRegression

    with open_workspace(tmp_path, monkeypatch) as ws:
        reg = as_(ws, "alice")[0]
        for c in (1.0, 2.0):
            reg.register(LogisticRegression(C=c).fit([[0.0], [1.0]], [0, 1]), "churn")
        home = ws.settings.home
    go = tmp_path / "go"
    procs = [_spawn(home, "promote", "churn", str(v), "production", str(go)) for v in versions]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    go.touch()
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    oks = [r for r in results if "ok" in r]
    with Workspace.open(tmp_path, create=False) as ws:
        events, entries = _alias_and_audit(ws, "churn", "production")
        _assert_consistent(events, entries)
        assert len(entries) == len(oks) <= 2
        assert ws.sql("SELECT version FROM v_aliases WHERE name = 'churn'")["version"].tolist() == \
            [events["version"].tolist()[-1]]
        assert as_(ws, "alice")[1].verify_audit().ok
    if versions[0] == versions[1]:
        assert len(oks) == 1 and results[results.index(oks[0]) - 1]["error"] == "RegistryConflict"
    else:
        assert len(oks) == 2


def test_concurrent_appends_never_fork_the_chain(tmp_path, monkeypatch):
    with open_workspace(tmp_path, monkeypatch) as ws:
        as_(ws, "alice")[1].grant("bootstrap", "viewer")
        home = ws.settings.home
    procs = [_spawn(home, "grants", prefix, "8") for prefix in ("p", "q")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert "done" in out, err
    with Workspace.open(tmp_path, create=False) as ws:
        result = as_(ws, "alice")[1].verify_audit()
        assert result.ok and result.entries == 17, result
        seqs = ws.sql("SELECT seq FROM audit_log ORDER BY seq")["seq"].tolist()
        assert seqs == list(range(1, 18))


def test_kill_between_change_and_audit_leaves_neither_or_both(tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    with open_workspace(tmp_path, monkeypatch) as ws:
        reg = as_(ws, "alice")[0]
        for c in (1.0, 2.0):
            reg.register(LogisticRegression(C=c).fit([[0.0], [1.0]], [0, 1]), "churn")
        home = ws.settings.home
    rng = random.Random(7)
    for _ in range(3):
        child = _spawn(home, "loop", "churn", "production")
        assert child.stdout.readline().strip().isdigit(), child.stderr.read()  # one promotion done
        time.sleep(rng.uniform(0.0, 0.6))  # land anywhere inside the next promotions
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with Workspace.open(tmp_path, create=False) as ws:
        events, entries = _alias_and_audit(ws, "churn", "production")
        assert len(events) >= 3
        _assert_consistent(events, entries)
        assert as_(ws, "alice")[1].verify_audit().ok
