/**
 * Pure state of the *Compare runs* view: the wire types of
 * `GET /mltrack/api/compare` (and `compare/explain`, `compare/charts`), the
 * query strings, the user's choices (baseline, reducers, step, differences
 * only, chart options) and live polling.
 *
 * Nothing here touches the DOM: the view renders what this model holds, and
 * jest drives it with a fake fetcher.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { artifactEndpoint } from '../artifacts/format';
import { IArtifactPreview } from '../artifacts/types';
import { requestAPI } from '../handler';
import { compareTitle, errorMessage } from './format';
import {
  IArtifactImage,
  IAttributeRow,
  IComparison,
  IExplanation,
  IFigure,
  IMetricRow,
  IPackageRow,
  IParamRow
} from './types';

export * from './types';

/** Fetch an API endpoint (relative to `mltrack/api/`) and decode its JSON. */
export type Fetcher = <T>(endPoint: string) => Promise<T>;

/** The fetcher of the running application: `requestAPI`. */
export const defaultFetcher: Fetcher = <T>(endPoint: string) =>
  requestAPI<T>(endPoint);

// ---------------------------------------------------------------------------
// Reducers

/** The kinds of reducer the server knows. */
export type ReducerKind = 'last' | 'min' | 'max' | 'best' | 'mean' | 'step';

export const REDUCER_KINDS: ReducerKind[] = [
  'last',
  'min',
  'max',
  'best',
  'mean',
  'step'
];

/** A reducer spec split into its kind and argument (`mean=5` → mean, 5). */
export interface IReducer {
  kind: ReducerKind;
  arg: number | null;
}

/**
 * Parse a reducer spec as the server writes it: `last`, `min`, `max`,
 * `best`, `mean=K` (K ≥ 1), `step=N` (N ≥ 0). `null` for anything else.
 */
export function parseReducer(spec: string): IReducer | null {
  const text = (spec || '').trim().toLowerCase();
  if (text === 'last' || text === 'min' || text === 'max' || text === 'best') {
    return { kind: text, arg: null };
  }
  const match = /^(mean|step)\s*=\s*(-?\d+)$/.exec(text);
  if (!match) {
    return null;
  }
  const kind = match[1] as 'mean' | 'step';
  const arg = Number(match[2]);
  if ((kind === 'mean' && arg < 1) || (kind === 'step' && arg < 0)) {
    return null;
  }
  return { kind, arg };
}

/** The spec of a reducer; `mean`/`step` without argument get a default. */
export function reducerSpec(kind: ReducerKind, arg?: number | null): string {
  if (kind === 'mean') {
    const k = arg === null || arg === undefined || !isFinite(arg) ? 5 : arg;
    return `mean=${Math.max(1, Math.round(k))}`;
  }
  if (kind === 'step') {
    const n = arg === null || arg === undefined || !isFinite(arg) ? 0 : arg;
    return `step=${Math.max(0, Math.round(n))}`;
  }
  return kind;
}

/** Human text of a reducer: `last`, `mean of last 5`, `at step 9`. */
export function describeReducer(spec: string): string {
  const reducer = parseReducer(spec);
  if (!reducer) {
    return spec;
  }
  if (reducer.kind === 'mean') {
    return `mean of last ${reducer.arg}`;
  }
  if (reducer.kind === 'step') {
    return `at step ${reducer.arg}`;
  }
  return reducer.kind;
}

// ---------------------------------------------------------------------------
// Query strings

/** What a comparison asks the server. */
export interface ICompareRequest {
  runs: string[];
  baseline?: string | null;
  /** Metric key → reducer spec. */
  reducers?: { [key: string]: string };
  step?: number | null;
  experiment?: string | null;
}

/** `compare?runs=…&baseline=…&reducer=KEY:SPEC…&step=N`. */
export function compareQuery(request: ICompareRequest): string {
  const parts = [`runs=${request.runs.map(encodeURIComponent).join(',')}`];
  if (request.baseline) {
    parts.push(`baseline=${encodeURIComponent(request.baseline)}`);
  }
  const reducers = request.reducers || {};
  for (const key of Object.keys(reducers).sort()) {
    parts.push(`reducer=${encodeURIComponent(`${key}:${reducers[key]}`)}`);
  }
  if (request.step !== null && request.step !== undefined) {
    parts.push(`step=${Math.max(0, Math.round(request.step))}`);
  }
  if (request.experiment) {
    parts.push(`experiment=${encodeURIComponent(request.experiment)}`);
  }
  return `compare?${parts.join('&')}`;
}

/** `compare/explain?a=…&b=…&metric=…`. */
export function explainQuery(a: string, b: string, metric: string): string {
  return `compare/explain?a=${encodeURIComponent(a)}&b=${encodeURIComponent(
    b
  )}&metric=${encodeURIComponent(metric)}`;
}

