"""The demo's closing summary and its HTML report (one self-contained file, plots included)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbops.demo import Demo, StepResult

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;"
          "text-align:left}.ok{color:#16794c}.bad{color:#b42318;font-weight:bold}"
          "section{margin-top:2.5em}")


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{trs}</table>"


def write_report(demo: Demo, results: list[StepResult], total: float) -> Path:
    """``report.html`` in the demo directory: the steps, the facts, then each dashboard."""
    from plotly.offline import get_plotlyjs

    steps = _table(["step", "result", "time"], [
        [html.escape(r.label),
         "<span class='ok'>ok</span>" if r.ok else f"<span class='bad'>failed</span> "
         f"{html.escape(r.error or '')}", f"{r.seconds:.1f} s"] for r in results])
    facts = _table(["", ""], [[html.escape(k), html.escape(str(v))] for k, v in demo.facts.items()])
    body = [f"<h1>nbops demo</h1><p>{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · workspace "
            f"<code>{html.escape(str(demo.root / '.nbops'))}</code> · {total:.0f} s</p>",
            "<h2>Steps</h2>", steps, "<h2>What happened</h2>", facts]
    body += [f"<section><h2>{html.escape(t)}</h2>{part}</section>" for t, part in demo.sections]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>nbops demo</title>"
            f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head>"
            f"<body>{''.join(body)}</body></html>")
    path = demo.root / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def summary(demo: Demo, results: list[StepResult], total: float, report: Path, directory: str) -> str:
    ok = sum(r.ok for r in results)
    lines = ["", f"{'=' * 72}",
             f"nbops demo: {ok}/{len(results)} steps passed in {total:.0f} s"]
    lines += [f"  {k:<22} {v}" for k, v in demo.facts.items()]
    lines += ["", "Where to look next:",
              f"  report      {report}",
              "  make lab    JupyterLab with the nbops sidebar on this workspace",
              f"  CLI         cd {directory} && ../.venv/bin/nbops runs | models | audit log | "
              "pipeline runs | ab report | monitor alerts",
              "=" * 72]
    return "\n".join(lines)
