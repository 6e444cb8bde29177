import {
  IAggregate,
  aggregateText,
  aggregateTitle,
  columnExtent,
  groupLabel,
  groupsFooterText,
  scaleBars
} from '../groups/bars';
import { GroupsModel, IGroupsRequest } from '../groups/model';
import {
  groupByChoices,
  groupCondition,
  groupableMetrics,
  groupsQuery,
  hasTopLevelOr,
  isQueryText,
  metricSpec,
  narrowFilter,
  plainAsQuery,
  plainWords,
  pythonJson,
  queryLiteral
} from '../groups/query';
import { IRunsFilter, quoteString } from '../runlist/query';
import { RefusedQuery, settle } from './runs';

const NOTEBOOK: IRunsFilter = {
  allExperiments: false,
  experiment: null,
  notebook: 'dir/a b.ipynb',
  kernel: 'k-1',
  order: '-metrics.acc.max'
};

describe('groupsQuery', () => {
  it("asks for the list's runs grouped, each metric under its reducer", () => {
    expect(
      groupsQuery(
        { ...NOTEBOOK, filter: ' params.lr < 0.1 ' },
        'params.model',
        [
          { key: 'acc', reducer: 'last' },
          { key: 'loss', reducer: 'min' }
        ]
      )
    ).toBe(
      'runs/groups?group_by=params.model&metrics=acc%2Closs.min' +
        '&notebook=dir%2Fa%20b.ipynb&kernel=k-1&filter=params.lr%20%3C%200.1'
    );
  });

  it('names an experiment scope, a status, and the figure when asked', () => {
    expect(
      groupsQuery(
        {
          allExperiments: true,
          experiment: 'demo & co',
          notebook: 'a.ipynb',
          status: 'finished'
        },
        'tags.`the stage`',
        [],
        { figure: true }
      )
    ).toBe(
      'runs/groups?group_by=tags.%60the%20stage%60' +
        '&experiment=demo%20%26%20co&status=finished&figure=1'
    );
  });

  it('writes a metric as the server reads it back', () => {
    expect(metricSpec('acc', 'last')).toBe('acc');
    expect(metricSpec('acc', 'best')).toBe('acc.best');
    expect(metricSpec('val.acc', 'last')).toBe('`val.acc`');
    expect(metricSpec('val.acc', 'max')).toBe('`val.acc`.max');
    // A key spelled like a reducer keeps its reducer: `min` alone is ambiguous.
    expect(metricSpec('min', 'last')).toBe('min.last');
  });

  it('leaves out what the metrics parameter cannot carry', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({
      key: `m${i}`,
      reducer: 'last' as const
    }));
    expect(groupableMetrics(many)).toHaveLength(20);
    expect(
      groupableMetrics([
        { key: 'a,b', reducer: 'last' },
        { key: 'acc', reducer: 'max' }
      ])
    ).toEqual([{ key: 'acc', reducer: 'max' }]);
  });
});

describe('groupByChoices', () => {
  it('offers the attributes, then the params and tags of the scope', () => {
    expect(
      groupByChoices({ params: ['model', 'a b'], tags: ['stage'] }).map(c => [
        c.kind,
        c.value,
        c.label
      ])
    ).toEqual([
      ['attribute', 'status', 'status'],
      ['attribute', 'experiment', 'experiment'],
      ['attribute', 'source', 'source'],
      ['param', 'params.model', 'model'],
      ['param', 'params.`a b`', 'a b'],
      ['tag', 'tags.stage', 'stage']
    ]);
  });

  it('keeps listing the field grouped by when the scope has no such key', () => {
    const choices = groupByChoices({ params: null, tags: null }, 'params.gone');
    expect(choices[choices.length - 1]).toEqual({
      value: 'params.gone',
      label: 'gone',
      kind: 'param'
    });
    expect(groupByChoices({ params: null, tags: null }, 'status')).toHaveLength(
      3
    );
  });
});

