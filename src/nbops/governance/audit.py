"""The tamper-evident audit log: a SHA-256 hash chain appended in the changing transaction.

Each entry's hash covers a canonical JSON of (seq, actor, action, target,
details, at, prev_hash), so editing, deleting or reordering any entry breaks
the chain from that entry on. ``verify`` names the first broken entry;
``export`` writes the log and its head hash as JSON lines, to keep outside the
catalog (an attacker who rewrites the whole chain cannot match a head kept
elsewhere: ``verify(expected_head=...)``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from nbops.catalog.audit import AuditRepository
from nbops.catalog.governance_records import AuditRow
from nbops.catalog.migrations.m0002_governance import GENESIS_HASH


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(seq: int, actor: str, action: str, target: str, details: str, at: datetime,
               prev_hash: str) -> str:
    body = json.dumps({"seq": int(seq), "actor": actor, "action": action, "target": target,
                       "details": details, "at": _iso(at), "prev_hash": prev_hash},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def append(repo: AuditRepository, con: duckdb.DuckDBPyConnection, *, seq: int, prev_hash: str,
           actor: str, action: str, target: str, details: Mapping[str, Any]) -> AuditRow:
    """Append one entry inside the caller's transaction (``seq``/``prev_hash`` from its head)."""
    at = datetime.now(UTC)
    text = canonical_details(details)
    h = entry_hash(seq, actor, action, target, text, at, prev_hash)
    row = AuditRow(seq, actor, str(action), target, text, at, prev_hash, h)
    repo.append(con, row)
    return row


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries, head {self.head_hash[:16]}… (seq {self.head_seq})"
        return f"audit chain BROKEN at entry {self.broken_seq}: {self.problem}"


def verify_rows(rows: list[tuple[Any, ...]], head: list[tuple[Any, ...]],
                expected_head: str | None = None) -> VerifyResult:
    """Recompute the chain over ``rows`` (ordered by seq) and compare with the stored head."""
    prev, expected_seq = GENESIS_HASH, 1

    def broken(problem: str, at_seq: int) -> VerifyResult:
        return VerifyResult(False, len(rows), expected_seq - 1, prev, at_seq, problem)

    for seq, actor, action, target, details, at, prev_hash, h in rows:
        if seq < expected_seq:
            return broken(f"entry {seq} appears twice (or out of order)", int(seq))
        if seq > expected_seq:
            return broken(f"entry {expected_seq} is missing (next stored entry is {seq})", expected_seq)
        if prev_hash != prev:
            return broken("its prev_hash does not match the previous entry's hash "
                          "(an entry before it was deleted, reordered or rewritten)", int(seq))
        if entry_hash(seq, actor, action, target, details, at, prev_hash) != h:
            return broken("its content no longer matches its hash (the entry was edited)", int(seq))
        prev, expected_seq = h, expected_seq + 1
    last = expected_seq - 1
    if len(head) != 1:
        return VerifyResult(False, len(rows), last, prev, last + 1, f"the head table has {len(head)} rows")
    head_seq, head_hash = int(head[0][0]), str(head[0][1])
    if head_seq != last or head_hash != prev:
        missing = last + 1 if head_seq > last else head_seq
        return VerifyResult(False, len(rows), last, prev, missing,
                            f"the head says entry {head_seq} ({head_hash[:16]}…) but the log ends at "
                            f"entry {last} ({prev[:16]}…): entries at the end were removed or the head moved")
    if expected_head is not None and expected_head not in (prev, head_hash) and \
            not any(r[7] == expected_head for r in rows):
        return VerifyResult(False, len(rows), last, prev, None,
                            f"the exported head {expected_head[:16]}… is not in the chain: the log was rewritten")
    return VerifyResult(True, len(rows), last, prev)


def verify(repo: AuditRepository, expected_head: str | None = None) -> VerifyResult:
    try:
        rows, head = repo.rows(), repo.head_rows()
    except duckdb.Error as exc:
        return VerifyResult(False, 0, 0, "", None,
                            f"the audit log cannot be read, a data file was altered or removed: {exc}")
    return verify_rows(rows, head, expected_head)


def export(repo: AuditRepository, path: str | Path) -> VerifyResult:
    """Write every entry as a JSON line, then a final ``{"head": ...}`` line."""
    rows, head = repo.rows(), repo.head_rows()
    result = verify_rows(rows, head)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for seq, actor, action, target, details, at, prev_hash, h in rows:
            fh.write(json.dumps({"seq": int(seq), "actor": actor, "action": action, "target": target,
                                 "details": json.loads(details), "at": _iso(at),
                                 "prev_hash": prev_hash, "hash": h}, ensure_ascii=False) + "\n")
        fh.write(json.dumps({"head": {"seq": result.head_seq, "hash": result.head_hash,
                                      "verified": result.ok}}) + "\n")
    tmp.replace(p)
    return result


def exported_head(path: str | Path) -> str:
    """The head hash recorded by :func:`export` in ``path``."""
    lines = Path(path).read_text(encoding="utf-8").strip().splitlines()
    return str(json.loads(lines[-1])["head"]["hash"])
