import {
  IRunCard,
  IRunSummary,
  IRunsResponse,
  RunsListModel,
  describeDelta,
  effectiveScope,
  filterKey,
  formatDuration,
  formatNumber,
  formatTags,
  formatTimestamp,
  formatValue,
  lowerIsBetter,
  matchesSearch,
  parseTags,
  pickKeyMetrics,
  runCardDeltas,
  runCardDeltasText,
  runsQuery,
  sortRuns,
  sparklinePoints,
  statusClass
} from '../model';

function run(overrides: Partial<IRunSummary> = {}): IRunSummary {
  return {
    id: 'a'.repeat(32),
    number: 1,
    experiment: 'quickstart',
    experiment_id: 1,
    name: 'baseline',
    status: 'finished',
    start_time: '2026-11-23T13:05:00+00:00',
    end_time: '2026-11-23T13:05:01.230000+00:00',
    duration: 1.23,
    notebook_path: 'examples/quickstart.ipynb',
    cell_id: 'cell-1',
    execution_count: 3,
    tags: {},
    note: '',
    params: {},
    metrics: {},
    ...overrides
  };
}

function response(
  runs: IRunSummary[],
  revision: string,
  total = runs.length
): IRunsResponse {
  return { runs, total, limit: 100, offset: 0, revision };
}

describe('runsQuery', () => {
  it('adds the active kernel to a notebook scope only', () => {
    expect(
      runsQuery({
        allExperiments: false,
        experiment: null,
        notebook: 'dir/a b.ipynb',
        kernel: 'k-1'
      })
    ).toBe(
      'runs?notebook=dir%2Fa%20b.ipynb&kernel=k-1&order=-start_time&limit=100'
    );
    expect(
      runsQuery({
        allExperiments: true,
        experiment: 'exp',
        notebook: 'a.ipynb',
        kernel: 'k-1'
      })
    ).toBe('runs?experiment=exp&order=-start_time&limit=100');
  });

  it('filters by the active notebook by default', () => {
    expect(
      runsQuery({
        allExperiments: false,
        experiment: 'ignored',
        notebook: 'dir/My Notebook.ipynb'
      })
    ).toBe(
      'runs?notebook=dir%2FMy%20Notebook.ipynb&order=-start_time&limit=100'
    );
  });

  it('lists every experiment when toggled', () => {
    expect(
      runsQuery({ allExperiments: true, experiment: null, notebook: 'a.ipynb' })
    ).toBe('runs?order=-start_time&limit=100');
  });

  it('restricts to the chosen experiment', () => {
    expect(
      runsQuery({
        allExperiments: true,
        experiment: 'demo & co',
        notebook: 'a.ipynb',
        status: 'failed',
        order: 'metrics.acc',
        limit: 5000
      })
    ).toBe(
      'runs?experiment=demo%20%26%20co&status=failed&order=metrics.acc&limit=1000'
    );
  });

  it('falls back to all experiments without an active notebook', () => {
    const filter = { allExperiments: false, experiment: null, notebook: null };
    expect(effectiveScope(filter)).toEqual({ kind: 'all' });
    expect(runsQuery(filter)).toBe('runs?order=-start_time&limit=100');
  });

  it('gives different keys to different filters', () => {
    const a = filterKey({
      allExperiments: false,
      experiment: null,
      notebook: 'a.ipynb'
    });
    const b = filterKey({
      allExperiments: false,
      experiment: null,
      notebook: 'b.ipynb'
    });
    expect(a).not.toBe(b);
  });
});

