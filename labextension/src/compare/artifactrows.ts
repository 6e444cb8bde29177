/**
 * The artifacts section of a comparison, as the Artifacts tab words it:
 * which rows to show, what a run holds, what changed. Pure (no DOM), so
 * jest tests it as is. Where a file's preview comes from and which renderer
 * draws it is the artifacts module's (artifacts/format.ts), as in the run
 * detail.
 */
import { filesText } from '../artifacts/format';
import { indexAtOrBefore, stepsText, unionSteps } from '../artifacts/series';
import { formatBytes } from '../model';
import {
  IArtifactRow,
  IArtifactSide,
  IArtifactStep,
  ICompareRun,
  IFileChanges,
  ITableDiff,
  ITextDiff
} from './types';

/** The rows to show: all, or those where some run differs. */
export function visibleArtifacts(
  rows: IArtifactRow[] | undefined,
  differencesOnly: boolean
): IArtifactRow[] {
  return (rows || []).filter(row => !differencesOnly || row.status !== 'same');
}

/** The labels of the runs where `pick(i)` holds, e.g. `#5, #7`. */
function labelsWhere(
  runs: ICompareRun[],
  pick: (i: number) => boolean
): string {
  return runs
    .filter((_, i) => pick(i))
    .map(run => run.label)
    .join(', ');
}

/**
 * What the row's status says: `same bytes in every run`, `changed in #5`,
 * `missing in #3` (and `changed in #7` when also changed somewhere).
 */
export function artifactStatusText(
  row: IArtifactRow,
  runs: ICompareRun[]
): string {
  if (row.status === 'same') {
    return 'same bytes in every run';
  }
  const parts: string[] = [];
  const missing = labelsWhere(runs, i => !row.runs[i]);
  if (missing) {
    parts.push(`missing in ${missing}`);
  }
  const changed = labelsWhere(runs, i => row.states[i] === 'changed');
  if (changed) {
    parts.push(`changed in ${changed}`);
  }
  return parts.join('; ') || row.status;
}

/**
 * What a run holds: `text · 1.2 KiB`, `folder · 3.4 KiB · 12 files`, a
 * model's `skops · sklearn 1.5.2 · 2.1 KiB`, a series' `file · 1.2 KiB ·
 * 3 steps` (a series counts steps, not files), a table's `table 300 × 6 ·
 * 12 KiB`; `—` when it has none.
 */
export function artifactSideText(side: IArtifactSide | null): string {
  if (!side) {
    return '\u2014';
  }
  const parts: string[] = [];
  if (side.model) {
    const { format, flavor, library_version } = side.model;
    if (format) {
      parts.push(format);
    }
    const library = [flavor, library_version].filter(Boolean).join(' ');
    if (library) {
      parts.push(library);
    }
  }
  if (side.table) {
    const { rows, columns } = side.table;
    parts.push(
      `table ${rows.toLocaleString('en-US')} \u00d7 ${columns.toLocaleString('en-US')}`
    );
  }
  if (parts.length === 0) {
    parts.push(side.kind);
  }
  parts.push(formatBytes(side.size));
  if (side.step_count !== undefined) {
    parts.push(stepsText(side.step_count));
  } else if (side.file_count !== 1) {
    parts.push(filesText(side.file_count));
  }
  return parts.join(' \u00b7 ');
}

/**
 * A table's change in one line, as the terminal and the report say it
 * (`compare/artifact_rows.py`): `12 of 143 rows differ: pred 12, proba 40`,
 * `rows 143 -> 150` (paired by position), `3 rows added` (by index), `+
 * column score`, `- column id`, `label int64 -> object`; '' for none.
 */
