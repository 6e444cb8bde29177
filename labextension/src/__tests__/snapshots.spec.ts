import {
  IRunDataItem,
  ISnapshotRows,
  formatBytes,
  formatShape,
  previewCaption,
  previewCell,
  previewTable,
  runData,
  snapshotRowsQuery
} from '../model';

function item(overrides: Partial<IRunDataItem> = {}): IRunDataItem {
  return {
    role: 'input',
    name: 'df',
    path: null,
    dataset: null,
    digest: 'xxh3-128:052e0529d7e7ac3d9d0146c77e5d1ac8',
    short: '052e0529d7e7',
    kind: 'dataframe',
    status: 'complete',
    shape: [130, 7],
    rows: 130,
    columns: 7,
    nbytes: 7280,
    ...overrides
  };
}

/** A page as `GET snapshots/{ref}/rows` answers it (see docs/rest-api.md). */
function page(overrides: Partial<ISnapshotRows> = {}): ISnapshotRows {
  return {
    digest: 'xxh3-128:052e0529d7e7ac3d9d0146c77e5d1ac8',
    short: '052e0529d7e7',
    kind: 'dataframe',
    offset: 0,
    limit: 2,
    total_rows: 130,
    columns: ['x', 's', 't'],
    dtypes: ['float64', 'str', 'datetime64[us, Europe/Paris]'],
    total_columns: 3,
    index_names: [null],
    index: [0, 1],
    rows: [
      [null, 's0', '2024-03-31T01:30:00+01:00'],
      ['inf', null, null]
    ],
    ...overrides
  };
}

describe('runData', () => {
  it('splits nothing and tolerates servers without snapshots', () => {
    expect(runData({})).toEqual({ inputs: [], outputs: [] });
    expect(runData({ data: { inputs: [item()] } })).toEqual({
      inputs: [item()],
      outputs: []
    });
    expect(
      runData({ data: { inputs: null as any, outputs: [item()] } })
    ).toEqual({ inputs: [], outputs: [item()] });
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20.0 MiB');
    expect(formatBytes(null)).toBe('—');
  });
});

describe('formatShape', () => {
  it('writes dimensions as people do', () => {
    expect(formatShape(item())).toBe('130 \u00d7 7');
    expect(formatShape(item({ kind: 'ndarray', shape: [5] }))).toBe('5');
    expect(formatShape(item({ kind: 'ndarray', shape: [2, 3, 4] }))).toBe(
      '2 \u00d7 3 \u00d7 4'
    );
    expect(formatShape(item({ shape: [1200000, null] }))).toBe(
      '1,200,000 \u00d7 ?'
    );
    expect(formatShape(item({ shape: [] }))).toBe('—');
  });

  it('gives the size of a file, which has no shape', () => {
    expect(formatShape(item({ kind: 'file', shape: [], nbytes: 2048 }))).toBe(
      '2.0 KiB'
    );
  });
});

describe('snapshotRowsQuery', () => {
  it('encodes the digest and bounds the page', () => {
    expect(snapshotRowsQuery('xxh3-128:abc', 50, 25)).toBe(
      'snapshots/xxh3-128%3Aabc/rows?offset=50&limit=25'
    );
    expect(snapshotRowsQuery('train/v1')).toBe(
      'snapshots/train%2Fv1/rows?offset=0&limit=50'
    );
    expect(snapshotRowsQuery('abcd', -3, 10000)).toBe(
      'snapshots/abcd/rows?offset=0&limit=500'
    );
  });
});

describe('previewCell', () => {
  it('shows missing values, infinities and nested values', () => {
    expect(previewCell(null)).toEqual({ text: 'NA', kind: 'null' });
    expect(previewCell(1.5)).toEqual({ text: '1.5', kind: 'number' });
    expect(previewCell(-3, 'float64').text).toBe('-3.0');
    expect(previewCell(-3, 'Int64').text).toBe('-3');
    expect(previewCell(1e21, 'float64').text).toBe('1e+21');
    expect(previewCell('inf', 'float64')).toEqual({
      text: 'inf',
      kind: 'number'
    });
    expect(previewCell('-inf', 'double')).toEqual({
      text: '-inf',
      kind: 'number'
    });
    // A string column holding the text "inf" is text.
    expect(previewCell('inf', 'str')).toEqual({ text: 'inf', kind: 'text' });
    expect(previewCell(true)).toEqual({ text: 'True', kind: 'boolean' });
    expect(previewCell([1, null])).toEqual({
      text: '[1,null]',
      kind: 'nested'
    });
  });
});

describe('previewTable', () => {
  it('puts the index first and keeps every value', () => {
    const table = previewTable(page());
    expect(table.header).toEqual(['', 'x', 's', 't']);
    expect(table.indexColumns).toBe(1);
    expect(table.rows.map(r => r.map(c => c.text))).toEqual([
      ['0', 'NA', 's0', '2024-03-31T01:30:00+01:00'],
      ['1', 'inf', 'NA', 'NA']
    ]);
    expect(table.rows[1][1].kind).toBe('number');
    expect(table.caption).toBe('Rows 1\u20132 of 130');
  });

  it('spreads a MultiIndex label over its levels', () => {
    const table = previewTable(
      page({
        columns: ['(a, x)'],
        dtypes: ['int64'],
        index_names: ['n', 'm'],
        index: [
          [1, 'p'],
          [2, 'q']
        ],
        rows: [[3], [4]],
        total_rows: 2
      })
    );
    expect(table.header).toEqual(['n', 'm', '(a, x)']);
    expect(table.indexColumns).toBe(2);
    expect(table.rows.map(r => r.map(c => c.text))).toEqual([
      ['1', 'p', '3'],
      ['2', 'q', '4']
    ]);
  });
});

describe('previewCaption', () => {
  it('says which rows and columns are shown', () => {
    expect(
      previewCaption(
        page({
          offset: 1000,
          rows: Array(50).fill([1, 2, 3]),
          total_rows: 1234567,
          total_columns: 250,
          columns: Array(200).fill('c')
        })
      )
    ).toBe('Rows 1,001\u20131,050 of 1,234,567 \u00b7 200 of 250 columns');
    expect(previewCaption(page({ rows: [], total_rows: 0 }))).toBe('No rows');
    expect(previewCaption(page({ rows: [], offset: 500 }))).toBe(
      'No rows past 130'
    );
  });
});
