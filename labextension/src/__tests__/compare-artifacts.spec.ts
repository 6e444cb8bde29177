import {
  CompareModel,
  Fetcher,
  IArtifactRow,
  IArtifactSide,
  ICompareRun,
  artifactSideText,
  artifactStatusText,
  diffCounts,
  fileChangesText,
  tableChangeText,
  visibleArtifacts
} from '../compare/model';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

const RUNS: ICompareRun[] = [A, B, C].map((id, i) => ({
  id,
  number: 3 + 2 * i,
  name: null,
  experiment: 'exp',
  status: 'finished',
  label: `#${3 + 2 * i}`
}));

function side(overrides: Partial<IArtifactSide> = {}): IArtifactSide {
  return {
    kind: 'text',
    size: 1536,
    file_count: 1,
    media_type: 'text/plain',
    files: [{ path: 'report.md', digest: 'xxh3-128:1', size: 1536 }],
    model: null,
    ...overrides
  };
}

function row(overrides: Partial<IArtifactRow> = {}): IArtifactRow {
  return {
    name: 'report.md',
    kind: 'text',
    view: 'text',
    status: 'same',
    runs: [side(), side(), side()],
    states: [null, 'same', 'same'],
    file_changes: [null, null, null],
    text_diffs: [null, null, null],
    images: [null, null, null],
    ...overrides
  };
}

describe('artifact rows', () => {
  it('shows only the artifacts that differ, unless asked for all', () => {
    const same = row({ name: 'same.txt' });
    const changed = row({ name: 'changed.txt', status: 'changed' });
    const missing = row({ name: 'missing.txt', status: 'missing' });
    const rows = [same, changed, missing];
    expect(visibleArtifacts(rows, true)).toEqual([changed, missing]);
    expect(visibleArtifacts(rows, false)).toEqual(rows);
    expect(visibleArtifacts(undefined, true)).toEqual([]);
  });

  it('says where an artifact changed or is missing', () => {
    expect(artifactStatusText(row(), RUNS)).toBe('same bytes in every run');
    expect(
      artifactStatusText(
        row({ status: 'changed', states: [null, 'same', 'changed'] }),
        RUNS
      )
    ).toBe('changed in #7');
    expect(
      artifactStatusText(
        row({
          status: 'missing',
          runs: [null, side(), side()],
          states: [null, 'added', 'added']
        }),
        RUNS
      )
    ).toBe('missing in #3');
    expect(
      artifactStatusText(
        row({
          status: 'missing',
          runs: [side(), null, side()],
          states: [null, 'missing', 'changed']
        }),
        RUNS
      )
    ).toBe('missing in #5; changed in #7');
  });

  it('words what a run holds', () => {
    expect(artifactSideText(null)).toBe('\u2014');
    expect(artifactSideText(side())).toBe('text \u00b7 1.5 KiB');
    expect(artifactSideText(side({ kind: 'folder', file_count: 12 }))).toBe(
      'folder \u00b7 1.5 KiB \u00b7 12 files'
    );
    const model = side({
      kind: 'model',
      size: 100,
      file_count: 2,
      model: { format: 'skops', flavor: 'sklearn', library_version: '1.5.2' }
    });
    expect(artifactSideText(model)).toBe(
      'skops \u00b7 sklearn 1.5.2 \u00b7 100 B \u00b7 2 files'
    );
    const bare = side({
      kind: 'model',
      model: { format: null, flavor: null, library_version: null }
    });
    expect(artifactSideText(bare)).toBe('model \u00b7 1.5 KiB');
    const table = side({ kind: 'file', table: { rows: 1200, columns: 6 } });
    expect(artifactSideText(table)).toBe('table 1,200 \u00d7 6 \u00b7 1.5 KiB');
  });

  it('counts changed files and diff lines', () => {
    expect(fileChangesText(null)).toBe('');
    expect(fileChangesText({ added: 0, removed: 0, changed: 0 })).toBe('');
    expect(fileChangesText({ added: 1, removed: 2, changed: 3 })).toBe(
      '3 files changed, 1 added, 2 removed'
    );
    expect(fileChangesText({ added: 1, removed: 0, changed: 0 })).toBe(
      '1 file added'
    );
    const hunk = {
      header: '@@ -1,3 +1,3 @@',
      old_start: 1,
      old_lines: 3,
      new_start: 1,
      new_lines: 3,
      lines: [' a', '-b', '+B', '+C']
    };
    expect(diffCounts({ same: false, hunks: [hunk, hunk] })).toBe('+4 \u22122');
    expect(diffCounts(null)).toBe('+0 \u22120');
  });

  it("fetches a preview through the model, the run detail's way", async () => {
    const queries: string[] = [];
    const preview = {
      name: 'plots/roc',
      path: 'roc curve.png',
      media_type: 'image/png',
      size: 3,
      bundle: { 'image/png': 'iVBOR' },
      truncated: false,
      reason: null
    };
    const fetch = (async (endPoint: string) => {
      queries.push(endPoint);
      return preview;
    }) as Fetcher;
    const model = new CompareModel({ runs: [A, B], fetch });
    const image = {
      run_id: B,
      name: 'plots/roc',
      path: 'roc curve.png',
      media_type: 'image/png',
      size: 3
    };
    expect(await model.artifactPreview(image)).toEqual(preview);
    expect(queries).toEqual([
      `runs/${B}/artifacts/plots%2Froc/preview?path=roc%20curve.png`
    ]);
    model.dispose();
  });
});

