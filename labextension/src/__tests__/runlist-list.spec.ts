import { IListChange, RunsListModel } from '../runlist/list';
import { IRunsFilter } from '../runlist/query';
import { FakeServer, isCount, manyRuns, settle, summary } from './runs';

const SCOPE: IRunsFilter = {
  allExperiments: false,
  experiment: null,
  notebook: 'a.ipynb'
};

/** A model over a fake server holding `n` top-level runs. */
function setup(n = 0, options: { prefetch?: number } = {}) {
  const server = new FakeServer();
  server.runs = manyRuns(n);
  const model = new RunsListModel({
    fetch: server.fetch,
    pageSize: 100,
    prefetch: options.prefetch ?? 0
  });
  const changes: IListChange[] = [];
  model.changed.connect((_, change) => changes.push(change));
  return { server, model, changes };
}

/** The offsets the `runs` requests asked for (no children, no keys). */
function offsets(server: FakeServer): number[] {
  return server
    .runRequests()
    .filter(e => !e.includes('parent='))
    .map(e => Number(new URLSearchParams(e.split('?')[1]).get('offset') ?? 0));
}

/** Ids of rows `first`..`end` (`…` for placeholders). */
function ids(model: RunsListModel, first = 0, end = model.count): string[] {
  return model
    .rows(first, end)
    .map(row => (row.kind === 'run' ? row.run.id : row.kind));
}

describe('RunsListModel: pages', () => {
  it('shows a list once its first page answers, placeholders elsewhere', async () => {
    const { server, model, changes } = setup(2000);
    expect(model.count).toBe(0);
    await model.setFilter(SCOPE);
    expect(changes[0]).toEqual({ reset: true });
    expect(model.total).toBe(2000);
    expect(model.count).toBe(2000);
    expect(model.revision).toBe('1');
    expect(ids(model, 0, 2)).toEqual(['r2000', 'r1999']);
    expect(model.row(1500).kind).toBe('placeholder');
    // An empty filter lists top-level runs; the page comes without its
    // total, counted apart.
    expect(server.runRequests()[0]).toBe(
      'runs?notebook=a.ipynb&roots=1&order=-start_time&limit=100&count=0'
    );
    expect(server.countRequests()).toEqual([
      'runs/count?notebook=a.ipynb&roots=1'
    ]);
  });

  it('fetches only the pages of the view (and the prefetch margin)', async () => {
    const { server, model } = setup(2000, { prefetch: 30 });
    await model.setFilter(SCOPE);
    await model.setView(1000, 1040);
    // Rows 970..1069: pages 9, 10.
    expect(offsets(server).sort((a, b) => a - b)).toEqual([0, 900, 1000]);
    expect(ids(model, 1000, 1001)).toEqual(['r1000']);
    expect(model.row(1200).kind).toBe('placeholder');
  });

  it('asks for a page once while it is in flight', async () => {
    const { server, model } = setup(2000);
    await model.setFilter(SCOPE);
    server.hold = true;
    const a = model.setView(500, 520);
    const b = model.setView(505, 525);
    expect(server.pending()).toHaveLength(1);
    server.release();
    await Promise.all([a, b]);
    expect(offsets(server)).toEqual([0, 500]);
  });

  it('drops the answer of a list replaced before it came', async () => {
    const { server, model } = setup(300);
    server.hold = true;
    const first = model.setFilter({ ...SCOPE, filter: 'r1' });
    const second = model.setFilter({ ...SCOPE, filter: 'r2' });
    // The second list answers first; the first one's answer comes last.
    server.release(r => r.params.get('filter') === 'r2');
    await second;
    expect(model.filter?.filter).toBe('r2');
    server.release();
    await first;
    expect(model.filter?.filter).toBe('r2');
    expect(model.total).toBe(111); // r2, r20..r29, r200..r299
    expect(ids(model, 0, 50).every(id => id.startsWith('r2'))).toBe(true);
  });

  it('never shows a list replaced while it was asked for', async () => {
    const { server, model, changes } = setup(300);
    server.hold = true;
    const first = model.setFilter({ ...SCOPE, filter: 'r1' });
    const second = model.setFilter({ ...SCOPE, filter: 'r2' });
    server.release(r => r.params.get('filter') === 'r1');
    await first;
    expect(model.filter).toBeNull();
    expect(model.count).toBe(0);
    expect(changes).toEqual([]);
    server.release();
    await second;
    expect(model.filter?.filter).toBe('r2');
    expect(changes[0]).toEqual({ reset: true });
  });

  it('keeps the list shown while a new filter is fetched', async () => {
    const { server, model } = setup(300);
    await model.setFilter(SCOPE);
    server.hold = true;
    const pending = model.setFilter({ ...SCOPE, filter: 'r29' });
    expect(model.loading).toBe(true);
    expect(model.count).toBe(300);
    expect(model.treeMode).toBe(true);
    server.release();
    await pending;
    expect(model.loading).toBe(false);
    expect(model.treeMode).toBe(false);
    expect(ids(model)).toEqual([
      'r299',
      'r298',
      'r297',
      'r296',
      'r295',
      'r294',
      'r293',
      'r292',
      'r291',
      'r290',
      'r29'
    ]);
  });

  it('does nothing for the list already shown', async () => {
    const { server, model } = setup(10);
    await model.setFilter(SCOPE);
    await model.setFilter({ ...SCOPE, filter: '  ' });
    expect(server.runRequests()).toHaveLength(1);
  });

  it('sorts on the server: another order is another list', async () => {
    const { server, model } = setup(50);
    server.runs.forEach((run, i) => {
      run.metric_summary = { acc: { max: i % 7 === 0 ? null : (i * 37) % 50 } };
    });
    await model.setFilter({ ...SCOPE, order: '-metrics.acc.max' });
    expect(server.runRequests()[0]).toContain('order=-metrics.acc.max');
    const values = model
      .rows(0, model.count)
      .map(row => (row.kind === 'run' ? row.run.metric_summary!.acc.max : 'x'));
    const numbers = values.filter(v => v !== null) as number[];
    expect(numbers).toEqual(numbers.slice().sort((a, b) => b - a));
    // Nulls last.
    expect(values.slice(numbers.length).every(v => v === null)).toBe(true);
  });
});