export function tableChangeText(diff: ITableDiff | null | undefined): string {
  if (!diff) {
    return '';
  }
  if (diff.skipped) {
    return diff.skipped;
  }
  const count = (n: number) => n.toLocaleString('en-US');
  const parts: string[] = [];
  const [before, after] = diff.rows ?? [0, 0];
  const paired = before - (diff.rows_removed ?? 0);
  const by =
    diff.paired_by === 'key' ? ` (by ${(diff.key ?? []).join(', ')})` : '';
  if (diff.rows_changed) {
    const columns = Object.entries(diff.columns_changed ?? {})
      .map(([name, n]) => `${name} ${count(n)}`)
      .join(', ');
    parts.push(
      `${count(diff.rows_changed)} of ${count(paired)} rows${by} differ: ${columns}`
    );
  } else if (by && diff.rows_changed === 0) {
    // reordered, or rows only added or removed
    parts.push(`none of ${count(paired)} rows${by} differ`);
  }
  if (diff.paired_by === 'index' || diff.paired_by === 'key') {
    for (const [n, word] of [
      [diff.rows_added ?? 0, 'added'],
      [diff.rows_removed ?? 0, 'removed']
    ] as const) {
      if (n > 0) {
        parts.push(`${count(n)} ${n === 1 ? 'row' : 'rows'} ${word}`);
      }
    }
  } else if (before !== after) {
    parts.push(`rows ${count(before)} -> ${count(after)}`);
  }
  for (const [names, sign] of [
    [diff.added ?? [], '+'],
    [diff.removed ?? [], '-']
  ] as const) {
    if (names.length > 0) {
      const word = names.length === 1 ? 'column' : 'columns';
      parts.push(`${sign} ${word} ${names.join(', ')}`);
    }
  }
  for (const r of diff.retyped ?? []) {
    parts.push(`${r.name} ${r.a} -> ${r.b}`);
  }
  return parts.length > 0 ? parts.join('; ') : 'the same cells';
}

/**
 * `3 files changed, 1 added, 2 removed`, `1 file added` ('' when none); a
 * series counts steps: `2 steps changed, 1 added`.
 */
export function fileChangesText(
  changes: IFileChanges | null,
  unit: 'file' | 'step' = 'file'
): string {
  if (!changes) {
    return '';
  }
  const countText = unit === 'step' ? stepsText : filesText;
  const parts: string[] = [];
  for (const key of ['changed', 'added', 'removed'] as const) {
    const count = changes[key];
    if (count) {
      parts.push(
        parts.length ? `${count} ${key}` : `${countText(count)} ${key}`
      );
    }
  }
  return parts.join(', ');
}

/**
 * The slider's stops of a series row: every step some run logged (as the
 * row lists them: at most 500 a run), once, in order.
 */
export function seriesStops(row: IArtifactRow): number[] {
  return unionSteps(
    (row.steps ?? []).map(steps => (steps ? steps.map(s => s.step) : null))
  );
}

/** What a run shows at a step of a series: its step there, or the last before. */
export interface ISeriesAt {
  entry: IArtifactStep;
  /** The run logged this very step (not only an earlier one). */
  exact: boolean;
}

/**
 * Per run, what it shows at `step`: its last step at or before it (a run
 * that logged less often keeps its latest picture, as a metric's `step=N`
 * keeps its last point); `null` where it has no such series or all its
 * steps come later.
 */
export function seriesAt(
  row: IArtifactRow,
  step: number
): (ISeriesAt | null)[] {
  return row.runs.map((_, i) => {
    const steps = row.steps?.[i] ?? null;
    if (!steps) {
      return null;
    }
    const index = indexAtOrBefore(
      steps.map(s => s.step),
      step
    );
    if (index < 0) {
      return null;
    }
    const entry = steps[index];
    return { entry, exact: entry.step === step };
  });
}

/**
 * A run's caption at `step`: `step 3`, `step 3 (latest before 5)`, or why
 * it shows nothing: `not logged`, `no step at or before 2`.
 */
export function seriesCaption(
  steps: IArtifactStep[] | null | undefined,
  at: ISeriesAt | null,
  step: number
): string {
  if (!steps || steps.length === 0) {
    return 'not logged';
  }
  if (!at) {
    return `no step at or before ${step}`;
  }
  return at.exact
    ? `step ${at.entry.step}`
    : `step ${at.entry.step} (latest before ${step})`;
}

/** Lines a diff adds and removes: `+3 −1`. */
export function diffCounts(diff: ITextDiff | null): string {
  let added = 0;
  let removed = 0;
  for (const hunk of diff?.hunks ?? []) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) {
        added++;
      } else if (line.startsWith('-')) {
        removed++;
      }
    }
  }
  return `+${added} \u2212${removed}`;
}
