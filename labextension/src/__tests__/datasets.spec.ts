import {
  checkTag,
  datasetEndpoint,
  datasetRefLabel,
  datasetSummaryText,
  diffPair,
  diffQuery,
  findVersion,
  inputDatasetLabel,
  parseDatasetList,
  schemaColumns,
  shortHash,
  tagChange,
  tagChoices,
  tagDeleteQuestion,
  tagEndpoint,
  toggleDiffSelection,
  usedByText,
  versionEndpoint,
  versionFacts,
  versionRowsQuery,
  versionShape
} from '../datasets/format';
import { IDatasetDetail, IDatasetVersion } from '../datasets/types';

const H1 = 'xxh3-128:aaaa1111bbbb2222cccc3333dddd4444';
const H2 = 'xxh3-128:3f2a9c1b0d4e5f60718293a4b5c6d7e8';

/** A version as `GET datasets/{name}` answers it (see docs/rest-api.md). */
function version(overrides: Partial<IDatasetVersion> = {}): IDatasetVersion {
  const hash = overrides.hash ?? H1;
  const hex = hash.split(':')[1];
  return {
    dataset: 'team/churn',
    hash,
    short: hex.slice(0, 12),
    ref: `team/churn@${hex}`,
    snapshot: 'xxh3-128:052e0529d7e7ac3d9d0146c77e5d1ac8',
    kind: 'dataframe',
    message: 'march',
    meta: { src: 'crm' },
    author: 'ann',
    created_at: '2026-12-06T10:00:00+00:00',
    nbytes: 2048,
    rows: 12,
    columns: 2,
    tags: [],
    latest: false,
    runs: [],
    ...overrides
  };
}

/** team/churn: v2 (H2, newest, latest, @gold) then v1 (H1, @v1). */
function detail(): IDatasetDetail {
  const v2 = version({
    hash: H2,
    message: 'april',
    author: 'bo',
    tags: ['gold'],
    latest: true,
    rows: 15
  });
  const v1 = version({ tags: ['v1'] });
  return {
    dataset: {
      name: 'team/churn',
      created_at: null,
      updated_at: null,
      versions: 2,
      latest: v2,
      tags: { gold: H2, v1: H1 },
      nbytes: 2048
    },
    versions: [v2, v1],
    total: 2
  };
}

describe('request paths', () => {
  it('encodes the slash of a name and the colon of a hash as one segment', () => {
    expect(datasetEndpoint('team/churn')).toBe('datasets/team%2Fchurn');
    expect(versionEndpoint('team/churn', H1)).toBe(
      'datasets/team%2Fchurn/versions/xxh3-128%3Aaaaa1111bbbb2222cccc3333dddd4444'
    );
    expect(tagEndpoint('team/churn', 'gold')).toBe(
      'datasets/team%2Fchurn/tags/gold'
    );
  });

  it('clamps a page of rows as the server does', () => {
    expect(versionRowsQuery('a', 'latest', -3, 10_000)).toBe(
      'datasets/a/versions/latest/rows?offset=0&limit=500'
    );
    expect(versionRowsQuery('a', 'v1', 20.7, 20)).toBe(
      'datasets/a/versions/v1/rows?offset=20&limit=20'
    );
  });

  it('names the two versions of a diff in its query', () => {
    expect(diffQuery('team/churn', 'v1', H2)).toBe(
      'datasets/team%2Fchurn/diff?from=v1&to=xxh3-128%3A3f2a9c1b0d4e5f60718293a4b5c6d7e8'
    );
  });
});

describe('parseDatasetList', () => {
  it('keeps datasets with a name, and only text tags', () => {
    const list = parseDatasetList({
      datasets: [
        {
          name: 'team/churn',
          versions: 2,
          latest: version(),
          tags: { gold: H2, bad: 3 },
          nbytes: 10,
          updated_at: '2026-12-06T10:00:00+00:00'
        },
        { versions: 1 },
        null
      ]
    });
    expect(list).toHaveLength(1);
    expect(list[0].tags).toEqual({ gold: H2 });
    expect(list[0].latest?.hash).toBe(H1);
    expect(list[0].created_at).toBeNull();
  });

  it('refuses an answer with no list', () => {
    expect(() => parseDatasetList({})).toThrow(/no list of datasets/);
  });
});