describe('RunsListModel: the count', () => {
  it('asks for the first page and the count together, shows the page first', async () => {
    const { server, model, changes } = setup(2000);
    server.hold = true;
    const ready = model.setFilter(SCOPE);
    // Both asked before either answered.
    expect(server.pending().map(r => r.endPoint)).toEqual([
      'runs?notebook=a.ipynb&roots=1&order=-start_time&limit=100&count=0',
      'runs/count?notebook=a.ipynb&roots=1'
    ]);
    server.release(r => !isCount(r));
    await settle();
    // The first page is shown; the list is that page until it is counted.
    expect(changes[0]).toEqual({ reset: true });
    expect(ids(model, 0, 2)).toEqual(['r2000', 'r1999']);
    expect(model.count).toBe(100);
    expect(model.total).toBeNull();
    expect(model.extent).toEqual({ rows: 100, exact: false });
    expect(model.counting).toBe(true);
    // Rows past the first page are not asked for: the list does not reach them.
    await model.setView(80, 110);
    expect(offsets(server)).toEqual([0]);
    server.release();
    await settle();
    expect(model.total).toBe(2000);
    expect(model.count).toBe(2000);
    expect(model.extent).toEqual({ rows: 2000, exact: true });
    expect(model.counting).toBe(false);
    // The list took its length: the page the view reaches into is asked for.
    expect(offsets(server)).toEqual([0, 100]);
    server.release();
    await ready;
    expect(ids(model, 100, 101)).toEqual(['r1900']);
  });

  it('knows a short list from its first page, and counts it still', async () => {
    const { server, model } = setup(7);
    server.hold = true;
    const ready = model.setFilter(SCOPE);
    server.release(r => !isCount(r));
    await settle();
    expect(model.total).toBeNull();
    expect(model.extent).toEqual({ rows: 7, exact: true });
    server.release();
    await ready;
    expect(model.total).toBe(7);
  });

  it('drops a count for a list no longer shown', async () => {
    const { server, model } = setup(300);
    server.hold = true;
    void model.setFilter({ ...SCOPE, filter: 'r1' });
    server.release(r => !isCount(r));
    await settle();
    expect(model.filter?.filter).toBe('r1');
    const replaced = model.setFilter({ ...SCOPE, filter: 'r2' });
    server.release(r => !isCount(r));
    await settle();
    expect(model.filter?.filter).toBe('r2');
    // r1's count (111 runs too: r1, r10..r19, r100..r199) answers first.
    server.release(r => r.params.get('filter') === 'r1');
    await settle();
    expect(model.total).toBeNull();
    server.release();
    await replaced;
    expect(model.total).toBe(111);
    expect(ids(model, 0, 1)).toEqual(['r299']);
  });

  it('drops a count asked before the store changed, and counts again', async () => {
    const { server, model } = setup(2000);
    server.hold = true;
    const ready = model.setFilter(SCOPE);
    server.release(r => !isCount(r));
    await settle();
    const old = server.pending().find(isCount)!;
    server.runs.push(summary('new', { number: 2001 }));
    server.touch();
    const polled = model.poll();
    server.release(r => r.params.has('since'));
    await settle();
    // The poll saw the change: counted again, the old count still out.
    expect(server.countRequests()).toHaveLength(2);
    server.release(r => r === old);
    await settle();
    expect(model.total).toBeNull();
    server.release();
    await Promise.all([ready, polled]);
    expect(model.total).toBe(2001);
    expect(ids(model, 0, 1)).toEqual(['new']);
  });

  it('counts again after the poll finds a change, not otherwise', async () => {
    const { server, model } = setup(2000);
    await model.setFilter(SCOPE);
    await model.poll();
    expect(server.countRequests()).toHaveLength(1);
    server.runs = server.runs.filter(r => r.id !== 'r5');
    server.touch();
    await model.poll();
    expect(server.countRequests()).toHaveLength(2);
    expect(model.total).toBe(1999);
    await model.poll();
    expect(server.countRequests()).toHaveLength(2);
  });

  it('counts a list under a filter with the filter, flat', async () => {
    const { server, model } = setup(300);
    await model.setFilter({ ...SCOPE, filter: 'r29', order: 'name' });
    expect(server.countRequests()).toEqual([
      'runs/count?notebook=a.ipynb&filter=r29'
    ]);
    expect(model.total).toBe(11);
  });

  it('retries a failed count at the next poll tick; the pages never wait', async () => {
    const { server, model } = setup(2000);
    server.failCount = true;
    await model.setFilter(SCOPE);
    expect(ids(model, 0, 1)).toEqual(['r2000']);
    expect(model.total).toBeNull();
    expect(model.extent).toEqual({ rows: 100, exact: false });
    expect(model.counting).toBe(false);
    expect(model.error).toBeNull();
    // A scroll does not ask again: the poll does, once a tick.
    await model.setView(10, 40);
    expect(server.countRequests()).toHaveLength(1);
    await model.poll();
    expect(server.countRequests()).toHaveLength(2);
    expect(model.total).toBeNull();
    server.failCount = false;
    await model.poll();
    expect(server.countRequests()).toHaveLength(3);
    expect(model.total).toBe(2000);
    expect(model.count).toBe(2000);
    await model.poll();
    expect(server.countRequests()).toHaveLength(3);
  });

  it('counts again a count taken before a change its page came after', async () => {
    const server = new FakeServer();
    server.runs = manyRuns(20);
    let added = false;
    const model = new RunsListModel({
      // The first page is read just after a run is added; the count, asked
      // beside it, just before.
      fetch: endPoint => {
        if (added || !endPoint.startsWith('runs?')) {
          return server.fetch(endPoint);
        }
        added = true;
        return Promise.resolve().then(() => {
          server.runs.push(summary('new', { number: 21 }));
          server.touch();
          return server.fetch(endPoint);
        });
      }
    });
    await model.setFilter(SCOPE);
    expect(model.revision).toBe('2');
    expect(model.total).toBe(20); // as counted, one short
    expect(model.count).toBe(21); // the first page holds them all
    // The poll's since sees no change, but the count was not the pages'.
    await model.poll();
    expect(server.countRequests()).toHaveLength(2);
    expect(model.total).toBe(21);
    expect(ids(model, 0, 1)).toEqual(['new']);
  });
});

