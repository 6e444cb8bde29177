import { listingKey } from '../artifacts/format';
import {
  groupArtifacts,
  indexAtOrBefore,
  seriesLabel,
  seriesText,
  stepLabel,
  stepOf,
  stepsText,
  unionSteps
} from '../artifacts/series';
import { IArtifact } from '../artifacts/types';
import {
  IArtifactRow,
  IArtifactSide,
  IArtifactStep,
  artifactSideText,
  fileChangesText,
  seriesAt,
  seriesCaption,
  seriesStops
} from '../compare/model';
import { JSONValue } from '../model';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

function artifact(name: string, meta: { [key: string]: JSONValue } = {}) {
  const art: IArtifact = {
    run_id: A,
    name,
    kind: 'file',
    size: 100,
    file_count: 1,
    media_type: 'image/png',
    meta,
    created_at: '2024-01-01T00:00:00Z',
    files: [{ path: 'image.png', digest: 'xxh3-128:1', size: 100 }]
  };
  return art;
}

/** A step of `pred` as the comparison lists it. */
function step(run_id: string, n: number, digest = `d${n}`): IArtifactStep {
  const name = `pred/step_${String(n).padStart(6, '0')}`;
  return {
    step: n,
    run_id,
    name,
    path: `step_${String(n).padStart(6, '0')}.png`,
    media_type: 'image/png',
    size: 2048,
    digest
  };
}

function seriesSide(steps: number[]): IArtifactSide {
  return {
    kind: 'file',
    size: 1229,
    file_count: steps.length,
    media_type: 'image/png',
    files: [],
    model: null,
    step_count: steps.length,
    first_step: steps[0],
    last_step: steps[steps.length - 1]
  };
}

/** A series row: the baseline logged at 0, 2, 4; B at 1, 2, 10; C not at all. */
function seriesRow(): IArtifactRow {
  return {
    name: 'pred',
    kind: 'file',
    view: 'series',
    status: 'missing',
    runs: [seriesSide([0, 2, 4]), seriesSide([1, 2, 10]), null],
    states: [null, 'changed', 'missing'],
    file_changes: [null, { added: 2, removed: 2, changed: 1 }, null],
    text_diffs: [null, null, null],
    images: [null, null, null],
    steps: [
      [step(A, 0), step(A, 2), step(A, 4)],
      [step(B, 1), step(B, 2, 'other'), step(B, 10)],
      null
    ]
  };
}

describe('stepOf', () => {
  it('reads the series and step of an artifact logged at a step', () => {
    expect(stepOf({ series: 'pred', step: 3 })).toEqual({
      series: 'pred',
      step: 3
    });
    expect(stepOf({ series: 'pred', step: 0 })).toEqual({
      series: 'pred',
      step: 0
    });
  });

  it('is null for any other meta', () => {
    expect(stepOf(null)).toBeNull();
    expect(stepOf(undefined)).toBeNull();
    expect(stepOf({})).toBeNull();
    expect(stepOf({ series: 'pred' })).toBeNull();
    expect(stepOf({ step: 3 })).toBeNull();
    expect(stepOf({ series: '', step: 3 })).toBeNull();
    expect(stepOf({ series: 'pred', step: 1.5 })).toBeNull();
    expect(stepOf({ series: 'pred', step: true })).toBeNull();
    expect(stepOf({ series: 'pred', step: '3' })).toBeNull();
    expect(stepOf({ series: 3, step: 3 })).toBeNull();
  });
});

describe('groupArtifacts', () => {
  it('puts a series in place of its first member, its steps sorted as numbers', () => {
    const list = [
      artifact('a.txt'),
      artifact('pred/step_000010', { series: 'pred', step: 10 }),
      artifact('pred/step_000009', { series: 'pred', step: 9 }),
      artifact('b.txt'),
      artifact('pred/step_000002', { series: 'pred', step: 2 }),
      artifact('z.txt')
    ];
    const entries = groupArtifacts(list);
    expect(entries.map(e => e.artifact?.name ?? `[${e.series!.name}]`)).toEqual(
      ['a.txt', '[pred]', 'b.txt', 'z.txt']
    );
    const series = entries[1].series!;
    expect(series.steps).toEqual([2, 9, 10]);
    expect(series.members.map(a => a.name)).toEqual([
      'pred/step_000002',
      'pred/step_000009',
      'pred/step_000010'
    ]);
  });

  it('keeps series apart by name and leaves other artifacts as they are', () => {
    const plain = artifact('loss.png', { caption: 'x' });
    const list = [
      artifact('attn/step_000001', { series: 'attn', step: 1 }),
      plain,
      artifact('pred/step_000001', { series: 'pred', step: 1 }),
      artifact('attn/step_000000', { series: 'attn', step: 0 })
    ];
    const entries = groupArtifacts(list);
    expect(entries).toHaveLength(3);
    expect(entries[0].series!.name).toBe('attn');
    expect(entries[0].series!.steps).toEqual([0, 1]);
    expect(entries[1].artifact).toBe(plain);
    expect(entries[2].series!.name).toBe('pred');
    expect(entries[2].series!.steps).toEqual([1]);
  });

  it('ignores a meta whose step is not an integer or has no series', () => {
    const list = [
      artifact('x', { series: 'pred', step: true }),
      artifact('y', { series: 'pred', step: 2.5 }),
      artifact('z', { step: 3 })
    ];
    const entries = groupArtifacts(list);
    expect(entries.map(e => e.artifact?.name)).toEqual(['x', 'y', 'z']);
    expect(entries.every(e => e.series === undefined)).toBe(true);
    expect(groupArtifacts([])).toEqual([]);
  });
});

