import {
  ExportOutcome,
  IExportRequest,
  IExportResult,
  exportNotice,
  listText,
  nextExportStep,
  parseTargets,
  withTargets
} from '../pipeline';

function result(overrides: Partial<IExportResult> = {}): IExportResult {
  return {
    notebook: 'nb/analysis.ipynb',
    directory: 'nb',
    files: ['nb/pipeline.py', 'nb/params.yaml', 'nb/requirements.txt'],
    pipeline: 'nb/pipeline.py',
    selection: 'latest_run',
    run: {
      id: 'a'.repeat(32),
      number: 3,
      name: 'second',
      experiment: 'default'
    },
    targets: ['score'],
    statements: 4,
    executions: 2,
    parameters: ['C'],
    requirements: [],
    start_cwd: '/srv/nb',
    summary: 'wrote nb/pipeline.py, nb/params.yaml, nb/requirements.txt',
    ...overrides
  };
}

function refused(
  status: number,
  message: string,
  extra: { reason?: string; existing?: string[] } = {}
): ExportOutcome {
  return { ok: false, status, message, ...extra };
}

const NOTEBOOK: IExportRequest = {
  notebook: 'nb/analysis.ipynb',
  kernel: 'k-1'
};

describe('parseTargets', () => {
  it('splits on commas and spaces, trims and drops repeats', () => {
    expect(parseTargets(' model, score ,model\tC  ')).toEqual([
      'model',
      'score',
      'C'
    ]);
    expect(parseTargets('a b,,c')).toEqual(['a', 'b', 'c']);
  });

  it('gives nothing for blank input', () => {
    expect(parseTargets('')).toEqual([]);
    expect(parseTargets(' , ,')).toEqual([]);
  });
});

describe('withTargets', () => {
  it('adds the names to the request', () => {
    expect(withTargets(NOTEBOOK, 'model, score')).toEqual({
      request: { ...NOTEBOOK, targets: ['model', 'score'] }
    });
  });

  it('refuses blank input and names that are not identifiers', () => {
    expect(withTargets(NOTEBOOK, '  ')).toEqual({
      error: 'Name at least one variable to export.'
    });
    const one = withTargets(NOTEBOOK, 'model, 2x');
    expect('error' in one && one.error).toMatch(/^"2x" is not a variable name/);
    const two = withTargets(NOTEBOOK, 'a.b, 1');
    expect('error' in two && two.error).toMatch(
      /^"a\.b", "1" are not variable names/
    );
  });
});

describe('listText', () => {
  it('joins with commas and "and"', () => {
    expect(listText([])).toBe('');
    expect(listText(['a'])).toBe('a');
    expect(listText(['a', 'b'])).toBe('a and b');
    expect(listText(['a', 'b', 'c'])).toBe('a, b and c');
  });
});

describe('exportNotice', () => {
  it('names the run and where the pipeline went', () => {
    expect(exportNotice(result())).toBe(
      'Exported run #3 "second" to pipeline.py in nb/ (4 statements)'
    );
    expect(
      exportNotice(result({ run: { ...result().run!, name: null } }))
    ).toBe('Exported run #3 to pipeline.py in nb/ (4 statements)');
  });

  it('names the variables of a targets export, and the root', () => {
    expect(
      exportNotice(
        result({
          selection: 'targets',
          run: null,
          targets: ['model', 'score'],
          directory: '',
          pipeline: 'pipeline.py',
          statements: 1
        })
      )
    ).toBe(
      'Exported model and score to pipeline.py in the server root (1 statement)'
    );
  });

  it('stays within a notification', () => {
    const many = Array.from({ length: 40 }, (_, i) => `variable_${i}`);
    const notice = exportNotice(
      result({ run: null, targets: many, selection: 'targets' })
    );
    expect(notice).toBe('Exported to nb/pipeline.py');
    const deep = `${'d/'.repeat(80)}pipeline.py`;
    const cut = exportNotice(
      result({ run: null, targets: many, pipeline: deep, directory: deep })
    );
    expect(cut.length).toBe(140);
    expect(cut.endsWith('\u2026')).toBe(true);
  });
});

describe('nextExportStep', () => {
  it('opens pipeline.py once written', () => {
    const step = nextExportStep(NOTEBOOK, { ok: true, result: result() });
    expect(step).toEqual({
      kind: 'done',
      result: result(),
      open: 'nb/pipeline.py',
      notice: 'Exported run #3 "second" to pipeline.py in nb/ (4 statements)',
      replaced: false
    });
    const again = nextExportStep(
      { ...NOTEBOOK, overwrite: true },
      { ok: true, result: result() }
    );
    expect(again.kind === 'done' && again.replaced).toBe(true);
  });

  it('asks before overwriting, then retries with overwrite', () => {
    const step = nextExportStep(
      NOTEBOOK,
      refused(409, 'pipeline.py, params.yaml already exist in nb', {
        reason: 'files_exist',
        existing: ['nb/pipeline.py', 'nb/params.yaml']
      })
    );
    expect(step).toEqual({
      kind: 'confirm-overwrite',
      title: 'Overwrite?',
      question:
        'pipeline.py and params.yaml already exist in nb. Overwrite them with the exported pipeline?',
      retry: { ...NOTEBOOK, overwrite: true }
    });
    const root = nextExportStep(
      { run: 'b'.repeat(32) },
      refused(409, 'x', { reason: 'files_exist', existing: ['params.yaml'] })
    );
    expect(root.kind === 'confirm-overwrite' && root.question).toBe(
      'params.yaml already exists beside the notebook. Overwrite it with the exported pipeline?'
    );
  });

  it('does not ask twice', () => {
    const step = nextExportStep(
      { ...NOTEBOOK, overwrite: true },
      refused(409, 'still there', { reason: 'files_exist', existing: [] })
    );
    expect(step).toEqual({
      kind: 'error',
      title: 'Cannot export to pipeline',
      message: 'still there'
    });
  });

  it('asks for variables when the session has no run', () => {
    const step = nextExportStep(
      NOTEBOOK,
      refused(400, 'no tracked run', { reason: 'targets_required' })
    );
    expect(step.kind).toBe('ask-targets');
    if (step.kind === 'ask-targets') {
      expect(step.request).toEqual(NOTEBOOK);
      expect(step.question).toMatch(/comma-separated/);
    }
    // Once targets were sent, the same refusal is an error, not a loop.
    const again = nextExportStep(
      { ...NOTEBOOK, targets: ['x'] },
      refused(400, 'no tracked run', { reason: 'targets_required' })
    );
    expect(again.kind).toBe('error');
  });

  it("shows the server's message for any other refusal", () => {
    for (const outcome of [
      refused(
        422,
        "no logged session of 'nb/a.ipynb': run '%load_ext jupyter_mltrack'",
        {
          reason: 'no_session'
        }
      ),
      refused(422, "cell 3: 'files = !ls' runs a shell command", {
        reason: 'export_failed'
      }),
      refused(404, "no notebook 'nb/a.ipynb' in the server root"),
      refused(400, 'targets must name at least one variable')
    ]) {
      const step = nextExportStep(NOTEBOOK, outcome);
      expect(step).toEqual({
        kind: 'error',
        title: 'Cannot export to pipeline',
        message: outcome.ok ? '' : outcome.message
      });
    }
  });

  it('says when the server cannot be reached', () => {
    const step = nextExportStep(NOTEBOOK, refused(0, 'Failed to fetch'));
    expect(step.kind === 'error' && step.message).toBe(
      'The server cannot be reached: Failed to fetch'
    );
  });
});