describe('RunsListModel', () => {
  it('renders the first answer and skips an unchanged revision', () => {
    const model = new RunsListModel();
    expect(model.revision).toBeNull();
    expect(model.update(response([run()], '1:t1'), 'k')).toBe(true);
    expect(model.runs).toHaveLength(1);
    expect(model.revision).toBe('1:t1');
    // Same revision, same filter: nothing to do, even if the payload object differs.
    expect(model.update(response([run(), run()], '1:t1'), 'k')).toBe(false);
    expect(model.runs).toHaveLength(1);
  });

  it('re-renders on a new revision', () => {
    const model = new RunsListModel();
    model.update(response([run()], '1:t1'), 'k');
    expect(
      model.update(response([run({ id: 'b', number: 2 }), run()], '2:t2'), 'k')
    ).toBe(true);
    expect(model.runs.map(r => r.number)).toEqual([2, 1]);
    expect(model.find('b')?.number).toBe(2);
    expect(model.find('zzz')).toBeUndefined();
  });

  it('re-renders when the filter changes with the same revision', () => {
    const model = new RunsListModel();
    model.update(response([run()], '1:t1'), 'notebook=a');
    expect(model.update(response([], '1:t1'), 'notebook=b')).toBe(true);
    expect(model.runs).toEqual([]);
    expect(model.key).toBe('notebook=b');
  });

  it('re-renders after invalidate', () => {
    const model = new RunsListModel();
    model.update(response([run()], '1:t1', 7), 'k');
    expect(model.total).toBe(7);
    model.invalidate();
    expect(model.update(response([run()], '1:t1'), 'k')).toBe(true);
  });

  it('does not alias the server array', () => {
    const model = new RunsListModel();
    const runs = [run()];
    model.update(response(runs, 'r'), 'k');
    runs.push(run());
    expect(model.runs).toHaveLength(1);
  });
});

describe('pickKeyMetrics', () => {
  const runs = [
    run({ metrics: { acc: 0.9, loss: 0.2 } }),
    run({ metrics: { f1: 0.5, acc: 0.8, auc: 0.7 } })
  ];

  it('prefers the configured metrics, deduplicated', () => {
    expect(pickKeyMetrics(runs, ['loss', 'rmse', 'loss'])).toEqual([
      'loss',
      'rmse'
    ]);
  });

  it('takes the union of the first metric keys in list order', () => {
    expect(pickKeyMetrics(runs)).toEqual(['acc', 'loss', 'f1']);
    expect(pickKeyMetrics(runs, [], 2)).toEqual(['acc', 'loss']);
    expect(pickKeyMetrics(runs, [], 10)).toEqual(['acc', 'loss', 'f1', 'auc']);
  });

  it('is empty without metrics', () => {
    expect(pickKeyMetrics([run()])).toEqual([]);
  });
});

describe('formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(0.4204)).toBe('420 ms');
    expect(formatDuration(1.234)).toBe('1.23 s');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(-1)).toBe('0 ms');
  });

  it('formats timestamps in local time (TZ=UTC in jest)', () => {
    const now = new Date('2026-11-23T18:00:00Z');
    expect(formatTimestamp('2026-11-23T13:05:09.123456+00:00', now)).toBe(
      '13:05:09'
    );
    expect(formatTimestamp('2026-11-20T08:03:00+00:00', now)).toBe(
      '2026-11-20 08:03'
    );
    expect(formatTimestamp(null, now)).toBe('—');
    expect(formatTimestamp('not a date', now)).toBe('not a date');
  });

  it('shows NaN for null and trims floats', () => {
    expect(formatValue(null)).toBe('NaN');
    expect(formatValue(0.93)).toBe('0.93');
    expect(formatValue(0.123456789)).toBe('0.1235');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(1234.5678)).toBe('1235');
    expect(formatValue(0.00001234)).toBe('1.234e-5');
    expect(formatValue(true)).toBe('True');
    expect(formatValue('l2')).toBe('l2');
    expect(formatValue([1, 'a'])).toBe('[1,"a"]');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatNumber(Infinity)).toBe('inf');
    expect(formatNumber(NaN)).toBe('NaN');
  });

  it('maps statuses to badge classes', () => {
    expect(statusClass('failed')).toBe('jp-mltrack-status-failed');
    expect(statusClass('weird')).toBe('jp-mltrack-status-unknown');
  });

  it('formats and parses tags', () => {
    expect(formatTags({ baseline: '', lr: '0.1' })).toEqual([
      'baseline',
      'lr=0.1'
    ]);
    expect(parseTags(' baseline , lr = 0.1,, =x')).toEqual({
      baseline: '',
      lr: '0.1'
    });
    expect(parseTags(formatTags({ a: 'b=c', d: '' }).join(', '))).toEqual({
      a: 'b=c',
      d: ''
    });
  });
});

