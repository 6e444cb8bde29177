/**
 * Pure logic of the Datasets view: request paths, the dataset list as the
 * server sends it, how versions, tags and the runs that read them are
 * written, which two versions a diff compares, and what moving a tag asks
 * before it happens. No DOM here, so jest tests it as it is.
 */

import { pathSegment } from '../artifacts/format';
import type { IPointing, PointerChange } from '../confirm';
import { formatBytes, formatShape, formatTimestamp, JSONValue } from '../model';
import {
  IDatasetDetail,
  IDatasetSummary,
  IDatasetUse,
  IDatasetVersion
} from './types';

/** Characters of a hash shown in a table (as `short` and the CLI). */
export const SHORT_HASH = 12;
/** Shortest hash prefix a reference may name a version by (the store's). */
export const MIN_PREFIX = 6;

/** `datasets/{name}` and below it; the `/` of `team/churn` as `%2F`. */
export function datasetEndpoint(name: string, ...rest: string[]): string {
  return ['datasets', pathSegment(name), ...rest].join('/');
}

/** `datasets/{name}/versions/{selector}` (a tag, `latest` or a hash). */
export function versionEndpoint(name: string, selector: string): string {
  return datasetEndpoint(name, 'versions', pathSegment(selector));
}

/** A page of a version's rows: the snapshot preview's `offset`/`limit`. */
export function versionRowsQuery(
  name: string,
  selector: string,
  offset = 0,
  limit = 50
): string {
  const first = Math.max(0, Math.floor(offset));
  const size = Math.min(500, Math.max(1, Math.floor(limit)));
  return `${versionEndpoint(name, selector)}/rows?offset=${first}&limit=${size}`;
}

/** `datasets/{name}/diff?from=A&to=B`: what changed from `from` to `to`. */
export function diffQuery(name: string, from: string, to: string): string {
  return `${datasetEndpoint(name, 'diff')}?from=${encodeURIComponent(
    from
  )}&to=${encodeURIComponent(to)}`;
}

