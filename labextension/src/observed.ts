// Pure formatting of alerts, experiments, run diffs and pipeline outputs (unit-tested with vitest).

import { formatValue } from './format';
import { AlertState, ExperimentComparison, ExperimentRow, PipelineRun, SideBySide } from './types';

/** The text of the badge on the sidebar's tab: null when nothing fires, "9+" above nine. */
export function badgeText(firing: number): string | null {
  if (!Number.isFinite(firing) || firing <= 0) {
    return null;
  }
  return firing > 9 ? '9+' : String(Math.floor(firing));
}

/** The tab's tooltip: "nbops: runs and models · 2 alerts firing". */
export function tabCaption(firing: number): string {
  const base = 'nbops: runs and models';
  return firing > 0 ? `${base} · ${firing} alert${firing === 1 ? '' : 's'} firing` : base;
}

/** The state of an alert as shown: "FIRING", "ack'd by dave", "resolved". */
export function alertStateText(a: Pick<AlertState, 'state' | 'actor'>): string {
  if (a.state === 'firing') {
    return 'FIRING';
  }
  if (a.state === 'acknowledged') {
    return `ack'd by ${a.actor}`;
  }
  return a.state;
}

/** A CSS class for an alert row: firing critical alerts stand out most. */
export function alertClass(a: Pick<AlertState, 'state' | 'severity'>): string {
  if (a.state !== 'firing') {
    return `nbops-alert nbops-alert-${a.state}`;
  }
  return `nbops-alert nbops-alert-firing nbops-severity-${a.severity ?? 'warning'}`;
}

/** "1 firing · 1 acknowledged · 2 rules", or "2 rules, none firing". */
export function alertsHeadline(firing: number, acknowledged: number, rules: number): string {
  const r = `${rules} rule${rules === 1 ? '' : 's'}`;
  if (!firing && !acknowledged) {
    return rules ? `${r}, none firing` : 'no alert rules';
  }
  const parts = [firing ? `${firing} firing` : '', acknowledged ? `${acknowledged} acknowledged` : '', r];
  return parts.filter(Boolean).join(' · ');
}

/** A p-value: "<0.001", else 3 significant digits. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) {
    return '';
  }
  return p < 0.001 ? '<0.001' : String(Number(p.toPrecision(3)));
}

/** A share as a percentage with a sign: 1.1984 -> "+119.8%". */
export function formatPercent(x: number | null | undefined, signed = true): string {
  if (x === null || x === undefined || !Number.isFinite(x)) {
    return '';
  }
  const s = (x * 100).toFixed(1);
  return signed && x > 0 ? `+${s}%` : `${s}%`;
}

function signed(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) {
    return '?';
  }
  const v = formatValue(x);
  return x > 0 ? `+${v}` : v;
}

/** An estimate with its interval: "+0.3466 [+0.2718, +0.4214]". */
export function formatInterval(
  estimate: number | null,
  interval: [number | null, number | null] | null | undefined
): string {
  const ci = interval ? ` [${signed(interval[0])}, ${signed(interval[1])}]` : '';
  return `${signed(estimate)}${ci}`;
}

/** One treatment against control as [label, value] rows (narrow enough for the sidebar). */
export function comparisonRows(c: ExperimentComparison): [string, string][] {
  return [
    ['units', `${c.n_control} → ${c.n_treatment}`],
    ['mean', `${formatValue(c.control)} → ${formatValue(c.treatment)}`],
    ['lift [CI]', formatInterval(c.lift, c.ci)],
    ['relative lift', formatPercent(c.relative_lift)],
    ['p (always valid)', formatP(c.p_always_valid)],
    ['p (fixed horizon)', formatP(c.adjusted_p ?? c.p_value)],
    ['P(better)', c.p_better === null ? '' : formatValue(c.p_better)],
    ['expected loss', formatValue(c.expected_loss)]
  ];
}

/** "winner" is good news, a breached guardrail or SRM is bad, anything else is pending. */
export function decisionClass(decision: string): string {
  if (decision === 'winner') {
    return 'nbops-decision nbops-decision-winner';
  }
  if (decision.startsWith('guardrail') || decision.startsWith('SRM')) {
    return 'nbops-decision nbops-decision-bad';
  }
  return 'nbops-decision';
}

/** "control clf@v1 50% · treatment clf@v2 50%". */
export function variantsText(e: Pick<ExperimentRow, 'variants' | 'weights'>): string {
  return Object.entries(e.variants)
    .map(([name, ref]) => {
      const w = e.weights[name];
      return w === undefined ? `${name} ${ref}` : `${name} ${ref} ${Math.round(w * 100)}%`;
    })
    .join(' · ');
}

/** Parameters or metrics of two runs side by side: [key, a, b, changed]. */
export function diffRows(rows: SideBySide[]): [string, string, string, boolean][] {
  return rows.map(r => [r.key, formatValue(r.a), formatValue(r.b), r.changed]);
}

/** Where a pipeline run's output notebook is opened: `nbops-outputs/<name>-<id>.ipynb`. */
export function outputNotebookPath(r: Pick<PipelineRun, 'pipeline_run_id' | 'notebook' | 'schedule_name'>): string {
  const base = (r.schedule_name || r.notebook.split('/').pop() || 'pipeline').replace(/\.ipynb$/, '');
  const safe = base.replace(/[^A-Za-z0-9_.-]+/g, '_');
  return `nbops-outputs/${safe}-${r.pipeline_run_id}.ipynb`;
}

/** The class of a line of `nbops diff` text: added, removed, a hunk header, a heading, or plain. */
export function diffLineClass(line: string): string {
  const t = line.trimStart();
  if (t.startsWith('@@')) {
    return 'nbops-diff-hunk';
  }
  if (t.startsWith('+') && !t.startsWith('+++')) {
    return 'nbops-diff-add';
  }
  if (t.startsWith('-') && !t.startsWith('---')) {
    return 'nbops-diff-del';
  }
  return /^[a-z][a-z ]*:$/.test(line) ? 'nbops-diff-heading' : '';
}