describe('group conditions', () => {
  it('quotes strings, numbers and booleans as the query language reads them', () => {
    expect(groupCondition('params.model', 'rf')).toBe('params.model = "rf"');
    expect(groupCondition('params.seed', 3)).toBe('params.seed = 3');
    expect(groupCondition('params.lr', 0.001)).toBe('params.lr = 0.001');
    expect(groupCondition('params.lr', 1e-7)).toBe('params.lr = 1e-7');
    expect(groupCondition('params.lr', -2.5)).toBe('params.lr = -2.5');
    expect(groupCondition('params.flag', true)).toBe('params.flag = true');
    expect(groupCondition('params.flag', false)).toBe('params.flag = false');
    expect(groupCondition('status', 'finished')).toBe('status = "finished"');
  });

  it('escapes quotes, backslashes and control characters in a string', () => {
    expect(groupCondition('tags.note', 'say "hi" \\ C:\\data')).toBe(
      'tags.note = "say \\"hi\\" \\\\ C:\\\\data"'
    );
    expect(quoteString('a\nb\tc\rd')).toBe('"a\\nb\\tc\\rd"');
    expect(quoteString("it's")).toBe('"it\'s"');
  });

  it('selects the runs without a value with is null', () => {
    expect(groupCondition('tags.stage', null)).toBe('tags.stage is null');
    expect(groupCondition('params.`a b`', null)).toBe('params.`a b` is null');
  });

  it('compares a list or dict param by its JSON text as Python writes it', () => {
    expect(pythonJson([1, 'a', null, true])).toBe('[1, "a", null, true]');
    expect(pythonJson({ a: [1, 2], b: { c: 'd' } })).toBe(
      '{"a": [1, 2], "b": {"c": "d"}}'
    );
    expect(queryLiteral([64, 32])).toBe('"[64, 32]"');
    expect(groupCondition('params.layers', { n: 'x"y' })).toBe(
      'params.layers = "{\\"n\\": \\"x\\\\\\"y\\"}"'
    );
  });

  it('writes a number a bare value cannot spell as the server does', () => {
    expect(queryLiteral(Infinity)).toBe('"inf"');
    expect(queryLiteral(-Infinity)).toBe('"-inf"');
  });
});

describe('narrowFilter', () => {
  const rf = 'params.model = "rf"';

  it('is the condition alone without a filter', () => {
    expect(narrowFilter('', rf)).toBe(rf);
    expect(narrowFilter('   ', rf)).toBe(rf);
  });

  it('adds the condition to a query with and', () => {
    expect(narrowFilter('params.lr < 0.1', rf)).toBe(
      'params.lr < 0.1 and params.model = "rf"'
    );
    expect(narrowFilter('a = 1 and (b = 2 or c = 3)', rf)).toBe(
      'a = 1 and (b = 2 or c = 3) and params.model = "rf"'
    );
  });

  it('parenthesises a filter with a top-level or', () => {
    expect(narrowFilter('status = failed or tags.stage = "x"', rf)).toBe(
      '(status = failed or tags.stage = "x") and params.model = "rf"'
    );
    expect(narrowFilter('a = 1 OR b = 2', rf)).toBe(
      '(a = 1 OR b = 2) and params.model = "rf"'
    );
  });

  it('reads or only as a keyword, not in strings, keys or words', () => {
    expect(hasTopLevelOr('name ~ "this or that"')).toBe(false);
    expect(hasTopLevelOr('params.`x or y` = 1')).toBe(false);
    expect(hasTopLevelOr('params.order = 1 and tags.color = red')).toBe(false);
    expect(hasTopLevelOr('params.or = 1')).toBe(false);
    expect(hasTopLevelOr('(a = 1 or b = 2)')).toBe(false);
    expect(hasTopLevelOr('a = 1 or b = 2')).toBe(true);
    expect(hasTopLevelOr("name ~ 'it\\'s' or b = 2")).toBe(true);
  });

  it('does not add a condition the filter already ends with', () => {
    const once = narrowFilter('params.lr < 0.1', rf);
    expect(narrowFilter(once, rf)).toBe(once);
    expect(narrowFilter(rf, rf)).toBe(rf);
  });

  it('writes plain words as the query they stand for', () => {
    expect(isQueryText('sweep baseline')).toBe(false);
    expect(isQueryText('"a = b"')).toBe(false);
    expect(isQueryText('params.lr')).toBe(true);
    expect(isQueryText('status in (failed)')).toBe(true);
    expect(isQueryText('tags.stage is null')).toBe(true);
    expect(isQueryText('note is not null')).toBe(true);
    expect(plainWords("sweep \"my run\" 'it\\'s' #3")).toEqual([
      'sweep',
      'my run',
      "it's",
      '#3'
    ]);
    expect(plainAsQuery('#3 Failed')).toBe(
      '(name ~ "#3" or experiment ~ "#3" or tags ~ "#3" or number = 3) and ' +
        '(name ~ "Failed" or experiment ~ "Failed" or tags ~ "Failed" or status = failed)'
    );
    expect(narrowFilter('sweep', rf)).toBe(
      '(name ~ "sweep" or experiment ~ "sweep" or tags ~ "sweep") and params.model = "rf"'
    );
  });
});

