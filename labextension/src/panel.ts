import { Widget } from '@lumino/widgets';

import { ApiError, postAPI, requestAPI } from './api';
import { button, h, table } from './dom';
import {
  aliasesByVersion,
  artifactRef,
  formatAge,
  formatDuration,
  formatValue,
  metricSummary,
  pageInfo,
  refusalText,
  runLabel
} from './format';
import {
  ActionResult,
  AuditEntry,
  Info,
  ModelDetails,
  ModelRow,
  Pipelines,
  RunDetails,
  RunPage
} from './types';

export const PAGE_SIZE = 50;

export interface PanelHost {
  /** The path of the active notebook, relative to the server root, if any. */
  currentNotebook(): string | null;
  /** Insert a code cell with `text` below the active cell of the active notebook. */
  insertCode(text: string): boolean;
  /** Make the cell with this id the active one, if the active notebook has it. */
  jumpToCell(cellId: string): boolean;
}

/** The nbops sidebar: this notebook's runs, models, pipelines and the audit log. */
export class NbopsPanel extends Widget {
  private offset = 0;
  private allRuns = false;
  private message: HTMLElement;
  private body: HTMLElement;
  private user = '';
  private inDetail = false;
  // Bumped by every load; a response that comes back after a newer load started is dropped.
  private generation = 0;

