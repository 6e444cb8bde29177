import {
  PICTURE_MIMES,
  SMALL_IMAGE,
  artifactEndpoint,
  chooseMime,
  downloadName,
  enlargement,
  filesText,
  isUnsafe,
  kindLabel,
  loadCode,
  modelFacts,
  orderedPaths,
  pathSegment,
  previewNote,
  signatureOf,
  sizeText,
  trustedMime,
  untrustedTypes,
  versionsOf
} from '../artifacts/format';
import { IArtifact, IModelSummary, IRunModelVersion } from '../artifacts/types';
import { PLOTLY_MIME } from '../model';

function artifact(over: Partial<IArtifact> = {}): IArtifact {
  return {
    run_id: 'r1',
    name: 'model',
    kind: 'model',
    size: 2048,
    file_count: 1,
    media_type: null,
    meta: {},
    created_at: '2026-11-20T08:06:00+00:00',
    files: [{ path: 'model.skops', digest: 'xxh3-128:aa', size: 2048 }],
    ...over
  };
}

function skopsSummary(over: Partial<IModelSummary>): IModelSummary {
  return {
    name: 'model',
    format: 'skops',
    flavor: 'sklearn',
    library_version: null,
    python: null,
    unsafe: false,
    untrusted_types: [],
    size: 1,
    files: [],
    ...over
  };
}

function version(over: Partial<IRunModelVersion>): IRunModelVersion {
  return {
    model: 'churn',
    version: 1,
    run_id: 'r1',
    artifact: 'model',
    created_at: '2026-11-20T08:06:00+00:00',
    description: '',
    aliases: [],
    tags: {},
    ref: 'models:/churn/1',
    ...over
  };
}

describe('artifact request paths', () => {
  it('keeps a name with slashes one path segment', () => {
    expect(artifactEndpoint('r1', 'plots/roc', 'preview')).toBe(
      'runs/r1/artifacts/plots%2Froc/preview'
    );
    expect(artifactEndpoint('r1', 'notes/a b.txt', 'raw', 'a b.txt')).toBe(
      'runs/r1/artifacts/notes%2Fa%20b.txt/raw?path=a%20b.txt'
    );
  });

  it("asks for a file's preview, the compare view's images too", () => {
    expect(
      artifactEndpoint('r1', 'plots/roc curve', 'preview', 'roc curve.png')
    ).toBe(
      'runs/r1/artifacts/plots%2Froc%20curve/preview?path=roc%20curve.png'
    );
    expect(artifactEndpoint('r1', '..', 'preview', 'roc.png')).toBe(
      'runs/r1/artifacts/%2E%2E/preview?path=roc.png'
    );
  });

  it('encodes a file path as a query value', () => {
    expect(artifactEndpoint('r1', 'data', 'raw', 'sub/dir/x&y=1#2.csv')).toBe(
      'runs/r1/artifacts/data/raw?path=sub%2Fdir%2Fx%26y%3D1%232.csv'
    );
    expect(artifactEndpoint('r1', 'data', 'preview', null)).toBe(
      'runs/r1/artifacts/data/preview'
    );
  });

  it('encodes a segment of dots, which URL joining would climb out of', () => {
    expect(pathSegment('..')).toBe('%2E%2E');
    expect(pathSegment('.')).toBe('%2E');
    expect(pathSegment('a..b')).toBe('a..b');
    expect(pathSegment('@production')).toBe('%40production');
  });
});

describe('artifact labels', () => {
  it('labels kinds, sizes and counts', () => {
    expect(kindLabel('figure')).toBe('Figure');
    expect(kindLabel('model')).toBe('Model');
    expect(kindLabel('weird')).toBe('weird');
    expect(kindLabel('file', 'application/vnd.apache.parquet')).toBe('Table');
    expect(kindLabel('file', 'text/csv')).toBe('File');
    expect(kindLabel('folder', 'application/vnd.apache.parquet')).toBe(
      'Folder'
    );
    expect(filesText(1)).toBe('1 file');
    expect(filesText(1000)).toBe('1,000 files');
    expect(sizeText({ size: 2150, file_count: 2 })).toBe(
      '2.1 KiB \u00b7 2 files'
    );
    expect(sizeText({ size: 12, file_count: 1 })).toBe('12 B \u00b7 1 file');
  });

  it('saves a download under its last path part', () => {
    expect(downloadName('sub/dir/model.skops')).toBe('model.skops');
    expect(downloadName('roc.png')).toBe('roc.png');
    expect(downloadName('')).toBe('download');
  });
});

