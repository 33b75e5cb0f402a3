import { Widget } from '@lumino/widgets';

import { ApiError, postAPI, requestAPI } from './api';
import { button, h, table } from './dom';
import {
  formatAge,
  formatDuration,
  metricSummary,
  pageInfo,
  refusalText,
  runLabel
} from './format';
import { badgeText, outputNotebookPath, tabCaption } from './observed';
import {
  ActionResult,
  Alerts,
  AlertState,
  AuditEntry,
  ExperimentDetails,
  ExperimentRow,
  Info,
  ModelCard,
  ModelDetails,
  ModelRow,
  OutputNotebook,
  PipelineRun,
  Pipelines,
  RunDetails,
  RunDiff,
  RunPage,
  RunRow
} from './types';
import { modelView } from './modelview';
import { runView } from './runview';
import { alertHistoryView, alertsSection, cardView, experimentsSection, experimentView } from './views';

export const PAGE_SIZE = 50;

export interface PanelHost {
  /** The path of the active notebook, relative to the server root, if any. */
  currentNotebook(): string | null;
  /** Insert a code cell with `text` below the active cell of the active notebook. */
  insertCode(text: string): boolean;
  /** Make the cell with this id the active one, if the active notebook has it. */
  jumpToCell(cellId: string): boolean;
  /** Syntax-highlight `code` of `language` ('python', 'diff') into `el` (plain text if unknown). */
  highlight(code: string, language: string, el: HTMLElement): Promise<void>;
  /** Save `content` as the notebook `path` (through Jupyter's contents API) and open it. */
  openNotebook(path: string, content: Record<string, unknown>): Promise<void>;
}

/** The nbops sidebar: this notebook's runs, alerts, models, experiments, pipelines and the audit log. */
export class NbopsPanel extends Widget {
  private offset = 0;
  private allRuns = false;
  private message: HTMLElement;
  private body: HTMLElement;
  private user = '';
  private inDetail = false;
  // Bumped by every load; a response that comes back after a newer load started is dropped.
  private generation = 0;
  // The runs of the page shown last: what a run's detail view offers to diff with.
  private lastRuns: RunRow[] = [];

