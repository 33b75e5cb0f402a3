// The panel's alert, experiment, model-card and run-diff views: DOM only, no requests.

import { button, h, table } from './dom';
import { formatAge, formatValue } from './format';
import {
  alertClass,
  alertsHeadline,
  alertStateText,
  comparisonRows,
  decisionClass,
  diffRows,
  formatP,
  formatPercent,
  variantsText
} from './observed';
import { AlertState, Alerts, ExperimentDetails, ExperimentRow, ModelCard, RunDiff } from './types';

function section(title: string, cls: string, ...content: (Node | string | null)[]): HTMLElement {
  return h('section', { class: `nbops-section ${cls}` }, h('h3', {}, title), ...content);
}

export function alertsSection(a: Alerts, on: { ack(rule: string): void; history(): void }): HTMLElement {
  const items = a.alerts.map(x =>
    h(
      'li',
      { class: alertClass(x), 'data-rule': x.rule_name, title: x.message },
      h('span', { class: 'nbops-alert-state' }, alertStateText(x)),
      h('span', { class: 'nbops-alert-rule' }, ` ${x.rule_name}`),
      h('span', { class: 'nbops-dim' }, ` ${x.severity ?? ''} · ${formatAge(x.ts)}`),
      x.state === 'firing' ? button('Ack', () => on.ack(x.rule_name), 'nbops-ack') : null,
      h('div', { class: 'nbops-dim nbops-alert-message' }, x.message)
    )
  );
  return section(
    'Alerts',
    'nbops-alerts',
    h('div', { class: 'nbops-dim' }, alertsHeadline(a.firing, a.acknowledged, a.rules.length), ' ',
      a.rules.length ? button('History', on.history, 'nbops-alert-history') : null),
    items.length ? h('ul', { class: 'nbops-list' }, items) : null
  );
}

export function alertHistoryView(events: AlertState[], back: HTMLElement): HTMLElement {
  const rows = events.map(e => [formatAge(e.ts), e.rule_name, e.state, formatValue(e.value), e.actor, e.message]);
  return h(
    'div',
    { class: 'nbops-detail nbops-alert-history-detail' },
    back,
    h('h3', {}, 'Alert history'),
    rows.length ? table(['when', 'rule', 'state', 'value', 'who', 'message'], rows) : 'no alert has fired yet'
  );
}

export function experimentsSection(list: ExperimentRow[], open: (name: string) => void): HTMLElement {
  const items = list.map(e =>
    h(
      'li',
      { class: 'nbops-experiment', 'data-experiment': e.name, onclick: () => open(e.name) },
      h('span', { class: 'nbops-model-name' }, e.name),
      h('span', { class: `nbops-chip nbops-exp-${e.status}` }, e.status),
      e.winner ? h('span', { class: 'nbops-chip' }, `winner ${e.winner}`) : null,
      h('div', { class: 'nbops-dim' }, `${e.mode} · ${variantsText(e)}`)
    )
  );
  return section('Experiments', 'nbops-experiments',
    items.length ? h('ul', { class: 'nbops-list' }, items) : 'no experiments');
}

export function experimentView(d: ExperimentDetails, back: HTMLElement): HTMLElement {
  const e = d.experiment;
  const r = d.report;
  const units = Object.entries(r.units).map(([v, n]) => {
    const health = r.health[v];
    const errors = health && health.requests ? formatPercent(health.errors / health.requests, false) : '';
    return [v, e.pinned[v] ?? e.variants[v] ?? '', String(n), errors];
  });
  return h(
    'div',
    { class: 'nbops-detail nbops-experiment-detail', 'data-experiment': e.name },
    back,
    h('h3', {}, `Experiment ${e.name}`),
    h('div', { class: 'nbops-dim' }, `${e.mode} · ${e.status} · metric ${e.metric.name} (${e.metric.kind})`),
    h('div', { class: decisionClass(r.decision) }, r.winner ? `${r.decision}: ${r.winner}` : r.decision),
    h('ul', { class: 'nbops-reasons' }, r.reasons.map(x => h('li', {}, x))),
    r.comparisons.map(c =>
      h('div', { class: 'nbops-comparison', 'data-variant': c.variant },
        h('h4', {}, `${c.variant} vs control`),
        table(['', ''], comparisonRows(c), 'nbops-table nbops-estimates'))),
    r.comparisons.length ? null : h('div', { class: 'nbops-dim' }, 'no estimates yet'),
    h('h4', {}, 'Variants'),
    table(['variant', 'serves', 'units', 'errors'], units),
    r.srm ? h('div', { class: 'nbops-dim' }, `SRM check: p=${formatP(r.srm.p_value)} (${r.srm.mismatch ? 'MISMATCH' : 'ok'})`) : null,
    r.shadow_agreement !== null ? h('div', { class: 'nbops-dim' }, `shadow agreement ${formatPercent(r.shadow_agreement, false)}`) : null
  );
}

export function cardView(card: ModelCard, back: HTMLElement): HTMLElement {
  const sections = card.sections.map(s =>
    h(
      'div',
      { class: 'nbops-card-section' },
      h('h4', {}, s.heading),
      s.blocks.map(b =>
        'table' in b
          ? table(b.table.head, b.table.rows.map(row => row.map(c => formatValue(c))))
          : h('p', { class: 'nbops-card-text' }, b.text)
      )
    )
  );
  return h('div', { class: 'nbops-detail nbops-card' }, back, h('h3', {}, card.title), sections);
}

/** The difference between two runs (headed by their labels); `code` holds the highlighted text diff. */
export function diffView(d: RunDiff, code: HTMLElement, labels: [string, string] = [d.a.slice(0, 8), d.b.slice(0, 8)]): HTMLElement {
  const side = (rows: RunDiff['params']) =>
    rows.length
      ? h('table', { class: 'nbops-table' },
          h('thead', {}, h('tr', {}, ['name', ...labels].map(x => h('th', {}, x)))),
          h('tbody', {}, diffRows(rows).map(([k, a, b, changed]) =>
            h('tr', { class: changed ? 'nbops-changed' : '' }, h('td', {}, k), h('td', {}, a), h('td', {}, b)))))
      : 'none';
  return h(
    'div',
    { class: 'nbops-diff' },
    h('div', { class: d.code_changed ? 'nbops-hidden-note' : 'nbops-dim' }, d.code_changed ? 'the code changed' : 'same code'),
    h('h4', {}, 'Parameters'),
    side(d.params),
    h('h4', {}, 'Metrics'),
    side(d.metrics),
    h('h4', {}, 'nbops diff'),
    code
  );
}