/** An aggregate with defaults. */
function agg(
  mean: number | null,
  std: number | null,
  min: number | null = mean,
  max: number | null = mean,
  count = mean === null ? 0 : 3
): IAggregate {
  return { count, mean, std, min, max };
}

describe('error bars', () => {
  it('scales every bar of a column across its extent', () => {
    const bars = scaleBars([agg(0.8, 0.05, 0.7, 0.9), agg(0.5, 0.1, 0.4, 0.6)]);
    // The extent: 0.4 (min, and the mean - std) to 0.9 (max).
    expect(
      columnExtent([agg(0.8, 0.05, 0.7, 0.9), agg(0.5, 0.1, 0.4, 0.6)])
    ).toEqual({
      lo: 0.4,
      hi: 0.9
    });
    expect(bars[0]!.mean).toBeCloseTo(0.8);
    expect(bars[0]!.low).toBeCloseTo(0.7);
    expect(bars[0]!.high).toBeCloseTo(0.9);
    expect(bars[0]!.min).toBeCloseTo(0.6);
    expect(bars[0]!.max).toBeCloseTo(1);
    expect(bars[1]!.mean).toBeCloseTo(0.2);
    expect(bars[1]!.low).toBeCloseTo(0);
    expect(bars[1]!.high).toBeCloseTo(0.4);
    expect(bars[1]!.min).toBeCloseTo(0);
  });

  it('widens the extent to a std reaching past the values', () => {
    // Two runs, 0 and 1: the sample std (0.707) reaches past both.
    const spread = agg(0.5, Math.SQRT1_2, 0, 1, 2);
    const extent = columnExtent([spread])!;
    expect(extent.lo).toBeCloseTo(0.5 - Math.SQRT1_2);
    expect(extent.hi).toBeCloseTo(0.5 + Math.SQRT1_2);
    const [bar] = scaleBars([spread]);
    expect(bar!.low).toBe(0);
    expect(bar!.high).toBe(1);
    expect(bar!.mean).toBeCloseTo(0.5);
    expect(bar!.min).toBeGreaterThan(0);
    expect(bar!.max).toBeLessThan(1);
  });

  it('draws a single group with its own spread across the whole column', () => {
    const [bar] = scaleBars([agg(2, 1, 1.5, 2.5)]);
    expect(bar).toEqual({ mean: 0.5, low: 0, high: 1, min: 0.25, max: 0.75 });
  });

  it('puts every mean in the middle when the column has one value', () => {
    expect(scaleBars([agg(0.9, null, 0.9, 0.9, 1)])).toEqual([
      { mean: 0.5, low: 0.5, high: 0.5, min: 0.5, max: 0.5 }
    ]);
    expect(scaleBars([agg(1, 0), agg(1, null)])).toEqual([
      { mean: 0.5, low: 0.5, high: 0.5, min: 0.5, max: 0.5 },
      { mean: 0.5, low: 0.5, high: 0.5, min: 0.5, max: 0.5 }
    ]);
  });

  it('draws no bar for a group without a mean, a std null as no band', () => {
    const bars = scaleBars([
      agg(null, null),
      undefined,
      agg(1, null, 1, 1, 1),
      agg(3, 0.5, 2, 4)
    ]);
    expect(bars[0]).toBeNull();
    expect(bars[1]).toBeNull();
    expect(bars[2]).toEqual({ mean: 0, low: 0, high: 0, min: 0, max: 0 });
    expect(bars[3]).toEqual({
      mean: 2 / 3,
      low: 0.5,
      high: 5 / 6,
      min: 1 / 3,
      max: 1
    });
    expect(scaleBars([agg(null, null)])).toEqual([null]);
    expect(columnExtent([])).toBeNull();
  });

  it('keeps a bar without min and max (an answer that lacks them)', () => {
    const [bar] = scaleBars([agg(1, 1, null, null)]);
    expect(bar).toEqual({ mean: 0.5, low: 0, high: 1, min: null, max: null });
  });
});