/** The snapshot diff from `a` to `b` (summary only, reads no data). */
export function snapshotDiffQuery(a: string, b: string, sample = 0): string {
  const query = sample > 0 ? `?sample=${Math.round(sample)}` : '';
  return `snapshots/${encodeURIComponent(a)}/diff/${encodeURIComponent(
    b
  )}${query}`;
}

export type ChartKind =
  'curves' | 'bars' | 'parallel' | 'scatter' | 'importance';

export const CHART_KINDS: ChartKind[] = [
  'curves',
  'bars',
  'parallel',
  'scatter',
  'importance'
];

export type ChartX = 'step' | 'relative' | 'wall';

/** The controls of the Charts tab. */
export interface IChartOptions {
  kind: ChartKind;
  /** x axis of the curves. */
  x: ChartX;
  /** EMA weight, 0 (none) to 0.99. */
  smoothing: number;
  log: boolean;
  /** Metrics to show; empty: the server's default (all). */
  metrics: string[];
  /** Parameters of the parallel plot; empty: those that vary. */
  params: string[];
  /** Colour metric of the parallel plot (also the importance metric). */
  color: string | null;
  /** Scatter axes, e.g. `params.lr` and `metrics.acc`. */
  scatterX: string | null;
  scatterY: string | null;
}

export const DEFAULT_CHART_OPTIONS: IChartOptions = {
  kind: 'curves',
  x: 'step',
  smoothing: 0,
  log: false,
  metrics: [],
  params: [],
  color: null,
  scatterX: null,
  scatterY: null
};

/**
 * `compare/charts?kind=…` for the runs compared, or `null` with the reason
 * when the options cannot make that chart yet (e.g. a scatter without axes).
 */
export function chartQuery(
  runs: string[],
  options: IChartOptions,
  experiments: string[] = []
): { query: string } | { missing: string } {
  const parts = [`kind=${options.kind}`];
  const add = (key: string, value: string) =>
    parts.push(`${key}=${encodeURIComponent(value)}`);
  const list = (key: string, values: string[]) => {
    if (values.length > 0) {
      parts.push(`${key}=${values.map(encodeURIComponent).join(',')}`);
    }
  };
  switch (options.kind) {
    case 'curves':
      list('runs', runs);
      list('metrics', options.metrics);
      add('x', options.x);
      if (options.smoothing > 0) {
        add('smoothing', String(clamp(options.smoothing, 0, 0.99)));
      }
      if (options.log) {
        add('log', 'true');
      }
      break;
    case 'bars':
      list('runs', runs);
      list('metrics', options.metrics);
      if (options.log) {
        add('log', 'true');
      }
      break;
    case 'parallel':
      list('runs', runs);
      list('params', options.params);
      list('metrics', options.metrics);
      if (options.color) {
        add('color', options.color);
      }
      break;
    case 'scatter':
      if (!options.scatterX || !options.scatterY) {
        return { missing: 'Choose what to plot on the x and y axes.' };
      }
      list('runs', runs);
      add('x', options.scatterX);
      add('y', options.scatterY);
      break;
    case 'importance':
      if (!options.color) {
        return { missing: 'Choose a metric.' };
      }
      if (experiments.length === 0) {
        return { missing: 'The runs have no experiment.' };
      }
      for (const experiment of experiments) {
        add('experiment', experiment);
      }
      add('metric', options.color);
      break;
  }
  return { query: `compare/charts?${parts.join('&')}` };
}

export * from './format';
export * from './artifactrows';

// ---------------------------------------------------------------------------
// The model

/** Rows of the overview after the *differences only* filter. */
export interface IVisibleRows {
  params: IParamRow[];
  metrics: IMetricRow[];
  attributes: IAttributeRow[];
  packages: IPackageRow[];
  /** How many rows the filter hides. */
  hidden: number;
}

/** Whether any compared run is still running (the view then polls). */
export function isLive(comparison: IComparison | null): boolean {
  return !!comparison && comparison.runs.some(run => run.status === 'running');
}

/** The rows to show: all, or only those that differ. */
export function visibleRows(
  comparison: IComparison,
  differencesOnly: boolean
): IVisibleRows {
  const keep = <T extends { differs: boolean }>(rows: T[] | undefined) =>
    (rows || []).filter(row => !differencesOnly || row.differs);
  const params = keep(comparison.params);
  const metrics = keep(comparison.metrics);
  const attributes = keep(comparison.attributes);
  const packages = keep(comparison.environment?.packages);
  const total =
    (comparison.params?.length ?? 0) +
    (comparison.metrics?.length ?? 0) +
    (comparison.attributes?.length ?? 0) +
    (comparison.environment?.packages?.length ?? 0);
  const shown =
    params.length + metrics.length + attributes.length + packages.length;
  return { params, metrics, attributes, packages, hidden: total - shown };
}

