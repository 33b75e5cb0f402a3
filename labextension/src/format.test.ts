import { describe, expect, it } from 'vitest';

import {
  aliasesByVersion,
  artifactRef,
  checkoutLine,
  formatAge,
  formatDuration,
  formatValue,
  metricSummary,
  pageInfo,
  refusalText,
  runLabel
} from './format';

describe('formatAge', () => {
  const now = new Date('2026-01-02T12:00:00Z');
  it('says seconds, minutes, hours, then the date', () => {
    expect(formatAge('2026-01-02T11:59:48Z', now)).toBe('12s ago');
    expect(formatAge('2026-01-02T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAge('2026-01-02T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAge('2025-12-24T09:00:00Z', now)).toBe('2025-12-24');
  });
  it('passes through what it cannot parse', () => {
    expect(formatAge('yesterday', now)).toBe('yesterday');
    expect(formatAge(null, now)).toBe('');
  });
});

describe('values', () => {
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12345)).toBe('12.3 s');
    expect(formatDuration(125000)).toBe('2 min 5 s');
    expect(formatDuration(null)).toBe('');
  });
  it('keeps 4 significant digits', () => {
    expect(formatValue(0.912345)).toBe('0.9123');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(1.5e-7)).toBe('1.500e-7');
    expect(formatValue('rf')).toBe('rf');
    expect(formatValue(null)).toBe('');
  });
  it('summarizes metrics by name, at most three', () => {
    expect(metricSummary({ loss: 0.2, acc: 0.91 })).toBe('acc=0.91 · loss=0.2');
    expect(metricSummary({ a: 1, b: 2, c: 3, d: 4 })).toBe('a=1 · b=2 · c=3 · +1');
  });
  it('labels runs by name or short id', () => {
    expect(runLabel({ run_id: '0123456789ab', name: null })).toBe('01234567');
    expect(runLabel({ run_id: '0123456789ab', name: 'train' })).toBe('train');
  });
});

describe('pageInfo', () => {
  it('pages through 10,000 runs', () => {
    expect(pageInfo(10000, 0, 50)).toEqual({
      text: '1–50 of 10000', hasPrev: false, hasNext: true, prevOffset: 0, nextOffset: 50
    });
    const last = pageInfo(10000, 9950, 50);
    expect(last.text).toBe('9951–10000 of 10000');
    expect(last.hasNext).toBe(false);
    expect(last.prevOffset).toBe(9900);
  });
  it('says when there is nothing', () => {
    expect(pageInfo(0, 0, 50).text).toBe('no runs');
    expect(pageInfo(0, 0, 50).hasNext).toBe(false);
  });
});

describe('actions', () => {
  it('builds the checkout line', () => {
    expect(checkoutLine('clf@v3')).toBe('%nbops checkout clf@v3');
    expect(checkoutLine('abc/clf', 'model')).toBe('%nbops checkout abc/clf as model');
    expect(artifactRef({ name: 'clf', version: 3 }, 'abc')).toBe('clf@v3');
    expect(artifactRef({ name: 'clf', version: null }, 'abc')).toBe('abc/clf');
  });
  it('shows a refusal with its violations and hint', () => {
    const text = refusalText(403, {
      error: 'cannot promote clf@v2: 1 unmet requirement(s):\n  - needs 1 approval',
      hint: 'see `nbops policy show`',
      violations: ['needs 1 approval']
    });
    expect(text).toBe(
      'Refused: cannot promote clf@v2: 1 unmet requirement(s):\n• needs 1 approval\nHint: see `nbops policy show`'
    );
    expect(refusalText(409, { error: 'stale' })).toBe('Conflict: stale');
  });
  it('groups aliases by version', () => {
    expect(aliasesByVersion({ staging: 3, prod: 2, canary: 3 })).toEqual(
      new Map([[3, ['canary', 'staging']], [2, ['prod']]])
    );
  });
});