describe('tableChangeText', () => {
  it('says which columns changed in how many rows, as the terminal does', () => {
    expect(
      tableChangeText({
        rows: [30, 30],
        added: ['extra'],
        removed: ['seen'],
        retyped: [{ name: 'votes', a: 'Int64', b: 'float64' }],
        rows_changed: 2,
        columns_changed: { score: 2, note: 1 }
      })
    ).toBe(
      '2 of 30 rows differ: score 2, note 1; + column extra; - column seen; votes Int64 -> float64'
    );
  });

  it('says the row counts when rows cannot be paired', () => {
    expect(
      tableChangeText({
        rows: [1500, 1502],
        added: [],
        removed: ['a', 'b'],
        retyped: [],
        rows_changed: null,
        columns_changed: null
      })
    ).toBe('rows 1,500 -> 1,502; - columns a, b');
  });

  it('counts the rows only one table has when paired by index', () => {
    expect(
      tableChangeText({
        rows: [4, 4],
        added: [],
        removed: [],
        retyped: [],
        paired_by: 'index',
        rows_added: 1,
        rows_removed: 1,
        rows_changed: 1,
        columns_changed: { score: 1 }
      })
    ).toBe('1 of 3 rows differ: score 1; 1 row added; 1 row removed');
  });

  it('names the key rows were paired by, even when none differ', () => {
    const byKey = {
      rows: [4, 5] as [number, number],
      added: [],
      removed: [],
      retyped: [],
      paired_by: 'key' as const,
      key: ['customer_id'],
      rows_added: 1,
      rows_removed: 0,
      rows_changed: 2,
      columns_changed: { pred: 2 }
    };
    expect(tableChangeText(byKey)).toBe(
      '2 of 4 rows (by customer_id) differ: pred 2; 1 row added'
    );
    expect(
      tableChangeText({
        ...byKey,
        key: ['store', 'day'],
        rows: [4, 4],
        rows_added: 0,
        rows_changed: 0,
        columns_changed: {}
      })
    ).toBe('none of 4 rows (by store, day) differ');
  });

  it('says why a table was not compared, and nothing for no diff', () => {
    expect(tableChangeText({ skipped: 'too big to compare (80 MB)' })).toBe(
      'too big to compare (80 MB)'
    );
    expect(tableChangeText(null)).toBe('');
    expect(tableChangeText(undefined)).toBe('');
    expect(
      tableChangeText({
        rows: [2, 2],
        added: [],
        removed: [],
        retyped: [],
        rows_changed: 0,
        columns_changed: {}
      })
    ).toBe('the same cells');
  });
});