describe('group cells', () => {
  it('tells mean ± std, the mean alone for one value, nothing without', () => {
    expect(aggregateText(agg(0.83125, 0.0121, 0.81, 0.85))).toBe(
      '0.8313 \u00b1 0.0121'
    );
    expect(aggregateText(agg(0.9, null, 0.9, 0.9, 1))).toBe('0.9');
    expect(aggregateText(agg(null, null))).toBe('');
    expect(aggregateText(undefined)).toBe('');
  });

  it('puts min, max and how many runs have a value in the tooltip', () => {
    expect(aggregateTitle('loss (min)', agg(0.5, 0.1, 0.4, 0.6, 2), 3)).toBe(
      'loss (min): mean 0.5 \u00b1 0.1 (std)\nmin 0.4 \u00b7 max 0.6\n2 of 3 runs with a value'
    );
    expect(aggregateTitle('acc', agg(0.9, null, 0.9, 0.9, 1), 1)).toBe(
      'acc: 0.9 (one value: no spread)\nmin 0.9 \u00b7 max 0.9\n1 of 1 run with a value'
    );
    expect(aggregateTitle('acc', agg(null, null), 4)).toBe(
      "acc: none of the group's 4 runs has a value"
    );
  });

  it('labels the groups', () => {
    expect(groupLabel(null)).toBe('(none)');
    expect(groupLabel('rf')).toBe('rf');
    expect(groupLabel('')).toBe('""');
    expect(groupLabel(0.00012345)).toBe('0.00012345');
    expect(groupLabel(true)).toBe('True');
    expect(groupLabel([1, 2])).toBe('[1,2]');
  });

  it('counts groups and runs in the footer', () => {
    expect(
      groupsFooterText({
        groups: 2,
        runs: 6,
        loading: false,
        selected: 1,
        updatedAt: '12:00:01'
      })
    ).toBe('2 groups \u00b7 6 runs \u00b7 1 selected \u00b7 updated 12:00:01');
    expect(
      groupsFooterText({
        groups: 1,
        runs: 1,
        loading: true,
        selected: 0,
        updatedAt: ''
      })
    ).toBe('1 group \u00b7 1 run \u00b7 grouping\u2026');
    expect(
      groupsFooterText({
        groups: null,
        runs: null,
        loading: true,
        selected: 0,
        updatedAt: ''
      })
    ).toBe('grouping\u2026');
  });
});

/** A server answering `runs/groups` by hand: each answer released in turn. */
class GroupsServer {
  requests: {
    endPoint: string;
    settle: (answer: unknown, refuse?: boolean) => void;
  }[] = [];

  readonly fetch = (endPoint: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      this.requests.push({
        endPoint,
        settle: (answer, refuse) => (refuse ? reject(answer) : resolve(answer))
      });
    });

  answer(index: number, groups: unknown[] = []): void {
    this.requests[index].settle({
      group_by: 'x',
      metrics: [],
      groups,
      total: groups.length
    });
  }
}

function request(groupBy: string, filter = ''): IGroupsRequest {
  return {
    groupBy,
    query: `runs/groups?group_by=${groupBy}&filter=${filter}`,
    filterText: filter
  };
}

