// A model's detail view: versions (promote, request, checkout, card), aliases (rollback), requests
// (approve, reject) and the alias history. The actions are decided by governance on the server.

import { button, h, table } from './dom';
import { aliasesByVersion, formatAge } from './format';
import { ModelDetails } from './types';

export interface ModelViewContext {
  back: HTMLElement;
  act(path: string, body: Record<string, unknown>, done: string, then?: () => Promise<void>): Promise<void>;
  insert(ref: string): void;
  openCard(model: string, version: number): void;
  reload(): Promise<void>;
}

export function modelView(m: ModelDetails, ctx: ModelViewContext): HTMLElement {
  const alias = h('input', { class: 'nbops-alias jp-mod-styled', value: 'prod', 'aria-label': 'alias' }) as HTMLInputElement;
  const reason = h('input', { class: 'nbops-reason jp-mod-styled', placeholder: 'reason', 'aria-label': 'reason' }) as HTMLInputElement;
  const reload = () => ctx.reload();
  const byVersion = aliasesByVersion(m.aliases);
  const common = () => ({ model: m.name, alias: alias.value, reason: reason.value });
  const versions = m.versions.map(v => [
    `v${v.version}`,
    (byVersion.get(v.version) ?? []).map(a => h('span', { class: 'nbops-chip' }, a)),
    v.status,
    h(
      'span',
      { class: 'nbops-actions' },
      button('Promote', () => void ctx.act('actions/promote', { ...common(), version: v.version },
        `promoted ${m.name}@v${v.version} to ${alias.value}`, reload), 'nbops-promote'),
      button('Request', () => void ctx.act('actions/request', { ...common(), version: v.version },
        `requested ${m.name}@v${v.version} → ${alias.value}`, reload), 'nbops-request'),
      button('Checkout', () => ctx.insert(`${m.name}@v${v.version}`)),
      button('Card', () => ctx.openCard(m.name, v.version), 'nbops-card-button')
    )
  ]);
  const aliases = Object.entries(m.aliases).map(([a, v]) => [
    a, `v${v}`,
    button('Rollback', () => void ctx.act('actions/rollback', { model: m.name, alias: a, reason: reason.value },
      `rolled back ${m.name}@${a}`, reload), 'nbops-rollback')
  ]);
  const requests = m.requests.map(q => [
    `v${q.version} → ${q.alias}`, q.status, q.requested_by, String(q.approvals),
    q.status === 'pending'
      ? h('span', {},
          button('Approve', () => void ctx.act('actions/approve', { request_id: q.request_id, comment: reason.value }, 'approved', reload), 'nbops-approve'),
          button('Reject', () => void ctx.act('actions/reject', { request_id: q.request_id, comment: reason.value }, 'rejected', reload), 'nbops-reject'))
      : ''
  ]);
  return h(
    'div',
    { class: 'nbops-detail nbops-model-detail', 'data-model': m.name },
    ctx.back,
    h('h3', {}, `Model ${m.name}`),
    h('div', { class: 'nbops-form' }, h('label', {}, 'alias ', alias), h('label', {}, 'reason ', reason)),
    h('h4', {}, 'Versions'),
    table(['version', 'aliases', 'status', ''], versions),
    h('h4', {}, 'Aliases'),
    aliases.length ? table(['alias', 'version', ''], aliases) : 'none',
    h('h4', {}, 'Requests and approvals'),
    requests.length ? table(['request', 'status', 'by', 'approvals', ''], requests) : 'none',
    h('h4', {}, 'History'),
    table(['alias', 'version', 'kind', 'who', 'when'], m.history.map(e => [e.alias, e.version === null ? '' : `v${e.version}`, e.kind, e.actor, formatAge(e.ts)]))
  );
}
