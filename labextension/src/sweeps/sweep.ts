/**
 * What the runs list shows of a sweep (issue 15): a sweep is runs, a parent
 * run with source `sweep` (its params the definition: `metric`, `goal`,
 * `space.<param>`…) and a child run per trial tagged `mltrack.trial=N`. Pure
 * logic: which row is a sweep or a trial and the words its row shows.
 */

import { IRunSummary, JSONValue, formatValue } from '../model';

/** Where a sweep's runs say what they are. */
export const SWEEP_SOURCE = 'sweep';
export const SWEEP_TAG = 'mltrack.sweep';
export const TRIAL_TAG = 'mltrack.trial';

/** What a sweep's row shows. */
export interface ISweepSummary {
  /** The sweep's name (its `mltrack.sweep` tag, else the run's name). */
  name: string;
  /** The metric it optimises, `null` when the run does not say. */
  metric: string | null;
  goal: 'min' | 'max' | null;
  /** The best finished trial's value, `undefined` before one finished. */
  best: JSONValue | undefined;
  /** Trials (child runs), all statuses. */
  trials: number;
  /** Trials per status, the most first, as the server counted them. */
  statuses: [string, number][];
}

/** Whether a run is a sweep's own run (not one of its trials). */
export function isSweep(run: IRunSummary): boolean {
  return (
    run.source === SWEEP_SOURCE &&
    !Object.prototype.hasOwnProperty.call(run.tags ?? {}, TRIAL_TAG)
  );
}

/** A trial's number (`mltrack.trial`), `null` for any other run. */
export function trialNumber(run: IRunSummary): number | null {
  if (run.source !== SWEEP_SOURCE) {
    return null;
  }
  const raw = run.tags?.[TRIAL_TAG];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) {
    return null;
  }
  return Number(raw);
}

/** What a sweep's row shows, `null` for a run that is not a sweep. */
export function sweepSummary(run: IRunSummary): ISweepSummary | null {
  if (!isSweep(run)) {
    return null;
  }
  const metric =
    typeof run.params?.metric === 'string' ? run.params.metric : null;
  const goal =
    run.params?.goal === 'min' || run.params?.goal === 'max'
      ? run.params.goal
      : null;
  const statuses = Object.entries(run.children?.statuses ?? {})
    .filter(([, n]) => typeof n === 'number' && n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return {
    name: run.tags?.[SWEEP_TAG] || run.name || `#${run.number}`,
    metric,
    goal,
    best: metric === null ? undefined : bestValue(run, metric),
    trials: run.children?.count ?? 0,
    statuses
  };
}

/**
 * The best trial's value: the sweep run's own `best.<metric>` (the driver
 * writes it), else the best child's latest value (the server picks it among
 * the finished trials by the sweep's goal).
 */
function bestValue(run: IRunSummary, metric: string): JSONValue | undefined {
  const own = run.metrics?.[`best.${metric}`];
  if (own !== undefined && own !== null) {
    return own;
  }
  const child = run.children?.best?.[metric];
  if (child !== null && typeof child === 'object') {
    return child.last ?? undefined;
  }
  return child ?? undefined;
}

/**
 * The order a sweep's row lists its trials' ends in: still running, then
 * what went wrong, then what the pruner stopped.
 */
const STATUS_ORDER = ['running', 'failed', 'crashed', 'interrupted', 'pruned'];

/**
 * `20 trials · 2 failed · 3 pruned`: the trials, then each status but
 * `finished` (the usual end: what is left over says it).
 */
export function trialCountsText(summary: ISweepSummary): string {
  const parts = [`${summary.trials} trial${summary.trials === 1 ? '' : 's'}`];
  const rank = (status: string) => {
    const at = STATUS_ORDER.indexOf(status);
    return at < 0 ? STATUS_ORDER.length : at;
  };
  const others = summary.statuses
    .filter(([status]) => status !== 'finished')
    .sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  for (const [status, count] of others) {
    parts.push(`${count} ${status}`);
  }
  return parts.join(' \u00b7 ');
}

/** `best acc 0.91`, or `''` before a trial finished. */
export function bestText(summary: ISweepSummary): string {
  if (summary.metric === null || summary.best === undefined) {
    return '';
  }
  return `best ${summary.metric} ${formatValue(summary.best)}`;
}

/**
 * The row's tooltip: `Sweep lr-search: maximise acc; 20 trials: 15
 * finished, 3 pruned, 2 failed; best acc 0.91`.
 */
export function sweepTitle(summary: ISweepSummary): string {
  const aim =
    summary.metric === null
      ? ''
      : `: ${summary.goal === 'min' ? 'minimise' : summary.goal === 'max' ? 'maximise' : 'optimise'} ${summary.metric}`;
  const counts = summary.statuses.map(([s, n]) => `${n} ${s}`).join(', ');
  const trials = `${summary.trials} trial${summary.trials === 1 ? '' : 's'}${counts ? `: ${counts}` : ''}`;
  const best = bestText(summary);
  return `Sweep ${summary.name}${aim}; ${trials}${best ? `; ${best}` : ''}`;
}

/** `compare/charts?kind=sweep_history&sweep=ID`: a sweep chart's request. */
export function sweepChartQuery(
  kind: 'sweep_history' | 'sweep_importance',
  sweepId: string
): string {
  const query = new URLSearchParams({ kind, sweep: sweepId });
  return `compare/charts?${query.toString()}`;
}
