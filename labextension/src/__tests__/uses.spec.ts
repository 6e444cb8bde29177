import { IArtifactUse } from '../artifacts/types';
import {
  moreUsersText,
  runRefText,
  useCallText,
  useGoneText,
  useSourceText,
  useTitle,
  useVersionText,
  usedEntryText
} from '../artifacts/uses';
import { metricsText } from '../models/format';

const PRODUCER = 'f'.repeat(32);
const USER = 'e'.repeat(32);

/** Run #12 of Default loaded churn v2 (logged by run #3) by its alias. */
function use(overrides: Partial<IArtifactUse> = {}): IArtifactUse {
  return {
    run_id: USER,
    run_number: 12,
    run_experiment: 'Default',
    source_run_id: PRODUCER,
    source_number: 3,
    source_experiment: 'Default',
    source_exists: true,
    name: 'model',
    kind: 'model',
    digest: '3f2a9c1b0d4e5f60718293a4b5c6d7e8',
    ref: 'models:/churn@production',
    how: 'load_model',
    model: 'churn',
    version: 2,
    used_at: '2026-11-20T08:06:05+00:00',
    ...overrides
  };
}

describe('runRefText', () => {
  it('names a run by number and experiment', () => {
    expect(runRefText(3, 'Default', PRODUCER)).toBe('#3 of Default');
    expect(runRefText(3, null, PRODUCER)).toBe('#3');
  });

  it('names a deleted run by the start of its id', () => {
    expect(runRefText(null, 'Default', PRODUCER)).toBe('run ffffffff');
  });
});

describe('what a use says', () => {
  it('names the version a models:/ reference resolved to', () => {
    expect(useVersionText(use())).toBe('churn v2');
    expect(useVersionText(use({ version: null }))).toBe('churn');
  });

  it('names no version for an artifact reached through its run', () => {
    expect(
      useVersionText(use({ ref: '3/model', model: null, version: null }))
    ).toBeNull();
  });

  it('names what was used and the run that logged it', () => {
    expect(useSourceText(use())).toBe("model 'model' of #3 of Default");
    expect(
      useSourceText(
        use({ kind: 'file', name: 'features.parquet', source_experiment: null })
      )
    ).toBe("file 'features.parquet' of #3");
    expect(useSourceText(use({ source_number: null }))).toBe(
      "model 'model' of run ffffffff"
    );
  });

  it('says what is gone of it', () => {
    expect(useGoneText(use())).toBeNull();
    expect(
      useGoneText(use({ source_number: null, source_exists: false }))
    ).toBe('(not in this store)');
    expect(useGoneText(use({ source_exists: false }))).toBe(
      '(artifact deleted)'
    );
  });

  it('writes the call as Python would', () => {
    expect(useCallText(use())).toBe("load_model('models:/churn@production')");
    expect(useCallText(use({ how: 'load_text', ref: "3/it's.txt" }))).toBe(
      "load_text('3/it\\'s.txt')"
    );
  });

  it('titles it with the call, when, and the digest', () => {
    const now = new Date('2026-11-20T18:00:00Z');
    expect(useTitle(use(), now)).toBe(
      "load_model('models:/churn@production') at 08:06:05 \u00b7 digest 3f2a9c1b0d4e"
    );
    expect(useTitle(use({ used_at: '', digest: '' }), now)).toBe(
      "load_model('models:/churn@production')"
    );
  });
});

describe('the runs that used it', () => {
  it('says how many more there are than listed', () => {
    expect(moreUsersText({ count: 1, runs: [use()] })).toBeNull();
    expect(moreUsersText({ count: 1203, runs: [use(), use()] })).toBe(
      '\u2026 1,201 more'
    );
  });

  it('shows their first metrics, NaN as the server sends it', () => {
    expect(metricsText({ auc: 0.91234, loss: 'nan', f1: 0.5, acc: 1 })).toBe(
      'auc 0.9123 \u00b7 loss nan \u00b7 f1 0.5'
    );
    expect(metricsText(use().metrics)).toBe('');
  });
});

describe('a compare cell of what a run used', () => {
  it('shows the version and its run', () => {
    expect(usedEntryText(use())).toBe('churn v2 \u00b7 #3');
  });

  it('shows an artifact by its name, a deleted run by its id', () => {
    expect(
      usedEntryText(
        use({ model: null, version: null, name: 'features', ref: '3/features' })
      )
    ).toBe('features \u00b7 #3');
    expect(usedEntryText(use({ source_number: null }))).toBe(
      'churn v2 \u00b7 run ffffffff'
    );
  });
});
