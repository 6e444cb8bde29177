import {
  chooseMetricColumns,
  childrenBest,
  isReducer,
  metricHints,
  metricLabel,
  metricOrder,
  metricValue,
  reducerFor
} from '../runlist/columns';
import { summary } from './runs';

describe('reducerFor', () => {
  it("takes the metric's own reducer, else the default, else last", () => {
    const reducers = { loss: 'min', acc: 'max', f1: 'median' };
    expect(reducerFor('loss', reducers, 'last')).toBe('min');
    expect(reducerFor('acc', reducers)).toBe('max');
    // Unknown reducers are ignored.
    expect(reducerFor('f1', reducers, 'best')).toBe('best');
    expect(reducerFor('auc', reducers, 'mean')).toBe('mean');
    expect(reducerFor('auc', reducers, 'nope')).toBe('last');
    expect(reducerFor('constructor', {}, 'last')).toBe('last');
    expect(isReducer('count')).toBe(true);
    expect(isReducer(3)).toBe(false);
  });
});

describe('chooseMetricColumns', () => {
  it('takes the configured metrics as given, deduplicated', () => {
    expect(
      chooseMetricColumns({
        configured: ['loss', 'rmse', 'loss', ''],
        available: ['acc']
      })
    ).toEqual(['loss', 'rmse']);
  });

  it('prefers metrics of the loaded runs, then the scope by name', () => {
    expect(
      chooseMetricColumns({
        available: ['acc', 'auc', 'f1', 'loss'],
        hints: ['loss', 'zeta'],
        max: 3
      })
    ).toEqual(['loss', 'acc', 'auc']);
  });

  it('keeps the columns shown while they exist: a sort does not reshuffle them', () => {
    const previous = ['f1', 'loss', 'acc'];
    expect(
      chooseMetricColumns({
        available: ['acc', 'auc', 'f1', 'loss'],
        hints: ['auc', 'acc'],
        previous
      })
    ).toEqual(previous);
    // One disappeared from the scope: replaced.
    expect(
      chooseMetricColumns({
        available: ['acc', 'auc', 'loss'],
        hints: ['auc'],
        previous
      })
    ).toEqual(['loss', 'acc', 'auc']);
  });

  it('uses the loaded runs alone when the server cannot list keys', () => {
    expect(
      chooseMetricColumns({ available: null, hints: ['acc', 'loss'], max: 1 })
    ).toEqual(['acc']);
    expect(chooseMetricColumns({})).toEqual([]);
  });

  it('gathers hints in list order', () => {
    expect(
      metricHints([
        summary('a', { metrics: { acc: 1, loss: 2 } }),
        summary('b', { metrics: { f1: 1, acc: 1 } })
      ])
    ).toEqual(['acc', 'loss', 'f1']);
  });
});

describe('metric cells', () => {
  const run = summary('a', {
    metrics: { acc: 0.8, loss: null },
    metric_summary: {
      acc: { last: 0.8, min: 0.1, max: 0.9, mean: 0.5, best: 0.9, count: 10 },
      loss: {
        last: null,
        min: null,
        max: null,
        mean: null,
        best: null,
        count: 0
      }
    },
    children: { count: 3, best: { acc: 0.95 } }
  });

  it('shows the metric under the reducer', () => {
    expect(metricValue(run, 'acc', 'max')).toBe(0.9);
    expect(metricValue(run, 'acc', 'count')).toBe(10);
    expect(metricValue(run, 'loss', 'last')).toBeNull();
    expect(metricValue(run, 'f1', 'last')).toBeUndefined();
  });

  it('falls back to the latest value from a server without summaries', () => {
    const old = summary('b', { metrics: { acc: 0.7 } });
    expect(metricValue(old, 'acc', 'last')).toBe(0.7);
    expect(metricValue(old, 'acc', 'max')).toBeUndefined();
  });

  it("gives a parent's best child value", () => {
    expect(childrenBest(run, 'acc', 'last')).toBe(0.95);
    expect(childrenBest(run, 'loss', 'last')).toBeUndefined();
    expect(childrenBest(summary('c'), 'acc', 'last')).toBeUndefined();
  });

  it('takes the reducer of a best given per reducer', () => {
    const parent = summary('p', {
      children: {
        count: 2,
        best: { acc: { last: 0.7, max: 0.9, count: 3 }, loss: null }
      }
    });
    expect(childrenBest(parent, 'acc', 'max')).toBe(0.9);
    expect(childrenBest(parent, 'acc', 'last')).toBe(0.7);
    expect(childrenBest(parent, 'acc', 'mean')).toBeUndefined();
    expect(childrenBest(parent, 'loss', 'min')).toBeNull();
  });

  it('labels and sorts by the reducer', () => {
    expect(metricLabel('acc', 'last')).toBe('acc');
    expect(metricLabel('loss', 'min')).toBe('loss (min)');
    expect(metricOrder('loss', 'min')).toBe('metrics.loss.min');
    expect(metricOrder('val/loss', 'last')).toBe('metrics.`val/loss`.last');
  });
});
