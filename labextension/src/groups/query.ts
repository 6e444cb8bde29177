/**
 * What the sidebar's "Group by" view asks the server (`GET runs/groups`),
 * what it may group by, and the condition a click on a group adds to the
 * filter box. The server groups, aggregates and parses; this only builds
 * query strings and query text (pure, tested with jest).
 */

import { JSONValue, STATUSES } from '../model';
import { Reducer, isReducer } from '../runlist/columns';
import {
  IRunsFilter,
  quoteKey,
  quoteString,
  selectionParams
} from '../runlist/query';

/** The attributes the sidebar offers to group by (besides params and tags). */
export const GROUP_ATTRIBUTES = ['status', 'experiment', 'source'] as const;

/** Metrics one `runs/groups` request may aggregate (the server's limit). */
export const MAX_GROUP_METRICS = 20;

/** A choice of the "Group by" menu. */
export interface IGroupByChoice {
  /** The field as the server reads it: `status`, ``params.`a b` ``. */
  value: string;
  /** What the menu shows: the attribute's name, the param or tag key. */
  label: string;
  kind: 'attribute' | 'param' | 'tag';
}

/**
 * The "Group by" choices of a scope: the attributes, then its param keys,
 * then its tag keys (`runs/keys`, `null` while unknown). A field chosen
 * before that the scope no longer has stays listed, so the menu keeps
 * showing what the groups are of.
 */
export function groupByChoices(
  keys: { params: string[] | null; tags: string[] | null },
  current: string | null = null
): IGroupByChoice[] {
  const choices: IGroupByChoice[] = [
    ...GROUP_ATTRIBUTES.map(name => ({
      value: name,
      label: name,
      kind: 'attribute' as const
    })),
    ...(keys.params ?? []).map(key => ({
      value: `params.${quoteKey(key)}`,
      label: key,
      kind: 'param' as const
    })),
    ...(keys.tags ?? []).map(key => ({
      value: `tags.${quoteKey(key)}`,
      label: key,
      kind: 'tag' as const
    }))
  ];
  if (current && !choices.some(choice => choice.value === current)) {
    const kind = current.startsWith('params.')
      ? 'param'
      : current.startsWith('tags.')
        ? 'tag'
        : 'attribute';
    const label =
      kind === 'attribute' ? current : current.slice(current.indexOf('.') + 1);
    choices.push({ value: current, label, kind });
  }
  return choices;
}

/** A metric column of the groups table: the list's metric and reducer. */
export interface IGroupMetric {
  key: string;
  reducer: Reducer;
}

/**
 * A metric as `runs/groups` names it (and titles its chart panel): `acc`
 * for the latest value, `loss.min`, `` `val.acc`.max `` (a key with a dot
 * quoted, so its last part is not read as a reducer). A key that is itself
 * a reducer's name keeps its reducer: `min.last`, never `min`.
 */
export function metricSpec(key: string, reducer: Reducer): string {
  const field = quoteKey(key);
  return reducer === 'last' && !isReducer(key) ? field : `${field}.${reducer}`;
}

/**
 * The metric columns a groups request can ask for: the server splits its
 * `metrics` parameter on commas (so a key with a comma cannot be named
 * there) and takes at most `MAX_GROUP_METRICS`.
 */
export function groupableMetrics(metrics: IGroupMetric[]): IGroupMetric[] {
  return metrics
    .filter(({ key }) => !key.includes(','))
    .slice(0, MAX_GROUP_METRICS);
}

/**
 * The `runs/groups` endpoint: the runs the list shows (scope, status,
 * filter) grouped by `groupBy`, each metric under the list's reducer; with
 * `figure`, the server's plotly chart of them too.
 */
export function groupsQuery(
  filter: IRunsFilter,
  groupBy: string,
  metrics: IGroupMetric[],
  options: { figure?: boolean } = {}
): string {
  const params = [`group_by=${encodeURIComponent(groupBy)}`];
  const specs = groupableMetrics(metrics).map(m =>
    metricSpec(m.key, m.reducer)
  );
  if (specs.length > 0) {
    params.push(`metrics=${encodeURIComponent(specs.join(','))}`);
  }
  params.push(...selectionParams(filter, {}));
  if (options.figure) {
    params.push('figure=1');
  }
  return `runs/groups?${params.join('&')}`;
}

/**
 * A group's value as a query literal: a number or `true`/`false` as written
 * (compared as a number, a boolean), a string quoted. A list or a dict
 * param compares its stored JSON text, written as Python's `json.dumps`
 * writes it (`[1, 2]`, `{"a": 1}`); a float with an integral value, which
 * JSON hands over as an integer, is the one case that text may miss.
 */