/** `datasets/{name}/tags/{tag}`. */
export function tagEndpoint(name: string, tag: string): string {
  return datasetEndpoint(name, 'tags', pathSegment(tag));
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && isFinite(value) ? value : null;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

/**
 * The datasets of a `GET datasets` answer, in its order. A nameless entry is
 * left out rather than shown wrong; a missing answer is an error, not an
 * empty store.
 */
export function parseDatasetList(data: unknown): IDatasetSummary[] {
  const datasets = (data as { datasets?: unknown } | null | undefined)
    ?.datasets;
  if (!Array.isArray(datasets)) {
    throw new Error('the server sent no list of datasets');
  }
  const out: IDatasetSummary[] = [];
  for (const item of datasets) {
    if (!item || typeof item !== 'object') {
      continue;
    }
    const d = item as { [key: string]: unknown };
    if (typeof d.name !== 'string' || d.name === '') {
      continue;
    }
    const tags: { [tag: string]: string } = {};
    if (d.tags && typeof d.tags === 'object') {
      for (const [tag, hash] of Object.entries(d.tags)) {
        if (typeof hash === 'string') {
          tags[tag] = hash;
        }
      }
    }
    const latest =
      d.latest && typeof d.latest === 'object'
        ? (d.latest as IDatasetVersion)
        : null;
    out.push({
      name: d.name,
      created_at: text(d.created_at),
      updated_at: text(d.updated_at),
      versions: num(d.versions) ?? 0,
      latest,
      tags,
      nbytes: num(d.nbytes)
    });
  }
  return out;
}

/** The hex digits of a hash (`xxh3-128:3f2a…` → `3f2a…`). */
export function hashHex(hash: string): string {
  const colon = hash.indexOf(':');
  return colon < 0 ? hash : hash.slice(colon + 1);
}

/** `3f2a9c1b0d4e`: the first 12 hex digits of a hash. */
export function shortHash(hash: string): string {
  return hashHex(hash).slice(0, SHORT_HASH);
}

/**
 * A version reference as a table shows it: `team/churn@3f2a9c1b0d4e` (a
 * full `name@<32 hex>` cut to 12 digits; a tag is kept whole).
 */
export function datasetRefLabel(ref: string): string {
  const at = ref.lastIndexOf('@');
  if (at < 0) {
    return ref;
  }
  const version = ref.slice(at + 1);
  return /^[0-9a-f]{16,}$/i.test(version)
    ? `${ref.slice(0, at)}@${version.slice(0, SHORT_HASH)}`
    : ref;
}

/**
 * The version a run's input was got as, beside the input's name: `@<short>`
 * when the input is named after the dataset (as `mltrack.datasets.get`
 * names it), else the whole `team/churn@<short>`.
 */
export function inputDatasetLabel(name: string, ref: string): string {
  const label = datasetRefLabel(ref);
  const at = label.lastIndexOf('@');
  return at > 0 && label.slice(0, at) === name ? label.slice(at) : label;
}

/** Tags by name as chips read them: `@gold @v1`. */
export function tagsText(tags: string[]): string {
  return [...tags]
    .sort()
    .map(t => `@${t}`)
    .join(' ');
}

/** `2 versions · 1.2 KiB · @gold @v1`. */
export function datasetSummaryText(dataset: IDatasetSummary): string {
  const parts = [
    `${dataset.versions} ${dataset.versions === 1 ? 'version' : 'versions'}`
  ];
  if (dataset.nbytes !== null) {
    parts.push(formatBytes(dataset.nbytes));
  }
  return parts.join(' \u00b7 ');
}

/** A version's shape: `15 × 2` for a frame, its size for a file. */
export function versionShape(
  v: Pick<IDatasetVersion, 'kind' | 'rows' | 'columns' | 'nbytes'>
): string {
  const shape =
    v.rows === null || v.rows === undefined
      ? []
      : v.columns === null || v.columns === undefined
        ? [v.rows]
        : [v.rows, v.columns];
  return formatShape({ kind: v.kind, shape, nbytes: v.nbytes });
}

/** `#3 (train)`: a run that read a version, as a link says it. */
export function useText(use: IDatasetUse): string {
  return `#${use.number} (${use.experiment})`;
}

/** `2 runs`, `1 run`, `no runs` (unknown when the server did not say). */
export function usedByText(runs: IDatasetUse[] | undefined): string {
  if (runs === undefined) {
    return '';
  }
  const count = new Set(runs.map(r => r.run_id)).size;
  return count === 0 ? 'no runs' : `${count} ${count === 1 ? 'run' : 'runs'}`;
}

/** `pushed 12:04 by ann`: when and by whom. */
export function pushedText(
  v: Pick<IDatasetVersion, 'created_at' | 'author'>,
  now: Date = new Date()
): string {
  const when = formatTimestamp(v.created_at, now);
  return v.author ? `${when} by ${v.author}` : when;
}

/** What the version panel lists of a version, those with a value only. */
export function versionFacts(
  v: IDatasetVersion,
  manifest: { [key: string]: JSONValue } | null,
  now: Date = new Date()
): [string, string][] {
  const pairs: [string, string | null][] = [
    ['Reference', v.ref],
    ['Hash', v.hash],
    ['Tags', v.tags.length ? tagsText(v.tags) : null],
    ['Latest', v.latest ? 'yes' : null],
    ['Kind', v.kind],
    ['Shape', v.kind === 'file' ? null : versionShape(v)],
    ['Size', formatBytes(v.nbytes)],
    ['Pushed', pushedText(v, now)],
    ['Message', v.message || null],
    ['Snapshot', v.snapshot],
    [
      'Manifest',
      manifest && typeof manifest.format === 'string'
        ? `${manifest.format} (${String(manifest.algorithm ?? '')})`
        : null
    ]
  ];
  return pairs.filter(
    (p): p is [string, string] => typeof p[1] === 'string' && p[1] !== ''
  );
}

/** A frame's columns from its snapshot schema: name and dtype each. */
export function schemaColumns(
  schema: { [key: string]: any } | null | undefined
): { name: string; dtype: string }[] {
  const columns = schema?.columns;
  if (!Array.isArray(columns)) {
    return [];
  }
  return columns.map((c: any) => ({
    name: String(c?.name ?? ''),
    dtype: String(c?.dtype ?? '')
  }));
}

/**
 * The version `wanted` names (its hash, or the hex digits of one, or a
 * prefix of them), else the first (the newest); `null` when there is none.
 */
export function findVersion(
  versions: IDatasetVersion[],
  wanted: string | null
): IDatasetVersion | null {
  if (wanted) {
    const exact = versions.find(v => v.hash === wanted);
    if (exact) {
      return exact;
    }
    const hex = hashHex(wanted).toLowerCase();
    const found = hex
      ? versions.find(v => hashHex(v.hash).startsWith(hex))
      : undefined;
    if (found) {
      return found;
    }
  }
  return versions[0] ?? null;
}

/**
 * The versions checked for a diff after `hash` was clicked: it is added,
 * or removed if it was checked; with a third, the one checked first goes
 * (two at most: a diff compares two).
 */
export function toggleDiffSelection(
  selected: string[],
  hash: string
): string[] {
  if (selected.includes(hash)) {
    return selected.filter(h => h !== hash);
  }
  return [...selected, hash].slice(-2);
}

/**
 * The two checked versions as `[from, to]`: the older first (versions are
 * listed newest first), so the diff reads as what changed since; `null`
 * unless exactly two of `versions` are checked.
 */
export function diffPair(
  versions: IDatasetVersion[],
  selected: string[]
): [IDatasetVersion, IDatasetVersion] | null {
  const picked = versions.filter(v => selected.includes(v.hash));
  if (picked.length !== 2) {
    return null;
  }
  return [picked[1], picked[0]];
}

/** Why a typed tag cannot be one (as the server says), or the tag. */
export function checkTag(typed: string): { tag: string } | { error: string } {
  const tag = typed.trim().replace(/^@/, '');
  if (tag === '') {
    return { error: 'A tag is a name, such as gold or v1.' };
  }
  if (tag === 'latest') {
    return {
      error: '@latest is not a tag: it always names the version pushed last.'
    };
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tag)) {
    return {
      error: `@${tag}: use letters, digits and -_. (no '/', '@', ':' or spaces), starting with a letter or digit.`
    };
  }
  if (tag.length >= MIN_PREFIX && /^[0-9a-f]+$/i.test(tag)) {
    return {
      error: `@${tag} would read as a hash prefix; pick a name such as gold or v1.`
    };
  }
  return { tag };
}