describe('RunsListModel: a refused query', () => {
  it('keeps the last good list and the error until the filter changes', async () => {
    const { server, model } = setup(20);
    await model.setFilter(SCOPE);
    await model.setFilter({ ...SCOPE, filter: 'params.lr <' });
    expect(model.queryError).toEqual({
      text: 'params.lr <',
      error: { message: 'expected a value', column: 12, position: 11 }
    });
    expect(model.error).toBeNull();
    expect(model.count).toBe(20);
    expect(model.loading).toBe(false);
    // The poll sets the same filter every tick: it is not asked again.
    const asked = server.runRequests().length;
    await model.setFilter({ ...SCOPE, filter: 'params.lr <' });
    await model.poll();
    expect(server.runRequests().filter(e => e.includes('filter=')).length).toBe(
      1
    );
    expect(server.runRequests().length).toBe(asked + 1); // the poll's own
    // Fixed: the error goes, the new list comes.
    await model.setFilter({ ...SCOPE, filter: 'r1' });
    expect(model.queryError).toBeNull();
    expect(model.treeMode).toBe(false);
  });

  it('clears the error when the filter goes back to the list shown', async () => {
    const { model } = setup(20);
    await model.setFilter(SCOPE);
    await model.setFilter({ ...SCOPE, filter: 'a <' });
    expect(model.queryError).not.toBeNull();
    await model.setFilter(SCOPE);
    expect(model.queryError).toBeNull();
  });
});