describe('which file a preview shows first', () => {
  it("puts a figure's primary file first", () => {
    const figure = artifact({
      kind: 'figure',
      meta: { primary: 'roc.png' },
      files: [
        { path: 'roc.svg', digest: 'a', size: 1 },
        { path: 'roc.png', digest: 'b', size: 2 }
      ]
    });
    expect(orderedPaths(figure)).toEqual(['roc.png', 'roc.svg']);
  });

  it('keeps the listing order without a (known) primary', () => {
    const folder = artifact({
      kind: 'folder',
      meta: { primary: 'gone.txt' },
      files: [
        { path: 'b.txt', digest: 'a', size: 1 },
        { path: 'a.txt', digest: 'b', size: 2 }
      ]
    });
    expect(orderedPaths(folder)).toEqual(['b.txt', 'a.txt']);
    expect(orderedPaths(artifact({ files: [] }))).toEqual([]);
  });
});

describe('which renderer a preview takes', () => {
  const all = [
    PLOTLY_MIME,
    'image/png',
    'image/svg+xml',
    'text/markdown',
    'application/json',
    'text/plain'
  ];

  it('prefers a figure, then images, markdown, JSON, text', () => {
    expect(chooseMime({ [PLOTLY_MIME]: {}, 'text/plain': '{}' }, all)).toBe(
      PLOTLY_MIME
    );
    expect(chooseMime({ 'image/png': 'iVBOR' }, all)).toBe('image/png');
    expect(
      chooseMime({ 'text/plain': '# a', 'text/markdown': '# a' }, all)
    ).toBe('text/markdown');
    expect(
      chooseMime({ 'application/json': { a: 1 }, 'text/plain': '' }, all)
    ).toBe('application/json');
  });

  it('falls back to text without the plotly renderer', () => {
    const noPlotly = all.filter(m => m !== PLOTLY_MIME);
    expect(
      chooseMime({ [PLOTLY_MIME]: {}, 'text/plain': '{"data": []}' }, noPlotly)
    ).toBe('text/plain');
    expect(chooseMime({ 'application/pdf': 'x' }, all)).toBeNull();
    expect(chooseMime(null, all)).toBeNull();
  });

  it('draws only a picture side by side (a figure live, else an image)', () => {
    const figure = { [PLOTLY_MIME]: { data: [] }, 'text/plain': '{}' };
    expect(chooseMime(figure, all, PICTURE_MIMES)).toBe(PLOTLY_MIME);
    // without the plotly renderer, a figure is not drawn as its text
    const noPlotly = all.filter(m => m !== PLOTLY_MIME);
    expect(chooseMime(figure, noPlotly, PICTURE_MIMES)).toBeNull();
    expect(chooseMime({ 'image/png': 'iVBOR' }, all, PICTURE_MIMES)).toBe(
      'image/png'
    );
    expect(
      chooseMime(
        { 'image/svg+xml': '<svg/>', 'text/plain': 'x' },
        all,
        PICTURE_MIMES
      )
    ).toBe('image/svg+xml');
    expect(chooseMime({ 'text/plain': 'x' }, all, PICTURE_MIMES)).toBeNull();
    expect(chooseMime(null, all, PICTURE_MIMES)).toBeNull();
  });

  it('trusts only what runs nothing when trusted', () => {
    expect(trustedMime('image/svg+xml')).toBe(true);
    expect(trustedMime(PLOTLY_MIME)).toBe(true);
    expect(trustedMime('image/png')).toBe(false);
    expect(trustedMime('text/markdown')).toBe(false);
    expect(trustedMime('text/html')).toBe(false);
  });

  it('says why there is no preview, or that a text is cut', () => {
    expect(
      previewNote({
        bundle: null,
        truncated: false,
        reason: 'no preview for application/octet-stream; download it',
        size: 3
      })
    ).toBe('no preview for application/octet-stream; download it');
    expect(
      previewNote({
        bundle: { 'text/plain': 'x' },
        truncated: true,
        reason: null,
        size: 3 * 1024 * 1024
      })
    ).toBe(
      'Only the start of this 3.0 MiB file is shown; download it for all of it.'
    );
    expect(
      previewNote({
        bundle: { 'text/plain': 'x' },
        truncated: false,
        reason: null,
        size: 1
      })
    ).toBeNull();
  });
});

