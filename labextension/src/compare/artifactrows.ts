/**
 * The artifacts section of a comparison, as the Artifacts tab words it:
 * which rows to show, what a run holds, what changed. Pure (no DOM), so
 * jest tests it as is. Where a file's preview comes from and which renderer
 * draws it is the artifacts module's (artifacts/format.ts), as in the run
 * detail.
 */
import { filesText } from '../artifacts/format';
import { formatBytes } from '../model';
import {
  IArtifactRow,
  IArtifactSide,
  ICompareRun,
  IFileChanges,
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
 * model's `skops · sklearn 1.5.2 · 2.1 KiB`; `—` when it has none.
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
  if (parts.length === 0) {
    parts.push(side.kind);
  }
  parts.push(formatBytes(side.size));
  if (side.file_count !== 1) {
    parts.push(filesText(side.file_count));
  }
  return parts.join(' \u00b7 ');
}

/** `3 files changed, 1 added, 2 removed`, `1 file added` ('' when none). */
export function fileChangesText(changes: IFileChanges | null): string {
  if (!changes) {
    return '';
  }
  const parts: string[] = [];
  for (const key of ['changed', 'added', 'removed'] as const) {
    const count = changes[key];
    if (count) {
      parts.push(
        parts.length ? `${count} ${key}` : `${filesText(count)} ${key}`
      );
    }
  }
  return parts.join(', ');
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
