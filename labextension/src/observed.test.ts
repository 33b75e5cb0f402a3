import { describe, expect, it } from 'vitest';

import {
  alertClass,
  alertsHeadline,
  alertStateText,
  badgeText,
  comparisonRows,
  decisionClass,
  diffLineClass,
  diffRows,
  formatInterval,
  formatP,
  formatPercent,
  outputNotebookPath,
  tabCaption,
  variantsText
} from './observed';
import { diffCandidates } from './runview';
import { ExperimentComparison, RunRow } from './types';

describe('the alert badge', () => {
  it('shows nothing until an alert fires, then the count, capped at 9+', () => {
    expect(badgeText(0)).toBeNull();
    expect(badgeText(NaN)).toBeNull();
    expect(badgeText(1)).toBe('1');
    expect(badgeText(9)).toBe('9');
    expect(badgeText(12)).toBe('9+');
  });
  it('says it in the tab tooltip too', () => {
    expect(tabCaption(0)).toBe('nbops: runs and models');
    expect(tabCaption(1)).toBe('nbops: runs and models · 1 alert firing');
    expect(tabCaption(3)).toMatch(/3 alerts firing$/);
  });
});

describe('alerts', () => {
  it('names the state and who acknowledged', () => {
    expect(alertStateText({ state: 'firing', actor: 'nbops-monitor' })).toBe('FIRING');
    expect(alertStateText({ state: 'acknowledged', actor: 'dave' })).toBe("ack'd by dave");
    expect(alertStateText({ state: 'resolved', actor: 'nbops-monitor' })).toBe('resolved');
  });
  it('marks firing alerts by severity', () => {
    expect(alertClass({ state: 'firing', severity: 'critical' })).toContain('nbops-severity-critical');
    expect(alertClass({ state: 'firing', severity: null })).toContain('nbops-severity-warning');
    expect(alertClass({ state: 'resolved', severity: 'critical' })).not.toContain('severity');
  });
  it('sums up the section', () => {
    expect(alertsHeadline(0, 0, 0)).toBe('no alert rules');
    expect(alertsHeadline(0, 0, 2)).toBe('2 rules, none firing');
    expect(alertsHeadline(1, 0, 2)).toBe('1 firing · 2 rules');
    expect(alertsHeadline(1, 1, 1)).toBe('1 firing · 1 acknowledged · 1 rule');
  });
});

describe('experiment estimates', () => {
  const c: ExperimentComparison = {
    variant: 'treatment', method: 'two-proportion z-test', n_control: 287, n_treatment: 313,
    control: 0.289198606271777, treatment: 0.6357827476038339, lift: 0.3465841413320569,
    ci: [0.27179502235293956, 0.4213732603111742], relative_lift: 1.1984295007506063,
    relative_ci: [0.759, 1.638], p_value: 1.9e-17, adjusted_p: null, p_always_valid: 3.05e-11,
    cs: [0.2169, 0.4763], significant: true, p_better: 0.99961, expected_loss: 0
  };
  it('formats p-values, shares and intervals', () => {
    expect(formatP(3.05e-11)).toBe('<0.001');
    expect(formatP(0.04567)).toBe('0.0457');
    expect(formatP(null)).toBe('');
    expect(formatPercent(1.1984295)).toBe('+119.8%');
    expect(formatPercent(-0.05)).toBe('-5.0%');
    expect(formatPercent(0.012, false)).toBe('1.2%');
    expect(formatInterval(-0.02, [-0.05, 0.01])).toBe('-0.02 [-0.05, +0.01]');
    expect(formatInterval(0.1, [null, 0.2])).toBe('+0.1 [?, +0.2]');
  });
  it('lays one treatment out as label/value rows: means, lift with CI, relative lift, p, P(better)', () => {
    expect(comparisonRows(c)).toEqual([
      ['units', '287 → 313'],
      ['mean', '0.2892 → 0.6358'],
      ['lift [CI]', '+0.3466 [+0.2718, +0.4214]'],
      ['relative lift', '+119.8%'],
      ['p (always valid)', '<0.001'],
      ['p (fixed horizon)', '<0.001'],
      ['P(better)', '0.9996'],
      ['expected loss', '0']
    ]);
    expect(comparisonRows({ ...c, adjusted_p: 0.0123, p_better: null })[5]).toEqual(['p (fixed horizon)', '0.0123']);
  });
  it('colours the decision', () => {
    expect(decisionClass('winner')).toContain('winner');
    expect(decisionClass('guardrail breached')).toContain('bad');
    expect(decisionClass('SRM: do not trust')).toContain('bad');
    expect(decisionClass('not enough data')).toBe('nbops-decision');
  });
  it('lists variants with their refs and weights', () => {
    expect(variantsText({ variants: { control: 'clf@v1', treatment: 'clf@v2' }, weights: { control: 0.9, treatment: 0.1 } }))
      .toBe('control clf@v1 90% · treatment clf@v2 10%');
    expect(variantsText({ variants: { a: 'm@prod' }, weights: {} })).toBe('a m@prod');
  });
});

describe('run diff', () => {
  const run = (id: string): RunRow => ({ run_id: id, name: id } as RunRow);
  it('offers the next older runs of the page first, never the run itself', () => {
    const page = ['r4', 'r3', 'r2', 'r1'].map(run);
    expect(diffCandidates(page, 'r3').map(r => r.run_id)).toEqual(['r2', 'r1', 'r4']);
    expect(diffCandidates(page, 'r1').map(r => r.run_id)).toEqual(['r4', 'r3', 'r2']);
    expect(diffCandidates(page, 'elsewhere').map(r => r.run_id)).toEqual(['r4', 'r3', 'r2', 'r1']);
    expect(diffCandidates([run('r1')], 'r1')).toEqual([]);
  });
  it('colours the lines of the nbops diff text', () => {
    const text = 'A = run 1 live   B = run 2 train-2\ncode:\n  @@ -1,2 +1,2 @@\n  -alpha = 0.5\n  +C = 10.0\n   x = 1\nparams:\n  C: — → 10.0';
    expect(text.split('\n').map(diffLineClass)).toEqual(
      ['', 'nbops-diff-heading', 'nbops-diff-hunk', 'nbops-diff-del', 'nbops-diff-add', '', 'nbops-diff-heading', '']);
    expect(diffLineClass('--- a')).toBe('');
  });
  it('formats both sides and keeps the changed flag', () => {
    expect(diffRows([{ key: 'C', a: 0.1, b: 10, changed: true }, { key: 'k', a: 'rf', b: 'rf', changed: false }]))
      .toEqual([['C', '0.1', '10', true], ['k', 'rf', 'rf', false]]);
    expect(diffRows([{ key: 'only_b', a: null, b: 2, changed: true }])).toEqual([['only_b', '', '2', true]]);
  });
});

describe('pipeline output notebooks', () => {
  it('opens under nbops-outputs/, named after the schedule or the notebook', () => {
    expect(outputNotebookPath({ pipeline_run_id: 'abc123', notebook: '/w/nb/train.ipynb', schedule_name: 'nightly' }))
      .toBe('nbops-outputs/nightly-abc123.ipynb');
    expect(outputNotebookPath({ pipeline_run_id: 'abc123', notebook: '/w/nb/my train.ipynb', schedule_name: null }))
      .toBe('nbops-outputs/my_train-abc123.ipynb');
  });
});
