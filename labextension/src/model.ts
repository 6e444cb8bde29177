/**
 * Pure logic of the runs sidebar and the run card: the wire types of the
 * REST API (see docs/rest-api.md), the runs list model and formatting.
 *
 * Nothing here touches the DOM or the JupyterLab runtime so that it can be
 * unit-tested with plain jest.
 */

import {
  IArtifact,
  IArtifactUse,
  IArtifactUsers,
  IRunModelVersion
} from './artifacts/types';

/** Lifecycle status of a run. */
export type RunStatus =
  'running' | 'finished' | 'failed' | 'interrupted' | 'crashed' | 'pruned';

/** A JSON value as sent by the server. */
export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** `RunSummary` of `GET /mltrack/api/runs`. */
export interface IRunSummary {
  id: string;
  number: number;
  experiment: string;
  experiment_id: number;
  name: string;
  status: RunStatus | string;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  notebook_path: string | null;
  cell_id: string | null;
  execution_count: number | null;
  tags: { [key: string]: string };
  note: string;
  params: { [key: string]: JSONValue };
  /** Latest value of each metric; `null` stands for NaN. */
  metrics: { [key: string]: number | null };
  /** The run that opened this one (nested run, pipeline run), if any. */
  parent_run_id?: string | null;
  /** Where the run was recorded: `notebook`, `pipeline`, … */
  source?: string;
  /**
   * Each metric under every reducer, over all its points (servers from
   * issue 13 on): what a metric column shows.
   */
  metric_summary?: { [key: string]: IMetricSummary };
  /** Whether lower (`min`) or higher (`max`) is better, per metric. */
  goals?: { [key: string]: 'min' | 'max' | string };
  /** The run's children: how many, and the best child value per metric. */
  children?: IChildrenSummary;
}

/**
 * A metric of a run under each reducer: `last` is the latest value (`null`
 * for NaN), `best` the min or max by the metric's goal, `count` the number of
 * points that are not NaN; `null` where no point counts.
 */
export interface IMetricSummary {
  last?: number | string | null;
  min?: number | string | null;
  max?: number | string | null;
  mean?: number | string | null;
  best?: number | string | null;
  count?: number | null;
}

/**
 * `children` of a `RunSummary`: present on every run (count 0 without). `best`
 * holds, per metric, the best child's value (by the metric's goal) under each
 * reducer, or (servers that send one value) that value.
 */
export interface IChildrenSummary {
  count: number;
  /**
   * How many children have each status, the most first (servers from issue
   * 15 on, when the run has children): a sweep's trials by how they ended.
   */
  statuses?: { [status: string]: number };
  best: {
    [key: string]:
      number | string | null | { [reducer: string]: number | string | null };
  };
}

/** One point of a metric series. */
export interface IMetricPoint {
  step: number;
  value: number | null;
  timestamp: string | null;
}

