import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from '../handler';
import {
  CompareChange,
  CompareModel,
  DEFAULT_CHART_OPTIONS,
  Fetcher,
  IComparison,
  IExplanation,
  IFactor,
  IUsedRow,
  chartQuery,
  compareQuery,
  compareTitle,
  describeDataDiff,
  describePackageDiff,
  describeReducer,
  environmentRecorded,
  attributeUnknown,
  explainHeadline,
  explainQuery,
  explainVerdict,
  explainedText,
  factorValuesText,
  formatAtStep,
  formatChange,
  formatMetric,
  formatPercent,
  formatSigned,
  isLive,
  maxStep,
  outputCutNote,
  parseReducer,
  reducerSpec,
  snapshotDiffQuery,
  stateDiffers,
  stateRows,
  verdictClass,
  visibleRows
} from '../compare/model';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

/** A comparison as the contract's example has it, for runs A, B, C. */
function comparison(overrides: Partial<IComparison> = {}): IComparison {
  return {
    baseline: A,
    runs: [
      {
        id: A,
        number: 3,
        name: null,
        experiment: 'exp',
        status: 'finished',
        label: '#3'
      },
      {
        id: B,
        number: 5,
        name: 'wide',
        experiment: 'exp',
        status: 'finished',
        label: '#5'
      },
      {
        id: C,
        number: 7,
        name: null,
        experiment: 'exp',
        status: 'finished',
        label: '#7'
      }
    ],
    params: [
      {
        key: 'epochs',
        values: [10, 10, 10],
        differs: false,
        changes: [null, 0, 0]
      },
      {
        key: 'optimizer.lr',
        values: [0.1, 0.01, 0.1],
        differs: true,
        changes: [null, -0.09, 0]
      }
    ],
    metrics: [
      {
        key: 'acc',
        reducer: 'last',
        goal: 'max',
        values: [0.91, 0.94, 0.9],
        steps: [9, 9, 9],
        changes: [null, 0.03, -0.01],
        pct_changes: [null, 3.3, -1.1],
        verdicts: [null, 'better', 'worse'],
        differs: true,
        has_series: true,
        max_step: 9
      },
      {
        key: 'loss',
        reducer: 'last',
        goal: 'min',
        values: [0.2, 0.2, 0.2],
        steps: [19, 19, 19],
        changes: [null, 0, 0],
        pct_changes: [null, 0, 0],
        verdicts: [null, 'same', 'same'],
        differs: false,
        has_series: true,
        max_step: 19
      }
    ],
    attributes: [
      {
        key: 'status',
        values: ['finished', 'finished', 'finished'],
        differs: false
      },
      { key: 'python', values: ['3.11', '3.12', '3.11'], differs: true }
    ],
    environment: {
      packages: [
        { name: 'numpy', values: ['1.26.4', '2.0.1', '1.26.4'], differs: true },
        { name: 'pandas', values: ['2.2.2', '2.2.2', '2.2.2'], differs: false }
      ],
      diffs: [
        null,
        {
          added: [{ name: 'x', version: '1.0' }],
          removed: [{ name: 'y', version: '2.0' }],
          changed: [
            { name: 'numpy', from: '1.26.4', to: '2.0.1', grade: 'major' }
          ]
        },
        { added: [], removed: [], changed: [] }
      ]
    },
    code: {
      runs: [
        { cell: 'lr = 0.1', dependencies: null },
        { cell: 'lr = 0.01', dependencies: null },
        { cell: 'lr = 0.1', dependencies: null }
      ],
      diffs: [
        null,
        {
          cell: {
            same: false,
            hunks: [
              {
                header: '@@ -1 +1 @@',
                old_start: 1,
                old_lines: 1,
                new_start: 1,
                new_lines: 1,
                lines: ['-lr = 0.1', '+lr = 0.01']
              }
            ]
          },
          dependencies: { same: true, hunks: [] }
        },
        {
          cell: { same: true, hunks: [] },
          dependencies: { same: true, hunks: [] }
        }
      ]
    },
    data: [],
    used: [],
    outputs: [],
    artifacts: [],
    ...overrides
  };
}