/**
 * Whether a row of states (a dataset's, a used model's) differs: some run's
 * entry is not the same as the baseline's.
 */
export function stateDiffers(row: { states: (string | null)[] }): boolean {
  return row.states.some(state => state !== null && state !== 'same');
}

/** The rows of states to show: all, or only those that differ. */
export function stateRows<T extends { states: (string | null)[] }>(
  rows: T[] | undefined,
  differencesOnly: boolean
): T[] {
  return (rows || []).filter(row => !differencesOnly || stateDiffers(row));
}

/** The largest step of any metric with series (the step slider's end). */
export function maxStep(comparison: IComparison | null): number | null {
  if (!comparison) {
    return null;
  }
  let max: number | null = null;
  for (const metric of comparison.metrics || []) {
    if (metric.has_series && metric.max_step !== null) {
      max = max === null ? metric.max_step : Math.max(max, metric.max_step);
    }
  }
  return max;
}

/** What changed in a model (the view re-renders only the affected parts). */
export type CompareChange = 'comparison' | 'options' | 'error' | 'loading';

/**
 * The state of one comparison: the runs, the user's choices and the latest
 * answer of the server.
 */
export class CompareModel {
  constructor(options: CompareModel.IOptions) {
    if (options.runs.length < 2) {
      throw new Error('Select at least two runs to compare.');
    }
    this.runIds = options.runs.slice();
    this._baseline = options.baseline ?? null;
    this._experiment = options.experiment ?? null;
    this._fetch = options.fetch ?? defaultFetcher;
    this.pollInterval = options.pollInterval ?? 2000;
  }

  /** The runs as the user named them, in their order. */
  readonly runIds: string[];

  /** Milliseconds between refreshes while a run is running. */
  readonly pollInterval: number;

  /** Emitted when the comparison, the choices, an error or loading change. */
  get changed(): ISignal<this, CompareChange> {
    return this._changed;
  }

  /** The latest comparison (`null` before the first answer). */
  get comparison(): IComparison | null {
    return this._comparison;
  }

  /** The server's message of the latest failed request, if it failed. */
  get error(): string | null {
    return this._error;
  }

  /** Whether a request is on its way. */
  get loading(): boolean {
    return this._loading;
  }

  /** The baseline asked for (`null`: the first run, the server's default). */
  get baseline(): string | null {
    return this._baseline;
  }

  /** The baseline shown: the server's answer, else the one asked for. */
  get baselineId(): string | null {
    return this._comparison?.baseline ?? this._baseline;
  }

  /** Metric key → reducer spec chosen by the user. */
  get reducers(): { [key: string]: string } {
    return { ...this._reducers };
  }

  /** The step of the step slider (`null`: the last point). */
  get step(): number | null {
    return this._step;
  }

  /** Hide the rows where every run agrees (on by default). */
  get differencesOnly(): boolean {
    return this._differencesOnly;
  }
  set differencesOnly(value: boolean) {
    if (value !== this._differencesOnly) {
      this._differencesOnly = value;
      this._changed.emit('options');
    }
  }

  /** The overview's rows after the filter (empty before the first answer). */
  get rows(): IVisibleRows {
    if (!this._comparison) {
      return {
        params: [],
        metrics: [],
        attributes: [],
        packages: [],
        hidden: 0
      };
    }
    return visibleRows(this._comparison, this._differencesOnly);
  }

  /** Whether any compared run is still running. */
  get live(): boolean {
    return isLive(this._comparison);
  }

  /** Whether the model polls (started, a run running, not disposed). */
  get polling(): boolean {
    return this._timer !== null;
  }

  /** The request the current choices make. */
  get query(): string {
    return compareQuery({
      runs: this.runIds,
      baseline: this._baseline,
      reducers: this._reducers,
      step: this._step,
      experiment: this._experiment
    });
  }

  /** The server's run ids of the comparison, baseline first. */
  get comparedIds(): string[] {
    return this._comparison
      ? this._comparison.runs.map(run => run.id)
      : this.runIds.slice();
  }

