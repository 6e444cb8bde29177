import { RunsListModel, deletedRuns } from '../runlist/list';
import { IRunsFilter } from '../runlist/query';
import { MAX_COMPARE, RunSelection } from '../selection';
import { FakeServer, summary } from './runs';

const VISIBLE = ['a', 'b', 'c', 'd', 'e', 'f'];

describe('RunSelection: clicks', () => {
  it('toggles one run per plain or ctrl/cmd click, in selection order', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'c');
    selection.click(VISIBLE, 'a', { toggle: true });
    expect(selection.ids).toEqual(['c', 'a']);
    expect(selection.anchor).toBe('a');
    selection.click(VISIBLE, 'c', { toggle: true });
    expect(selection.ids).toEqual(['a']);
    expect(selection.has('c')).toBe(false);
    expect(selection.size).toBe(1);
  });

  it('selects a range from the anchor with shift, in either direction', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'b');
    selection.click(VISIBLE, 'e', { shift: true });
    expect(selection.ids).toEqual(['b', 'c', 'd', 'e']);
    // The anchor stays: a second shift-click re-extends from b, upwards,
    // keeping what was selected.
    selection.click(VISIBLE, 'a', { shift: true });
    expect(selection.ids.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(selection.anchor).toBe('b');
  });

  it('ranges follow the visible order, not the selection order', () => {
    const selection = new RunSelection();
    const sorted = ['f', 'd', 'b', 'a', 'c', 'e'];
    selection.click(sorted, 'd');
    selection.click(sorted, 'c', { shift: true });
    expect(selection.ids.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a range without a visible anchor selects just the clicked run', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'c', { shift: true });
    expect(selection.ids).toEqual(['c']);
    expect(selection.anchor).toBe('c');
    // The anchor was filtered away: start again from the clicked run.
    selection.setAnchor('zzz');
    selection.click(VISIBLE, 'e', { shift: true });
    expect(selection.ids).toEqual(['c', 'e']);
    expect(selection.anchor).toBe('e');
    // A run that is not visible cannot be range-selected.
    selection.click(VISIBLE, 'hidden', { shift: true });
    expect(selection.ids).toEqual(['c', 'e']);
  });

  it('a plain row click (open) moves the anchor without selecting', () => {
    const selection = new RunSelection();
    selection.setAnchor('b');
    expect(selection.size).toBe(0);
    selection.click(VISIBLE, 'd', { shift: true });
    expect(selection.ids).toEqual(['b', 'c', 'd']);
  });
});

describe('RunSelection: select all visible', () => {
  it('selects every visible run, then deselects them', () => {
    const selection = new RunSelection();
    expect(selection.allVisibleState(VISIBLE)).toBe('none');
    selection.click(VISIBLE, 'b');
    expect(selection.allVisibleState(VISIBLE)).toBe('some');
    selection.toggleAllVisible(VISIBLE);
    expect(selection.allVisibleState(VISIBLE)).toBe('all');
    expect(selection.size).toBe(VISIBLE.length);
    selection.toggleAllVisible(VISIBLE);
    expect(selection.allVisibleState(VISIBLE)).toBe('none');
    expect(selection.size).toBe(0);
  });

  it('leaves hidden selected runs alone', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'a');
    selection.click(VISIBLE, 'f');
    const filtered = ['b', 'c'];
    selection.toggleAllVisible(filtered);
    expect(selection.ids).toEqual(['a', 'f', 'b', 'c']);
    selection.toggleAllVisible(filtered);
    expect(selection.ids).toEqual(['a', 'f']);
    // An empty list has nothing selected.
    expect(selection.allVisibleState([])).toBe('none');
  });

  it('clears everything', () => {
    const selection = new RunSelection();
    selection.toggleAllVisible(VISIBLE);
    selection.clear();
    expect(selection.size).toBe(0);
    expect(selection.anchor).toBeNull();
  });
});

