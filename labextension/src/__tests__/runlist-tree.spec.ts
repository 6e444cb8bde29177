import { IRunSummary } from '../model';
import { FlatTree, ITreeSource, ListRow } from '../runlist/tree';
import { summary } from './runs';

/** A parent run with `n` children. */
function parent(id: string, n: number): IRunSummary {
  return summary(id, { children: { count: n, best: {} } });
}

/** A tree source over sparse top-level rows. */
function source(
  total: number,
  roots: { [index: number]: IRunSummary },
  expanded: string[] = [],
  children: { [id: string]: IRunSummary[] | null } = {}
): ITreeSource {
  return {
    total,
    root: index => roots[index],
    loadedRoots: () =>
      Object.keys(roots)
        .map(Number)
        .sort((a, b) => a - b)
        .map(i => [i, roots[i]] as [number, IRunSummary]),
    isExpanded: id => expanded.includes(id),
    children: id => children[id]
  };
}

/** A row as a short string: `id@depth`, `…` (placeholder), `loading`. */
function show(row: ListRow): string {
  if (row.kind === 'run') {
    return `${row.run.id}@${row.depth}`;
  }
  return row.kind === 'loading' ? 'loading' : '\u2026';
}

describe('FlatTree', () => {
  it('has a placeholder for every row whose page is not loaded', () => {
    const tree = new FlatTree(source(5, { 0: summary('a'), 1: summary('b') }));
    expect(tree.count).toBe(5);
    expect(tree.rows(0, 5).map(show)).toEqual([
      'a@0',
      'b@0',
      '\u2026',
      '\u2026',
      '\u2026'
    ]);
    expect(tree.row(3)).toEqual({
      kind: 'placeholder',
      index: 3,
      depth: 0,
      rootIndex: 3
    });
  });

  it('inserts the children of expanded parents after them', () => {
    const tree = new FlatTree(
      source(
        100_000,
        {
          0: summary('a'),
          1: parent('p', 2),
          2: summary('c'),
          50_000: parent('q', 1)
        },
        ['p', 'q'],
        { p: [summary('p1'), summary('p2')], q: [summary('q1')] }
      )
    );
    expect(tree.count).toBe(100_003);
    expect(tree.rows(0, 6).map(show)).toEqual([
      'a@0',
      'p@0',
      'p1@1',
      'p2@1',
      'c@0',
      '\u2026'
    ]);
    // Far down the list, the rows past both expansions are shifted by 2, then 3.
    expect(tree.row(50_002).kind).toBe('run');
    expect(show(tree.row(50_002))).toBe('q@0');
    expect(show(tree.row(50_003))).toBe('q1@1');
    expect(tree.row(50_004)).toMatchObject({
      kind: 'placeholder',
      rootIndex: 50_001
    });
    expect(tree.row(100_002)).toMatchObject({ rootIndex: 99_999 });
    expect(tree.rootIndexOf(3)).toBe(1);
    expect(tree.rootIndexOf(4)).toBe(2);
    expect(tree.rootIndexOf(50_003)).toBe(50_000);
    expect(tree.indexOfRoot(2)).toBe(4);
    expect(tree.indexOfRoot(50_001)).toBe(50_004);
    const p = tree.row(1);
    expect(p).toMatchObject({ kind: 'run', expanded: true, childCount: 2 });
    expect(tree.row(2)).toMatchObject({ parentId: 'p', rootIndex: 1 });
  });

  it('nests expansions at any depth', () => {
    const tree = new FlatTree(
      source(2, { 0: parent('p', 2), 1: summary('z') }, ['p', 'c1'], {
        p: [parent('c1', 1), summary('c2')],
        c1: [summary('g1')]
      })
    );
    expect(tree.rows(0, tree.count).map(show)).toEqual([
      'p@0',
      'c1@1',
      'g1@2',
      'c2@1',
      'z@0'
    ]);
    expect(tree.indexOf('g1')).toBe(2);
    expect(tree.indexOf('z')).toBe(4);
    expect(tree.indexOf('nope')).toBe(-1);
    expect(tree.loadedIds()).toEqual(['p', 'c1', 'g1', 'c2', 'z']);
  });

  it('shows one loading row while children are fetched', () => {
    const tree = new FlatTree(
      source(2, { 0: parent('p', 3), 1: summary('z') }, ['p'], { p: null })
    );
    expect(tree.rows(0, tree.count).map(show)).toEqual([
      'p@0',
      'loading',
      'z@0'
    ]);
    expect(tree.row(1)).toMatchObject({
      kind: 'loading',
      parentId: 'p',
      depth: 1
    });
  });

  it('ignores expansion of runs without children, and collapsed parents', () => {
    const tree = new FlatTree(
      source(2, { 0: summary('a'), 1: parent('p', 2) }, ['a'], {
        p: [summary('p1'), summary('p2')]
      })
    );
    expect(tree.count).toBe(2);
    expect(tree.row(1)).toMatchObject({ expanded: false, childCount: 2 });
  });

  it('survives a cycle in bad data', () => {
    const a = parent('a', 1);
    const tree = new FlatTree(source(1, { 0: a }, ['a'], { a: [a] }));
    expect(tree.count).toBe(1);
  });

  it('is empty before anything is known', () => {
    const tree = new FlatTree(source(0, {}));
    expect(tree.count).toBe(0);
    expect(tree.rows(0, 10)).toEqual([]);
    expect(tree.loadedIds()).toEqual([]);
  });
});
