import {
  InputDialog,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';

import { requestAPI } from '../handler';
import {
  describeModelFlow,
  tagModelFlow,
  tagVersionFlow
} from '../models/actions';
import { registryChanged, updateModel } from '../models/api';
import {
  aliasChange,
  aliasChoices,
  aliasDeleteQuestion,
  aliasEndpoint,
  aliasEntries,
  checkModelName,
  clickedRunId,
  editableTags,
  lineageEndpoint,
  lineageEnvironmentFacts,
  lineageModelFacts,
  lineageRunFacts,
  metricsText,
  modelDeleteEndpoint,
  modelDeleteQuestion,
  modelEndpoint,
  modelSummaryText,
  normalizeVersion,
  parseModelDetail,
  parseModelList,
  parseTagsText,
  readTags,
  tagsChange,
  tagsPrompt,
  tagsText,
  typedTagsChange,
  versionEndpoint,
  versionRunText,
  withVersion
} from '../models/format';
import { ILineage, IModelDetail, IModelVersion } from '../models/types';

// The flows' dialogs and requests, answered by each test: what they are
// asked and what is sent is what the tests check.
jest.mock('@jupyterlab/apputils', () => ({
  InputDialog: { getText: jest.fn() },
  Notification: { info: jest.fn(), success: jest.fn() },
  showErrorMessage: jest.fn()
}));
jest.mock('../handler', () => ({ requestAPI: jest.fn() }));

function v(version: number, over: Partial<IModelVersion> = {}): IModelVersion {
  return {
    model: 'churn',
    version,
    run_id: `run-${version}`,
    artifact: 'model',
    created_at: '2026-11-20T08:06:00+00:00',
    description: '',
    aliases: [],
    tags: {},
    ref: `models:/churn/${version}`,
    run_number: version + 2,
    run_name: `rf-${version}`,
    experiment: 'exp',
    status: 'finished',
    metrics: {},
    params: {},
    ...over
  };
}

const CHURN: IModelDetail = {
  name: 'churn',
  description: '',
  created_at: '2026-11-20T08:06:00+00:00',
  updated_at: '2026-11-21T09:00:00+00:00',
  latest: 2,
  aliases: { production: 1, staging: 2 },
  tags: {},
  versions: [v(2, { aliases: ['staging'] }), v(1, { aliases: ['production'] })]
};

describe('registry request paths', () => {
  it('encodes names and aliases as single segments', () => {
    expect(modelEndpoint('churn')).toBe('models/churn');
    expect(modelEndpoint('my model', 'lineage')).toBe(
      'models/my%20model/lineage'
    );
    expect(aliasEndpoint('churn', 'prod uction')).toBe(
      'models/churn/aliases/prod%20uction'
    );
    expect(aliasEndpoint('a?b', '#1')).toBe('models/a%3Fb/aliases/%231');
    expect(lineageEndpoint('churn', 2)).toBe(
      'models/churn/lineage?version=2&figure=1'
    );
    expect(lineageEndpoint('my model', 3)).toBe(
      'models/my%20model/lineage?version=3&figure=1'
    );
    expect(modelDeleteEndpoint('my model', false)).toBe('models/my%20model');
    expect(modelDeleteEndpoint('a?b', true)).toBe('models/a%3Fb?force=1');
    expect(versionEndpoint('my model', 3)).toBe('models/my%20model/versions/3');
  });
});

describe('parseModelList', () => {
  it('reads the models as sent, in their order', () => {
    expect(
      parseModelList({
        models: [
          {
            name: 'churn',
            description: 'the churn model',
            created_at: '2026-11-20T08:06:00+00:00',
            updated_at: '2026-11-21T09:00:00+00:00',
            versions: 2,
            latest: 2,
            aliases: { production: 1 },
            tags: { team: 'growth', task: 'classification' }
          },
          { name: 'alpha', versions: 0, latest: null, aliases: {} }
        ]
      })
    ).toEqual([
      {
        name: 'churn',
        description: 'the churn model',
        created_at: '2026-11-20T08:06:00+00:00',
        updated_at: '2026-11-21T09:00:00+00:00',
        versions: 2,
        latest: 2,
        aliases: { production: 1 },
        tags: { team: 'growth', task: 'classification' }
      },
      {
        name: 'alpha',
        description: '',
        created_at: null,
        updated_at: null,
        versions: 0,
        latest: null,
        aliases: {},
        tags: {}
      }
    ]);
  });

  it('leaves out what is not a model, and aliases on no version', () => {
    const models = parseModelList({
      models: [
        null,
        3,
        { name: '' },
        { versions: 1 },
        {
          name: 'm',
          versions: 1,
          latest: 1,
          aliases: { ok: 1, bad: '1', worse: null }
        }
      ]
    });
    expect(models.map(m => m.name)).toEqual(['m']);
    expect(models[0].aliases).toEqual({ ok: 1 });
  });

  it("keeps a model's text tags only", () => {
    const [model] = parseModelList({
      models: [{ name: 'm', tags: { team: 'growth', n: 3, gone: null } }]
    });
    expect(model.tags).toEqual({ team: 'growth' });
    const [odd] = parseModelList({ models: [{ name: 'm', tags: ['a=b'] }] });
    expect(odd.tags).toEqual({});
  });

  it('takes only ISO text for a time', () => {
    const [model] = parseModelList({
      models: [{ name: 'm', created_at: 1.5, updated_at: '' }]
    });
    expect(model.created_at).toBeNull();
    expect(model.updated_at).toBeNull();
  });

  it('refuses an answer that is no list of models', () => {
    expect(() => parseModelList({})).toThrow('no list of models');
    expect(() => parseModelList(null)).toThrow('no list of models');
    expect(() => parseModelList({ models: {} })).toThrow('no list of models');
    expect(parseModelList({ models: [] })).toEqual([]);
  });
});

describe('model texts', () => {
  it('summarises a model and a version', () => {
    expect(modelSummaryText({ versions: 1, latest: 1 })).toBe(
      '1 version \u00b7 latest v1'
    );
    expect(modelSummaryText({ versions: 0, latest: null })).toBe('0 versions');
    expect(versionRunText(v(1))).toBe('run #3 rf-1');
    expect(versionRunText(v(1, { run_name: '' }))).toBe('run #3');
    expect(
      versionRunText(v(1, { run_number: null, run_id: '0123456789abcdef' }))
    ).toBe('run 01234567');
  });

  it('shows the first metrics of a version', () => {
    expect(metricsText({ acc: 0.91234, loss: null, f1: 0.5, auc: 0.7 })).toBe(
      'acc 0.9123 \u00b7 loss NaN \u00b7 f1 0.5'
    );
    expect(metricsText({})).toBe('');
    expect(metricsText(undefined)).toBe('');
  });

  it('sorts aliases by name', () => {
    expect(aliasEntries({ staging: 2, production: 1 })).toEqual([
      ['production', 1],
      ['staging', 2]
    ]);
  });
});

describe('moving an alias', () => {
  it('offers the aliases of the other versions', () => {
    expect(aliasChoices(CHURN, 2)).toEqual(['production']);
    expect(aliasChoices(CHURN, 1)).toEqual(['staging']);
    expect(aliasChoices(CHURN, 3)).toEqual(['production', 'staging']);
  });

  it('asks to move an alias from the version it is on', () => {
    expect(aliasChange(CHURN, 'production', 2)).toEqual({
      kind: 'move',
      alias: 'production',
      version: 2,
      from: 1,
      title: 'Move @production from v1 to v2?',
      body: 'models:/churn@production will load version 2 (run #4 rf-2) instead of version 1 (run #3 rf-1).',
      accept: 'Move'
    });
  });

  it('asks to set a new alias, typed with or without @', () => {
    const change = aliasChange(CHURN, ' @canary ', 1);
    expect(change).toEqual({
      kind: 'create',
      alias: 'canary',
      version: 1,
      from: null,
      title: 'Set @canary on v1?',
      body: 'models:/churn@canary will load version 1 (run #3 rf-1).',
      accept: 'Set alias'
    });
  });

  it('does nothing where the alias already is, and wants a name', () => {
    expect(aliasChange(CHURN, 'staging', 2)).toEqual({
      kind: 'noop',
      message: '@staging already points at v2.'
    });
    expect(aliasChange(CHURN, '  ', 2).kind).toBe('invalid');
    expect(aliasChange(CHURN, '@', 2).kind).toBe('invalid');
  });

  it('refuses an alias that reads as a version, as the server does', () => {
    expect(aliasChange(CHURN, '3', 2)).toEqual({
      kind: 'invalid',
      message: '@3 would read as a version; pick a name such as production.'
    });
    expect(aliasChange(CHURN, '@latest', 2).kind).toBe('invalid');
    expect(aliasChange(CHURN, 'v3', 2).kind).toBe('create');
    expect(aliasChange(CHURN, 'latest-good', 2).kind).toBe('create');
  });

  it('refuses a new alias the server would refuse, and moves an old one', () => {
    expect(aliasChange(CHURN, 'my alias', 2)).toEqual({
      kind: 'invalid',
      message:
        "@my alias: use letters, digits and -_., starting with a letter or digit (no spaces, '/', '@' or ':')."
    });
    expect(aliasChange(CHURN, '..', 2).kind).toBe('invalid');
    expect(aliasChange(CHURN, '-x', 2).kind).toBe('invalid');
    expect(aliasChange(CHURN, 'a/b', 2).kind).toBe('invalid');
    expect(aliasChange(CHURN, 'v2.1_ok-yes', 2).kind).toBe('create');
    // stored under the looser rule of before: still moved by its name
    const old = { ...CHURN, aliases: { ...CHURN.aliases, 'old one': 1 } };
    expect(aliasChange(old, 'old one', 2).kind).toBe('move');
  });

  it('does not take an inherited property for an alias', () => {
    expect(aliasChange(CHURN, 'constructor', 2).kind).toBe('create');
  });

  it('asks before deleting an alias', () => {
    expect(aliasDeleteQuestion('churn', 'production', 1)).toEqual({
      title: 'Delete @production?',
      body: 'models:/churn@production points at v1; once deleted it loads nothing. The version itself stays.'
    });
  });

  it('asks before deleting a model, naming what goes with it', () => {
    expect(
      modelDeleteQuestion({
        name: 'churn',
        versions: 3,
        aliases: { staging: 2, production: 1 }
      })
    ).toEqual({
      title: 'Delete model churn?',
      body:
        'churn, its 3 versions and its aliases @production (v1), @staging (v2) will be ' +
        'deleted from the registry. models:/churn@production and models:/churn@staging ' +
        'will load nothing. The runs keep the models they logged. Registered again, ' +
        'churn starts over at v1.',
      force: true
    });
  });

  it('deletes a model no alias points into without forcing it', () => {
    const one = modelDeleteQuestion({
      name: 'fraud',
      versions: 1,
      aliases: {}
    });
    expect(one.force).toBe(false);
    expect(one.body).toBe(
      'fraud and its 1 version will be deleted from the registry. The runs keep ' +
        'the models they logged. Registered again, fraud starts over at v1.'
    );
    const empty = modelDeleteQuestion({
      name: 'old',
      versions: 0,
      aliases: {}
    });
    expect(
      empty.body.startsWith('old will be deleted from the registry.')
    ).toBe(true);
    const held = modelDeleteQuestion({
      name: 'churn',
      versions: 2,
      aliases: { production: 2 }
    });
    expect(held.force).toBe(true);
    expect(held.body).toContain(
      'churn, its 2 versions and its alias @production (v2) will be deleted'
    );
  });

  it('checks a model name as typed', () => {
    expect(checkModelName('  churn ')).toEqual({ name: 'churn' });
    expect(checkModelName(' ')).toEqual({
      error: 'Give the model a name, such as churn.'
    });
  });
});

describe('lineage facts', () => {
  const lineage: ILineage = {
    ref: 'models:/churn/2',
    model: {
      name: 'churn',
      version: 2,
      aliases: ['production'],
      created_at: '2026-11-20T08:06:00+00:00',
      ref: 'models:/churn/2'
    },
    models: [
      {
        name: 'churn',
        version: 2,
        aliases: ['production'],
        created_at: '2026-11-20T08:06:00+00:00',
        ref: 'models:/churn/2'
      }
    ],
    artifact: {
      name: 'model',
      format: 'skops',
      flavor: 'sklearn',
      library_version: '1.5',
      python: '3.11.7',
      unsafe: false,
      untrusted_types: [],
      size: 2048,
      files: ['model.skops']
    },
    run: {
      id: 'abc',
      number: 4,
      experiment: 'exp',
      name: 'rf-2',
      status: 'finished',
      start_time: '2026-11-20T08:03:00+00:00',
      end_time: '2026-11-20T08:05:00+00:00',
      duration: 120,
      notebook_path: 'train.ipynb',
      cell_id: 'c1',
      execution_count: 7,
      source: 'notebook',
      parent_run_id: null
    },
    code: 'fit()',
    pipeline: {
      reproduces: null,
      reproduced_by: [{ id: 'p', number: 9, status: 'finished', metrics: {} }]
    },
    inputs: [],
    outputs: [],
    used: [],
    used_by: { count: 0, runs: [] },
    params: {},
    metrics: {},
    environment: {
      python: '3.11.7',
      platform: 'Linux',
      packages: { 'scikit-learn': '1.5' },
      all_packages: 120,
      git: { commit: '0123456789abcdef0123', dirty: true }
    }
  };

  it('says what the model is', () => {
    expect(lineageModelFacts(lineage)).toEqual([
      ['Reference', 'models:/churn/2'],
      ['Registered as', 'churn v2'],
      ['Aliases', '@production'],
      ['Artifact', 'model'],
      ['Format', 'skops'],
      ['Library', 'sklearn'],
      ['Library version', '1.5'],
      ['Python', '3.11.7'],
      ['Size', '2.0 KiB'],
      ['Files', 'model.skops']
    ]);
  });

  it('says which run built it, skipping what is unknown', () => {
    const now = new Date('2026-11-23T18:00:00Z');
    expect(lineageRunFacts(lineage, now)).toEqual([
      ['Run', '#4 rf-2'],
      ['Experiment', 'exp'],
      ['Status', 'finished'],
      ['Started', '2026-11-20 08:03'],
      ['Ended', '2026-11-20 08:05'],
      ['Duration', '2m 00s'],
      ['Notebook', 'train.ipynb'],
      ['Cell', '[7] c1'],
      ['Source', 'notebook'],
      ['Reproduced by', '#9 (finished)']
    ]);
    const running = {
      ...lineage,
      run: { ...lineage.run, end_time: null, duration: null }
    };
    expect(lineageRunFacts(running, now).map(([k]) => k)).not.toContain(
      'Ended'
    );
    expect(lineageRunFacts(running, now).map(([k]) => k)).not.toContain(
      'Duration'
    );
  });

  it('says where it was built', () => {
    expect(lineageEnvironmentFacts(lineage)).toEqual([
      ['Python', '3.11.7'],
      ['Platform', 'Linux'],
      ['Git commit', '0123456789ab (dirty)'],
      ['Packages recorded', '120']
    ]);
  });
});

describe('a click on the lineage graph', () => {
  // plotly_click's payload, as plotly.js sends it (the fields read here).
  const click = (...customdata: unknown[]) => ({
    event: {},
    points: customdata.map((value, pointNumber) => ({
      curveNumber: 1,
      pointNumber,
      customdata: value
    }))
  });

  it("opens the run the point's customdata names", () => {
    expect(clickedRunId(click('3f2a9c'))).toBe('3f2a9c');
    // the first point when several are under the pointer
    expect(clickedRunId(click('first', 'second'))).toBe('first');
  });

  it('opens nothing for a node without a run, or no point', () => {
    expect(clickedRunId(click(null))).toBeNull();
    expect(clickedRunId(click(undefined))).toBeNull();
    expect(clickedRunId(click(''))).toBeNull();
    expect(clickedRunId(click(7))).toBeNull();
    expect(clickedRunId(click())).toBeNull();
    expect(clickedRunId({ points: [null] })).toBeNull();
    expect(clickedRunId({ points: 'abc' })).toBeNull();
    expect(clickedRunId({})).toBeNull();
    expect(clickedRunId(null)).toBeNull();
    expect(clickedRunId(undefined)).toBeNull();
  });
});

describe('version normalization', () => {
  it('gives a version from a server before tags no tags', () => {
    const old = { ...v(1) } as Partial<IModelVersion>;
    delete old.tags;
    delete old.description;
    const read = normalizeVersion(old as IModelVersion);
    expect(read.tags).toEqual({});
    expect(read.description).toBe('');
    expect(read.run_number).toBe(3);
  });

  it('keeps text tags and drops what is not text', () => {
    const sent = {
      ...v(1),
      tags: { owner: 'ana', n: 3, gone: null }
    } as unknown as IModelVersion;
    expect(normalizeVersion(sent).tags).toEqual({ owner: 'ana' });
    const odd = { ...v(1), tags: ['a=b'] } as unknown as IModelVersion;
    expect(normalizeVersion(odd).tags).toEqual({});
  });

  it('normalizes every version of a model', () => {
    const old = {
      ...CHURN,
      versions: CHURN.versions.map(x => {
        const sent: Partial<IModelVersion> = { ...x };
        delete sent.tags;
        return sent;
      })
    } as unknown as IModelDetail;
    const read = parseModelDetail(old);
    expect(read.versions.map(x => x.tags)).toEqual([{}, {}]);
    expect(read.aliases).toEqual(CHURN.aliases);
  });

  it("reads a model's own tags, none from a server before them", () => {
    const sent = {
      ...CHURN,
      tags: { team: 'growth', n: 1 }
    } as unknown as IModelDetail;
    expect(parseModelDetail(sent).tags).toEqual({ team: 'growth' });
    const old: Partial<IModelDetail> = { ...CHURN };
    delete old.tags;
    expect(parseModelDetail(old as IModelDetail).tags).toEqual({});
    expect(readTags(undefined)).toEqual({});
    expect(readTags('team=growth')).toEqual({});
  });

  it('puts a PATCHed version in place, its run kept', () => {
    const patched = {
      model: 'churn',
      version: 1,
      run_id: 'run-1',
      artifact: 'model',
      created_at: '2026-11-20T08:06:00+00:00',
      description: 'first try',
      aliases: ['production'],
      tags: { owner: 'ana' },
      ref: 'models:/churn/1'
    };
    const after = withVersion(CHURN, patched);
    const v1 = after.versions.find(x => x.version === 1)!;
    expect(v1.tags).toEqual({ owner: 'ana' });
    expect(v1.description).toBe('first try');
    expect(v1.run_name).toBe('rf-1');
    expect(after.versions[0]).toBe(CHURN.versions[0]);
    expect(CHURN.versions[1].tags).toEqual({});
  });
});

describe('tags as typed', () => {
  it('reads key=value entries separated by commas or lines', () => {
    expect(parseTagsText('validation=passed, owner=ana')).toEqual({
      tags: { validation: 'passed', owner: 'ana' }
    });
    expect(parseTagsText(' a = 1 \n\nb=2,')).toEqual({
      tags: { a: '1', b: '2' }
    });
  });

  it("keeps an '=' in a value, and allows an empty value", () => {
    expect(parseTagsText('query=a=b, note=')).toEqual({
      tags: { query: 'a=b', note: '' }
    });
  });

  it('reads empty text as no tags', () => {
    expect(parseTagsText('')).toEqual({ tags: {} });
    expect(parseTagsText('  ,  ')).toEqual({ tags: {} });
  });

  it('refuses an entry without a key or an =, and a key twice', () => {
    const bare = parseTagsText('validation=passed, owner');
    expect('error' in bare && bare.error).toContain('"owner" is not key=value');
    const keyless = parseTagsText('=passed');
    expect('error' in keyless && keyless.error).toContain('"=passed"');
    const twice = parseTagsText('a=1, a=2');
    expect('error' in twice && twice.error).toBe('The tag a is given twice.');
  });

  it('writes tags back as it reads them, by key', () => {
    const tags = { validation: 'passed', owner: 'ana', q: 'a=b' };
    expect(tagsText(tags)).toBe('owner=ana, q=a=b, validation=passed');
    expect(parseTagsText(tagsText(tags))).toEqual({ tags });
    expect(tagsText({})).toBe('');
  });

  it('keeps out of the text the tags it could not read back', () => {
    expect(
      editableTags({
        owner: 'ana',
        list: 'a,b',
        'a=b': 'x',
        pad: ' x',
        note: 'two\nlines'
      })
    ).toEqual({
      editable: { owner: 'ana' },
      kept: ['a=b', 'list', 'note', 'pad']
    });
  });
});

describe('tagsChange', () => {
  it('sets new and changed keys, and deletes removed ones with null', () => {
    expect(
      tagsChange(
        { owner: 'bob', stage: 'dev', keep: 'x' },
        { owner: 'ana', keep: 'x', validation: 'passed' }
      )
    ).toEqual({ owner: 'ana', stage: null, validation: 'passed' });
  });

  it('is empty when nothing changed', () => {
    expect(tagsChange({ a: '1', b: '2' }, { b: '2', a: '1' })).toEqual({});
    expect(tagsChange({}, {})).toEqual({});
  });

  it('deletes every tag when the text is emptied', () => {
    expect(tagsChange({ a: '1', b: '' }, {})).toEqual({ a: null, b: null });
  });

  it('sets an empty value as a change, not a deletion', () => {
    expect(tagsChange({ a: '1' }, { a: '' })).toEqual({ a: '' });
  });
});

describe('the Tags\u2026 dialog, for a model or a version', () => {
  it('starts from the tags its one line can show', () => {
    expect(tagsPrompt({ task: 'classification', team: 'growth' })).toEqual({
      editable: { task: 'classification', team: 'growth' },
      text: 'task=classification, team=growth',
      label: 'Tags as key=value, separated by commas'
    });
    expect(tagsPrompt({})).toEqual({
      editable: {},
      text: '',
      label: 'Tags as key=value, separated by commas'
    });
  });

  it('names the tags it keeps as they are', () => {
    const prompt = tagsPrompt({ team: 'growth', owners: 'ana,bob' });
    expect(prompt.text).toBe('team=growth');
    expect(prompt.label).toBe(
      'Tags as key=value, separated by commas (owners kept as they are)'
    );
  });

  it('reads the answer as the difference only', () => {
    const { editable } = tagsPrompt({ team: 'growth', task: 'churn' });
    expect(typedTagsChange(editable, 'team=retention, stage=beta')).toEqual({
      change: { team: 'retention', stage: 'beta', task: null }
    });
    expect(typedTagsChange(editable, 'task=churn,team=growth')).toEqual({
      change: {}
    });
  });

  it('does not delete a kept tag the text could not show', () => {
    const { editable } = tagsPrompt({ team: 'growth', owners: 'ana,bob' });
    expect(typedTagsChange(editable, '')).toEqual({
      change: { team: null }
    });
  });

  it('gives the typo instead of a change', () => {
    expect(typedTagsChange({ team: 'growth' }, 'team=growth, task')).toEqual({
      error:
        '"task" is not key=value; write tags as validation=passed, owner=ana.'
    });
  });
});

describe('changing a model', () => {
  const getText = InputDialog.getText as jest.Mock;
  const request = requestAPI as jest.Mock;
  const typed = (value: string, accept = true) =>
    getText.mockResolvedValueOnce({ button: { accept }, value });
  const sent = () =>
    request.mock.calls.map(([endpoint, init]) => [
      endpoint,
      init.method,
      JSON.parse(init.body)
    ]);
  const answer = (over: Partial<IModelDetail>) =>
    request.mockResolvedValueOnce({ ...CHURN, ...over });

  beforeEach(() => {
    jest.clearAllMocks();
  });

  it('PATCHes a description, tags or both in one body', async () => {
    const changed = jest.fn();
    registryChanged.connect(changed);
    answer({ description: 'who leaves', tags: { team: 'growth' } });
    const detail = await updateModel('my model', {
      description: 'who leaves',
      tags: { team: 'growth', task: null }
    });
    registryChanged.disconnect(changed);
    expect(sent()).toEqual([
      [
        'models/my%20model',
        'PATCH',
        { description: 'who leaves', tags: { team: 'growth', task: null } }
      ]
    ]);
    expect(detail.tags).toEqual({ team: 'growth' });
    expect(changed).toHaveBeenCalledWith(expect.anything(), {
      model: 'my model'
    });
  });

  it('tags a model with only what changed, and answers the model', async () => {
    typed('team=retention, stage=beta');
    answer({ tags: { team: 'retention', stage: 'beta' } });
    const after = await tagModelFlow({
      name: 'churn',
      tags: { team: 'growth', task: 'churn', owners: 'ana,bob' }
    });
    const dialog = getText.mock.calls[0][0];
    expect(dialog.title).toBe('Tags of churn');
    expect(dialog.text).toBe('task=churn, team=growth');
    expect(dialog.label).toContain('(owners kept as they are)');
    expect(sent()).toEqual([
      [
        'models/churn',
        'PATCH',
        { tags: { team: 'retention', stage: 'beta', task: null } }
      ]
    ]);
    expect(after?.tags).toEqual({ team: 'retention', stage: 'beta' });
  });

  it('shows a typo and sends nothing', async () => {
    typed('team=growth, task');
    expect(await tagModelFlow({ name: 'churn', tags: {} })).toBeNull();
    expect(request).not.toHaveBeenCalled();
    expect(showErrorMessage).toHaveBeenCalledWith('Cannot tag churn', {
      message: expect.stringContaining('"task" is not key=value')
    });
  });

  it('sends nothing when unchanged or cancelled', async () => {
    typed('team=growth');
    expect(
      await tagModelFlow({ name: 'churn', tags: { team: 'growth' } })
    ).toBeNull();
    expect(Notification.info).toHaveBeenCalledWith(
      'The tags of churn are unchanged.',
      expect.anything()
    );
    typed('team=other', false);
    expect(
      await tagModelFlow({ name: 'churn', tags: { team: 'growth' } })
    ).toBeNull();
    expect(request).not.toHaveBeenCalled();
  });

  it('shows a refusal with its message', async () => {
    typed('');
    request.mockRejectedValueOnce(new Error('the model has no tag team'));
    expect(
      await tagModelFlow({ name: 'churn', tags: { team: 'growth' } })
    ).toBeNull();
    expect(sent()).toEqual([
      ['models/churn', 'PATCH', { tags: { team: null } }]
    ]);
    expect(showErrorMessage).toHaveBeenCalledWith('Cannot change churn', {
      message: 'the model has no tag team'
    });
  });

  it('describes a model through the same PATCH, without its tags', async () => {
    typed(' who leaves ');
    answer({ description: 'who leaves' });
    await describeModelFlow({ name: 'churn', description: '' });
    expect(sent()).toEqual([
      ['models/churn', 'PATCH', { description: 'who leaves' }]
    ]);
  });

  it("tags a version through the same dialog, at the version's path", async () => {
    typed('owner=ana');
    request.mockResolvedValueOnce({
      ...v(2),
      tags: { owner: 'ana', validation: 'passed' }
    });
    const after = await tagVersionFlow('churn', {
      version: 2,
      tags: { validation: 'passed' }
    });
    expect(getText.mock.calls[0][0].title).toBe('Tags of churn v2');
    expect(sent()).toEqual([
      [
        'models/churn/versions/2',
        'PATCH',
        { tags: { owner: 'ana', validation: null } }
      ]
    ]);
    expect(after?.tags).toEqual({ owner: 'ana', validation: 'passed' });
  });
});
