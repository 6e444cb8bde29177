/**
 * What the runs sidebar asks the server for: the scope (notebook, kernel,
 * experiment), the filter box's text, the order, and which slice of the list
 * (a page of top-level runs, a parent's children, the cheap `since` poll), or
 * the list's total alone (`runs/count`).
 *
 * The server parses the filter (plain text or the query language, it
 * decides) and sorts: the client only builds query strings.
 */

/**
 * What the sidebar lists.
 */
export interface IRunsFilter {
  /** List every experiment rather than the active notebook's runs. */
  allExperiments: boolean;
  /** Experiment name to restrict to when `allExperiments` is on. */
  experiment: string | null;
  /** Path of the active notebook, relative to the server root. */
  notebook: string | null;
  /**
   * Id of the active notebook's kernel: its runs belong to the notebook even
   * when they recorded an older name (the notebook was renamed after the
   * kernel started).
   */
  kernel?: string | null;
  /** Restrict to one status. */
  status?: string | null;
  /**
   * The filter box's text as typed: plain words ("name, number or tag
   * contains") or a query (`params.lr < 0.01 and status = finished`).
   */
  filter?: string;
  /** Server-side ordering, e.g. `-start_time` or `metrics.acc.max`. */
  order?: string;
  /** Page size (1-1000). */
  limit?: number;
}

/** The order of the list when the user has not sorted by a column. */
export const DEFAULT_ORDER = '-start_time';

/**
 * Which runs of a filter a request is about: the top-level ones, or a
 * parent's children. What `runs` and `runs/count` share.
 */
export interface ISelectionRequest {
  /** Only runs without a parent (or whose parent is gone). */
  roots?: boolean;
  /** Only the children of this run. */
  parent?: string;
}

/** Which slice of a list to ask for. */
export interface ISliceRequest extends ISelectionRequest {
  /** First row of the page. */
  offset?: number;
  /** The revision already known: the server may answer `unchanged`. */
  since?: string | null;
  /**
   * `false`: the page without its total (`count=0`). Counting every match
   * of a broad filter costs the server far more than a page; the list asks
   * `countQuery` for it apart.
   */
  count?: boolean;
}

/**
 * The scope a filter effectively selects.
 *
 * Without an active notebook the notebook scope has nothing to filter on, so
 * it falls back to listing every experiment.
 */
export function effectiveScope(
  filter: IRunsFilter
):
  | { kind: 'notebook'; notebook: string }
  | { kind: 'experiment'; experiment: string }
  | { kind: 'all' } {
  if (!filter.allExperiments && filter.notebook) {
    return { kind: 'notebook', notebook: filter.notebook };
  }
  if (filter.allExperiments && filter.experiment) {
    return { kind: 'experiment', experiment: filter.experiment };
  }
  return { kind: 'all' };
}

/** The filter box's text as sent: surrounding blanks mean nothing. */
export function filterText(filter: IRunsFilter): string {
  return (filter.filter ?? '').trim();
}

/**
 * Whether the list is a tree: with an empty filter box the sidebar lists
 * top-level runs and their children under them; with a filter, every
 * matching run, flat.
 */
export function isTreeMode(filter: IRunsFilter): boolean {
  return filterText(filter) === '';
}

/**
 * The `runs` endpoint with its query string for a filter and a slice.
 *
 * A parent's children are asked for whatever the scope or the filter: they
 * belong under their parent even when a pipeline recorded them elsewhere.
 */
export function runsQuery(
  filter: IRunsFilter,
  slice: ISliceRequest = {}
): string {
  const params = selectionParams(filter, slice);
  params.push(param('order', filter.order || DEFAULT_ORDER));
  params.push(param('limit', clamp(Math.round(filter.limit ?? 100), 1, 1000)));
  if (slice.offset) {
    params.push(param('offset', Math.max(0, Math.floor(slice.offset))));
  }
  if (slice.since) {
    params.push(param('since', slice.since));
  }
  if (slice.count === false) {
    params.push(param('count', 0));
  }
  return `runs?${params.join('&')}`;
}

