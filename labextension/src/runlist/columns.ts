/**
 * The metric columns of the runs sidebar: which metrics get a column, which
 * reducer each shows (best-not-last: `{"loss": "min", "acc": "max"}`), what a
 * cell holds, and the field a click on the header sorts by on the server.
 */

import { IRunSummary, JSONValue } from '../model';
import { metricField } from './query';

/** How a metric's points become one number (the server's `REDUCERS`). */
export const REDUCERS = [
  'last',
  'min',
  'max',
  'mean',
  'best',
  'count'
] as const;

/** A reducer. */
export type Reducer = (typeof REDUCERS)[number];

/** Whether a value names a reducer. */
export function isReducer(value: unknown): value is Reducer {
  return (
    typeof value === 'string' && (REDUCERS as readonly string[]).includes(value)
  );
}

/**
 * The reducer a metric's column shows: the metric's own setting
 * (`metricReducers`), else the default one (`defaultMetricReducer`), else
 * the latest value. Unknown reducers are ignored.
 */
export function reducerFor(
  key: string,
  reducers: { [key: string]: unknown } = {},
  fallback: unknown = 'last'
): Reducer {
  const own = Object.prototype.hasOwnProperty.call(reducers, key)
    ? reducers[key]
    : undefined;
  if (isReducer(own)) {
    return own;
  }
  return isReducer(fallback) ? fallback : 'last';
}

/** What decides the metric columns. */
export interface IColumnChoice {
  /** The `keyMetrics` setting: when it names metrics, they are the columns. */
  configured?: string[];
  /**
   * Metrics present in the scope (`GET runs/keys`), `null` until known (or
   * when the server cannot tell).
   */
  available?: string[] | null;
  /** Metrics of the loaded runs, in list order: preferred, in that order. */
  hints?: string[];
  /** The columns shown so far: kept while they exist, so a sort does not reshuffle them. */
  previous?: string[];
  /** How many columns at most. */
  max?: number;
}

/**
 * The metric columns: the configured ones as given; otherwise the previous
 * columns still present, then metrics of the loaded runs (newest first in
 * the default order), then the other metrics of the scope by name.
 */
export function chooseMetricColumns(choice: IColumnChoice): string[] {
  const configured = (choice.configured ?? []).filter(
    name => typeof name === 'string' && name !== ''
  );
  if (configured.length > 0) {
    return Array.from(new Set(configured));
  }
  const max = Math.max(0, choice.max ?? 3);
  const hints = choice.hints ?? [];
  const available = choice.available ?? null;
  const present = (name: string) =>
    available === null ? hints.includes(name) : available.includes(name);
  const columns: string[] = [];
  const add = (name: string) => {
    if (columns.length < max && present(name) && !columns.includes(name)) {
      columns.push(name);
    }
  };
  (choice.previous ?? []).forEach(add);
  hints.forEach(add);
  (available ?? []).forEach(add);
  return columns;
}

/** The metric keys of runs, each once, in the order the runs list them. */
export function metricHints(runs: Iterable<IRunSummary>, max = 50): string[] {
  const names: string[] = [];
  for (const run of runs) {
    for (const name of Object.keys(run.metrics || {})) {
      if (!names.includes(name)) {
        names.push(name);
        if (names.length >= max) {
          return names;
        }
      }
    }
  }
  return names;
}

/**
 * The value a metric cell shows: the run's `metric_summary` under the
 * reducer; from a server without summaries, the latest value (`metrics`) for
 * `last`. `undefined` when the run has no such metric; `null` is NaN (or no
 * point that counts).
 */
export function metricValue(
  run: IRunSummary,
  key: string,
  reducer: Reducer
): JSONValue | undefined {
  const summary = run.metric_summary?.[key];
  if (summary) {
    const value = summary[reducer];
    return value === undefined ? null : value;
  }
  if (reducer === 'last' && run.metrics && key in run.metrics) {
    return run.metrics[key];
  }
  return undefined;
}

/**
 * The best value of a metric among a parent's children (by the metric's
 * goal) under the column's reducer, `undefined` when no child has it.
 */
export function childrenBest(
  run: IRunSummary,
  key: string,
  reducer: Reducer
): JSONValue | undefined {
  const best = run.children?.best;
  if (!best || !Object.prototype.hasOwnProperty.call(best, key)) {
    return undefined;
  }
  const value = best[key];
  if (value !== null && typeof value === 'object') {
    return Object.prototype.hasOwnProperty.call(value, reducer)
      ? value[reducer]
      : undefined;
  }
  return value;
}

/** The header of a metric column: `acc`, or `loss (min)` under a reducer. */
export function metricLabel(key: string, reducer: Reducer): string {
  return reducer === 'last' ? key : `${key} (${reducer})`;
}

/** The tooltip of a metric column's header. */
export function metricTitle(key: string, reducer: Reducer): string {
  const what: { [R in Reducer]: string } = {
    last: 'latest value',
    min: 'lowest value',
    max: 'highest value',
    mean: 'mean of its values',
    best: 'best value (by its goal)',
    count: 'number of values logged'
  };
  return `${key}: ${what[reducer]}. Click to sort (on the server); a parent run also shows its children's best`;
}

/** The order field of a metric column: `metrics.acc.max`. */
export function metricOrder(key: string, reducer: Reducer): string {
  return metricField(key, reducer);
}