  constructor(private host: PanelHost) {
    super();
    this.id = 'nbops-sidebar';
    this.addClass('nbops-panel');
    this.title.caption = tabCaption(0);
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
      const [runs, alerts, models, experiments, pipes, audit] = await Promise.all([
        requestAPI<RunPage>('runs', {}, { notebook, offset: this.offset, limit: PAGE_SIZE }),
        requestAPI<Alerts>('alerts'),
        requestAPI<{ models: ModelRow[] }>('models'),
        requestAPI<{ experiments: ExperimentRow[] }>('experiments'),
        requestAPI<Pipelines>('pipelines', {}, { limit: 10 }),
        requestAPI<{ entries: AuditEntry[] }>('audit', {}, { limit: 10 })
      ]);
      this.setBadge(alerts.firing);
      if (gen !== this.generation) {
        return;
      }
      this.body.replaceChildren(
        h('div', { class: 'nbops-user' }, `acting as ${this.user} · ${info.workspace}`),
        this.runsSection(runs, notebook),
        alertsSection(alerts, {
          ack: rule => void this.act(`alerts/${encodeURIComponent(rule)}/ack`, {}, `acknowledged ${rule}`),
          history: () => this.navigate(() => this.openAlertHistory())
        }),
        this.modelsSection(models.models),
        experimentsSection(experiments.experiments, name => this.navigate(() => this.openExperiment(name))),
        this.pipelinesSection(pipes),
        this.auditSection(audit.entries)
      );
    } catch (err) {
      this.showError(err);
    }
  }

  /** The count of firing alerts on the sidebar's tab (a badge), and in its tooltip. */
  setBadge(firing: number): void {
    const text = badgeText(firing);
    const { ['nbops-alerts']: _old, ...rest } = this.title.dataset;
    this.title.dataset = text ? { ...rest, 'nbops-alerts': text } : rest;
    this.title.caption = tabCaption(firing);
  }

  /** Only the badge (the panel may be hidden): one small request. */
  async refreshBadge(): Promise<void> {
    try {
      this.setBadge((await requestAPI<Alerts>('alerts')).firing);
    } catch {
      // the next refresh shows the error
    }
  }

  private section(title: string, cls: string, ...content: (Node | string)[]): HTMLElement {
    return h('section', { class: `nbops-section ${cls}` }, h('h3', {}, title), ...content);
  }

  private runsSection(page: RunPage, notebook: string | null): HTMLElement {
    this.lastRuns = page.runs;
    const p = pageInfo(page.total, page.offset, page.limit);
    const rows = page.runs.map(r =>
      h(
        'li',
        { class: 'nbops-run', 'data-run-id': r.run_id, title: r.run_id, onclick: () => this.navigate(() => this.openRun(r.run_id)) },
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
        { class: 'nbops-model', 'data-model': m.name, onclick: () => this.navigate(() => this.openModel(m.name)) },
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
    const runs = p.runs.map(r => {
      const name = r.schedule_name ?? r.notebook.split('/').pop() ?? '';
      const open = h('a', { class: 'nbops-open-output', href: '#', title: 'open the output notebook',
        onclick: (ev: Event) => { ev.preventDefault(); void this.openOutput(r); } }, `${name} ↗`);
      return [r.output_key ? open : name, r.status, formatAge(r.started_at), formatDuration(r.duration_ms)];
    });
    return this.section(
      'Pipelines',
      'nbops-pipelines',
      scheds.length ? table(['schedule', 'when', 'next', ''], scheds) : 'no schedules',
      runs.length ? table(['run (output)', 'status', 'started', 'took'], runs) : ''
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



  private insert(ref: string): void {
    const text = `%nbops checkout ${ref}`;
    if (this.host.insertCode(text)) {
      this.showOk(`inserted: ${text}`);
    } else {
      this.showError('open a notebook to insert into');
    }
  }



  /** Open a detail view: `load` fetches, `view` builds it (with a back button to `backTo`). */


  /** Open a detail view: `load` fetches, `view` builds it (its back button returns to `backTo`,
   * default the overview). Background refreshes keep away while it loads; a newer load wins. */
  private async detail<T>(load: () => Promise<T>, view: (data: T, back: HTMLElement) => HTMLElement,
    backTo?: () => Promise<void>): Promise<void> {
    const gen = ++this.generation;
    const wasDetail = this.inDetail;
    this.inDetail = true;
    try {
      const data = await load();
      if (gen === this.generation) {
        const back = backTo ? button('← Back', () => void backTo(), 'nbops-back') : this.back();
        this.body.replaceChildren(view(data, back));
      }
    } catch (err) {
      if (gen === this.generation) {
        this.inDetail = wasDetail;
        this.showError(err);
      }
    }
  }

  /** A click that navigates: the last action's message goes. */
  private navigate(open: () => Promise<void>): void {
    this.clearMessage();
    void open();
  }

  openRun(runId: string): Promise<void> {
    return this.detail(() => requestAPI<RunDetails>(`runs/${encodeURIComponent(runId)}`), (d, back) => {
      const view = runView(d, {
        back,
        lastRuns: this.lastRuns,
        insert: ref => this.insert(ref),
        highlight: (code, language, el) => this.host.highlight(code, language, el),
        diff: other => requestAPI<RunDiff>(`runs/${encodeURIComponent(runId)}`, {}, { diff: other }),
        showError: err => this.showError(err)
      });
      if (d.run.cell_id) {
        this.host.jumpToCell(d.run.cell_id);
      }
      return view;
    });
  }

  openModel(name: string): Promise<void> {
    return this.detail(() => requestAPI<ModelDetails>(`models/${encodeURIComponent(name)}`), (m, back) =>
      modelView(m, {
        back,
        act: (path, body, done, then) => this.act(path, body, done, then),
        insert: ref => this.insert(ref),
        openCard: (model, version) => this.navigate(() => this.openCard(model, version)),
        reload: () => this.openModel(m.name)
      }));
  }

  openExperiment(name: string): Promise<void> {
    return this.detail(() => requestAPI<ExperimentDetails>(`experiments/${encodeURIComponent(name)}`), experimentView);
  }

  openAlertHistory(): Promise<void> {
    return this.detail(async () => (await requestAPI<{ events: AlertState[] }>('alerts/history', {}, { limit: 100 })).events,
      alertHistoryView);
  }

  openCard(model: string, version: number): Promise<void> {
    return this.detail(() => requestAPI<ModelCard>(`models/${encodeURIComponent(model)}/card`, {}, { ref: `${model}@v${version}` }),
      cardView, () => this.openModel(model));
  }

  /** Save a pipeline run's output notebook under nbops-outputs/ and open it in JupyterLab. */
  async openOutput(r: PipelineRun): Promise<void> {
    try {
      const out = await requestAPI<OutputNotebook>(`pipelines/runs/${encodeURIComponent(r.pipeline_run_id)}/notebook`);
      const path = outputNotebookPath(r);
      await this.host.openNotebook(path, out.notebook);
      this.showOk(`opened ${path}`);
    } catch (err) {
      this.showError(err);
    }
  }
}