/**
 * The `runs/count` endpoint of the runs `runsQuery` selects with the same
 * filter and selection: their total, without a page (the server refuses
 * order and paging parameters there).
 */
export function countQuery(
  filter: IRunsFilter,
  selection: ISelectionRequest = {}
): string {
  return withQuery('runs/count', selectionParams(filter, selection));
}

/**
 * The identity of a list: two filters with the same key list the same runs
 * in the same order (a page of one is a page of the other).
 */
export function listKey(filter: IRunsFilter): string {
  return runsQuery(filter, { roots: isTreeMode(filter) });
}

/** The `runs/keys` endpoint of a filter's scope. */
export function keysQuery(filter: IRunsFilter): string {
  return withQuery('runs/keys', scopeParams(filter));
}

/** `key=value`, the value encoded. */
function param(key: string, value: string | number): string {
  return `${key}=${encodeURIComponent(String(value))}`;
}

/** An endpoint with its parameters, if any. */
function withQuery(endPoint: string, params: string[]): string {
  return params.length > 0 ? `${endPoint}?${params.join('&')}` : endPoint;
}

/** The parameters of a filter's scope: notebook (and kernel) or experiment. */
function scopeParams(filter: IRunsFilter): string[] {
  const scope = effectiveScope(filter);
  if (scope.kind === 'notebook') {
    return filter.kernel
      ? [param('notebook', scope.notebook), param('kernel', filter.kernel)]
      : [param('notebook', scope.notebook)];
  }
  if (scope.kind === 'experiment') {
    return [param('experiment', scope.experiment)];
  }
  return [];
}

/**
 * The parameters that select a list's runs, whatever page of them is asked
 * for: a parent alone, or the scope, status, filter text and `roots`. With
 * no selection, what `runs/groups` takes beside its own parameters: the
 * groups are of the runs the list shows.
 */
export function selectionParams(
  filter: IRunsFilter,
  selection: ISelectionRequest
): string[] {
  if (selection.parent) {
    return [param('parent', selection.parent)];
  }
  const params = scopeParams(filter);
  if (filter.status) {
    params.push(param('status', filter.status));
  }
  const text = filterText(filter);
  if (text) {
    params.push(param('filter', text));
  }
  if (selection.roots) {
    params.push(param('roots', 1));
  }
  return params;
}

/** Words of the query language a bare key must not be confused with. */
const KEYWORDS = new Set([
  'and',
  'or',
  'not',
  'in',
  'is',
  'null',
  'true',
  'false'
]);

/**
 * A key as the query language reads it: bare when it is a plain identifier,
 * else between backticks (a backtick in it doubled), so that `val.min` or
 * `train/loss` stay one key.
 */
export function quoteKey(key: string): string {
  if (
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) &&
    !KEYWORDS.has(key.toLowerCase())
  ) {
    return key;
  }
  return `\`${key.replace(/`/g, '``')}\``;
}

/**
 * A string as a query literal, double-quoted: a backslash or a double quote
 * escaped, a newline, return or tab written `\n`, `\r`, `\t` (what the
 * server's `format_value` writes), so it reads back as the same string
 * whatever it holds.
 */
export function quoteString(text: string): string {
  const escaped = text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/** The field of a metric under a reducer, e.g. `metrics.acc.max`. */
export function metricField(key: string, reducer: string): string {
  return `metrics.${quoteKey(key)}.${reducer}`;
}

/**
 * The order after a click on a column's header: ascending, then descending,
 * then back to the default order (`null`).
 */
export function nextOrder(
  current: string | null,
  field: string
): string | null {
  if (current === field) {
    return `-${field}`;
  }
  if (current === `-${field}`) {
    return null;
  }
  return field;
}

/** How a column shows the order: `asc`, `desc` or `null` (not sorted by it). */
export function orderDirection(
  current: string | null,
  field: string
): 'asc' | 'desc' | null {
  if (current === field) {
    return 'asc';
  }
  if (current === `-${field}`) {
    return 'desc';
  }
  return null;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