describe('indexAtOrBefore', () => {
  const steps = [0, 5, 10];

  it('finds the last step at or before a step', () => {
    expect(indexAtOrBefore(steps, -1)).toBe(-1);
    expect(indexAtOrBefore(steps, 0)).toBe(0);
    expect(indexAtOrBefore(steps, 5)).toBe(1);
    expect(indexAtOrBefore(steps, 7)).toBe(1);
    expect(indexAtOrBefore(steps, 10)).toBe(2);
    expect(indexAtOrBefore(steps, 99)).toBe(2);
    expect(indexAtOrBefore([], 3)).toBe(-1);
  });
});

describe('step texts', () => {
  it('merges the runs’ steps into the slider’s stops', () => {
    expect(unionSteps([[0, 10, 2], null, [2, 9]])).toEqual([0, 2, 9, 10]);
    expect(unionSteps([null, []])).toEqual([]);
    expect(unionSteps([])).toEqual([]);
  });

  it('counts steps and names the step shown', () => {
    expect(stepsText(1)).toBe('1 step');
    expect(stepsText(0)).toBe('0 steps');
    expect(stepsText(1200)).toBe('1,200 steps');
    expect(stepLabel(7, [])).toBe('step 7');
    expect(stepLabel(7, [7])).toBe('step 7');
    expect(stepLabel(7, [0, 7, 99])).toBe('step 7 of 0\u201399');
  });
});

describe('a series in the comparison', () => {
  it('stops at every step some run logged', () => {
    expect(seriesStops(seriesRow())).toEqual([0, 1, 2, 4, 10]);
    expect(seriesStops({ ...seriesRow(), steps: undefined })).toEqual([]);
  });

  it('shows each run’s last step at or before the slider’s', () => {
    const row = seriesRow();
    const at = (n: number) =>
      seriesAt(row, n).map(x => (x ? [x.entry.step, x.exact] : null));
    expect(at(0)).toEqual([[0, true], null, null]);
    expect(at(1)).toEqual([[0, false], [1, true], null]);
    expect(at(4)).toEqual([[4, true], [2, false], null]);
    expect(at(10)).toEqual([[4, false], [10, true], null]);
    expect(seriesAt(row, 2)[1]!.entry.digest).toBe('other');
    expect(seriesAt({ ...row, steps: undefined }, 2)).toEqual([
      null,
      null,
      null
    ]);
  });

  it('captions what a run shows, or why it shows nothing', () => {
    const row = seriesRow();
    const captions = (n: number) =>
      seriesAt(row, n).map((at, i) => seriesCaption(row.steps![i], at, n));
    expect(captions(0)).toEqual([
      'step 0',
      'no step at or before 0',
      'not logged'
    ]);
    expect(captions(3)).toEqual([
      'step 2 (latest before 3)',
      'step 2 (latest before 3)',
      'not logged'
    ]);
    expect(seriesCaption([], null, 3)).toBe('not logged');
  });

  it('counts a series side’s steps, and its changes in steps', () => {
    expect(artifactSideText(seriesSide([0, 2, 4]))).toBe(
      'file \u00b7 1.2 KiB \u00b7 3 steps'
    );
    expect(artifactSideText(seriesSide([7]))).toBe(
      'file \u00b7 1.2 KiB \u00b7 1 step'
    );
    expect(fileChangesText({ added: 1, removed: 0, changed: 2 }, 'step')).toBe(
      '2 steps changed, 1 added'
    );
    expect(fileChangesText({ added: 1, removed: 0, changed: 0 }, 'step')).toBe(
      '1 step added'
    );
    expect(fileChangesText({ added: 0, removed: 0, changed: 0 }, 'step')).toBe(
      ''
    );
    expect(fileChangesText({ added: 1, removed: 0, changed: 2 })).toBe(
      '2 files changed, 1 added'
    );
  });
});

describe('a series in the run detail', () => {
  const steps = [0, 1, 2].map(step =>
    artifact(`pred/step_00000${step}`, { series: 'pred', step })
  );

  it('says what it holds', () => {
    const [entry] = groupArtifacts(steps);
    expect(seriesLabel(steps[0])).toBe('Images');
    expect(seriesLabel({ ...steps[0], kind: 'figure' })).toBe('Figures');
    expect(seriesText(entry.series!)).toBe(
      'Images \u00b7 3 steps \u00b7 300 B'
    );
  });

  it('sees a listing change by names, states and bytes only', () => {
    const again = steps.map(a => ({ ...a, created_at: 'later' }));
    expect(listingKey(again)).toBe(listingKey(steps));
    expect(listingKey(steps.slice(0, 2))).not.toBe(listingKey(steps));
    const pending = [{ ...steps[0], status: 'pending' }, ...steps.slice(1)];
    expect(listingKey(pending)).not.toBe(listingKey(steps));
    const replaced = [
      {
        ...steps[0],
        files: [{ path: 'image.png', digest: 'xxh3-128:2', size: 9 }]
      },
      ...steps.slice(1)
    ];
    expect(listingKey(replaced)).not.toBe(listingKey(steps));
  });
});