/** The error a failed run raised. */
export interface IRunError {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** `GET /mltrack/api/runs/{id}`. */
export interface IRunDetail extends IRunSummary {
  code: string;
  error: IRunError | null;
  metric_series: { [key: string]: IMetricPoint[] };
  /** nbformat v4 output dicts. */
  outputs: { [key: string]: any }[];
  environment: { [key: string]: JSONValue };
  parent_run_id: string | null;
  source: string;
  /** Datasets the run read and wrote (absent from servers before snapshots). */
  data?: { inputs?: IRunDataItem[]; outputs?: IRunDataItem[] };
  /** What the run logged (absent from servers before artifacts). */
  artifacts?: IArtifact[];
  /** The registered versions of its model artifacts. */
  models?: IRunModelVersion[];
  /** What the run loaded from other runs, in the order it first used them. */
  used: IArtifactUse[];
  /** The runs that used this run's artifacts, newest first. */
  used_by: IArtifactUsers;
}

/** Kind of data a snapshot holds. */
export type SnapshotKind =
  'dataframe' | 'series' | 'ndarray' | 'table' | 'file';

/** Storage state of a snapshot: its rows can be read once `complete`. */
export type SnapshotStatus = 'pending' | 'complete' | 'failed';

/** `RunDataItem`: a dataset a run read (`input`) or wrote (`output`). */
export interface IRunDataItem {
  role: 'input' | 'output';
  /** Variable name, or the file's path as the cell opened it. */
  name: string;
  /** Resolved path of a file; `null` for a variable. */
  path: string | null;
  /**
   * The dataset version an input was got as (`team/churn@<hash>`, from
   * `mltrack.datasets.get`); `null` for data read any other way.
   */
  dataset: string | null;
  digest: string;
  short: string;
  kind: SnapshotKind | string;
  status: SnapshotStatus | string;
  shape: (number | null)[];
  rows: number | null;
  columns: number | null;
  nbytes: number;
}

/** `GET /mltrack/api/snapshots/{ref}/rows`. */
export interface ISnapshotRows {
  digest: string;
  short: string;
  kind: SnapshotKind | string;
  offset: number;
  limit: number;
  total_rows: number;
  columns: string[];
  dtypes: string[];
  total_columns: number;
  index_names: (string | null)[];
  /** Each row's index label (an array for a MultiIndex). */
  index: JSONValue[];
  rows: JSONValue[][];
}

/** An entry of `GET /mltrack/api/experiments`. */
export interface IExperiment {
  id: number;
  name: string;
  created_at: string | null;
  run_count: number;
  last_run_at: string | null;
}

/** `GET /mltrack/api/experiments`. */
export interface IExperimentsResponse {
  experiments: IExperiment[];
}

/** JSON of the `application/vnd.mltrack.run+json` run card. */
export interface IRunCard {
  run_id: string;
  number: number;
  experiment: string;
  name: string;
  status: string;
  duration: number | null;
  metrics: { [key: string]: number | null };
  best: {
    run_id: string;
    number: number;
    metrics: { [key: string]: number | null };
  } | null;
  deltas: { [key: string]: number | null } | null;
  /**
   * How a metric was reduced when not to its latest value (`best`, `min`,
   * `max`, `mean`: `TrackMagics.card_reducer`); the best run is compared
   * under the same reducer.
   */
  reducers?: { [key: string]: string };
  /** Set while the run is kept in the local spool: the store could not be written. */
  spooled?: string;
  /**
   * Whether each metric is better low (`min`) or high (`max`): the goal set
   * for it in the experiment (`set_metric_goal`), else guessed from its name.
   * Older cards lack it: the name decides.
   */
  goals?: { [key: string]: 'min' | 'max' };
}

/** A card's metric name with its reducer when not the latest value: `acc (best)`. */
export function cardMetricLabel(card: IRunCard, name: string): string {
  const reducer = card.reducers?.[name];
  return reducer && reducer !== 'last' ? `${name} (${reducer})` : name;
}

/** MIME type of the run card displayed after every tracked cell. */
export const RUN_CARD_MIME = 'application/vnd.mltrack.run+json';

/**
 * MIME type of a plotly figure: drawn by the renderer the plotly package
 * installs in JupyterLab (plotly.js is never bundled here). The compare
 * view's and the groups' charts and the artifacts' figures are all this.
 */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** Statuses known to the server. */
export const STATUSES: RunStatus[] = [
  'running',
  'finished',
  'failed',
  'interrupted',
  'crashed',
  'pruned'
];

/** Whether lower values of a metric are better (loss, error, mse, ...). */
export function lowerIsBetter(metric: string): boolean {
  return /loss|error|mse|mae|rmse/i.test(metric);
}

/** Format a duration in seconds: `420 ms`, `12.3 s`, `2m 05s`, `1h 02m`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '—';
  }
  if (seconds < 0) {
    seconds = 0;
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  }
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (hours > 0) {
    return `${hours}h ${pad2(minutes)}m`;
  }
  return `${minutes}m ${pad2(secs)}s`;
}

/** `iso` as a date, or `null` when it is none. */
function parseDate(iso: string): Date | null {
  const date = new Date(iso);
  return isNaN(date.getTime()) ? null : date;
}

/** `YYYY-MM-DD` of a date, in local time. */
function ymd(date: Date): string {
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
}

/** `HH:MM` of a date, in local time. */
function hm(date: Date): string {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/**
 * `format(date)` of an ISO timestamp: `—` for none, the text as it is when it
 * is no date.
 */
function formatDate(
  iso: string | null | undefined,
  format: (date: Date) => string
): string {
  if (!iso) {
    return '—';
  }
  const date = parseDate(iso);
  return date === null ? iso : format(date);
}

/** `HH:MM:SS` of a date, in local time. */
function hms(date: Date): string {
  return `${hm(date)}:${pad2(date.getSeconds())}`;
}

/**
 * Format an ISO timestamp in local time: `HH:MM:SS` when it is on the same
 * day as `now`, `YYYY-MM-DD HH:MM` otherwise.
 */
export function formatTimestamp(
  iso: string | null | undefined,
  now: Date = new Date()
): string {
  return formatDate(iso, date =>
    ymd(date) === ymd(now) ? hms(date) : `${ymd(date)} ${hm(date)}`
  );
}

/** An ISO timestamp in local time, to the second: `YYYY-MM-DD HH:MM:SS`. */
export function fullTimestamp(iso: string): string {
  return formatDate(iso, date => `${ymd(date)} ${hms(date)}`);
}

const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec'
];

/**
 * An ISO timestamp in local time, short enough for the runs table's Start
 * column in a narrow sidebar: `HH:MM:SS` on the same day as `now`, `Mon D
 * HH:MM` in the same year, `YYYY-MM-DD` before (the cell's title has it all).
 */
export function formatStart(
  iso: string | null | undefined,
  now: Date = new Date()
): string {
  return formatDate(iso, date => {
    if (date.getFullYear() !== now.getFullYear()) {
      return ymd(date);
    }
    if (ymd(date) === ymd(now)) {
      return hms(date);
    }
    return `${MONTHS[date.getMonth()]} ${date.getDate()} ${hm(date)}`;
  });
}

/**
 * Format a param or metric value. `null` (NaN on the wire) shows as `NaN`;
 * floats keep 4 significant digits.
 */
export function formatValue(value: JSONValue | undefined): string {
  if (value === null) {
    return 'NaN';
  }
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return formatNumber(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  return JSON.stringify(value);
}

/** Format a number with at most 4 significant digits. */
export function formatNumber(value: number): string {
  if (isNaN(value)) {
    return 'NaN';
  }
  if (!isFinite(value)) {
    return value > 0 ? 'inf' : '-inf';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e15) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3).replace(/\.?0+e/, 'e');
  }
  return String(Number(value.toPrecision(4)));
}

