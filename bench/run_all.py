"""Run every ``bench/bench_*.py`` and rewrite its section of docs/benchmarks.md.

    python bench/run_all.py                     # the full run; rewrites docs/benchmarks.md
    python bench/run_all.py --quick             # small sizes, few rounds; prints the tables only
    python bench/run_all.py --only foundation   # some modules (bench_<name>.py) only

A module exposes ``SECTION`` (its heading), optionally ``INTRO`` (markdown under it),
``ANCHOR`` (the compared tool's column heading) and ``ABOUT`` (a dict filled while running,
e.g. the anchor's versions), and ``run(quick: bool) -> list[Result]`` (bench/common.py).
Each such module owns the part of docs/benchmarks.md between its
``<!-- bench:NAME:start/end -->`` markers; nothing else in the file is touched. A module
whose ``run`` returns plain dicts instead is run and printed, and its prose section in the
docs is left to its author. Raw results go to bench/results/NAME.json.

Modules comparing with MLflow in a subprocess find its interpreter in ``NBOPS_MLFLOW_PYTHON``,
set here to bench/.venv-mlflow (created on first use) unless mlflow is importable.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DIR, ROOT, Result, machine_info, versions  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = BENCH_DIR / "results"

HEADER = """\
# Benchmarks

nbops is measured side by side with the tools a user would otherwise pick (MLflow, …), in one
process run per area, with the anchor and nbops alternating. Every figure is the median of
several rounds (min–max in brackets) after one untimed warm-up per side; a ratio is the
anchor's median over nbops's median, so "25×" means nbops took 1/25 of the time.

Reproduce with `make bench` (sets up everything, including the anchors' own virtual
environments) or `python bench/run_all.py` (`--quick` for a smoke run with small sizes).
Each section below is rewritten by its own benchmark module (`bench/bench_<area>.py`).

The machine these were measured on is small (2 cores) and was shared with other work while
measuring, so absolute timings are noisy; ratios, measured in alternation, hold better.
"""


def discover(only: list[str] | None) -> list[tuple[str, ModuleType]]:
    names = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"no bench module for {', '.join(unknown)}; have {', '.join(names)}")
        names = [n for n in names if n in only]
    return [(n, importlib.import_module(f"bench_{n}")) for n in names]


def _cell(stat: object) -> str:
    return stat.show() if stat is not None else "—"  # type: ignore[attr-defined]


def _verdict(r: Result) -> str:
    return "—" if r.passed is None else "pass" if r.passed else "**FAIL**"


def table(results: list[Result], anchor: str) -> str:
    lines = [f"| Figure | nbops | {anchor} | Ratio | Target | Result |",
             "|---|---|---|---|---|---|"]
    notes: list[str] = []
    for r in results:
        figure = r.figure
        if r.note:
            notes.append(r.note)
            figure += f" [{len(notes)}]"
        ratio = f"{r.ratio:.1f}×" if r.ratio is not None else "—"
        anchor = f"{r.anchor_name}: {_cell(r.anchor)}" if r.anchor_name else _cell(r.anchor)
        lines.append(f"| {figure} | {_cell(r.nbops)} | {anchor} | {ratio} | {r.target} "
                     f"| {_verdict(r)} |")
    lines.append("")
    lines += [f"{i}. {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines)


def _rounds(results: list[Result]) -> str:
    counts = sorted({len(s.samples) for r in results for s in (r.nbops, r.anchor) if s is not None})
    if not counts:
        return "several"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def plain_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the dict rows a module returned (their keys as columns)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_plain(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return f"{len(value)} values"
    return str(value).replace("|", "\\|")


def _mlflow_for_subprocesses() -> None:
    if os.environ.get("NBOPS_MLFLOW_PYTHON") or importlib.util.find_spec("mlflow") is not None:
        return
    from anchor import MLFLOW_VENV, ensure_venv, mlflow_requirements

    os.environ["NBOPS_MLFLOW_PYTHON"] = str(ensure_venv(MLFLOW_VENV, mlflow_requirements()))


def section(name: str, module: ModuleType, results: list[Result], seconds: float, quick: bool) -> str:
    m = machine_info()
    v = versions("nbops", "duckdb", "pandas", "pyarrow", "numpy", "scikit-learn", "skops")
    about = getattr(module, "ABOUT", {})
    lines = [
        f"<!-- bench:{name}:start -->",
        f"## {module.SECTION}",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python bench/run_all.py"
        f"{' --quick' if quick else ''} --only {name}` (part of `make bench`; {seconds / 60:.0f} min).",
        "",
        f"- Machine: {m['cpu']}; {m['os']}; Python {m['python']}.",
        "- nbops side: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        *[f"- {k}: {val}." for k, val in about.items()],
        f"- Median (min–max) of {_rounds(results)} alternating rounds after one warm-up; the "
        "machine was shared with other work, so timings are noisy.",
        "",
    ]
    intro = getattr(module, "INTRO", "")
    if intro:
        lines += [intro.rstrip(), ""]
    lines += [table(results, getattr(module, "ANCHOR", "Anchor")), f"<!-- bench:{name}:end -->"]
    return "\n".join(lines) + "\n"


def write_section(name: str, text: str) -> None:
    """Replace this module's part of docs/benchmarks.md (or append it), leaving the rest."""
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    doc = DOCS.read_text() if DOCS.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)}:start -->.*?<!-- bench:{re.escape(name)}:end -->\n?",
                         re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _m: text, doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOCS.write_text(doc)


def save_json(name: str, results: list[Any], quick: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"quick": quick, "when": datetime.now(UTC).isoformat(), "machine": machine_info(),
           "results": [r.to_json() if isinstance(r, Result) else r for r in results]}
    (RESULTS / f"{name}{'-quick' if quick else ''}.json").write_text(
        json.dumps(out, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and few rounds; docs untouched")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only bench_NAME.py")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--strict", action="store_true", help="exit non-zero when a target is missed")
    args = ap.parse_args(argv)
    failed: list[str] = []
    missed: list[str] = []
    modules = discover(args.only)
    _mlflow_for_subprocesses()
    for name, module in modules:
        print(f"== {module.SECTION} (bench_{name}.py){' --quick' if args.quick else ''}", flush=True)
        t0 = time.perf_counter()
        try:
            results = module.run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        save_json(name, results, args.quick)
        if not all(isinstance(r, Result) for r in results):
            print(plain_table(results), flush=True)
            print(f"(bench_{name}.py returns plain rows: its docs section is kept as written)")
            continue
        text = section(name, module, results, time.perf_counter() - t0, args.quick)
        print(table(results, getattr(module, "ANCHOR", "Anchor")), flush=True)
        if not (args.quick or args.no_docs):
            write_section(name, text)
            print(f"wrote the {module.SECTION} section of {DOCS.relative_to(ROOT)}")
        missed += [f"{name}: {r.figure}" for r in results if r.passed is False]
    for m in missed:
        print(f"missed a target: {m}", file=sys.stderr)
    if missed and args.quick:
        print("(the targets are set for the full sizes; --quick only shows that everything runs)",
              file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
