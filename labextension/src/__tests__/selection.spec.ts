import {
  IRunSummary,
  IRunsResponse,
  RunsListModel,
  deletedRuns
} from '../model';
import { MAX_COMPARE, RunSelection } from '../selection';

function run(id: string, number = 1): IRunSummary {
  return {
    id,
    number,
    experiment: 'demo',
    experiment_id: 1,
    name: `run ${id}`,
    status: 'finished',
    start_time: null,
    end_time: null,
    duration: null,
    notebook_path: 'a.ipynb',
    cell_id: null,
    execution_count: null,
    tags: {},
    note: '',
    params: {},
    metrics: {}
  };
}

function answer(
  ids: string[],
  revision: string,
  total = ids.length
): IRunsResponse {
  return {
    runs: ids.map((id, i) => run(id, i + 1)),
    total,
    limit: 100,
    offset: 0,
    revision
  };
}

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
  it('survives refreshes, new runs and a change of filter', () => {
    const model = new RunsListModel();
    model.update(answer(['c', 'b', 'a'], '1'), 'notebook=x');
    model.selection.click(['c', 'b', 'a'], 'b');
    model.selection.click(['c', 'b', 'a'], 'a', { toggle: true });
    // Same revision: skipped; a new run arrives: still selected.
    expect(model.update(answer(['c', 'b', 'a'], '1'), 'notebook=x')).toBe(
      false
    );
    expect(model.update(answer(['d', 'c', 'b', 'a'], '2'), 'notebook=x')).toBe(
      true
    );
    expect(model.selection.ids).toEqual(['b', 'a']);
    // Another notebook's scope hides them: hidden is not deleted.
    model.update(answer(['z'], '2'), 'notebook=y');
    expect(model.selection.ids).toEqual(['b', 'a']);
    // And back.
    model.update(answer(['d', 'c', 'b', 'a'], '2'), 'notebook=x');
    expect(model.selection.ids).toEqual(['b', 'a']);
  });

  it('drops runs that were deleted', () => {
    const model = new RunsListModel();
    model.update(answer(['c', 'b', 'a'], '1'), 'k');
    model.selection.toggleAllVisible(['c', 'b', 'a']);
    model.selection.setAnchor('b');
    model.update(answer(['c', 'a'], '2'), 'k');
    expect(model.selection.ids).toEqual(['c', 'a']);
    // The deleted run was the anchor: a shift-click starts afresh.
    expect(model.selection.anchor).toBeNull();
  });

  it('keeps runs that fell off a page of the list', () => {
    const model = new RunsListModel();
    model.update(answer(['c', 'b', 'a'], '1'), 'k');
    model.selection.click(['c', 'b', 'a'], 'a');
    // 4 runs, 3 shown: `a` fell off the end, it was not deleted.
    model.update(answer(['d', 'c', 'b'], '2', 4), 'k');
    expect(model.selection.ids).toEqual(['a']);
  });

  it('drops a hidden run when the whole store is listed without it', () => {
    const model = new RunsListModel();
    model.update(answer(['a', 'b'], '1'), 'notebook=x');
    model.selection.toggleAllVisible(['a', 'b']);
    model.update(answer(['z'], '1'), 'notebook=y');
    expect(model.selection.ids).toEqual(['a', 'b']);
    // `b` was deleted while hidden; the unscoped listing proves it.
    model.update(answer(['z', 'a'], '2'), 'all', { listsEverything: true });
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

  it('compares only answers to the same filter', () => {
    expect(deletedRuns(prev, { key: 'j', runs: [], total: 0 }).size).toBe(0);
    expect(
      deletedRuns({ key: null, runs: [] }, { key: 'k', runs: [], total: 0 })
        .size
    ).toBe(0);
  });

  it('checks known ids against an unscoped listing', () => {
    expect(
      deletedRuns(prev, { key: 'all', runs: [{ id: 'x' }], total: 1 }, true, [
        'x',
        'y'
      ])
    ).toEqual(new Set(['y']));
  });
});