  constructor(private host: PanelHost) {
    super();
    this.id = 'nbops-sidebar';
    this.addClass('nbops-panel');
    this.title.caption = 'nbops: runs and models';
    this.message = h('div', { class: 'nbops-message', role: 'status' });
    this.body = h('div', { class: 'nbops-body' });
    const header = h(
      'div',
      { class: 'nbops-header' },
      h('span', { class: 'nbops-title' }, 'nbops'),
      button('Refresh', () => void this.refresh(), 'nbops-refresh')
    );
    this.node.append(header, this.message, this.body);
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  /** Show a refusal or error from the server (or clear the message). */
  showError(err: unknown): void {
    const text =
      err instanceof ApiError ? refusalText(err.status, err.body) : `Error: ${String(err)}`;
    this.message.textContent = text;
    this.message.className = 'nbops-message nbops-refusal';
  }

  showOk(text: string): void {
    this.message.textContent = text;
    this.message.className = 'nbops-message nbops-ok';
  }

  clearMessage(): void {
    this.message.textContent = '';
    this.message.className = 'nbops-message';
  }

  /** Reload the overview unless a detail view is open (for refreshes nobody asked for). */
  async refreshOverview(): Promise<void> {
    if (this.isVisible && !this.inDetail) {
      await this.refresh();
    }
  }

  /** Reload the overview (runs, models, pipelines, audit). */
  async refresh(): Promise<void> {
    this.inDetail = false;
    const gen = ++this.generation;
    try {
      const info = await requestAPI<Info>('info');
      this.user = info.user;
      const notebook = this.allRuns ? null : this.host.currentNotebook();
      const [runs, models, pipes, audit] = await Promise.all([
        requestAPI<RunPage>('runs', {}, { notebook, offset: this.offset, limit: PAGE_SIZE }),
        requestAPI<{ models: ModelRow[] }>('models'),
        requestAPI<Pipelines>('pipelines', {}, { limit: 10 }),
        requestAPI<{ entries: AuditEntry[] }>('audit', {}, { limit: 10 })
      ]);
      if (gen !== this.generation) {
        return;
      }
      this.body.replaceChildren(
        h('div', { class: 'nbops-user' }, `acting as ${this.user} · ${info.workspace}`),
        this.runsSection(runs, notebook),
        this.modelsSection(models.models),
        this.pipelinesSection(pipes),
        this.auditSection(audit.entries)
      );
    } catch (err) {
      this.showError(err);
    }
  }

  private section(title: string, cls: string, ...content: (Node | string)[]): HTMLElement {
    return h('section', { class: `nbops-section ${cls}` }, h('h3', {}, title), ...content);
  }

  private runsSection(page: RunPage, notebook: string | null): HTMLElement {
    const p = pageInfo(page.total, page.offset, page.limit);
    const rows = page.runs.map(r =>
      h(
        'li',
        { class: 'nbops-run', 'data-run-id': r.run_id, title: r.run_id, onclick: () => void this.openRun(r.run_id) },
        h('span', { class: `nbops-status nbops-status-${r.status}` }, r.status === 'finished' ? '●' : '○'),
        h('span', { class: 'nbops-run-name' }, runLabel(r)),
        r.hidden_state ? h('span', { class: 'nbops-hidden', title: `hidden state: ${r.hidden_state}` }, '⚠') : null,
        h('span', { class: 'nbops-dim' }, ` ${formatAge(r.started_at)}`),
        h('div', { class: 'nbops-metrics' }, metricSummary(r.metrics))
      )
    );
    const scope = notebook ? `this notebook (${notebook})` : 'all runs';
    const toggle = button(this.allRuns ? 'This notebook' : 'All runs', () => {
      this.allRuns = !this.allRuns;
      this.offset = 0;
      void this.refreshRuns();
    });
    const pager = h(
      'div',
      { class: 'nbops-pager' },
      p.hasPrev ? button('‹ Prev', () => this.goto(p.prevOffset)) : null,
      h('span', { class: 'nbops-page' }, p.text),
      p.hasNext ? button('Next ›', () => this.goto(p.nextOffset)) : null
    );
    return this.section('Runs', 'nbops-runs', h('div', { class: 'nbops-dim' }, scope, ' ', toggle),
      h('ul', { class: 'nbops-list' }, rows), pager);
  }

  private goto(offset: number): void {
    this.offset = offset;
    void this.refreshRuns();
  }

  /** Reload only the runs section (paging, all runs / this notebook). */
  async refreshRuns(): Promise<void> {
    const current = this.body.querySelector('.nbops-runs');
    if (!current) {
      return this.refresh();
    }
    const gen = ++this.generation;
    try {
      const notebook = this.allRuns ? null : this.host.currentNotebook();
      const runs = await requestAPI<RunPage>('runs', {}, { notebook, offset: this.offset, limit: PAGE_SIZE });
      if (gen === this.generation) {
        current.replaceWith(this.runsSection(runs, notebook));
      }
    } catch (err) {
      this.showError(err);
    }
  }

  private modelsSection(models: ModelRow[]): HTMLElement {
    const items = models.map(m =>
      h(
        'li',
        { class: 'nbops-model', 'data-model': m.name, onclick: () => void this.openModel(m.name) },
        h('span', { class: 'nbops-model-name' }, m.name),
        h('span', { class: 'nbops-dim' }, ` ${m.versions} version(s)`),
        m.aliases ? h('span', { class: 'nbops-chip' }, m.aliases) : null
      )
    );
    return this.section('Models', 'nbops-models', items.length ? h('ul', { class: 'nbops-list' }, items) : 'no registered models');
  }

  private pipelinesSection(p: Pipelines): HTMLElement {
    const scheds = p.schedules.map(s => [
      s.name,
      s.paused ? 'paused' : s.cron ?? 'on data',
      s.next_run ? formatAge(s.next_run).replace(' ago', '') : '',
      button('Run now', () => void this.act(`schedules/${encodeURIComponent(s.name)}/run`, {}, `queued ${s.name}`))
    ]);
    const runs = p.runs.map(r => [r.schedule_name ?? r.notebook.split('/').pop() ?? '', r.status, formatAge(r.started_at), formatDuration(r.duration_ms)]);
    return this.section(
      'Pipelines',
      'nbops-pipelines',
      scheds.length ? table(['schedule', 'when', 'next', ''], scheds) : 'no schedules',
      runs.length ? table(['run', 'status', 'started', 'took'], runs) : ''
    );
  }

  private auditSection(entries: AuditEntry[]): HTMLElement {
    const rows = entries.map(e => [String(e.seq), e.actor, e.action, e.target, formatAge(e.ts)]);
    return this.section('Audit', 'nbops-audit', rows.length ? table(['#', 'who', 'what', 'on', 'when'], rows) : 'empty');
  }

  /** Do an action; show the server's refusal, or refresh on success. */
  async act(path: string, body: Record<string, unknown>, done: string, then?: () => Promise<void>): Promise<void> {
    try {
      await postAPI<ActionResult>(path, body);
      this.showOk(done);
      await (then ? then() : this.refresh());
    } catch (err) {
      this.showError(err);
    }
  }

  private back(): HTMLElement {
    return button('← Back', () => {
      this.clearMessage();
      void this.refresh();
    }, 'nbops-back');
  }

  async openRun(runId: string): Promise<void> {
    try {
      ++this.generation;
      const d = await requestAPI<RunDetails>(`runs/${encodeURIComponent(runId)}`);
      this.inDetail = true;
      this.body.replaceChildren(this.runView(d));
      if (d.run.cell_id) {
        this.host.jumpToCell(d.run.cell_id);
      }
    } catch (err) {
      this.showError(err);
    }
  }

  private runView(d: RunDetails): HTMLElement {
    const r = d.run;
    const latest = new Map(d.metrics.map(m => [m.key, m.value]));
    const arts = (list: RunDetails['outputs']) =>
      list.length
        ? table(['name', 'kind', ''], list.map(a => {
            const ref = artifactRef(a, r.run_id);
            return [ref, a.kind, button('Insert checkout', () => this.insert(ref))];
          }))
        : 'none';
    return h(
      'div',
      { class: 'nbops-detail nbops-run-detail' },
      this.back(),
      h('h3', {}, `Run ${runLabel(r)}`),
      h('div', { class: 'nbops-dim' }, `${r.run_id} · ${r.status} · ${formatDuration(r.duration_ms)} · ${r.user_name}`),
      d.hidden_state ? h('div', { class: 'nbops-hidden-note' }, `⚠ hidden state: ${d.hidden_state}`) : null,
      h('h4', {}, 'Code'),
      h('pre', { class: 'nbops-code' }, h('code', {}, d.code ?? '')),
      h('h4', {}, 'Parameters'),
      table(['name', 'value'], Object.entries(d.params).map(([k, v]) => [k, formatValue(v)])),
      h('h4', {}, 'Metrics'),
      table(['name', 'value'], [...latest.entries()].map(([k, v]) => [k, formatValue(v)])),
      h('h4', {}, 'Inputs'),
      arts(d.inputs),
      h('h4', {}, 'Outputs'),
      arts(d.outputs),
      h('h4', {}, 'Lineage'),
      table(['from', 'relation', 'to'], d.lineage.map(e => [e.src_ref, e.relation, e.dst_ref]))
    );
  }

  private insert(ref: string): void {
    const text = `%nbops checkout ${ref}`;
    if (this.host.insertCode(text)) {
      this.showOk(`inserted: ${text}`);
    } else {
      this.showError('open a notebook to insert into');
    }
  }

  async openModel(name: string): Promise<void> {
    try {
      ++this.generation;
      const m = await requestAPI<ModelDetails>(`models/${encodeURIComponent(name)}`);
      this.inDetail = true;
      this.body.replaceChildren(this.modelView(m));
    } catch (err) {
      this.showError(err);
    }
  }

  private modelView(m: ModelDetails): HTMLElement {
    const alias = h('input', { class: 'nbops-alias jp-mod-styled', value: 'prod', 'aria-label': 'alias' }) as HTMLInputElement;
    const reason = h('input', { class: 'nbops-reason jp-mod-styled', placeholder: 'reason', 'aria-label': 'reason' }) as HTMLInputElement;
    const reload = () => this.openModel(m.name);
    const byVersion = aliasesByVersion(m.aliases);
    const common = () => ({ model: m.name, alias: alias.value, reason: reason.value });
    const versions = m.versions.map(v => [
      `v${v.version}`,
      (byVersion.get(v.version) ?? []).map(a => h('span', { class: 'nbops-chip' }, a)),
      v.status,
      h(
        'span',
        { class: 'nbops-actions' },
        button('Promote', () => void this.act('actions/promote', { ...common(), version: v.version },
          `promoted ${m.name}@v${v.version} to ${alias.value}`, reload), 'nbops-promote'),
        button('Request', () => void this.act('actions/request', { ...common(), version: v.version },
          `requested ${m.name}@v${v.version} → ${alias.value}`, reload), 'nbops-request'),
        button('Checkout', () => this.insert(`${m.name}@v${v.version}`))
      )
    ]);
    const aliases = Object.entries(m.aliases).map(([a, v]) => [
      a, `v${v}`,
      button('Rollback', () => void this.act('actions/rollback', { model: m.name, alias: a, reason: reason.value },
        `rolled back ${m.name}@${a}`, reload), 'nbops-rollback')
    ]);
    const requests = m.requests.map(q => [
      `v${q.version} → ${q.alias}`, q.status, q.requested_by, String(q.approvals),
      q.status === 'pending'
        ? h('span', {},
            button('Approve', () => void this.act('actions/approve', { request_id: q.request_id, comment: reason.value }, 'approved', reload), 'nbops-approve'),
            button('Reject', () => void this.act('actions/reject', { request_id: q.request_id, comment: reason.value }, 'rejected', reload), 'nbops-reject'))
        : ''
    ]);
    return h(
      'div',
      { class: 'nbops-detail nbops-model-detail', 'data-model': m.name },
      this.back(),
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
}
