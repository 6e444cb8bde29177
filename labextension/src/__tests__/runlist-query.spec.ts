import {
  countQuery,
  effectiveScope,
  isTreeMode,
  keysQuery,
  listKey,
  metricField,
  nextOrder,
  orderDirection,
  quoteKey,
  quoteString,
  runsQuery
} from '../runlist/query';

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

  it('restricts to the chosen experiment, clamps the page size', () => {
    expect(
      runsQuery({
        allExperiments: true,
        experiment: 'demo & co',
        notebook: 'a.ipynb',
        status: 'failed',
        order: 'metrics.acc.max',
        limit: 5000
      })
    ).toBe(
      'runs?experiment=demo%20%26%20co&status=failed&order=metrics.acc.max&limit=1000'
    );
  });

  it('falls back to all experiments without an active notebook', () => {
    const filter = { allExperiments: false, experiment: null, notebook: null };
    expect(effectiveScope(filter)).toEqual({ kind: 'all' });
    expect(runsQuery(filter)).toBe('runs?order=-start_time&limit=100');
  });

  it('sends the filter as typed (trimmed), encoded', () => {
    expect(
      runsQuery({
        allExperiments: true,
        experiment: null,
        notebook: null,
        filter: '  params.lr < 0.01 and name ~ "a&b" '
      })
    ).toBe(
      'runs?filter=params.lr%20%3C%200.01%20and%20name%20~%20%22a%26b%22&order=-start_time&limit=100'
    );
  });

  it('asks for a page of top-level runs, since a revision', () => {
    expect(
      runsQuery(
        { allExperiments: false, experiment: null, notebook: 'a.ipynb' },
        { offset: 200, roots: true, since: '12:x' }
      )
    ).toBe(
      'runs?notebook=a.ipynb&roots=1&order=-start_time&limit=100&offset=200&since=12%3Ax'
    );
  });

  it("asks for a parent's children whatever the scope and filter", () => {
    expect(
      runsQuery(
        {
          allExperiments: false,
          experiment: null,
          notebook: 'a.ipynb',
          kernel: 'k',
          filter: 'x',
          order: 'name',
          limit: 1000
        },
        { parent: 'p1', roots: true }
      )
    ).toBe('runs?parent=p1&order=name&limit=1000');
  });

  it('asks for a page without its total when told to', () => {
    const scope = { allExperiments: false, experiment: null, notebook: 'a' };
    expect(runsQuery(scope, { roots: true, count: false })).toBe(
      'runs?notebook=a&roots=1&order=-start_time&limit=100&count=0'
    );
    expect(runsQuery(scope, { offset: 100, since: '3', count: false })).toBe(
      'runs?notebook=a&order=-start_time&limit=100&offset=100&since=3&count=0'
    );
    // Counted unless told otherwise (what other callers of GET runs expect).
    expect(runsQuery(scope, { count: true })).toBe(
      'runs?notebook=a&order=-start_time&limit=100'
    );
  });
});

describe('countQuery', () => {
  const filter = {
    allExperiments: false,
    experiment: null,
    notebook: 'dir/a b.ipynb',
    kernel: 'k-1',
    status: 'running',
    filter: '  params.lr < 0.01 ',
    order: 'metrics.acc.max',
    limit: 50
  };

  it('selects the runs of the same page query, without order or paging', () => {
    expect(countQuery(filter, { roots: true })).toBe(
      'runs/count?notebook=dir%2Fa%20b.ipynb&kernel=k-1&status=running&filter=params.lr%20%3C%200.01&roots=1'
    );
    // The page query is the count's, then how it is ordered and paged.
    const page = runsQuery(filter, { roots: true, offset: 200, count: false });
    const selection = countQuery(filter, { roots: true }).split('?')[1];
    expect(page.startsWith(`runs?${selection}&order=`)).toBe(true);
  });

  it("counts a parent's children, or every run", () => {
    expect(countQuery(filter, { parent: 'p 1', roots: true })).toBe(
      'runs/count?parent=p%201'
    );
    expect(
      countQuery({ allExperiments: true, experiment: null, notebook: 'a' })
    ).toBe('runs/count');
    expect(
      countQuery({ allExperiments: true, experiment: 'e', notebook: null })
    ).toBe('runs/count?experiment=e');
  });
});

describe('list identity', () => {
  const scope = {
    allExperiments: false,
    experiment: null,
    notebook: 'a.ipynb'
  };

  it('is a tree without a filter, flat with one', () => {
    expect(isTreeMode(scope)).toBe(true);
    expect(isTreeMode({ ...scope, filter: '   ' })).toBe(true);
    expect(isTreeMode({ ...scope, filter: 'sweep' })).toBe(false);
    expect(listKey(scope)).toContain('roots=1');
    expect(listKey({ ...scope, filter: 'sweep' })).not.toContain('roots');
  });

  it('differs by scope, filter and order, not by blanks', () => {
    const keys = new Set([
      listKey(scope),
      listKey({ ...scope, notebook: 'b.ipynb' }),
      listKey({ ...scope, filter: 'x' }),
      listKey({ ...scope, order: 'name' })
    ]);
    expect(keys.size).toBe(4);
    expect(listKey({ ...scope, filter: ' x ' })).toBe(
      listKey({ ...scope, filter: 'x' })
    );
  });

  it('asks runs/keys for the scope', () => {
    expect(keysQuery({ ...scope, kernel: 'k 1' })).toBe(
      'runs/keys?notebook=a.ipynb&kernel=k%201'
    );
    expect(keysQuery(scope)).toBe('runs/keys?notebook=a.ipynb');
    expect(
      keysQuery({ allExperiments: true, experiment: 'e x', notebook: null })
    ).toBe('runs/keys?experiment=e%20x');
    expect(
      keysQuery({ allExperiments: true, experiment: null, notebook: 'a' })
    ).toBe('runs/keys');
  });
});

describe('order fields', () => {
  it('quotes keys that are not plain identifiers', () => {
    expect(quoteKey('acc')).toBe('acc');
    expect(quoteKey('val_loss2')).toBe('val_loss2');
    expect(quoteKey('val.min')).toBe('`val.min`');
    expect(quoteKey('train/loss')).toBe('`train/loss`');
    expect(quoteKey('a`b')).toBe('`a``b`');
    expect(quoteKey('2nd')).toBe('`2nd`');
    expect(quoteKey('and')).toBe('`and`');
    expect(metricField('acc', 'max')).toBe('metrics.acc.max');
    expect(metricField('val.min', 'last')).toBe('metrics.`val.min`.last');
  });

  it('cycles ascending, descending, default', () => {
    expect(nextOrder(null, 'metrics.acc.max')).toBe('metrics.acc.max');
    expect(nextOrder('metrics.acc.max', 'metrics.acc.max')).toBe(
      '-metrics.acc.max'
    );
    expect(nextOrder('-metrics.acc.max', 'metrics.acc.max')).toBeNull();
    expect(nextOrder('-name', 'number')).toBe('number');
    expect(orderDirection('-name', 'name')).toBe('desc');
    expect(orderDirection('name', 'name')).toBe('asc');
    expect(orderDirection('name', 'number')).toBeNull();
  });
});

describe('quoteString', () => {
  it('writes a string that reads back as itself', () => {
    expect(quoteString('rf')).toBe('"rf"');
    expect(quoteString('')).toBe('""');
    expect(quoteString('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(quoteString('x\ny')).toBe('"x\\ny"');
  });
});