describe('RunsListModel: the poll', () => {
  it('costs one request with since when nothing changed', async () => {
    const { server, model } = setup(2000);
    await model.setFilter(SCOPE);
    await model.setView(0, 30);
    const before = server.requests.length;
    const changes: IListChange[] = [];
    model.changed.connect((_, c) => changes.push(c));
    await model.poll();
    expect(server.requests.length).toBe(before + 1);
    expect(server.requests[before].endPoint).toContain('since=1');
    expect(changes).toEqual([]);
  });

  it('refetches only the pages in view after a change', async () => {
    const { server, model } = setup(2000);
    await model.setFilter(SCOPE);
    await model.setView(1000, 1030); // loads page 10
    await model.setView(150, 180); // loads page 1
    const before = server.requests.length;
    server.runs.push(summary('new', { number: 2001, name: 'new' }));
    server.touch();
    await model.poll();
    const asked = server.requests.slice(before).map(r => r.endPoint);
    // The poll's page (1, since=1), answered with the change, then the
    // count again and nothing else: page 1 is the only page in view.
    expect(asked).toEqual([
      'runs?notebook=a.ipynb&roots=1&order=-start_time&limit=100&offset=100&since=1&count=0',
      'runs/count?notebook=a.ipynb&roots=1'
    ]);
    expect(model.revision).toBe('2');
    expect(model.total).toBe(2001);
    // Pages out of view are kept (stale) and asked for when seen again.
    expect(model.row(1001).kind).toBe('run');
    await model.setView(1000, 1030);
    expect(server.requests.length).toBe(before + 3);
    await model.poll();
    expect(server.requests.length).toBe(before + 4);
    expect(server.requests[before + 3].endPoint).toContain('since=2');
  });

  it('drops a page that answers after the store changed, and asks again', async () => {
    const { server, model } = setup(500);
    await model.setFilter(SCOPE);
    server.hold = true;
    // Rows 350..449: pages 3 and 4, asked at revision 1.
    const scrolled = model.setView(350, 450);
    const old = server.pending().find(r => r.params.get('offset') === '400')!;
    server.runs.push(summary('late', { number: 9999 }));
    server.touch();
    const polled = model.poll();
    // The poll (page 3, since 1) answers first: the store changed.
    server.release(r => r.params.has('since'));
    await settle();
    // Page 4 is asked again; its new answer comes before the old one.
    server.release(r => r !== old);
    await settle();
    server.release();
    await Promise.all([scrolled, polled]);
    expect(
      server.runRequests().filter(e => e.includes('offset=400'))
    ).toHaveLength(2);
    expect(model.revision).toBe('2');
    // Row 400 is from the new answer: every run moved down by one.
    expect(ids(model, 400, 401)).toEqual(['r101']);
    expect(ids(model, 350, 351)).toEqual(['r151']);
  });

  it('rejects when the server cannot be reached, then recovers', async () => {
    const { server, model } = setup(10);
    await model.setFilter(SCOPE);
    server.offline = true;
    await expect(model.poll()).rejects.toThrow('Failed to fetch');
    expect(model.error).toBeInstanceOf(TypeError);
    server.offline = false;
    await model.poll();
    expect(model.error).toBeNull();
  });

  it('retries the first page of a list that failed to load', async () => {
    const { server, model } = setup(10);
    server.offline = true;
    await model.setFilter(SCOPE);
    expect(model.count).toBe(0);
    server.offline = false;
    await model.poll();
    expect(model.count).toBe(10);
  });
});