const RF = { value: 'rf', count: 3, metrics: {} };
const SVM = { value: 'svm', count: 3, metrics: {} };

describe('GroupsModel', () => {
  it('shows the last answer of the request, once per request', async () => {
    const server = new GroupsServer();
    const model = new GroupsModel({ fetch: server.fetch });
    let changes = 0;
    model.changed.connect(() => changes++);
    const shown = model.setRequest(request('params.model'));
    expect(model.loading).toBe(true);
    expect(model.answer).toBeNull();
    void model.setRequest(request('params.model'));
    expect(server.requests).toHaveLength(1);
    server.answer(0, [RF, SVM]);
    await shown;
    expect(model.loading).toBe(false);
    expect(model.answer?.groups).toEqual([RF, SVM]);
    expect(changes).toBe(2);
  });

  it('keeps the groups of the same field while another filter is asked', async () => {
    const server = new GroupsServer();
    const model = new GroupsModel({ fetch: server.fetch });
    const first = model.setRequest(request('params.model'));
    server.answer(0, [RF, SVM]);
    await first;
    void model.setRequest(request('params.model', 'a'));
    expect(model.answer?.groups).toEqual([RF, SVM]);
    expect(model.loading).toBe(true);
    // Another field: the old groups do not stand for its groups.
    void model.setRequest(request('status'));
    expect(model.answer).toBeNull();
    // The answer of a request replaced meanwhile is dropped.
    server.answer(1, [RF]);
    await settle();
    expect(model.answer).toBeNull();
    server.answer(2, [SVM]);
    await settle();
    expect(model.answer?.groups).toEqual([SVM]);
  });

  it('keeps the last groups with a refused filter, and does not ask it again', async () => {
    const server = new GroupsServer();
    const model = new GroupsModel({ fetch: server.fetch });
    const first = model.setRequest(request('params.model'));
    server.answer(0, [RF]);
    await first;
    const refused = model.setRequest(request('params.model', 'a <'));
    server.requests[1].settle(
      new RefusedQuery({
        message: 'expected a value',
        reason: 'query',
        query_error: { message: 'expected a value', column: 4, position: 3 }
      }),
      true
    );
    await refused;
    expect(model.queryError).toEqual({
      text: 'a <',
      error: { message: 'expected a value', column: 4, position: 3 }
    });
    expect(model.error).toBeNull();
    expect(model.loading).toBe(false);
    expect(model.answer?.groups).toEqual([RF]);
    await model.setRequest(request('params.model', 'a <'));
    expect(server.requests).toHaveLength(2);
    // Fixed: the error goes with the next answer.
    const fixed = model.setRequest(request('params.model', 'a < 1'));
    expect(model.queryError).toBeNull();
    server.answer(2, [SVM]);
    await fixed;
    expect(model.answer?.groups).toEqual([SVM]);
  });

  it('asks once more after an answer on its way when the store changed', async () => {
    const server = new GroupsServer();
    const model = new GroupsModel({ fetch: server.fetch });
    const first = model.setRequest(request('params.model'));
    void model.refresh();
    void model.refresh();
    expect(server.requests).toHaveLength(1);
    server.answer(0, [RF]);
    await first;
    await settle();
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].endPoint).toBe(server.requests[0].endPoint);
    server.answer(1, [RF, SVM]);
    await settle();
    expect(model.answer?.groups).toEqual([RF, SVM]);
    // Nothing on its way: at once.
    void model.refresh();
    expect(server.requests).toHaveLength(3);
  });

  it('tells a failure apart, and forgets everything out of group mode', async () => {
    const server = new GroupsServer();
    const model = new GroupsModel({ fetch: server.fetch });
    const first = model.setRequest(request('params.model'));
    server.requests[0].settle(new TypeError('Failed to fetch'), true);
    await first;
    expect(model.error).toBeInstanceOf(TypeError);
    expect(model.queryError).toBeNull();
    await model.setRequest(null);
    expect(model.request).toBeNull();
    expect(model.error).toBeNull();
    expect(model.answer).toBeNull();
    await model.refresh();
    expect(server.requests).toHaveLength(1);
  });
});