/** How a metric moved against the best earlier run. */
export interface IDelta {
  metric: string;
  /** Signed delta text, e.g. `+0.02`, `−0.1`, `NaN`. */
  text: string;
  /** Direction of the raw value. */
  direction: 'up' | 'down' | 'same' | 'unknown';
  /** Whether the move is an improvement, taking lower-is-better into account. */
  improved: boolean | null;
}

/** Describe the delta of `metric` (value minus best earlier value). */
export function describeDelta(
  metric: string,
  delta: number | null | undefined,
  goal?: 'min' | 'max'
): IDelta {
  if (delta === null || delta === undefined || isNaN(delta)) {
    return { metric, text: 'NaN', direction: 'unknown', improved: null };
  }
  if (delta === 0) {
    return { metric, text: '±0', direction: 'same', improved: null };
  }
  const up = delta > 0;
  const text = `${up ? '+' : '\u2212'}${formatNumber(Math.abs(delta))}`;
  const lower = goal ? goal === 'min' : lowerIsBetter(metric);
  const improved = lower ? !up : up;
  return { metric, text, direction: up ? 'up' : 'down', improved };
}

/** The deltas of a run card, in the order of its metrics. */
export function runCardDeltas(card: IRunCard): IDelta[] {
  const deltas = card.deltas || {};
  const names = Object.keys(card.metrics || {}).filter(name => name in deltas);
  for (const name of Object.keys(deltas)) {
    if (!names.includes(name)) {
      names.push(name);
    }
  }
  return names.map(name =>
    describeDelta(name, deltas[name], card.goals?.[name])
  );
}

/**
 * The one-line deltas text of a run card, e.g.
 * `vs #2: accuracy −0.02 ▼, loss −0.1 ▼` or `first run of "demo"`.
 */