describe('how versions read', () => {
  it('shortens hashes and references to 12 hex digits, keeps tags whole', () => {
    expect(shortHash(H2)).toBe('3f2a9c1b0d4e');
    expect(datasetRefLabel(`team/churn@${H2.split(':')[1]}`)).toBe(
      'team/churn@3f2a9c1b0d4e'
    );
    expect(datasetRefLabel('team/churn@gold')).toBe('team/churn@gold');
  });

  it('names an input by its version alone when it is named after the dataset', () => {
    const ref = `team/churn@${H2.split(':')[1]}`;
    expect(inputDatasetLabel('team/churn', ref)).toBe('@3f2a9c1b0d4e');
    expect(inputDatasetLabel('df', ref)).toBe('team/churn@3f2a9c1b0d4e');
  });

  it('says shape, size and use', () => {
    expect(versionShape(version({ rows: 1500, columns: 7 }))).toBe(
      '1,500 \u00d7 7'
    );
    expect(versionShape(version({ kind: 'file', nbytes: 2048 }))).toBe(
      '2.0 KiB'
    );
    expect(datasetSummaryText(detail().dataset)).toBe(
      '2 versions \u00b7 2.0 KiB'
    );
    const use = {
      run_id: 'r1',
      experiment: 'train',
      number: 1,
      name: 'df',
      dataset: null
    };
    expect(usedByText([use, { ...use, name: 'again' }])).toBe('1 run');
    expect(usedByText([])).toBe('no runs');
    expect(usedByText(undefined)).toBe('');
  });

  it('lists the facts that have a value', () => {
    const facts = Object.fromEntries(
      versionFacts(
        version({ message: '', tags: ['v1'] }),
        { format: 'mltrack-dataset-version/1', algorithm: 'xxh3-128' },
        new Date('2026-12-06T12:00:00Z')
      )
    );
    expect(facts.Tags).toBe('@v1');
    expect(facts.Message).toBeUndefined();
    expect(facts.Pushed).toBe('10:00:00 by ann');
    expect(facts.Manifest).toBe('mltrack-dataset-version/1 (xxh3-128)');
  });

  it('reads a frame schema as columns, anything else as none', () => {
    expect(
      schemaColumns({ columns: [{ name: 'id', dtype: 'int64' }] })
    ).toEqual([{ name: 'id', dtype: 'int64' }]);
    expect(schemaColumns({ name: 'notes.txt', size: 6 })).toEqual([]);
    expect(schemaColumns(null)).toEqual([]);
  });
});

describe('choosing versions', () => {
  it('finds a version by hash, hex prefix, else the newest', () => {
    const versions = detail().versions;
    expect(findVersion(versions, H1)?.hash).toBe(H1);
    expect(findVersion(versions, 'aaaa1111bbbb2222')?.hash).toBe(H1);
    expect(findVersion(versions, 'ffff')?.hash).toBe(H2);
    expect(findVersion(versions, null)?.hash).toBe(H2);
    expect(findVersion([], H1)).toBeNull();
  });

  it('checks two versions at most, the first checked going', () => {
    let selected = toggleDiffSelection([], 'a');
    selected = toggleDiffSelection(selected, 'b');
    expect(toggleDiffSelection(selected, 'c')).toEqual(['b', 'c']);
    expect(toggleDiffSelection(selected, 'a')).toEqual(['b']);
  });

  it('diffs the older checked version to the newer, whatever the order', () => {
    const d = detail();
    const pair = diffPair(d.versions, [H2, H1]);
    expect(pair?.map(v => v.hash)).toEqual([H1, H2]);
    expect(diffPair(d.versions, [H1])).toBeNull();
  });
});

describe('tags', () => {
  it('refuses what the server refuses', () => {
    expect(checkTag(' @gold ')).toEqual({ tag: 'gold' });
    expect(checkTag('latest')).toEqual({
      error: expect.stringMatching(/pushed last/)
    });
    expect(checkTag('abcdef')).toEqual({
      error: expect.stringMatching(/hash prefix/)
    });
    expect(checkTag('abc')).toEqual({ tag: 'abc' });
    expect(checkTag('a/b')).toEqual({ error: expect.stringMatching(/\//) });
    expect(checkTag('')).toEqual({ error: expect.stringMatching(/name/) });
  });

  it('offers the tags of the other versions', () => {
    const d = detail();
    expect(tagChoices(d, d.versions[1])).toEqual(['gold']);
    expect(tagChoices(d, d.versions[0])).toEqual(['v1']);
  });

  it('says from which version a tag moves', () => {
    const d = detail();
    const change = tagChange(d, 'gold', d.versions[1]);
    expect(change).toMatchObject({
      kind: 'move',
      tag: 'gold',
      from: H2,
      title: 'Move @gold from 3f2a9c1b0d4e to aaaa1111bbbb?',
      accept: 'Move'
    });
    expect(change.kind === 'move' && change.body).toContain(
      'team/churn@gold will get aaaa1111bbbb ("march", by ann) instead of 3f2a9c1b0d4e ("april", by bo)'
    );
  });

  it('creates a new tag, and changes nothing where it already is', () => {
    const d = detail();
    expect(tagChange(d, 'prod', d.versions[0])).toMatchObject({
      kind: 'create',
      title: 'Tag 3f2a9c1b0d4e as @prod?'
    });
    expect(tagChange(d, '@gold', d.versions[0])).toEqual({
      kind: 'noop',
      message: '@gold already names 3f2a9c1b0d4e.'
    });
    expect(tagChange(d, 'latest', d.versions[0]).kind).toBe('invalid');
  });

  it('asks before deleting a tag', () => {
    expect(
      tagDeleteQuestion('team/churn', 'gold', detail().versions[0])
    ).toEqual({
      title: 'Delete @gold?',
      body: 'team/churn@gold names 3f2a9c1b0d4e; once deleted it names nothing. The version itself stays.'
    });
  });
});