describe('RunsListModel: nested runs', () => {
  function nested() {
    const { server, model, changes } = setup(0);
    server.runs = [
      summary('p', { number: 3, name: 'sweep' }),
      summary('c1', { number: 4, name: 'trial 1', parent_run_id: 'p' }),
      summary('c2', { number: 5, name: 'trial 2', parent_run_id: 'p' }),
      summary('g', { number: 6, name: 'grand', parent_run_id: 'c1' }),
      summary('z', { number: 2, name: 'alone' })
    ];
    return { server, model, changes };
  }

  it('lists top-level runs, a parent with its child count', async () => {
    const { model } = nested();
    await model.setFilter(SCOPE);
    expect(ids(model)).toEqual(['p', 'z']);
    expect(model.row(0)).toMatchObject({ childCount: 2, expanded: false });
  });

  it('expands a parent: its children come at once, under it', async () => {
    const { server, model } = nested();
    await model.setFilter(SCOPE);
    await model.toggle('p');
    expect(server.runRequests().pop()).toBe(
      'runs?parent=p&order=-start_time&limit=1000&count=0'
    );
    expect(ids(model)).toEqual(['p', 'c2', 'c1', 'z']);
    expect(model.row(2)).toMatchObject({
      depth: 1,
      parentId: 'p',
      childCount: 1
    });
    await model.toggle('c1');
    expect(ids(model)).toEqual(['p', 'c2', 'c1', 'g', 'z']);
    expect(model.loadedIds()).toEqual(['p', 'c2', 'c1', 'g', 'z']);
    expect(model.find('g')?.name).toBe('grand');
    await model.toggle('p');
    expect(ids(model)).toEqual(['p', 'z']);
    // Shown again from what was fetched.
    const asked = server.requests.length;
    await model.toggle('p');
    expect(ids(model)).toEqual(['p', 'c2', 'c1', 'g', 'z']);
    expect(server.requests.length).toBe(asked);
  });

  it('shows a loading row while children are fetched', async () => {
    const { server, model } = nested();
    await model.setFilter(SCOPE);
    server.hold = true;
    const expanding = model.toggle('p');
    expect(ids(model)).toEqual(['p', 'loading', 'z']);
    server.release();
    await expanding;
    expect(ids(model)).toEqual(['p', 'c2', 'c1', 'z']);
  });

  it('refetches the children of expanded parents when the store changes', async () => {
    const { server, model } = nested();
    await model.setFilter(SCOPE);
    await model.toggle('p');
    server.runs.push(summary('c3', { number: 7, parent_run_id: 'p' }));
    server.touch();
    await model.poll();
    expect(ids(model)).toEqual(['p', 'c3', 'c2', 'c1', 'z']);
    expect(model.row(0)).toMatchObject({ childCount: 3 });
  });

  it('lists matching runs flat under a filter', async () => {
    const { model } = nested();
    await model.setFilter(SCOPE);
    await model.toggle('p');
    await model.setFilter({ ...SCOPE, filter: 'trial' });
    expect(model.treeMode).toBe(false);
    expect(ids(model)).toEqual(['c2', 'c1']);
    expect(model.row(1)).toMatchObject({ depth: 0, expanded: false });
    // Back to the tree: the parent is still expanded.
    await model.setFilter(SCOPE);
    expect(ids(model)).toEqual(['p', 'c2', 'c1', 'z']);
  });
});