export function runCardDeltasText(card: IRunCard): string {
  if (!card.best) {
    return `first run of "${card.experiment}"`;
  }
  const deltas = runCardDeltas(card);
  if (deltas.length === 0) {
    return `best earlier run: #${card.best.number}`;
  }
  const arrow = (d: IDelta) =>
    d.direction === 'up' ? ' \u25b2' : d.direction === 'down' ? ' \u25bc' : '';
  return `vs #${card.best.number}: ${deltas
    .map(d => `${d.metric} ${d.text}${arrow(d)}`)
    .join(', ')}`;
}

/**
 * SVG polyline points of a sparkline for a series; `null` values are
 * skipped. Returns an empty string when fewer than 2 finite values exist.
 */
export function sparklinePoints(
  values: (number | null)[],
  width = 80,
  height = 20,
  padding = 2
): string {
  const points = values
    .map((v, i) => [i, v] as [number, number | null])
    .filter((p): p is [number, number] => p[1] !== null && isFinite(p[1]));
  if (points.length < 2) {
    return '';
  }
  const ys = points.map(p => p[1]);
  const min = Math.min(...ys);
  const max = Math.max(...ys);
  const firstX = points[0][0];
  const spanX = points[points.length - 1][0] - firstX || 1;
  const spanY = max - min;
  const innerW = width - 2 * padding;
  const innerH = height - 2 * padding;
  return points
    .map(([i, v]) => {
      const x = padding + ((i - firstX) / spanX) * innerW;
      const y =
        spanY === 0
          ? height / 2
          : padding + innerH - ((v - min) / spanY) * innerH;
      return `${round2(x)},${round2(y)}`;
    })
    .join(' ');
}

/** CSS class of a status badge. */
export function statusClass(status: string): string {
  const known = (STATUSES as string[]).includes(status) ? status : 'unknown';
  return `jp-mltrack-status-${known}`;
}

/** Tags as `key=value` chips (`key` alone when the value is empty). */
export function formatTags(tags: { [key: string]: string } | null): string[] {
  return Object.entries(tags || {}).map(([k, v]) => (v ? `${k}=${v}` : k));
}

/**
 * Tags named so are the tracker's own (a sweep's `mltrack.sweep`, `mltrack.trial` and
 * `mltrack.attempt`, a pulled run's `mltrack.origin`): the server keeps them when a user
 * edits the run's tags, and refuses a change to one.
 */
export const TRACKER_TAG_PREFIX = 'mltrack.';

/** The tags a user may edit: all but the tracker's own. */
export function userTags(tags: { [key: string]: string } | null): {
  [key: string]: string;
} {
  return Object.fromEntries(
    Object.entries(tags || {}).filter(
      ([k]) => !k.startsWith(TRACKER_TAG_PREFIX)
    )
  );
}

/** Parse `a=1, b` into tags `{a: '1', b: ''}`. */
export function parseTags(text: string): { [key: string]: string } {
  const tags: { [key: string]: string } = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) {
      continue;
    }
    const eq = item.indexOf('=');
    if (eq < 0) {
      tags[item] = '';
    } else {
      const key = item.slice(0, eq).trim();
      if (key) {
        tags[key] = item.slice(eq + 1).trim();
      }
    }
  }
  return tags;
}

/** The inputs and outputs of a run, empty when the server sent none. */
export function runData(run: Pick<IRunDetail, 'data'>): {
  inputs: IRunDataItem[];
  outputs: IRunDataItem[];
} {
  const data = run.data || {};
  return {
    inputs: Array.isArray(data.inputs) ? data.inputs : [],
    outputs: Array.isArray(data.outputs) ? data.outputs : []
  };
}

/** Format a size in bytes: `512 B`, `1.5 KiB`, `20.0 MiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !isFinite(bytes)) {
    return '—';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The shape of a dataset as people write it: `130 × 7` for a frame, `5`
 * for a 1-D array, `2 × 3 × 4` for a cube; a file's size (it has no shape).
 * Unknown dimensions show as `?`.
 */
