// A run's detail view: highlighted code, values, inputs/outputs, lineage, and the diff with another run.

import { button, h, table } from './dom';
import { artifactRef, formatAge, formatDuration, formatValue, runLabel } from './format';
import { diffLineClass } from './observed';
import { RunDetails, RunDiff, RunRow } from './types';
import { diffView } from './views';

export interface RunViewContext {
  back: HTMLElement;
  /** The runs of the page shown last: what the view offers to compare with. */
  lastRuns: RunRow[];
  insert(ref: string): void;
  highlight(code: string, language: string, el: HTMLElement): Promise<void>;
  diff(otherRunId: string): Promise<RunDiff>;
  showError(err: unknown): void;
}

/** A highlighted code block (JupyterLab's CodeMirror languages and its theme's colours). */
export function codeBlock(text: string, language: string, ctx: Pick<RunViewContext, 'highlight'>): HTMLElement {
  const el = h('code', { class: `nbops-highlight language-${language}` });
  ctx.highlight(text, language, el).catch(() => el.replaceChildren(text));
  return h('pre', { class: 'nbops-code' }, el);
}

/** `nbops diff` text with its added, removed and hunk lines coloured. */
export function diffText(text: string): HTMLElement {
  const lines = text.split('\n').map(line => h('span', { class: diffLineClass(line) }, line + '\n'));
  return h('pre', { class: 'nbops-code nbops-diff-text' }, lines);
}

/** The runs to compare with: the next older ones on the page first, then the newer ones. */
export function diffCandidates(runs: RunRow[], runId: string): RunRow[] {
  const index = runs.findIndex(r => r.run_id === runId);
  return [...runs.slice(index + 1), ...runs.slice(0, Math.max(index, 0))].filter(r => r.run_id !== runId);
}

export function runView(d: RunDetails, ctx: RunViewContext): HTMLElement {
  const r = d.run;
  const latest = new Map(d.metrics.map(m => [m.key, m.value]));
  const arts = (list: RunDetails['outputs']) =>
    list.length
      ? table(['name', 'kind', ''], list.map(a => {
          const ref = artifactRef(a, r.run_id);
          return [ref, a.kind, button('Insert checkout', () => ctx.insert(ref))];
        }))
      : 'none';
  return h(
    'div',
    { class: 'nbops-detail nbops-run-detail' },
    ctx.back,
    h('h3', {}, `Run ${runLabel(r)}`),
    h('div', { class: 'nbops-dim' }, `${r.run_id} · ${r.status} · ${formatDuration(r.duration_ms)} · ${r.user_name}`),
    d.hidden_state ? h('div', { class: 'nbops-hidden-note' }, `⚠ hidden state: ${d.hidden_state}`) : null,
    h('h4', {}, 'Code'),
    codeBlock(d.code ?? '', 'python', ctx),
    h('h4', {}, 'Parameters'),
    table(['name', 'value'], Object.entries(d.params).map(([k, v]) => [k, formatValue(v)])),
    h('h4', {}, 'Metrics'),
    table(['name', 'value'], [...latest.entries()].map(([k, v]) => [k, formatValue(v)])),
    h('h4', {}, 'Inputs'),
    arts(d.inputs),
    h('h4', {}, 'Outputs'),
    arts(d.outputs),
    h('h4', {}, 'Lineage'),
    table(['from', 'relation', 'to'], d.lineage.map(e => [e.src_ref, e.relation, e.dst_ref])),
    diffControls(d, ctx)
  );
}

/** "Compare with [run ▾] [Diff]", and the difference below once asked. */
function diffControls(d: RunDetails, ctx: RunViewContext): HTMLElement {
  const others = diffCandidates(ctx.lastRuns, d.run.run_id);
  const select = h('select', { class: 'nbops-diff-with', 'aria-label': 'run to compare with' },
    others.map(o => h('option', { value: o.run_id }, `${runLabel(o)} · ${formatAge(o.started_at)}`))) as HTMLSelectElement;
  const out = h('div', { class: 'nbops-diff-out' });
  const go = async () => {
    try {
      const diff = await ctx.diff(select.value);
      const other = others.find(o => o.run_id === select.value);
      const labels: [string, string] = [runLabel(d.run), other ? runLabel(other) : diff.b.slice(0, 8)];
      out.replaceChildren(diffView(diff, diffText(diff.text), labels));
    } catch (err) {
      ctx.showError(err);
    }
  };
  return h('div', { class: 'nbops-diff-controls' }, h('h4', {}, 'Compare'),
    others.length ? h('div', {}, 'with ', select, ' ', button('Diff', () => void go(), 'nbops-diff-button'))
      : 'no other run on this page',
    out);
}
