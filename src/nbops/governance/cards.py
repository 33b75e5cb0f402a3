"""Model cards: what a version is for, what it learned from, how it was checked and who let it out.

Built from the catalog alone (version, run, lineage, validations, approvals,
alias moves, environment); rendered as Markdown and as standalone HTML.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops.errors import NbopsError

if TYPE_CHECKING:
    from nbops.registry.service import Registry

Table = tuple[list[str], list[list[Any]]]
_MAX_STATS_BYTES = 64 * 2**20
_KEY_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "xgboost", "lightgbm", "nbops")


@dataclass
class ModelCard:
    title: str
    sections: list[tuple[str, list[str | Table]]] = field(default_factory=list)

    @property
    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for heading, blocks in self.sections:
            out += [f"## {heading}", ""]
            for b in blocks:
                out += [_md_table(b) if isinstance(b, tuple) else b, ""]
        return "\n".join(out)

    @property
    def html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for heading, blocks in self.sections:
            body.append(f"<h2>{html.escape(heading)}</h2>")
            body += [_html_table(b) if isinstance(b, tuple) else f"<p>{html.escape(b)}</p>" for b in blocks]
        style = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
                f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")

    def save(self, directory: str | Path = ".") -> tuple[Path, Path]:
        """Write ``<name>-v<N>.md`` and ``.html`` into ``directory``; return both paths."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        stem = self.title.split(" ")[-1].replace("@", "-")
        md, page = d / f"{stem}.md", d / f"{stem}.html"
        md.write_text(self.markdown, encoding="utf-8")
        page.write_text(self.html, encoding="utf-8")
        return md, page

    def _repr_markdown_(self) -> str:
        return self.markdown