/**
 * The tags the "Tag…" dialog offers for `version`: those on other versions
 * first (moving one is the usual promotion), by name.
 */
export function tagChoices(
  detail: IDatasetDetail,
  version: IDatasetVersion
): string[] {
  return Object.entries(detail.dataset.tags)
    .filter(([, hash]) => hash !== version.hash)
    .map(([tag]) => tag)
    .sort();
}

/** What pointing a tag at a version would do, and what to ask first. */
export type TagChange = PointerChange<
  IPointing & {
    tag: string;
    /** The hash of the version it leaves (a move). */
    from: string | null;
  }
>;

/** `3f2a9c1b0d4e ("april", by bo)`. */
function describeVersion(detail: IDatasetDetail, hash: string): string {
  const v = detail.versions.find(x => x.hash === hash);
  if (!v) {
    return shortHash(hash);
  }
  const what = [
    v.message ? `"${v.message}"` : '',
    v.author ? `by ${v.author}` : ''
  ]
    .filter(Boolean)
    .join(', ');
  return what ? `${v.short} (${what})` : v.short;
}

/**
 * The confirmation of pointing `typed` at `version`: a move says from which
 * version ("Move @gold from 9a8b… to 3f2a…?"), a new tag that it is new.
 * Tagging the version a tag already names changes nothing.
 */
export function tagChange(
  detail: IDatasetDetail,
  typed: string,
  version: IDatasetVersion
): TagChange {
  const checked = checkTag(typed);
  if ('error' in checked) {
    return { kind: 'invalid', message: checked.error };
  }
  const tag = checked.tag;
  const tags = detail.dataset.tags;
  const from = Object.prototype.hasOwnProperty.call(tags, tag)
    ? tags[tag]
    : null;
  if (from === version.hash) {
    return {
      kind: 'noop',
      message: `@${tag} already names ${version.short}.`
    };
  }
  const ref = `${detail.dataset.name}@${tag}`;
  const target = describeVersion(detail, version.hash);
  if (from === null) {
    return {
      kind: 'create',
      tag,
      from,
      title: `Tag ${version.short} as @${tag}?`,
      body: `${ref} will get ${target}.`,
      accept: 'Tag'
    };
  }
  return {
    kind: 'move',
    tag,
    from,
    title: `Move @${tag} from ${shortHash(from)} to ${version.short}?`,
    body: `${ref} will get ${target} instead of ${describeVersion(detail, from)}. Pipelines exported earlier keep the version they were pinned to.`,
    accept: 'Move'
  };
}

/** The confirmation of deleting `tag` (on `version`). */
export function tagDeleteQuestion(
  name: string,
  tag: string,
  version: IDatasetVersion
): { title: string; body: string } {
  return {
    title: `Delete @${tag}?`,
    body: `${name}@${tag} names ${version.short}; once deleted it names nothing. The version itself stays.`
  };
}