describe('RunSelection: compare button and target', () => {
  it('is disabled under 2 runs and over the maximum', () => {
    const selection = new RunSelection();
    expect(selection.buttonState()).toMatchObject({
      count: 0,
      enabled: false,
      label: 'Compare (0)'
    });
    selection.click(VISIBLE, 'a');
    expect(selection.buttonState().enabled).toBe(false);
    expect(selection.buttonState().title).toMatch(/at least 2/);
    selection.click(VISIBLE, 'b');
    expect(selection.buttonState()).toMatchObject({
      count: 2,
      enabled: true,
      label: 'Compare (2)'
    });
    const many = Array.from({ length: MAX_COMPARE + 1 }, (_, i) => `r${i}`);
    selection.clear();
    selection.toggleAllVisible(many.slice(0, MAX_COMPARE));
    expect(selection.buttonState().enabled).toBe(true);
    selection.toggleAllVisible(many);
    expect(selection.buttonState()).toMatchObject({
      count: MAX_COMPARE + 1,
      enabled: false
    });
    expect(selection.buttonState().title).toMatch(/deselect 1$/);
  });

  it('compares the selection, first selected as baseline', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'c');
    selection.click(VISIBLE, 'a');
    expect(selection.compareTarget()).toEqual({
      runs: ['c', 'a'],
      baseline: 'c'
    });
  });

  it('compares a right-clicked run with the selection, as baseline', () => {
    const selection = new RunSelection();
    selection.click(VISIBLE, 'c');
    // Not selected itself: added in front.
    expect(selection.compareTarget('e')).toEqual({
      runs: ['e', 'c'],
      baseline: 'e'
    });
    expect(selection.buttonState('e').enabled).toBe(true);
    // Selected itself: moved to the front, not duplicated.
    selection.click(VISIBLE, 'e');
    selection.click(VISIBLE, 'a');
    expect(selection.compareTarget('e')).toEqual({
      runs: ['e', 'c', 'a'],
      baseline: 'e'
    });
    // Alone, it has nothing to be compared with.
    selection.clear();
    selection.click(VISIBLE, 'e');
    expect(selection.buttonState('e').enabled).toBe(false);
  });
});

describe('the selection in the runs list model', () => {
  const X: IRunsFilter = {
    allExperiments: false,
    experiment: null,
    notebook: 'x.ipynb'
  };
  const Y: IRunsFilter = { ...X, notebook: 'y.ipynb' };

  /** A store of runs `ids` (newest first) in notebook x, and a model over it. */
  function setup(ids: string[], pageSize = 100) {
    const server = new FakeServer();
    server.runs = ids.map((id, i) =>
      summary(id, { number: ids.length - i, notebook_path: 'x.ipynb' })
    );
    const model = new RunsListModel({ fetch: server.fetch, pageSize });
    return { server, model };
  }

  it('survives refreshes, new runs and a change of scope', async () => {
    const { server, model } = setup(['c', 'b', 'a']);
    await model.setFilter(X);
    model.selection.click(model.loadedIds(), 'b');
    model.selection.click(model.loadedIds(), 'a', { toggle: true });
    await model.poll();
    // A new run arrives: still selected.
    server.runs.unshift(summary('d', { number: 4, notebook_path: 'x.ipynb' }));
    server.touch();
    await model.poll();
    expect(model.loadedIds()).toEqual(['d', 'c', 'b', 'a']);
    expect(model.selection.ids).toEqual(['b', 'a']);
    // Another notebook's scope hides them: hidden is not deleted.
    await model.setFilter(Y);
    await model.poll();
    expect(model.loadedIds()).toEqual([]);
    expect(model.selection.ids).toEqual(['b', 'a']);
    // And back.
    await model.setFilter(X);
    expect(model.selection.ids).toEqual(['b', 'a']);
  });

  it('drops runs that were deleted', async () => {
    const { server, model } = setup(['c', 'b', 'a']);
    await model.setFilter(X);
    model.selection.toggleAllVisible(model.loadedIds());
    model.selection.setAnchor('b');
    server.runs = server.runs.filter(run => run.id !== 'b');
    server.touch();
    await model.poll();
    expect(model.selection.ids).toEqual(['c', 'a']);
    // The deleted run was the anchor: a shift-click starts afresh.
    expect(model.selection.anchor).toBeNull();
  });

  it('keeps runs that fell off the first page of the list', async () => {
    const { server, model } = setup(['c', 'b', 'a'], 3);
    await model.setFilter(X);
    model.selection.click(model.loadedIds(), 'a');
    // 4 runs, 3 on the first page: `a` fell off the end, it was not deleted.
    server.runs.unshift(summary('d', { number: 4, notebook_path: 'x.ipynb' }));
    server.touch();
    await model.setView(0, 2);
    await model.poll();
    expect(model.total).toBe(4);
    expect(model.selection.ids).toEqual(['a']);
  });
});

describe('deletedRuns', () => {
  const prev = { key: 'k', runs: [{ id: 'a' }, { id: 'b' }] };

  it('needs a complete answer', () => {
    expect(
      deletedRuns(prev, { key: 'k', runs: [{ id: 'a' }], total: 1 })
    ).toEqual(new Set(['b']));
    expect(
      deletedRuns(prev, { key: 'k', runs: [{ id: 'a' }], total: 2 }).size
    ).toBe(0);
  });

  it('compares only answers to the same list', () => {
    expect(deletedRuns(prev, { key: 'j', runs: [], total: 0 }).size).toBe(0);
    expect(
      deletedRuns({ key: null, runs: [] }, { key: 'k', runs: [], total: 0 })
        .size
    ).toBe(0);
  });
});
