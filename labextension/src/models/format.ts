/**
 * Pure logic of the Models section: request paths, the model list and
 * versions as the server sends them, what moving or deleting an alias asks
 * before it happens, and tags (a model's or a version's) as typed. No DOM
 * here, so jest tests it as it is.
 */

import { pathSegment } from '../artifacts/format';
import type { IPointing, IQuestion, PointerChange } from '../confirm';
import {
  formatBytes,
  formatDuration,
  formatTimestamp,
  formatValue
} from '../model';
import type { IRunModelVersion } from '../artifacts/types';
import { ILineage, IModelDetail, IModelListItem, IModelVersion } from './types';

/** `models/{name}` and below it (`aliases/{alias}`, `lineage`). */
export function modelEndpoint(name: string, ...rest: string[]): string {
  return ['models', pathSegment(name), ...rest].join('/');
}

/** `models/{name}/aliases/{alias}`. */
export function aliasEndpoint(name: string, alias: string): string {
  return modelEndpoint(name, 'aliases', pathSegment(alias));
}

/** `DELETE models/{name}`; `?force=1` deletes its aliases with it. */
export function modelDeleteEndpoint(name: string, force: boolean): string {
  return force ? `${modelEndpoint(name)}?force=1` : modelEndpoint(name);
}

/** `models/{name}/versions/{version}`: where a version's description and tags change. */
export function versionEndpoint(name: string, version: number): string {
  return modelEndpoint(name, 'versions', String(version));
}

/**
 * `models/{name}/lineage?version=N&figure=1`: the lineage with its graph
 * and the graph's plotly figure.
 */
export function lineageEndpoint(name: string, version: number): string {
  return `${modelEndpoint(name, 'lineage')}?version=${encodeURIComponent(String(version))}&figure=1`;
}

/**
 * The run a click on the lineage graph opens: the `customdata` of the
 * point clicked (plotly's `plotly_click` event), which the server sets to
 * the node's run id, or `null` for a node without one (data) and anything
 * that is not a click on a point.
 */
export function clickedRunId(event: unknown): string | null {
  const points = (event as { points?: unknown } | null | undefined)?.points;
  if (!Array.isArray(points) || points.length === 0) {
    return null;
  }
  const id = (points[0] as { customdata?: unknown } | null)?.customdata;
  return typeof id === 'string' && id !== '' ? id : null;
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && isFinite(value) ? value : null;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

/**
 * The models of a `GET models` answer, in its order. What is not a model (a
 * nameless entry, an alias on no version number) is left out rather than
 * shown wrong; a missing answer is an error, not an empty registry.
 */
export function parseModelList(data: unknown): IModelListItem[] {
  const models = (data as { models?: unknown } | null | undefined)?.models;
  if (!Array.isArray(models)) {
    throw new Error('the server sent no list of models');
  }
  const out: IModelListItem[] = [];
  for (const item of models) {
    if (!item || typeof item !== 'object') {
      continue;
    }
    const m = item as { [key: string]: unknown };
    if (typeof m.name !== 'string' || m.name === '') {
      continue;
    }
    const aliases: { [alias: string]: number } = {};
    if (m.aliases && typeof m.aliases === 'object') {
      for (const [alias, version] of Object.entries(m.aliases)) {
        const v = num(version);
        if (v !== null) {
          aliases[alias] = v;
        }
      }
    }
    out.push({
      name: m.name,
      description: typeof m.description === 'string' ? m.description : '',
      created_at: text(m.created_at),
      updated_at: text(m.updated_at),
      versions: num(m.versions) ?? 0,
      latest: num(m.latest),
      aliases,
      tags: readTags(m.tags)
    });
  }
  return out;
}

/**
 * A model's or a version's tags as sent: text values only (a server before
 * tags sends none, or something else under the key).
 */
export function readTags(value: unknown): { [key: string]: string } {
  const tags: { [key: string]: string } = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, tag] of Object.entries(value)) {
      if (typeof tag === 'string') {
        tags[key] = tag;
      }
    }
  }
  return tags;
}

/**
 * A registered version as the section reads it: with a description and
 * tags even from a server that sends neither, so nothing downstream checks.
 */
export function normalizeVersion<V extends IRunModelVersion>(version: V): V {
  const raw = version as V & { description?: unknown; tags?: unknown };
  return {
    ...version,
    description: typeof raw.description === 'string' ? raw.description : '',
    tags: readTags(raw.tags)
  };
}

/**
 * `GET models/{name}` (or `PATCH`'s answer), with a description and tags
 * even from a server that sends neither, its versions normalized.
 */