describe('deltas', () => {
  it('knows which metrics are better lower', () => {
    expect(lowerIsBetter('val_loss')).toBe(true);
    expect(lowerIsBetter('RMSE')).toBe(true);
    expect(lowerIsBetter('mean_error')).toBe(true);
    expect(lowerIsBetter('accuracy')).toBe(false);
  });

  it('describes a delta with direction and improvement', () => {
    expect(describeDelta('accuracy', -0.02)).toEqual({
      metric: 'accuracy',
      text: '\u22120.02',
      direction: 'down',
      improved: false
    });
    expect(describeDelta('loss', -0.1)).toMatchObject({
      direction: 'down',
      improved: true
    });
    expect(describeDelta('acc', 0.05)).toMatchObject({
      text: '+0.05',
      direction: 'up',
      improved: true
    });
    expect(describeDelta('acc', 0)).toMatchObject({
      text: '±0',
      improved: null
    });
    expect(describeDelta('acc', null)).toMatchObject({
      text: 'NaN',
      direction: 'unknown',
      improved: null
    });
  });

  const card: IRunCard = {
    run_id: 'x',
    number: 4,
    experiment: 'quickstart',
    name: 'baseline',
    status: 'finished',
    duration: 1.23,
    metrics: { accuracy: 0.93, loss: 0.3 },
    best: { run_id: 'y', number: 2, metrics: { accuracy: 0.95, loss: 0.4 } },
    deltas: { loss: -0.1, accuracy: -0.02 }
  };

  it('orders card deltas like the metrics', () => {
    expect(runCardDeltas(card).map(d => d.metric)).toEqual([
      'accuracy',
      'loss'
    ]);
  });

  it('writes the run-card deltas text', () => {
    expect(runCardDeltasText(card)).toBe(
      'vs #2: accuracy \u22120.02 \u25bc, loss \u22120.1 \u25bc'
    );
    expect(runCardDeltasText({ ...card, best: null, deltas: null })).toBe(
      'first run of "quickstart"'
    );
    expect(runCardDeltasText({ ...card, deltas: {} })).toBe(
      'best earlier run: #2'
    );
  });
});

describe('sortRuns and matchesSearch', () => {
  const runs = [
    run({ id: '1', number: 1, name: 'b', duration: 3, metrics: { acc: 0.5 } }),
    run({ id: '2', number: 2, name: 'a', duration: null, metrics: {} }),
    run({ id: '3', number: 3, name: 'c', duration: 1, metrics: { acc: 0.9 } })
  ];

  it('sorts ascending and descending with missing values last', () => {
    expect(sortRuns(runs, 'name').map(r => r.id)).toEqual(['2', '1', '3']);
    expect(sortRuns(runs, '-number').map(r => r.id)).toEqual(['3', '2', '1']);
    expect(sortRuns(runs, 'duration').map(r => r.id)).toEqual(['3', '1', '2']);
    expect(sortRuns(runs, '-metrics.acc').map(r => r.id)).toEqual([
      '3',
      '1',
      '2'
    ]);
    expect(sortRuns(runs, 'metrics.acc').map(r => r.id)).toEqual([
      '1',
      '3',
      '2'
    ]);
  });

  it('matches name, number and tags', () => {
    const r = run({ number: 12, name: 'Baseline', tags: { lr: '0.1' } });
    expect(matchesSearch(r, '')).toBe(true);
    expect(matchesSearch(r, 'base')).toBe(true);
    expect(matchesSearch(r, '#12')).toBe(true);
    expect(matchesSearch(r, 'lr=0.1 base')).toBe(true);
    expect(matchesSearch(r, 'lr=0.2')).toBe(false);
  });
});

describe('sparklinePoints', () => {
  it('scales a series into the box, higher values higher up', () => {
    expect(sparklinePoints([0, 1, 2], 10, 10, 0)).toBe('0,10 5,5 10,0');
  });

  it('skips nulls and needs two finite values', () => {
    expect(sparklinePoints([1, null, 3], 10, 10, 0)).toBe('0,10 10,0');
    expect(sparklinePoints([1, null], 10, 10, 0)).toBe('');
    expect(sparklinePoints([], 10, 10, 0)).toBe('');
  });

  it('draws a flat series in the middle', () => {
    expect(sparklinePoints([2, 2], 10, 20, 1)).toBe('1,10 9,10');
  });
});
