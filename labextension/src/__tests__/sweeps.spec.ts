import { IRunSummary } from '../model';
import {
  bestText,
  isSweep,
  sweepChartQuery,
  sweepSummary,
  sweepTitle,
  trialCountsText,
  trialNumber
} from '../sweeps/sweep';
import { summary } from './runs';

/** A sweep's run as the server lists it. */
function sweep(overrides: Partial<IRunSummary> = {}): IRunSummary {
  return summary('s', {
    name: 'lr-search',
    source: 'sweep',
    tags: { 'mltrack.sweep': 'lr-search' },
    params: { metric: 'acc', goal: 'max', 'space.lr': 'loguniform(1e-4, 0.1)' },
    metrics: {},
    children: {
      count: 20,
      best: { acc: { last: 0.93, max: 0.95 } },
      statuses: { pruned: 3, finished: 15, failed: 2 }
    },
    ...overrides
  });
}

/** A trial of the sweep. */
function trial(number: string): IRunSummary {
  return summary(`t${number}`, {
    name: '',
    source: 'sweep',
    parent_run_id: 's',
    tags: { 'mltrack.sweep': 'lr-search', 'mltrack.trial': number }
  });
}

describe('sweeps in the runs list', () => {
  it('tells a sweep from its trials and from other runs', () => {
    expect(isSweep(sweep())).toBe(true);
    expect(isSweep(trial('3'))).toBe(false);
    expect(isSweep(summary('n'))).toBe(false);
    expect(sweepSummary(summary('n'))).toBeNull();
    expect(trialNumber(trial('3'))).toBe(3);
    expect(trialNumber(trial('x'))).toBeNull();
    expect(trialNumber(sweep())).toBeNull();
    // a notebook run with the tag is not a trial
    expect(
      trialNumber(summary('n', { tags: { 'mltrack.trial': '1' } }))
    ).toBeNull();
  });

  it('counts the trials by status, failures before pruned, finished left out', () => {
    const s = sweepSummary(sweep())!;
    expect(s.name).toBe('lr-search');
    expect(s.statuses).toEqual([
      ['finished', 15],
      ['pruned', 3],
      ['failed', 2]
    ]);
    expect(trialCountsText(s)).toBe(
      '20 trials \u00b7 2 failed \u00b7 3 pruned'
    );
    const one = sweepSummary(
      sweep({ children: { count: 1, best: {}, statuses: { running: 1 } } })
    )!;
    expect(trialCountsText(one)).toBe('1 trial \u00b7 1 running');
    // an older server sends no statuses: the count alone
    const old = sweepSummary(sweep({ children: { count: 4, best: {} } }))!;
    expect(trialCountsText(old)).toBe('4 trials');
  });

  it("shows the sweep's own best value, else its best trial's", () => {
    expect(bestText(sweepSummary(sweep())!)).toBe('best acc 0.93');
    const own = sweep({ metrics: { 'best.acc': 0.94 } });
    expect(bestText(sweepSummary(own)!)).toBe('best acc 0.94');
    const none = sweep({ children: { count: 2, best: {}, statuses: {} } });
    expect(bestText(sweepSummary(none)!)).toBe('');
    const noMetric = sweep({ params: {} });
    expect(sweepSummary(noMetric)!.metric).toBeNull();
    expect(bestText(sweepSummary(noMetric)!)).toBe('');
  });

  it('says it all in the tooltip', () => {
    expect(sweepTitle(sweepSummary(sweep())!)).toBe(
      'Sweep lr-search: maximise acc; 20 trials: 15 finished, 3 pruned, 2 failed; best acc 0.93'
    );
    const min = sweepSummary(
      sweep({
        params: { metric: 'loss', goal: 'min' },
        children: { count: 0, best: {} }
      })
    )!;
    expect(sweepTitle(min)).toBe('Sweep lr-search: minimise loss; 0 trials');
  });

  it('names the sweep by its tag, its name or its number', () => {
    expect(sweepSummary(sweep({ name: 'other' }))!.name).toBe('lr-search');
    expect(sweepSummary(sweep({ tags: {}, name: 'named' }))!.name).toBe(
      'named'
    );
    expect(sweepSummary(sweep({ tags: {}, name: '', number: 7 }))!.name).toBe(
      '#7'
    );
  });

  it("asks the server for a sweep's charts", () => {
    expect(sweepChartQuery('sweep_history', 'abc')).toBe(
      'compare/charts?kind=sweep_history&sweep=abc'
    );
    expect(sweepChartQuery('sweep_importance', 'a b')).toBe(
      'compare/charts?kind=sweep_importance&sweep=a+b'
    );
  });
});
