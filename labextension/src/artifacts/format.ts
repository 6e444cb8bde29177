/**
 * Pure logic of a run's artifacts: request paths, labels, which file a
 * preview shows first and which renderer it takes. No DOM here, so jest
 * tests it as it is.
 */

import { JSONValue, PLOTLY_MIME, formatBytes } from '../model';
import { IArtifact, IMimeBundle, IRunModelVersion } from './types';

/**
 * A name as one segment of a request path. Artifact names may hold `/`
 * (`plots/roc`): percent-encoded, the server reads them back whole. A
 * segment of dots only would be dropped by the URL joining (`..` climbs),
 * so its dots are encoded too.
 */
export function pathSegment(name: string): string {
  const encoded = encodeURIComponent(name);
  return /^\.+$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

/**
 * The API path of a file of an artifact: `preview` gives its mime bundle,
 * `raw` its bytes. Without `path`, the artifact's primary file.
 */
export function artifactEndpoint(
  runId: string,
  name: string,
  what: 'preview' | 'raw',
  path?: string | null
): string {
  const base = `runs/${pathSegment(runId)}/artifacts/${pathSegment(name)}/${what}`;
  return path === undefined || path === null
    ? base
    : `${base}?path=${encodeURIComponent(path)}`;
}

const KIND_LABELS: { [kind: string]: string } = {
  file: 'File',
  folder: 'Folder',
  text: 'Text',
  dict: 'Dict',
  figure: 'Figure',
  model: 'Model'
};

/** A Parquet file: what `mltrack.log_table` keeps. */
export const PARQUET_MIME = 'application/vnd.apache.parquet';

/**
 * A kind as the table shows it (an unknown kind as it came); a file of
 * `media_type` Parquet is a `Table` (`log_table`).
 */
export function kindLabel(kind: string, mediaType?: string | null): string {
  if (kind === 'file' && mediaType === PARQUET_MIME) {
    return 'Table';
  }
  return KIND_LABELS[kind] ?? kind;
}

/** `1 file`, `1,000 files`. */
export function filesText(count: number): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? 'file' : 'files'}`;
}

/** The artifact's size and file count: `2.1 KiB · 2 files`. */
export function sizeText(artifact: Pick<IArtifact, 'size' | 'file_count'>) {
  return `${formatBytes(artifact.size)} \u00b7 ${filesText(artifact.file_count)}`;
}

/**
 * The artifact's file paths in the order the picker offers them: its primary
 * file (a figure's PNG, what the server previews first) then the others as
 * listed.
 */
export function orderedPaths(
  artifact: Pick<IArtifact, 'files' | 'meta'>
): string[] {
  const paths = artifact.files.map(f => f.path);
  const primary = artifact.meta?.primary;
  if (typeof primary === 'string' && paths.includes(primary)) {
    return [primary, ...paths.filter(p => p !== primary)];
  }
  return paths;
}

/** The name a downloaded file is saved as: its path's last part. */
export function downloadName(path: string): string {
  const parts = path.split('/').filter(p => p !== '');
  return parts.length > 0 ? parts[parts.length - 1] : 'download';
}

/** The registered versions of one artifact of the run, by model then version. */
export function versionsOf(
  models: IRunModelVersion[] | undefined,
  artifact: string
): IRunModelVersion[] {
  return (models ?? [])
    .filter(v => v.artifact === artifact)
    .sort((a, b) =>
      a.model === b.model ? a.version - b.version : a.model < b.model ? -1 : 1
    );
}

/** `churn v2`. */
export function versionLabel(v: Pick<IRunModelVersion, 'model' | 'version'>) {
  return `${v.model} v${v.version}`;
}

/**
 * The facts of a model artifact, as label and value, those it recorded
 * only: format, library, its version, Python.
 */
export function modelFacts(artifact: IArtifact): [string, string][] {
  const summary = artifact.model;
  const meta = artifact.meta ?? {};
  const pick = (key: 'format' | 'flavor' | 'library_version' | 'python') => {
    const value = summary?.[key] ?? meta[key];
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const facts: [string, string | null][] = [
    ['Format', pick('format')],
    ['Library', pick('flavor')],
    ['Library version', pick('library_version')],
    ['Python', pick('python')]
  ];
  return facts.filter((f): f is [string, string] => f[1] !== null);
}

/** Whether loading the model can run code (pickle), by its summary or meta. */
export function isUnsafe(artifact: IArtifact): boolean {
  return !!(artifact.model?.unsafe ?? artifact.meta?.unsafe);
}

/** The skops types a load must be told to trust. */
export function untrustedTypes(artifact: IArtifact): string[] {
  const types =
    artifact.model?.untrusted_types ?? artifact.meta?.untrusted_types;
  return Array.isArray(types)
    ? types.filter((t): t is string => typeof t === 'string')
    : [];
}

/**
 * The code that loads the model: by the registry when it is registered (a
 * version with an alias first, so the code follows the alias), else by its
 * run; null when the server gave no call (an older server).
 */
export function loadCode(
  artifact: IArtifact,
  versions: IRunModelVersion[]
): string | null {
  const byRegistry =
    versions.find(v => v.aliases.length > 0 && v.load) ??
    versions.find(v => v.load);
  const call = byRegistry?.load ?? artifact.model?.load;
  return call ? `import jupyter_mltrack as mltrack\n\nmodel = ${call}` : null;
}

/** The model's signature (inputs and outputs), when one was recorded. */
export function signatureOf(artifact: IArtifact): JSONValue | null {
  const inputs = artifact.model?.inputs ?? null;
  const outputs = artifact.model?.outputs ?? null;
  if (inputs === null && outputs === null) {
    return null;
  }
  return { inputs, outputs };
}

/**
 * What is drawn as a picture, best first: a live figure, then images. The
 * compare view puts these side by side.
 */
export const PICTURE_MIMES: readonly string[] = [
  PLOTLY_MIME,
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/svg+xml'
];

/**
 * The renderers a preview prefers, best first: a picture, then rendered
 * markdown, a JSON tree, plain text.
 */
export const PREVIEW_MIMES: readonly string[] = [
  ...PICTURE_MIMES,
  // a table's first rows (log_table), rendered untrusted: sanitized
  'text/html',
  'text/markdown',
  'application/json',
  'text/plain'
];

/**
 * The mime type of `bundle` to render: the first of `order` it holds and
 * JupyterLab has a renderer for (`available`). With the default order a
 * figure's bundle falls back to its text when the plotly renderer is not
 * installed; with PICTURE_MIMES it has none. `null`: none.
 */
export function chooseMime(
  bundle: IMimeBundle | null,
  available: readonly string[],
  order: readonly string[] = PREVIEW_MIMES
): string | null {
  if (!bundle) {
    return null;
  }
  const known = new Set(available);
  return order.find(mime => mime in bundle && known.has(mime)) ?? null;
}

/**
 * Whether a preview in `mime` is rendered as trusted. Only where trust runs
 * nothing: an SVG is shown as an image (JupyterLab refuses untrusted SVG
 * outright), a plotly figure is data plotly draws. Markdown stays untrusted,
 * so its HTML is sanitized: a shared store holds other people's files.
 */
export function trustedMime(mime: string): boolean {
  return mime === 'image/svg+xml' || mime === PLOTLY_MIME;
}

/** What the preview says besides its content: cut text, or why none. */
export function previewNote(preview: {
  bundle: IMimeBundle | null;
  truncated: boolean;
  reason: string | null;
  size: number;
}): string | null {
  if (preview.reason) {
    return preview.reason;
  }
  if (preview.truncated) {
    return `Only the start of this ${formatBytes(preview.size)} file is shown; download it for all of it.`;
  }
  if (!preview.bundle) {
    return 'No preview of this file; download it.';
  }
  return null;
}

/** Pictures smaller than this (both sides, in CSS pixels) are shown enlarged. */
export const SMALL_IMAGE = 160;

/**
 * The whole-number scale that shows a `width` x `height` picture at least
 * about SMALL_IMAGE wide or high (1 for a picture that big already): an 8 x 8
 * digit or a 28 x 28 MNIST sample is a speck at its own size.
 */
export function enlargement(width: number, height: number): number {
  const side = Math.max(width, height);
  return side > 0 && side < SMALL_IMAGE ? Math.floor(SMALL_IMAGE / side) : 1;
}

/** What decides that a run's artifacts changed: their names, states and files. */
export function listingKey(artifacts: IArtifact[]): string {
  return JSON.stringify(
    artifacts.map(a => [a.name, a.status ?? '', a.files.map(f => f.digest)])
  );
}