describe('RunsListModel: selection and keys', () => {
  it('ranges and selects all over the loaded rows only', async () => {
    const { model } = setup(500);
    await model.setFilter(SCOPE);
    await model.setView(200, 210);
    const loaded = model.loadedIds();
    expect(loaded).toHaveLength(200);
    expect(loaded[100]).toBe('r300');
    model.selection.click(loaded, 'r499');
    model.selection.click(loaded, 'r298', { shift: true });
    // r499..r401 on page 0, r300..r298 on page 2; page 1 is not loaded.
    expect(model.selection.size).toBe(102);
    expect(model.selection.has('r350')).toBe(false);
    model.selection.clear();
    model.selection.toggleAllVisible(model.loadedIds());
    expect(model.selection.size).toBe(200);
  });

  it('keeps a hidden selection, drops a deleted one', async () => {
    const { server, model } = setup(3);
    await model.setFilter(SCOPE);
    model.selection.toggleAllVisible(model.loadedIds());
    await model.setFilter({ ...SCOPE, notebook: 'b.ipynb' });
    expect(model.count).toBe(0);
    expect(model.selection.ids).toEqual(['r3', 'r2', 'r1']);
    await model.setFilter(SCOPE);
    server.runs = server.runs.filter(r => r.id !== 'r2');
    server.touch();
    await model.poll();
    expect(model.selection.ids).toEqual(['r3', 'r1']);
  });

  it('takes a run for deleted only once the list is counted again', async () => {
    const { server, model } = setup(3);
    await model.setFilter(SCOPE);
    model.selection.toggleAllVisible(model.loadedIds());
    server.runs = server.runs.filter(r => r.id !== 'r2');
    server.touch();
    server.hold = true;
    const polled = model.poll();
    server.release(r => !isCount(r));
    await settle();
    // Page 0 of the new revision lacks r2 and says nothing follows: the
    // list shows it at once, but only its count proves the page whole.
    expect(ids(model)).toEqual(['r3', 'r1']);
    expect(model.total).toBe(3);
    expect(model.selection.size).toBe(3);
    server.release();
    await polled;
    expect(model.total).toBe(2);
    expect(model.selection.ids).toEqual(['r3', 'r1']);
  });

  it('does not take a run leaving a filtered list for a deleted one', async () => {
    const { server, model } = setup(3);
    await model.setFilter({ ...SCOPE, filter: 'r' });
    model.selection.toggleAllVisible(model.loadedIds());
    server.runs[0].name = 'x1';
    server.touch();
    await model.poll();
    expect(model.count).toBe(2);
    expect(model.selection.size).toBe(3);
  });

  it("knows the scope's metrics, and asks again when a new one appears", async () => {
    const { server, model } = setup(3);
    await model.setFilter(SCOPE);
    await settle();
    expect(model.metricKeys).toEqual(['acc']);
    server.runs.push(summary('n', { number: 4, metrics: { loss: 1 } }));
    server.touch();
    await model.poll();
    await settle();
    expect(model.metricKeys).toEqual(['acc', 'loss']);
    expect(
      server.requests.filter(r => r.endPoint.startsWith('runs/keys'))
    ).toHaveLength(2);
  });

  it("knows the scope's params and tags, and asks again for a new one", async () => {
    const { server, model } = setup(0);
    server.runs = [
      summary('a', { params: { model: 'rf' }, tags: { stage: 'x' } })
    ];
    await model.setFilter(SCOPE);
    await settle();
    expect(model.paramKeys).toEqual(['model']);
    expect(model.tagKeys).toEqual(['stage']);
    server.runs.push(summary('b', { number: 2, params: { seed: 1 } }));
    server.touch();
    await model.poll();
    await settle();
    expect(model.paramKeys).toEqual(['model', 'seed']);
    expect(
      server.requests.filter(r => r.endPoint.startsWith('runs/keys'))
    ).toHaveLength(2);
  });

  it('does without keys from a server that has none', async () => {
    const { server, model } = setup(3);
    server.noKeys = true;
    await model.setFilter(SCOPE);
    await settle();
    expect(model.metricKeys).toBeNull();
    expect(model.paramKeys).toBeNull();
    expect(model.tagKeys).toBeNull();
    expect(model.error).toBeNull();
  });
});
