// Pure formatting and paging helpers of the sidebar (unit-tested with vitest).

import { ApiErrorBody, RunRow } from './types';

/** "12s ago", "5 min ago", "3 h ago", or the date for older times. */
export function formatAge(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return '';
  }
  const t = new Date(iso);
  if (isNaN(t.getTime())) {
    return iso;
  }
  const s = Math.max(0, Math.round((now.getTime() - t.getTime()) / 1000));
  if (s < 60) {
    return `${s}s ago`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ago`;
  }
  return t.toISOString().slice(0, 10);
}

/** 850 -> "850 ms", 12345 -> "12.3 s", 125000 -> "2 min 5 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms - m * 60000) / 1000)} s`;
}

/** A metric or parameter value, short: 4 significant digits for floats. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      return String(v);
    }
    const abs = Math.abs(v);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "acc=0.91 · loss=0.2" for the first `max` metrics, sorted by name. */
export function metricSummary(metrics: Record<string, number>, max = 3): string {
  const keys = Object.keys(metrics).sort();
  const shown = keys.slice(0, max).map(k => `${k}=${formatValue(metrics[k])}`);
  if (keys.length > max) {
    shown.push(`+${keys.length - max}`);
  }
  return shown.join(' · ');
}

/** The label of a run in the list: its name, or its id's first 8 characters. */
export function runLabel(run: Pick<RunRow, 'run_id' | 'name'>): string {
  return run.name || run.run_id.slice(0, 8);
}

export interface PageInfo {
  text: string;
  hasPrev: boolean;
  hasNext: boolean;
  prevOffset: number;
  nextOffset: number;
}

/** Paging state: "1–50 of 10000", and where prev/next go. */
export function pageInfo(total: number, offset: number, limit: number): PageInfo {
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(total, offset + limit);
  return {
    text: total === 0 ? 'no runs' : `${first}–${last} of ${total}`,
    hasPrev: offset > 0,
    hasNext: offset + limit < total,
    prevOffset: Math.max(0, offset - limit),
    nextOffset: offset + limit
  };
}

/** The line "Insert checkout" puts into the notebook. */
export function checkoutLine(ref: string, asName?: string): string {
  return asName ? `%nbops checkout ${ref} as ${asName}` : `%nbops checkout ${ref}`;
}

/** An artifact's reference: `name@vN`, or `RUN/name` when it has no version. */
export function artifactRef(a: { name: string; version: number | null }, runId: string): string {
  return a.version !== null && a.version !== undefined ? `${a.name}@v${a.version}` : `${runId}/${a.name}`;
}

/** What the UI shows for a refused or failed action. */
export function refusalText(status: number, body: ApiErrorBody): string {
  const head =
    status === 403 ? 'Refused' : status === 409 ? 'Conflict' : status === 404 ? 'Not found' : 'Error';
  const lines = [`${head}: ${body.error.split('\n')[0]}`];
  for (const v of body.violations ?? []) {
    lines.push(`• ${v}`);
  }
  if (body.hint) {
    lines.push(`Hint: ${body.hint}`);
  }
  return lines.join('\n');
}

/** Aliases per version from `{alias: version}`: `{2: ['prod'], 3: ['staging']}`. */
export function aliasesByVersion(aliases: Record<string, number>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [alias, v] of Object.entries(aliases).sort()) {
    out.set(v, [...(out.get(v) ?? []), alias]);
  }
  return out;
}