export function formatShape(
  item: Pick<IRunDataItem, 'kind' | 'shape' | 'nbytes'>
): string {
  if (item.kind === 'file') {
    return formatBytes(item.nbytes);
  }
  const dims = Array.isArray(item.shape) ? item.shape : [];
  if (dims.length === 0) {
    return '—';
  }
  return dims
    .map(d => (d === null || d === undefined ? '?' : d.toLocaleString('en-US')))
    .join(' \u00d7 ');
}

/** The `rows` endpoint of a snapshot, the digest's colon percent-encoded. */
export function snapshotRowsQuery(
  digest: string,
  offset = 0,
  limit = 50
): string {
  const first = Math.max(0, Math.floor(offset));
  const size = clamp(Math.floor(limit), 1, 500);
  return `snapshots/${encodeURIComponent(digest)}/rows?offset=${first}&limit=${size}`;
}

/** How a preview cell is shown: its text and what kind of value it is. */
export interface IPreviewCell {
  text: string;
  kind: 'null' | 'number' | 'text' | 'boolean' | 'nested';
}

/**
 * A preview cell from the JSON the server sent: `null` (any missing value)
 * is shown as `NA`; the infinities the server sends as `"inf"`/`"-inf"` are
 * numbers when the column's dtype is numeric, and a whole number in a float
 * column keeps its `.0`.
 */
export function previewCell(value: JSONValue, dtype = ''): IPreviewCell {
  if (value === null || value === undefined) {
    return { text: 'NA', kind: 'null' };
  }
  if (typeof value === 'number') {
    // JSON drops the ".0" of a whole float; a float column shows it, as pandas does.
    const float = /^(float|double|half)/i.test(dtype);
    const whole = Number.isInteger(value) && Math.abs(value) < 1e16;
    return {
      text: float && whole ? value.toFixed(1) : String(value),
      kind: 'number'
    };
  }
  if (typeof value === 'boolean') {
    return { text: value ? 'True' : 'False', kind: 'boolean' };
  }
  if (typeof value === 'string') {
    const numeric = /^(u?int|float|double|half|decimal)/i.test(dtype);
    if (numeric && (value === 'inf' || value === '-inf')) {
      return { text: value, kind: 'number' };
    }
    return { text: value, kind: 'text' };
  }
  return { text: JSON.stringify(value), kind: 'nested' };
}

/** A preview laid out as a table: header cells, then one row per data row. */
export interface IPreviewTable {
  /** Header texts: the index level names, then the column names. */
  header: string[];
  /** How many leading columns are index levels. */
  indexColumns: number;
  rows: IPreviewCell[][];
  /** `Rows 1–50 of 130` and, when cut, `· 200 of 250 columns`. */
  caption: string;
}

/** Lay out a page of rows (a MultiIndex label is spread over its levels). */
export function previewTable(page: ISnapshotRows): IPreviewTable {
  const names = page.index_names?.length ? page.index_names : [null];
  const levels = names.length;
  const header = [...names.map(name => name ?? ''), ...page.columns];
  const rows = page.rows.map((row, i) => {
    const label = page.index?.[i] ?? null;
    const labels: JSONValue[] =
      levels > 1 && Array.isArray(label) ? label : [label];
    const indexCells = labels.map(v => previewCell(v));
    while (indexCells.length < levels) {
      indexCells.push(previewCell(null));
    }
    return [
      ...indexCells.slice(0, levels),
      ...row.map((v, j) => previewCell(v, page.dtypes?.[j] ?? ''))
    ];
  });
  return { header, indexColumns: levels, rows, caption: previewCaption(page) };
}

/** `Rows 1–50 of 130` (`No rows` for an empty page). */
export function previewCaption(page: ISnapshotRows): string {
  const total = page.total_rows.toLocaleString('en-US');
  let text =
    page.rows.length === 0
      ? page.total_rows === 0
        ? 'No rows'
        : `No rows past ${total}`
      : `Rows ${(page.offset + 1).toLocaleString('en-US')}\u2013${(
          page.offset + page.rows.length
        ).toLocaleString('en-US')} of ${total}`;
  if (page.total_columns > page.columns.length) {
    text += ` \u00b7 ${page.columns.length} of ${page.total_columns} columns`;
  }
  return text;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