describe('a model artifact', () => {
  it('lists the facts it recorded, summary first', () => {
    const a = artifact({
      meta: { format: 'pickle', flavor: 'sklearn', python: '3.11.7' },
      model: {
        name: 'model',
        format: 'skops',
        flavor: 'sklearn',
        library_version: '1.5.2',
        python: null,
        unsafe: false,
        untrusted_types: [],
        size: 1,
        files: []
      }
    });
    expect(modelFacts(a)).toEqual([
      ['Format', 'skops'],
      ['Library', 'sklearn'],
      ['Library version', '1.5.2'],
      ['Python', '3.11.7']
    ]);
  });

  it('tells an unsafe model and the types to trust', () => {
    expect(isUnsafe(artifact({ meta: { unsafe: true } }))).toBe(true);
    expect(isUnsafe(artifact())).toBe(false);
    expect(
      untrustedTypes(artifact({ meta: { untrusted_types: ['a.B', 3, 'c.D'] } }))
    ).toEqual(['a.B', 'c.D']);
  });

  it('has a signature only when one was taken', () => {
    expect(signatureOf(artifact())).toBeNull();
    const withInputs = artifact({
      model: skopsSummary({ inputs: [{ name: 'x', dtype: 'float64' }] })
    });
    expect(signatureOf(withInputs)).toEqual({
      inputs: [{ name: 'x', dtype: 'float64' }],
      outputs: null
    });
  });

  it('is loaded by an aliased version first, then any version, then its run', () => {
    const a = artifact({
      model: skopsSummary({ load: "mltrack.load_model('r1/model')" })
    });
    const head = 'import jupyter_mltrack as mltrack\n\nmodel = ';
    expect(loadCode(a, [])).toBe(`${head}mltrack.load_model('r1/model')`);
    const v1 = version({ load: "mltrack.load_model('models:/churn/1')" });
    const v2 = version({
      version: 2,
      aliases: ['production'],
      load: "mltrack.load_model('models:/churn@production')"
    });
    expect(loadCode(a, [v1])).toBe(
      `${head}mltrack.load_model('models:/churn/1')`
    );
    expect(loadCode(a, [v1, v2])).toBe(
      `${head}mltrack.load_model('models:/churn@production')`
    );
    // a server that gives no call: nothing shown rather than a wrong one
    expect(loadCode(artifact(), [version({})])).toBeNull();
  });

  it('lists its registered versions, by model then version', () => {
    const models = [
      version({ model: 'churn', version: 3 }),
      version({ model: 'other', version: 1, artifact: 'model-b' }),
      version({ model: 'aaa', version: 2 }),
      version({ model: 'churn', version: 1 })
    ];
    expect(
      versionsOf(models, 'model').map(v => `${v.model}${v.version}`)
    ).toEqual(['aaa2', 'churn1', 'churn3']);
    expect(versionsOf(undefined, 'model')).toEqual([]);
  });
});

describe('enlargement', () => {
  it('enlarges a small picture by a whole number', () => {
    expect(enlargement(8, 8)).toBe(20);
    expect(enlargement(28, 28)).toBe(5);
    expect(enlargement(64, 48)).toBe(2);
    expect(enlargement(100, 20)).toBe(1); // 1.6x is no whole number above 1
  });

  it('leaves a picture of SMALL_IMAGE or more, or of no size, as it is', () => {
    expect(enlargement(SMALL_IMAGE, 10)).toBe(1);
    expect(enlargement(1200, 800)).toBe(1);
    expect(enlargement(0, 0)).toBe(1);
  });
});