/** With the run `id` running. */
function running(id: string, base = comparison()): IComparison {
  return {
    ...base,
    runs: base.runs.map(run =>
      run.id === id ? { ...run, status: 'running' } : run
    )
  };
}

/** A fetcher answering from a list (the last answer repeats), recording queries. */
function fakeFetcher(
  ...answers: (IComparison | Error)[]
): Fetcher & { queries: string[] } {
  const queries: string[] = [];
  const fetcher = (async (endPoint: string) => {
    queries.push(endPoint);
    const answer = answers.length > 1 ? answers.shift()! : answers[0];
    if (answer instanceof Error) {
      throw answer;
    }
    return answer;
  }) as Fetcher & { queries: string[] };
  fetcher.queries = queries;
  return fetcher;
}

/** Settle pending promise callbacks (fake timers do not run them). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('compareQuery', () => {
  it('lists the runs and only the choices made', () => {
    expect(compareQuery({ runs: [A, B] })).toBe(`compare?runs=${A},${B}`);
    expect(
      compareQuery({
        runs: ['3', '5'],
        baseline: '5',
        reducers: { loss: 'min', acc: 'mean=5' },
        step: 7.4,
        experiment: 'my exp'
      })
    ).toBe(
      'compare?runs=3,5&baseline=5&reducer=acc%3Amean%3D5&reducer=loss%3Amin&step=7&experiment=my%20exp'
    );
  });

  it('encodes run references and metric keys', () => {
    expect(
      compareQuery({
        runs: ['a b', 'c,d'],
        reducers: { 'val/acc:top1': 'best' }
      })
    ).toBe('compare?runs=a%20b,c%2Cd&reducer=val%2Facc%3Atop1%3Abest');
  });

  it('builds the other endpoints', () => {
    expect(explainQuery(A, B, 'val acc')).toBe(
      `compare/explain?a=${A}&b=${B}&metric=val%20acc`
    );
    expect(snapshotDiffQuery('xxh3-128:ab', 'xxh3-128:cd')).toBe(
      'snapshots/xxh3-128%3Aab/diff/xxh3-128%3Acd'
    );
    expect(snapshotDiffQuery('a', 'b', 20)).toBe(
      'snapshots/a/diff/b?sample=20'
    );
  });
});

describe('reducers', () => {
  it('parses the specs the server knows and nothing else', () => {
    expect(parseReducer('last')).toEqual({ kind: 'last', arg: null });
    expect(parseReducer('best')).toEqual({ kind: 'best', arg: null });
    expect(parseReducer('mean=5')).toEqual({ kind: 'mean', arg: 5 });
    expect(parseReducer('step=0')).toEqual({ kind: 'step', arg: 0 });
    expect(parseReducer('mean=0')).toBeNull();
    expect(parseReducer('step=-1')).toBeNull();
    expect(parseReducer('median')).toBeNull();
    expect(parseReducer('mean=')).toBeNull();
  });

  it('writes specs, with defaults for missing arguments', () => {
    expect(reducerSpec('min')).toBe('min');
    expect(reducerSpec('mean', 3)).toBe('mean=3');
    expect(reducerSpec('mean', null)).toBe('mean=5');
    expect(reducerSpec('mean', 0)).toBe('mean=1');
    expect(reducerSpec('step', 12.6)).toBe('step=13');
    expect(describeReducer('mean=3')).toBe('mean of last 3');
    expect(describeReducer('step=9')).toBe('at step 9');
    expect(describeReducer('max')).toBe('max');
  });
});

describe('formatting', () => {
  it('shows a better change green with an up arrow and its percentage', () => {
    expect(formatChange(0.03, 3.3, 'better')).toEqual({
      text: '+0.03 (+3.3%)',
      arrow: '\u25b2',
      className: 'jp-mltrack-compare-better',
      verdict: 'better'
    });
  });

  it('shows a worse drop red with a down arrow', () => {
    const change = formatChange(-0.01, -1.1, 'worse');
    expect(change.text).toBe('\u22120.01 (\u22121.1%)');
    expect(change.arrow).toBe('\u25bc');
    expect(change.className).toBe('jp-mltrack-compare-worse');
  });

  it('a rising loss is worse: the verdict, not the sign, colours it', () => {
    const change = formatChange(0.5, 25, 'worse');
    expect(change.arrow).toBe('\u25b2');
    expect(change.className).toBe('jp-mltrack-compare-worse');
  });

  it('leaves parameters neutral, no change empty, zero the same', () => {
    expect(formatChange(-0.09).className).toBe('jp-mltrack-compare-neutral');
    expect(formatChange(-0.09).text).toBe('\u22120.09');
    expect(formatChange(null).text).toBe('');
    expect(formatChange(undefined).arrow).toBe('');
    expect(formatChange(0, 0, 'same')).toEqual({
      text: '\u00b10',
      arrow: '',
      className: 'jp-mltrack-compare-same',
      verdict: 'same'
    });
    expect(formatChange(0).verdict).toBe('same');
  });

  it('formats signed numbers and percentages', () => {
    expect(formatSigned(1234567)).toBe('+1234567');
    expect(formatSigned(-0.000012)).toBe('\u22121.2e-5');
    expect(formatPercent(250.4)).toBe('+250%');
    expect(formatPercent(-0.04)).toBe('\u22120%');
    expect(formatPercent(Infinity)).toBe('+inf%');
    expect(verdictClass('better')).toBe('jp-mltrack-compare-better');
    expect(verdictClass(null)).toBe('jp-mltrack-compare-neutral');
  });

  it('titles the tab with the run labels', () => {
    expect(compareTitle(comparison().runs)).toBe('Compare #3 #5 #7');
    expect(compareTitle(null, ['x', 'y'])).toBe('Compare 2 runs');
  });

  it('summarises a dataset change', () => {
    expect(
      describeDataDiff('changed', {
        rows: [100, 120],
        schema_changed: true,
        changed_columns: ['x'],
        added_columns: ['z'],
        removed_columns: [],
        drift: [{ column: 'x', psi: 0.3012 }]
      })
    ).toBe(
      'rows 100 \u2192 120 \u00b7 added: z \u00b7 changed: x \u00b7 drift x 0.3'
    );
    expect(describeDataDiff('same', null)).toBe('same content');
    expect(describeDataDiff('missing', null)).toBe('not in this run');
    expect(describeDataDiff('added', null)).toBe('only in this run');
    expect(describeDataDiff('changed', null)).toBe('changed');
  });

  it('lists package changes with their grades', () => {
    expect(describePackageDiff(comparison().environment.diffs[1])).toEqual([
      'numpy 1.26.4 \u2192 2.0.1 (major)',
      '+ x 1.0',
      '\u2212 y 2.0'
    ]);
    expect(describePackageDiff(null)).toEqual([]);
  });

  it('shows NaN and infinities apart from a metric never logged', () => {
    expect(formatMetric(null)).toBe('\u2014');
    expect(formatMetric('nan')).toBe('NaN');
    expect(formatMetric('inf')).toBe('inf');
    expect(formatMetric('-inf')).toBe('-inf');
    expect(formatMetric(0.25)).toBe('0.25');
  });

  it('shows the step a reduced value was taken at', () => {
    // step=100 on a series that stopped at 29: the value at 29, and says so
    const row = {
      ...comparison().metrics[1],
      reducer: 'step=100',
      values: [0.2, 'nan', null] as ('nan' | number | null)[],
      steps: [29, 29, null]
    };
    expect(formatAtStep(row, 0)).toBe(' @29');
    expect(formatAtStep(row, 1)).toBe(' @29');
    expect(formatAtStep(row, 2)).toBe('');
    expect(formatAtStep({ ...row, has_series: false }, 0)).toBe('');
  });

  it('says an environment not recorded yet is unknown, not removed', () => {
    const diff = { unknown: true, added: [], removed: [], changed: [] };
    expect(describePackageDiff(diff)).toEqual([]);
    expect(environmentRecorded([true, false], 1)).toBe(false);
    expect(environmentRecorded([true, false], 0)).toBe(true);
    expect(environmentRecorded(undefined, 1)).toBe(true);
    const python = {
      key: 'python',
      values: ['3.11', null],
      differs: false,
      unknown: [false, true]
    };
    expect(attributeUnknown(python, 1)).toBe(true);
    expect(attributeUnknown(python, 0)).toBe(false);
    expect(attributeUnknown({ ...python, unknown: undefined }, 1)).toBe(false);
  });

  it('says what was cut from a large output', () => {
    expect(outputCutNote(undefined)).toBe('');
    expect(outputCutNote({ chars: 1048576, shown: 20000 })).toBe(
      'First 20,000 of 1,048,576 characters shown; open the run for its full output.'
    );
    expect(
      outputCutNote({ bytes: 300000, mimes: { 'image/png': 300000 } })
    ).toBe(
      'Output of 293.0 KiB left out of the comparison; open the run to see it.'
    );
  });

  it('words an explanation', () => {
    const explanation: IExplanation = {
      metric: 'acc',
      goal: 'max',
      a: { id: A, label: '#3', value: 0.91 },
      b: { id: B, label: '#5', value: 0.94 },
      change: 0.03,
      explained: 0.804,
      sklearn: true,
      runs_considered: 12,
      factors: [],
      groups: [],
      notes: []
    };
    expect(explainedText(explanation)).toBe(
      'The evidence accounts for 80% of the change.'
    );
    expect(explainVerdict(explanation)).toBe('better');
    expect(explainVerdict({ ...explanation, goal: 'min' })).toBe('worse');
    expect(explainHeadline(explanation)).toBe(
      'acc 0.91 \u2192 0.94 (+0.03) from #3 to #5; higher is better'
    );
    expect(explainedText({ ...explanation, explained: null })).toBe(
      'The evidence does not account for the change.'
    );
  });
});

describe('chartQuery', () => {
  it('asks for curves with the chosen axis, smoothing and scale', () => {
    expect(
      chartQuery([A, B], {
        ...DEFAULT_CHART_OPTIONS,
        x: 'relative',
        smoothing: 0.6,
        log: true,
        metrics: ['acc', 'val loss']
      })
    ).toEqual({
      query: `compare/charts?kind=curves&runs=${A},${B}&metrics=acc,val%20loss&x=relative&smoothing=0.6&log=true`
    });
  });

  it('colours parallel coordinates and needs axes for a scatter', () => {
    expect(
      chartQuery([A, B], {
        ...DEFAULT_CHART_OPTIONS,
        kind: 'parallel',
        params: ['lr'],
        color: 'acc'
      })
    ).toEqual({
      query: `compare/charts?kind=parallel&runs=${A},${B}&params=lr&color=acc`
    });
    expect(
      chartQuery([A, B], { ...DEFAULT_CHART_OPTIONS, kind: 'scatter' })
    ).toHaveProperty('missing');
    expect(
      chartQuery([A, B], {
        ...DEFAULT_CHART_OPTIONS,
        kind: 'scatter',
        scatterX: 'params.lr',
        scatterY: 'metrics.acc'
      })
    ).toEqual({
      query: `compare/charts?kind=scatter&runs=${A},${B}&x=params.lr&y=metrics.acc`
    });
  });

  it('asks importance of the runs experiments', () => {
    expect(
      chartQuery(
        [A, B],
        { ...DEFAULT_CHART_OPTIONS, kind: 'importance', color: 'acc' },
        ['e1', 'e 2']
      )
    ).toEqual({
      query:
        'compare/charts?kind=importance&experiment=e1&experiment=e%202&metric=acc'
    });
  });
});

describe('visibleRows', () => {
  it('hides the rows where every run agrees, and counts them', () => {
    const rows = visibleRows(comparison(), true);
    expect(rows.params.map(r => r.key)).toEqual(['optimizer.lr']);
    expect(rows.metrics.map(r => r.key)).toEqual(['acc']);
    expect(rows.attributes.map(r => r.key)).toEqual(['python']);
    expect(rows.packages.map(r => r.name)).toEqual(['numpy']);
    expect(rows.hidden).toBe(4);
    const all = visibleRows(comparison(), false);
    expect(all.params).toHaveLength(2);
    expect(all.hidden).toBe(0);
  });

  it('finds the step slider end and live runs', () => {
    expect(maxStep(comparison())).toBe(19);
    expect(maxStep(null)).toBeNull();
    expect(
      maxStep(
        comparison({
          metrics: comparison().metrics.map(m => ({ ...m, has_series: false }))
        })
      )
    ).toBeNull();
    expect(isLive(comparison())).toBe(false);
    expect(isLive(running(B))).toBe(true);
  });
});

describe('rows of states (datasets, models used)', () => {
  const entry = (version: number) => ({
    ref: 'models:/churn@production',
    how: 'load_model',
    kind: 'model',
    name: 'model',
    source_run_id: A,
    source_number: 3,
    source_experiment: 'exp',
    source_exists: true,
    model: 'churn',
    version,
    digest: `d${version}`
  });
  const rows: IUsedRow[] = [
    {
      key: 'churn',
      entries: [entry(1), entry(1), entry(2)],
      states: [null, 'same', 'changed']
    },
    {
      key: 'features',
      entries: [entry(1), entry(1), entry(1)],
      states: [null, 'same', 'same']
    },
    {
      key: 'encoder',
      entries: [null, null, entry(1)],
      states: [null, null, 'added']
    },
    {
      key: 'scaler',
      entries: [entry(1), null, null],
      states: [null, 'missing', 'missing']
    }
  ];

  it('differs where some run has not the same as the baseline', () => {
    expect(rows.map(stateDiffers)).toEqual([true, false, true, true]);
  });

  it('keeps every row, or only those that differ', () => {
    expect(stateRows(rows, false)).toEqual(rows);
    expect(stateRows(rows, true).map(r => r.key)).toEqual([
      'churn',
      'encoder',
      'scaler'
    ]);
    expect(stateRows(undefined, true)).toEqual([]);
  });
});

describe('factor values', () => {
  const factor = (kind: string, a: unknown, b: unknown): IFactor => ({
    rank: 1,
    kind,
    key: 'k',
    a: a as IFactor['a'],
    b: b as IFactor['b'],
    detail: null,
    status: 'supported',
    score: 1,
    estimate: null,
    evidence: {},
    group: null,
    sentence: ''
  });

  it('shows a parameter, a seed or a package from A to B', () => {
    expect(factorValuesText(factor('param', 0.1, 0.01))).toBe(
      '0.1 \u2192 0.01'
    );
    expect(factorValuesText(factor('package', '1.26', '2.0'))).toBe(
      '1.26 \u2192 2.0'
    );
  });

  it('shows the models used, a dash where a run used none', () => {
    expect(factorValuesText(factor('used', 'churn v1', 'churn v2'))).toBe(
      'churn v1 \u2192 churn v2'
    );
    expect(factorValuesText(factor('used', null, 'churn v2'))).toBe(
      '\u2014 \u2192 churn v2'
    );
  });

  it('shows no values for code, data or an unknown kind', () => {
    expect(factorValuesText(factor('code', 'x', 'y'))).toBe('');
    expect(factorValuesText(factor('data', 'ab12', 'cd34'))).toBe('');
    expect(factorValuesText(factor('later', 1, 2))).toBe('');
  });
});

describe('CompareModel', () => {
  it('needs two runs', () => {
    expect(
      () => new CompareModel({ runs: [A], fetch: fakeFetcher(comparison()) })
    ).toThrow(/at least two/);
  });

  it('loads, and titles itself with the run numbers', async () => {
    const fetch = fakeFetcher(comparison());
    const model = new CompareModel({ runs: [A, B, C], fetch });
    const changes: CompareChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    expect(model.title).toBe('Compare 3 runs');
    await model.refresh();
    expect(fetch.queries).toEqual([`compare?runs=${A},${B},${C}`]);
    expect(model.comparison?.runs).toHaveLength(3);
    expect(model.title).toBe('Compare #3 #5 #7');
    expect(model.baselineId).toBe(A);
    expect(changes).toEqual(['loading', 'comparison']);
    model.dispose();
  });

  it('changes the baseline and asks again', async () => {
    const reordered = comparison({ baseline: C });
    const fetch = fakeFetcher(comparison(), reordered);
    const model = new CompareModel({ runs: [A, B, C], fetch });
    await model.refresh();
    await model.setBaseline(A); // already the baseline: nothing to ask
    expect(fetch.queries).toHaveLength(1);
    await model.setBaseline(C);
    expect(fetch.queries[1]).toBe(`compare?runs=${A},${B},${C}&baseline=${C}`);
    expect(model.baseline).toBe(C);
    expect(model.baselineId).toBe(C);
    model.dispose();
  });

  it('puts the reducer of a metric in the query, and takes it back', async () => {
    const fetch = fakeFetcher(comparison());
    const model = new CompareModel({ runs: [A, B], fetch });
    await model.setReducer('acc', 'max');
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=acc%3Amax`
    );
    await model.setReducer('loss', 'mean=3');
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=acc%3Amax&reducer=loss%3Amean%3D3`
    );
    expect(model.reducers).toEqual({ acc: 'max', loss: 'mean=3' });
    await model.setReducer('acc', 'last');
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=loss%3Amean%3D3`
    );
    await model.setReducer('loss', null);
    expect(fetch.queries.pop()).toBe(`compare?runs=${A},${B}`);
    // Unchanged: no request.
    const count = fetch.queries.length;
    await model.setReducer('loss', 'last');
    expect(fetch.queries).toHaveLength(count);
    model.dispose();
  });

  it('refuses an unknown reducer without asking the server', async () => {
    const fetch = fakeFetcher(comparison());
    const model = new CompareModel({ runs: [A, B], fetch });
    await expect(model.setReducer('acc', 'median')).rejects.toThrow(
      /Unknown reducer/
    );
    expect(fetch.queries).toHaveLength(0);
    expect(model.reducers).toEqual({});
    model.dispose();
  });

  it('moves the step slider', async () => {
    const fetch = fakeFetcher(comparison());
    const model = new CompareModel({ runs: [A, B], fetch });
    await model.setStep(4);
    expect(model.step).toBe(4);
    expect(fetch.queries.pop()).toBe(`compare?runs=${A},${B}&step=4`);
    // At a step, "last" must be asked for explicitly.
    await model.setReducer('acc', 'last');
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=acc%3Alast&step=4`
    );
    await model.setStep(-3);
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=acc%3Alast&step=0`
    );
    await model.setStep(null);
    expect(model.step).toBeNull();
    expect(fetch.queries.pop()).toBe(
      `compare?runs=${A},${B}&reducer=acc%3Alast`
    );
    model.dispose();
  });

  it('filters to differences by default, and shows all on demand', async () => {
    const model = new CompareModel({
      runs: [A, B, C],
      fetch: fakeFetcher(comparison())
    });
    expect(model.rows.params).toEqual([]);
    await model.refresh();
    expect(model.differencesOnly).toBe(true);
    expect(model.rows.params.map(r => r.key)).toEqual(['optimizer.lr']);
    const changes: CompareChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    model.differencesOnly = false;
    model.differencesOnly = false;
    expect(changes).toEqual(['options']);
    expect(model.rows.params.map(r => r.key)).toEqual([
      'epochs',
      'optimizer.lr'
    ]);
    expect(model.rows.hidden).toBe(0);
    model.dispose();
  });

  it('re-renders nothing when a poll brings the same answer', async () => {
    const model = new CompareModel({
      runs: [A, B],
      fetch: fakeFetcher(comparison())
    });
    const changes: CompareChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    await model.refresh();
    await model.refresh();
    expect(changes).toEqual(['loading', 'comparison', 'loading', 'loading']);
    model.dispose();
  });

  it('drops an answer that arrives after a newer one', async () => {
    const resolvers: ((c: IComparison) => void)[] = [];
    const fetch = (<T>() =>
      new Promise<T>(resolve => resolvers.push(resolve as any))) as Fetcher;
    const model = new CompareModel({ runs: [A, B, C], fetch });
    const first = model.refresh();
    const second = model.setBaseline(C);
    resolvers[1](comparison({ baseline: C }));
    await second;
    resolvers[0](comparison());
    await first;
    expect(model.comparison?.baseline).toBe(C);
    model.dispose();
  });

  describe('live polling', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('polls every interval while a run is running, and stops when none is', async () => {
      const fetch = fakeFetcher(running(B), running(B), comparison());
      const model = new CompareModel({
        runs: [A, B],
        fetch,
        pollInterval: 2000
      });
      model.startPolling();
      await model.refresh();
      expect(model.live).toBe(true);
      expect(model.polling).toBe(true);
      expect(fetch.queries).toHaveLength(1);

      jest.advanceTimersByTime(1999);
      expect(fetch.queries).toHaveLength(1);
      jest.advanceTimersByTime(1);
      await flush();
      expect(fetch.queries).toHaveLength(2);

      jest.advanceTimersByTime(2000);
      await flush();
      expect(fetch.queries).toHaveLength(3);
      // The run finished: no more requests.
      expect(model.live).toBe(false);
      expect(model.polling).toBe(false);
      jest.advanceTimersByTime(20000);
      await flush();
      expect(fetch.queries).toHaveLength(3);
      model.dispose();
    });

    it('does not poll finished runs', async () => {
      const fetch = fakeFetcher(comparison());
      const model = new CompareModel({ runs: [A, B], fetch });
      model.startPolling();
      await model.refresh();
      expect(model.polling).toBe(false);
      jest.advanceTimersByTime(10000);
      await flush();
      expect(fetch.queries).toHaveLength(1);
      model.dispose();
    });

    it('stops when closed, even while a run is running', async () => {
      const fetch = fakeFetcher(running(A));
      const model = new CompareModel({ runs: [A, B], fetch });
      model.startPolling();
      await model.refresh();
      expect(model.polling).toBe(true);
      model.dispose();
      expect(model.polling).toBe(false);
      jest.advanceTimersByTime(10000);
      await flush();
      expect(fetch.queries).toHaveLength(1);
      await model.refresh();
      expect(fetch.queries).toHaveLength(1);
    });

    it('keeps polling through a failed request while a run is running', async () => {
      const fetch = fakeFetcher(running(A), new Error('gone away'), running(A));
      const model = new CompareModel({ runs: [A, B], fetch });
      model.startPolling();
      await model.refresh();
      jest.advanceTimersByTime(2000);
      await flush();
      expect(model.error).toBe('gone away');
      expect(model.comparison).not.toBeNull();
      jest.advanceTimersByTime(2000);
      await flush();
      expect(fetch.queries).toHaveLength(3);
      expect(model.error).toBeNull();
      model.dispose();
    });
  });

  describe('errors', () => {
    /** Server settings whose fetch answers `status` with `body`. */
    function serverAnswering(status: number, body: unknown) {
      const requested: string[] = [];
      const settings = ServerConnection.makeSettings({
        baseUrl: 'http://localhost:8888/',
        fetch: (async (input: RequestInfo) => {
          requested.push(typeof input === 'string' ? input : input.url);
          return new Response(JSON.stringify(body), {
            status,
            headers: { 'Content-Type': 'application/json' }
          });
        }) as typeof fetch
      });
      const fetcher = (<T>(endPoint: string) =>
        requestAPI<T>(endPoint, {}, settings)) as Fetcher;
      return { fetcher, requested };
    }

    it("shows the server's message of a 400", async () => {
      const message =
        'unknown reducer "median" for acc: use last, min, max, best, step=N or mean=K';
      const { fetcher, requested } = serverAnswering(400, {
        error: { status: 400, message }
      });
      const model = new CompareModel({ runs: [A, B], fetch: fetcher });
      const changes: CompareChange[] = [];
      model.changed.connect((_, change) => changes.push(change));
      await model.refresh();
      expect(requested[0]).toBe(
        `http://localhost:8888/mltrack/api/compare?runs=${A},${B}`
      );
      expect(model.error).toBe(message);
      expect(model.comparison).toBeNull();
      expect(model.loading).toBe(false);
      expect(changes).toEqual(['loading', 'error']);
      model.dispose();
    });

    it('says which run was not found on a 404', async () => {
      const { fetcher } = serverAnswering(404, {
        error: { status: 404, message: 'no run "42" in experiment "exp"' }
      });
      const model = new CompareModel({ runs: ['42', B], fetch: fetcher });
      await model.refresh();
      expect(model.error).toBe('Not found: no run "42" in experiment "exp"');
      model.dispose();
    });

    it('keeps the last comparison when a later request fails', async () => {
      const fetch = fakeFetcher(comparison(), new Error('too many runs'));
      const model = new CompareModel({ runs: [A, B], fetch });
      await model.refresh();
      await model.setStep(3);
      expect(model.error).toBe('too many runs');
      expect(model.comparison?.baseline).toBe(A);
      model.dispose();
    });
  });
});