export function parseModelDetail(data: IModelDetail): IModelDetail {
  return {
    ...data,
    description: typeof data.description === 'string' ? data.description : '',
    tags: readTags((data as { tags?: unknown }).tags),
    versions: (data.versions ?? []).map(normalizeVersion)
  };
}

/**
 * The model with `updated` in place of its version: a version's `PATCH`
 * answers without the run's fields (number, metrics), which are kept.
 */
export function withVersion(
  detail: IModelDetail,
  updated: IRunModelVersion
): IModelDetail {
  return {
    ...detail,
    versions: detail.versions.map(v =>
      v.version === updated.version ? { ...v, ...updated } : v
    )
  };
}

/** Tags sorted by key, shown as chips and typed as `key=value`. */
export function tagEntries(tags: {
  [key: string]: string;
}): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Tags written as the Tags… dialog reads them: `owner=ana, validation=passed`. */
export function tagsText(tags: { [key: string]: string }): string {
  return tagEntries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/**
 * Whether a tag reads back as itself from `key=value, …`: its key holds no
 * '=', neither holds a ',' or a line break, and no space at either end
 * (the typed text is trimmed).
 */
function typeable(key: string, value: string): boolean {
  const plain = (s: string) => !/[,\r\n]/.test(s) && s.trim() === s;
  return key !== '' && !key.includes('=') && plain(key) && plain(value);
}

/**
 * Tags (a model's or a version's) split into those the one-line Tags… text can show and
 * change, and the keys of those it cannot (a ',' in a value, set from
 * Python), which the dialog names and leaves as they are rather than
 * mangling them on the way back.
 */
export function editableTags(tags: { [key: string]: string }): {
  editable: { [key: string]: string };
  kept: string[];
} {
  const editable: { [key: string]: string } = {};
  const kept: string[] = [];
  for (const [key, value] of tagEntries(tags)) {
    if (typeable(key, value)) {
      editable[key] = value;
    } else {
      kept.push(key);
    }
  }
  return { editable, kept };
}

/**
 * Tags as typed in the Tags… dialog: `key=value` entries separated by commas
 * or line breaks, each trimmed; a value may hold '=' (the key ends at the
 * first), not ','. Empty text is no tags. An entry without '=' or a key
 * given twice is an error, so nothing half-read is sent.
 */
export function parseTagsText(
  typed: string
): { tags: { [key: string]: string } } | { error: string } {
  const tags: { [key: string]: string } = {};
  for (const entry of typed.split(/[,\r\n]/)) {
    const item = entry.trim();
    if (item === '') {
      continue;
    }
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    if (eq < 0 || key === '') {
      return {
        error: `"${item}" is not key=value; write tags as validation=passed, owner=ana.`
      };
    }
    if (Object.prototype.hasOwnProperty.call(tags, key)) {
      return { error: `The tag ${key} is given twice.` };
    }
    tags[key] = item.slice(eq + 1).trim();
  }
  return { tags };
}

/**
 * What turns tags `before` into `after`, as a model's or a version's
 * `PATCH` takes it: each new or changed key with its value, each removed
 * key with `null`. Empty when nothing changed (no request then).
 */
export function tagsChange(
  before: { [key: string]: string },
  after: { [key: string]: string }
): { [key: string]: string | null } {
  const has = (tags: object, key: string) =>
    Object.prototype.hasOwnProperty.call(tags, key);
  const change: { [key: string]: string | null } = {};
  for (const [key, value] of Object.entries(after)) {
    if (!has(before, key) || before[key] !== value) {
      change[key] = value;
    }
  }
  for (const key of Object.keys(before)) {
    if (!has(after, key)) {
      change[key] = null;
    }
  }
  return change;
}

/**
 * What the Tags… dialog of a model or a version starts from: the tags its
 * one line can show (what the typed text is read against), that line, and
 * a label naming the tags it leaves as they are.
 */
export function tagsPrompt(tags: { [key: string]: string }): {
  editable: { [key: string]: string };
  text: string;
  label: string;
} {
  const { editable, kept } = editableTags(tags);
  const keptNote =
    kept.length > 0 ? ` (${kept.join(', ')} kept as they are)` : '';
  return {
    editable,
    text: tagsText(editable),
    label: `Tags as key=value, separated by commas${keptNote}`
  };
}

/**
 * The Tags… dialog's answer read against the `editable` tags it showed:
 * only the difference, for one `PATCH` (a key removed from the text
 * deleted; empty when unchanged, so nothing is sent), or the typo that
 * keeps anything from being sent.
 */
export function typedTagsChange(
  editable: { [key: string]: string },
  typed: string
): { change: { [key: string]: string | null } } | { error: string } {
  const parsed = parseTagsText(typed);
  return 'error' in parsed
    ? parsed
    : { change: tagsChange(editable, parsed.tags) };
}

/** Aliases sorted by name, each with its version: `[["production", 2]]`. */
export function aliasEntries(aliases: {
  [alias: string]: number;
}): [string, number][] {
  return Object.entries(aliases).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
}

/** `3 versions · latest v3`. */
export function modelSummaryText(
  model: Pick<IModelListItem, 'versions' | 'latest'>
): string {
  const count = `${model.versions} ${model.versions === 1 ? 'version' : 'versions'}`;
  return model.latest === null
    ? count
    : `${count} \u00b7 latest v${model.latest}`;
}

/** `run #3 rf-big` (or the run id when the run is gone). */
export function versionRunText(
  v: Pick<IModelVersion, 'run_number' | 'run_name' | 'run_id'>
): string {
  if (v.run_number === null) {
    return `run ${v.run_id.slice(0, 8)}`;
  }
  return v.run_name
    ? `run #${v.run_number} ${v.run_name}`
    : `run #${v.run_number}`;
}

/**
 * The first `max` metrics of a version, or of a run that used one (whose
 * NaN may come as `'nan'`): `acc 0.91 · loss 0.12`.
 */
export function metricsText(
  metrics: { [key: string]: number | string | null } | null | undefined,
  max = 3
): string {
  return Object.entries(metrics ?? {})
    .slice(0, max)
    .map(([key, value]) => `${key} ${formatValue(value)}`)
    .join(' \u00b7 ');
}

/**
 * The aliases the "Set alias…" dialog offers for `version`: those on other
 * versions (moving one is the usual promotion), by name.
 */
export function aliasChoices(detail: IModelDetail, version: number): string[] {
  return aliasEntries(detail.aliases)
    .filter(([, v]) => v !== version)
    .map(([alias]) => alias);
}

/**
 * A new model or alias name, as the server checks it (`names.PLAIN_NAME`):
 * it reads one way in `models:/NAME@ALIAS` and needs no escaping in a path.
 */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** What setting an alias on a version would do, and what to ask first. */
export type AliasChange = PointerChange<
  IPointing & {
    alias: string;
    version: number;
    /** The version it leaves (a move). */
    from: number | null;
  }
>;

/**
 * The confirmation of pointing `alias` of `detail` at `version`: a move says
 * from which version ("Move @production from v1 to v2?"), a new alias that
 * it is new. Setting an alias where it already is changes nothing.
 */
export function aliasChange(
  detail: IModelDetail,
  typed: string,
  version: number
): AliasChange {
  const alias = typed.trim().replace(/^@/, '');
  if (alias === '') {
    return {
      kind: 'invalid',
      message: 'An alias is a name, such as production.'
    };
  }
  if (/^\d+$/.test(alias) || alias === 'latest') {
    // The server refuses it too (400): models:/NAME/3 already means v3.
    return {
      kind: 'invalid',
      message: `@${alias} would read as a version; pick a name such as production.`
    };
  }
  const from = Object.prototype.hasOwnProperty.call(detail.aliases, alias)
    ? detail.aliases[alias]
    : null;
  if (from === null && !PLAIN_NAME.test(alias)) {
    // The server's rule for a new alias (an existing one keeps its name).
    return {
      kind: 'invalid',
      message:
        `@${alias}: use letters, digits and -_., starting with a letter or ` +
        "digit (no spaces, '/', '@' or ':')."
    };
  }
  if (from === version) {
    return {
      kind: 'noop',
      message: `@${alias} already points at v${version}.`
    };
  }
  const ref = `models:/${detail.name}@${alias}`;
  const target = describeVersion(detail, version);
  if (from === null) {
    return {
      kind: 'create',
      alias,
      version,
      from,
      title: `Set @${alias} on v${version}?`,
      body: `${ref} will load ${target}.`,
      accept: 'Set alias'
    };
  }
  return {
    kind: 'move',
    alias,
    version,
    from,
    title: `Move @${alias} from v${from} to v${version}?`,
    body: `${ref} will load ${target} instead of ${describeVersion(detail, from)}.`,
    accept: 'Move'
  };
}

/** The confirmation of deleting `alias` (on `version`). */
export function aliasDeleteQuestion(
  model: string,
  alias: string,
  version: number
): { title: string; body: string } {
  return {
    title: `Delete @${alias}?`,
    body: `models:/${model}@${alias} points at v${version}; once deleted it loads nothing. The version itself stays.`
  };
}

/** `a`, `a and b`, `a, b and c`. */
function listText(items: string[]): string {
  return items.length < 2
    ? items.join('')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * The confirmation of deleting a whole model, naming what goes with it, and
 * whether the deletion is forced: the server refuses one an alias points
 * into unless forced, and the question has named its aliases. It says what
 * MLflow users may not expect: the name registered again starts over at v1.
 */
export function modelDeleteQuestion(
  model: Pick<IModelListItem, 'name' | 'versions' | 'aliases'>
): IQuestion & { force: boolean } {
  const { name } = model;
  const aliases = aliasEntries(model.aliases);
  const gone = [name];
  if (model.versions > 0) {
    gone.push(
      `its ${model.versions} ${model.versions === 1 ? 'version' : 'versions'}`
    );
  }
  if (aliases.length > 0) {
    const named = aliases.map(([alias, v]) => `@${alias} (v${v})`).join(', ');
    gone.push(`${aliases.length === 1 ? 'its alias' : 'its aliases'} ${named}`);
  }
  const loads =
    aliases.length > 0
      ? ` ${listText(aliases.map(([alias]) => `models:/${name}@${alias}`))} will load nothing.`
      : '';
  return {
    title: `Delete model ${name}?`,
    body:
      `${listText(gone)} will be deleted from the registry.${loads} ` +
      `The runs keep the models they logged. Registered again, ${name} starts over at v1.`,
    force: aliases.length > 0
  };
}

/** `version 2 (run #5 rf-big)`. */
function describeVersion(detail: IModelDetail, version: number): string {
  const v = detail.versions.find(x => x.version === version);
  return v ? `version ${version} (${versionRunText(v)})` : `version ${version}`;
}

/**
 * A registered model's name as typed: trimmed, or why it cannot be one.
 * Only what the dialog can tell at once; the server checks the rest.
 */
export function checkModelName(
  typed: string
): { name: string } | { error: string } {
  const name = typed.trim();
  if (name === '') {
    return { error: 'Give the model a name, such as churn.' };
  }
  return { name };
}

/** Label/value pairs, those with a value only. */
function present(
  pairs: [string, string | null | undefined][]
): [string, string][] {
  return pairs.filter(
    (p): p is [string, string] => typeof p[1] === 'string' && p[1] !== ''
  );
}

/** What the lineage says of the model: its version, aliases, how it was saved. */
export function lineageModelFacts(lineage: ILineage): [string, string][] {
  const model = lineage.model;
  const artifact = lineage.artifact;
  return present([
    ['Reference', lineage.ref],
    ['Registered as', model ? `${model.name} v${model.version}` : null],
    [
      'Aliases',
      model && model.aliases.length > 0
        ? model.aliases.map(a => `@${a}`).join(' ')
        : null
    ],
    ['Artifact', artifact?.name],
    ['Format', artifact?.format],
    ['Library', artifact?.flavor],
    ['Library version', artifact?.library_version],
    ['Python', artifact?.python],
    ['Size', artifact ? formatBytes(artifact.size) : null],
    ['Files', artifact?.files?.length ? artifact.files.join(', ') : null]
  ]);
}

/** What the lineage says of the run that logged the model. */
export function lineageRunFacts(
  lineage: ILineage,
  now: Date = new Date()
): [string, string][] {
  const run = lineage.run;
  const reproduced = lineage.pipeline?.reproduced_by ?? [];
  const when = (iso: string | null) => iso && formatTimestamp(iso, now);
  return present([
    ['Run', run.name ? `#${run.number} ${run.name}` : `#${run.number}`],
    ['Experiment', run.experiment],
    ['Status', run.status],
    ['Started', when(run.start_time)],
    ['Ended', when(run.end_time)],
    [
      'Duration',
      typeof run.duration === 'number' ? formatDuration(run.duration) : null
    ],
    ['Notebook', run.notebook_path],
    [
      'Cell',
      run.execution_count !== null && run.execution_count !== undefined
        ? `[${run.execution_count}]${run.cell_id ? ` ${run.cell_id}` : ''}`
        : run.cell_id
    ],
    ['Source', run.source],
    ['Reproduces run', lineage.pipeline?.reproduces],
    [
      'Reproduced by',
      reproduced.length > 0
        ? reproduced.map(r => `#${r.number} (${r.status})`).join(', ')
        : null
    ]
  ]);
}

/** The environment of the lineage: Python, platform, git. */
export function lineageEnvironmentFacts(lineage: ILineage): [string, string][] {
  const env = lineage.environment;
  const git = env?.git;
  return present([
    ['Python', env?.python],
    ['Platform', env?.platform],
    [
      'Git commit',
      git?.commit
        ? `${git.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}`
        : null
    ],
    [
      'Packages recorded',
      typeof env?.all_packages === 'number' ? String(env.all_packages) : null
    ]
  ]);
}