def _cell(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def _md_table(t: Table) -> str:
    head, rows = t
    if not rows:
        return "_none_"
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(t: Table) -> str:
    head, rows = t
    if not rows:
        return "<p><em>none</em></p>"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{trs}</table>"


def build_card(reg: Registry, ref: str, *, intended_use: str | None = None) -> ModelCard:
    mv = reg.resolve(ref)
    model = reg.require_model(None, mv.name)
    details = reg.ws.run_details(mv.run_id) if mv.run_id else None
    card = ModelCard(f"Model card: {mv.name}@v{mv.version}")
    use = intended_use or model.get("intended_use") or "Not stated (set it with `nbops card --intended-use`)."
    intro: list[str | Table] = [str(use)]
    if mv.description:
        intro.append(str(mv.description))
    card.sections.append(("Intended use", intro))
    card.sections.append(("Version", [(["field", "value"], [
        ["name", mv.name], ["version", mv.version], ["status", mv.status],
        ["aliases", ", ".join(mv.aliases) or "-"], ["registered by", mv.created_by],
        ["registered at", mv.created_at], ["run", mv.run_id or "-"],
        ["artifact", mv.artifact_name], ["content fingerprint", mv.fingerprint], ["format", mv.format]])]))
    card.sections.append(("Training data", _data_blocks(reg, details)))
    card.sections.append(("Hyperparameters", [_hyperparameters(details)]))
    card.sections.append(("Metrics", [_metrics(details)]))
    card.sections.append(("Validation gates", [_validations(reg, mv.name, mv.version)]))
    card.sections.append(("Approvals and alias history", _approvals(reg, mv.name, mv.version)))
    card.sections.append(("Lineage", [_lineage(details)]))
    card.sections.append(("Environment", [_environment(details)]))
    return card


def _data_blocks(reg: Registry, details: dict[str, Any] | None) -> list[str | Table]:
    if not details:
        return ["No run recorded for this version."]
    arts = details["artifacts"]
    data = arts[arts["kind"] == "dataset"] if not arts.empty else arts
    if data.empty:
        return ["The run recorded no dataset."]
    blocks: list[str | Table] = [(["dataset", "role", "version", "rows", "cols", "fingerprint"], [
        [a["name"], a["role"], _cell(a.get("version")), _cell(a["n_rows"]), _cell(a["n_cols"]),
         _cell(a["fingerprint"])] for _, a in data.iterrows()])]
    for _, a in data.iterrows():
        stats = _statistics(reg, a)
        if stats is not None:
            blocks += [f"Statistics of {a['name']} ({a['role']}):", stats]
    return blocks


def _statistics(reg: Registry, a: Any) -> Table | None:
    if a["format"] != "parquet" or not a["object_key"] or (a["size_bytes"] or 0) > _MAX_STATS_BYTES:
        return None
    try:
        from nbops.store.serializers import deserialize

        frame = pd.DataFrame(deserialize(reg.ws.store.get(a["object_key"]), "parquet"))
    except (NbopsError, ValueError, TypeError):
        return None
    numeric = frame.select_dtypes("number").iloc[:, :15]
    if numeric.empty:
        return None
    desc = numeric.describe().T
    return (["column", "mean", "std", "min", "max", "missing"],
            [[str(c), f"{r['mean']:.4g}", f"{r['std']:.4g}", f"{r['min']:.4g}", f"{r['max']:.4g}",
              int(frame[c].isna().sum())] for c, r in desc.iterrows()])


def _hyperparameters(details: dict[str, Any] | None) -> Table:
    rows: list[list[Any]] = []
    if details:
        rows += [[p["key"], p["value"], "run parameter"] for _, p in details["params"].iterrows()]
        arts = details["artifacts"]
        for _, a in arts[arts["kind"] == "model"].iterrows() if not arts.empty else []:
            meta = json.loads(a["metadata"]) if a["metadata"] else {}
            for k, v in (meta.get("hyperparameters") or meta.get("params") or {}).items():
                rows.append([k, v, f"{a['name']}.get_params()"])
    return (["name", "value", "source"], rows)


def _metrics(details: dict[str, Any] | None) -> Table:
    if not details or details["metrics"].empty:
        return (["metric", "value", "steps"], [])
    g = details["metrics"].groupby("key")["value"]
    return (["metric", "value", "steps"], [[k, f"{s.iloc[-1]:.6g}", len(s)] for k, s in g])


def _validations(reg: Registry, name: str, version: int) -> Table:
    vals = reg.models.validations(None, name, version)
    return (["gate", "passed", "recorded by", "at", "details"],
            [[g, "yes" if v["passed"] else "NO", v["recorded_by"], v["ts"], _gate_details(v["details"])]
             for g, v in sorted(vals.items())])


def _gate_details(text: str | None) -> str | None:
    """A gate's one-line summary when it has one (nbops.gates records it), else its JSON."""
    try:
        summary = json.loads(text).get("summary") if text else None
    except (ValueError, AttributeError):
        summary = None
    return summary if isinstance(summary, str) else text


def _approvals(reg: Registry, name: str, version: int) -> list[str | Table]:
    ap = reg.gov.approvals_for_version(name, version)
    hist = reg.models.alias_history(name)
    hist = hist[(hist["version"] == version) | (hist["previous_version"] == version)]
    return [(["request", "alias", "decision", "by", "comment", "at"],
             [[r["request_id"], r["alias"], r["decision"], r["actor"], r["comment"], r["ts"]]
              for _, r in ap.iterrows()]),
            (["alias", "move", "to", "from", "by", "reason", "at"],
             [[r["alias"], r["kind"], _v(r["version"]), _v(r["previous_version"]), r["actor"],
               r["reason"], r["ts"]] for _, r in hist.iterrows()])]


def _v(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else f"v{int(x)}"


def _lineage(details: dict[str, Any] | None) -> Table:
    if not details or details["lineage"].empty:
        return (["from", "relation", "to"], [])
    return (["from", "relation", "to"],
            [[f"{r['src_kind']}:{r['src_ref']}", r["relation"], f"{r['dst_kind']}:{r['dst_ref']}"]
             for _, r in details["lineage"].iterrows()])


def _environment(details: dict[str, Any] | None) -> Table:
    env = (details or {}).get("environment") or {}
    run = (details or {}).get("run") or {}
    rows = [["python", env.get("python")], ["platform", env.get("platform")],
            ["git commit", env.get("git_commit")], ["notebook / script", run.get("notebook")]]
    packages = json.loads(env["packages"]) if env.get("packages") else {}
    rows += [[p, packages[p]] for p in _KEY_PACKAGES if p in packages]
    return (["item", "value"], rows)