  /** The tab title: `Compare #3 #5 #7`. */
  get title(): string {
    return compareTitle(this._comparison?.runs ?? null, this.runIds);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Make a run the baseline and reload. `id` is one of the compared runs'
   * ids (or a reference the user gave).
   */
  setBaseline(id: string): Promise<void> {
    if (id === this.baselineId) {
      return Promise.resolve();
    }
    this._baseline = id;
    this._changed.emit('options');
    return this.refresh();
  }

  /**
   * Reduce a metric with `spec` (`last`, `min`, `max`, `best`, `mean=K`,
   * `step=N`) and reload. `null` or `last` returns it to the default.
   */
  setReducer(key: string, spec: string | null): Promise<void> {
    if (spec !== null && !parseReducer(spec)) {
      return Promise.reject(new Error(`Unknown reducer "${spec}".`));
    }
    const current = this._reducers[key] ?? null;
    // `last` is the default, unless the step slider makes `step=N` the default.
    const next =
      spec === null || (spec === 'last' && this._step === null) ? null : spec;
    if (current === next) {
      return Promise.resolve();
    }
    if (next === null) {
      delete this._reducers[key];
    } else {
      this._reducers[key] = next;
    }
    this._changed.emit('options');
    return this.refresh();
  }

  /** Show every metric at step `step` (`null`: at its last point); reload. */
  setStep(step: number | null): Promise<void> {
    const next =
      step === null || step === undefined || !isFinite(step)
        ? null
        : Math.max(0, Math.round(step));
    if (next === this._step) {
      return Promise.resolve();
    }
    this._step = next;
    this._changed.emit('options');
    return this.refresh();
  }

  /**
   * Ask the server for the comparison. A failure keeps the previous answer
   * and sets `error` to the server's message. Answers to older requests that
   * arrive after a newer one are dropped.
   */
  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    const token = ++this._token;
    this._loading = true;
    this._changed.emit('loading');
    try {
      const comparison = await this._fetch<IComparison>(this.query);
      if (this._disposed || token !== this._token) {
        return;
      }
      // A poll that brings nothing new re-renders nothing.
      const json = JSON.stringify(comparison);
      const same = json === this._json && this._error === null;
      this._comparison = comparison;
      this._json = json;
      this._error = null;
      this._loading = false;
      this._changed.emit(same ? 'loading' : 'comparison');
    } catch (reason) {
      if (this._disposed || token !== this._token) {
        return;
      }
      this._error = errorMessage(reason);
      this._loading = false;
      this._changed.emit('error');
    } finally {
      if (!this._disposed && token === this._token) {
        this._schedule();
      }
    }
  }

  /**
   * Keep the comparison current: after every answer, poll again in
   * `pollInterval` ms while a compared run is running; stop when none is
   * (or on `stopPolling`/`dispose`).
   */
  startPolling(): void {
    this._pollingWanted = true;
    this._schedule();
  }

  stopPolling(): void {
    this._pollingWanted = false;
    this._clearTimer();
  }

  /** Explain the change of `metric` from run `a` to run `b`. */
  explain(a: string, b: string, metric: string): Promise<IExplanation> {
    return this._fetch<IExplanation>(explainQuery(a, b, metric));
  }

  /** Fetch a chart for the compared runs (rejects with the reason if it cannot be made). */
  chart(options: IChartOptions): Promise<IFigure> {
    const experiments = Array.from(
      new Set((this._comparison?.runs ?? []).map(run => run.experiment))
    );
    const request = chartQuery(this.comparedIds, options, experiments);
    if ('missing' in request) {
      return Promise.reject(new Error(request.missing));
    }
    return this._fetch<IFigure>(request.query);
  }

  /** Fetch the preview (a mime bundle) of the file a run's image artifact shows. */
  artifactPreview(image: IArtifactImage): Promise<IArtifactPreview> {
    return this._fetch<IArtifactPreview>(
      artifactEndpoint(image.run_id, image.name, 'preview', image.path)
    );
  }

  /** Fetch the diff of two snapshots (by digest). */
  snapshotDiff(a: string, b: string): Promise<{ [key: string]: any }> {
    return this._fetch(snapshotDiffQuery(a, b));
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private _schedule(): void {
    this._clearTimer();
    if (!this._pollingWanted || this._disposed || !this.live) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.refresh();
    }, this.pollInterval);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _fetch: Fetcher;
  private _baseline: string | null;
  private _experiment: string | null;
  private _reducers: { [key: string]: string } = {};
  private _step: number | null = null;
  private _differencesOnly = true;
  private _comparison: IComparison | null = null;
  private _json = '';
  private _error: string | null = null;
  private _loading = false;
  private _token = 0;
  private _pollingWanted = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _disposed = false;
  private _changed = new Signal<this, CompareChange>(this);
}

export namespace CompareModel {
  export interface IOptions {
    /** Run references (ids, numbers, id prefixes), at least two. */
    runs: string[];
    /** The baseline (default: the first run). */
    baseline?: string | null;
    /** Experiment in which run numbers are resolved. */
    experiment?: string | null;
    /** How to reach the API (default: `requestAPI`). */
    fetch?: Fetcher;
    /** Milliseconds between refreshes while a run is running (default 2000). */
    pollInterval?: number;
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
