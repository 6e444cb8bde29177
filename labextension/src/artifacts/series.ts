/**
 * Images and figures logged at a step (`mltrack.log_image(img, "pred",
 * step=3)`): each step is an artifact of its own (`pred/step_000003`) whose
 * meta names its series and step. The run detail lists a series as one row
 * with a slider over its steps, and the compare view puts the runs' images
 * side by side at the step the slider picks. Pure (no DOM): jest tests it.
 */

import { JSONValue, formatBytes } from '../model';
import { IArtifact } from './types';

/** Where an artifact logged at a step belongs. */
export interface IStepOf {
  series: string;
  step: number;
}

/** The series and step an artifact's meta records; `null` for any other. */
export function stepOf(
  meta:
    | {
        [key: string]: JSONValue;
      }
    | null
    | undefined
): IStepOf | null {
  const series = meta?.series;
  const step = meta?.step;
  if (typeof series === 'string' && series && Number.isInteger(step)) {
    return { series, step: step as number };
  }
  return null;
}

/** A run's series: its artifacts in step order. */
export interface IArtifactSeries {
  name: string;
  members: IArtifact[];
  steps: number[];
}

/** A row of the run's artifact table: an artifact, or a series of them. */
export type ArtifactEntry =
  | { artifact: IArtifact; series?: undefined }
  | { series: IArtifactSeries; artifact?: undefined };

/**
 * The artifacts as the table lists them: a series takes the place of its
 * first member in the listing's order (the server lists by name), its steps
 * sorted as numbers.
 */
export function groupArtifacts(artifacts: IArtifact[]): ArtifactEntry[] {
  const entries: ArtifactEntry[] = [];
  const byName = new Map<string, IArtifactSeries>();
  for (const artifact of artifacts) {
    const at = stepOf(artifact.meta);
    if (!at) {
      entries.push({ artifact });
      continue;
    }
    let series = byName.get(at.series);
    if (!series) {
      series = { name: at.series, members: [], steps: [] };
      byName.set(at.series, series);
      entries.push({ series });
    }
    series.members.push(artifact);
  }
  for (const series of byName.values()) {
    series.members.sort((a, b) => stepOf(a.meta)!.step - stepOf(b.meta)!.step);
    series.steps = series.members.map(a => stepOf(a.meta)!.step);
  }
  return entries;
}

/**
 * The index of the last of the sorted `steps` at or before `step`: what a
 * run shows at a step it did not log (it logged less often); `-1` when all
 * its steps come later.
 */
export function indexAtOrBefore(
  steps: readonly number[],
  step: number
): number {
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo - 1;
}

/** Every step any of the lists holds, once, in order: the slider's stops. */
export function unionSteps(
  lists: readonly (readonly number[] | null)[]
): number[] {
  const all = new Set<number>();
  for (const list of lists) {
    for (const step of list ?? []) {
      all.add(step);
    }
  }
  return [...all].sort((a, b) => a - b);
}

/** `1 step`, `1,200 steps`. */
export function stepsText(count: number): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? 'step' : 'steps'}`;
}

/** `step 7`, with the step range: `step 7 of 0–99`. */
export function stepLabel(step: number, steps: readonly number[]): string {
  if (steps.length < 2) {
    return `step ${step}`;
  }
  return `step ${step} of ${steps[0]}\u2013${steps[steps.length - 1]}`;
}

/** What a series holds, as its row's Kind says it: `Images`, `Figures`. */
export function seriesLabel(member: IArtifact): string {
  return member.kind === 'figure' ? 'Figures' : 'Images';
}

/** A series' header: `Images · 3 steps · 772 B`. */
export function seriesText(series: IArtifactSeries): string {
  const size = series.members.reduce((sum, a) => sum + a.size, 0);
  const last = series.members[series.members.length - 1];
  return [
    seriesLabel(last),
    stepsText(series.steps.length),
    formatBytes(size)
  ].join(' \u00b7 ');
}