export function queryLiteral(value: JSONValue): string {
  if (value === null) {
    return 'null';
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  if (typeof value === 'number') {
    if (Number.isFinite(value)) {
      return String(value);
    }
    // What the server writes for a number a bare value cannot spell.
    return quoteString(
      Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf'
    );
  }
  if (typeof value === 'string') {
    return quoteString(value);
  }
  return quoteString(pythonJson(value));
}

/** A JSON value as Python's `json.dumps(value, ensure_ascii=False)` writes it. */
export function pythonJson(value: JSONValue): string {
  if (Array.isArray(value)) {
    return `[${value.map(pythonJson).join(', ')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const items = Object.keys(value).map(
      key => `${JSON.stringify(key)}: ${pythonJson(value[key])}`
    );
    return `{${items.join(', ')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The condition selecting a group's runs: `params.model = "rf"`,
 * `params.seed = 3`, `params.flag = true`, and `tags.stage is null` for the
 * runs without a value (the `(none)` group; a param recorded as `None`
 * counts as missing there too, as in the groups).
 */
export function groupCondition(groupBy: string, value: JSONValue): string {
  return value === null
    ? `${groupBy} is null`
    : `${groupBy} = ${queryLiteral(value)}`;
}

/**
 * The filter box's text narrowed to a group: `<filter> and <condition>`.
 *
 * - An empty filter becomes the condition alone.
 * - A filter with an `or` outside parentheses is parenthesised: `and` binds
 *   tighter, and `a or b and c` would mean `a or (b and c)`.
 * - Plain words (the search the box also takes) are not a query: they are
 *   written as the query they stand for (`plainAsQuery`), since a text with
 *   a condition in it is read as a query.
 * - A filter that already ends with the condition is kept as it is (a group
 *   opened twice).
 */
export function narrowFilter(current: string, condition: string): string {
  const text = current.trim();
  if (!text) {
    return condition;
  }
  const query = isQueryText(text) ? text : plainAsQuery(text);
  if (query === condition || query.endsWith(` and ${condition}`)) {
    return query;
  }
  return `${hasTopLevelOr(query) ? `(${query})` : query} and ${condition}`;
}

/**
 * Whether the filter box reads a text as a query rather than plain words:
 * the server's rule (query/plain.py `looks_like_query`), an operator or a
 * parenthesis outside quotes, or a word starting with `params.`,
 * `metrics.` or `tags.`; and the one query that has none of them, `FIELD
 * is [not] null` (the server tries to parse every text first).
 */
export function isQueryText(text: string): boolean {
  const bare = text.replace(QUOTED, ' ');
  return (
    /[=<>~()]|!=|!~/.test(bare) ||
    /(?:^|\s)(?:params?|metrics?|tags?)\./i.test(bare) ||
    /(?:^|\s)is\s+(?:not\s+)?null(?:\s|$)/i.test(bare)
  );
}

/**
 * Plain words as the query the server makes of them (query/plain.py
 * `search`): every word matches the run's name, its experiment or a tag
 * (contains), or is its number (`3`, `#3`) or its status.
 */
export function plainAsQuery(text: string): string {
  const terms: string[] = [];
  for (const word of plainWords(text)) {
    const quoted = quoteString(word);
    const options = [
      `name ~ ${quoted}`,
      `experiment ~ ${quoted}`,
      `tags ~ ${quoted}`
    ];
    const number = /^#?([0-9]+)$/.exec(word);
    if (number) {
      options.push(`number = ${Number(number[1])}`);
    }
    if ((STATUSES as string[]).includes(word.toLowerCase())) {
      options.push(`status = ${word.toLowerCase()}`);
    }
    terms.push(`(${options.join(' or ')})`);
  }
  return terms.join(' and ');
}

/** The words of plain text: quoted words keep their spaces (query/plain.py `words`). */
export function plainWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+)/gs;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    const [, double, single, bare] = match;
    const word =
      bare !== undefined
        ? bare
        : unescape(double !== undefined ? double : single);
    if (word) {
      words.push(word);
    }
  }
  return words;
}

/**
 * Whether a query has an `or` outside parentheses, quotes and backticks.
 * It may say yes for a field or a bare value spelled `or`: parentheses
 * around the filter are then merely not needed.
 */
export function hasTopLevelOr(query: string): boolean {
  let depth = 0;
  let i = 0;
  while (i < query.length) {
    const c = query[i];
    if (c === '"' || c === "'") {
      i = closingQuote(query, i, c) + 1;
    } else if (c === '`') {
      i = closingBacktick(query, i) + 1;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z0-9_]+/.exec(query.slice(i))![0];
      const after = query[i + word.length] ?? '';
      const before = i > 0 ? query[i - 1] : '';
      if (
        depth === 0 &&
        word.toLowerCase() === 'or' &&
        before !== '.' &&
        after !== '.'
      ) {
        return true;
      }
      i += word.length;
    } else {
      i++;
    }
  }
  return false;
}

/** Quoted strings in single or double quotes, a backslash escaping. */
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/gs;

/** Index of the quote closing the string opened at `start` (or the end). */
function closingQuote(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    i += text[i] === '\\' ? 2 : 1;
  }
  return Math.min(i, text.length);
}

/** Index of the backtick closing the key opened at `start` (`` doubles one). */
function closingBacktick(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === '`') {
      if (text[i + 1] === '`') {
        i += 2;
        continue;
      }
      return i;
    }
    i++;
  }
  return text.length;
}

/** The escapes a quoted string resolves (query/literals.py `unescape`). */
const ESCAPES: { [c: string]: string } = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '`': '`'
};

/** A quoted word's content; a backslash before anything else stays as typed. */
function unescape(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/gs, (all, escape: string) => {
    if (escape.length === 5) {
      return String.fromCharCode(parseInt(escape.slice(1), 16));
    }
    return ESCAPES[escape] ?? all;
  });
}
