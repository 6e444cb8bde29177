/**
 * "Export to pipeline": what to send, and what to do with each answer of
 * `POST /mltrack/api/export` (see docs/rest-api.md). Pure logic, no DOM and
 * no JupyterLab runtime: the dialogs, requests and notifications are in
 * index.ts, driven by `nextExportStep`.
 */

/** Body of `POST /mltrack/api/export`. */
export interface IExportRequest {
  /** The notebook's path relative to the server root (the files go beside it). */
  notebook?: string | null;
  /** The notebook's kernel id (its session is found after a rename too). */
  kernel?: string | null;
  /** A run's id: export that run. */
  run?: string | null;
  /** Variable names: export them from the latest logged session. */
  targets?: string[];
  /** Replace pipeline.py, params.yaml and requirements.txt if they exist. */
  overwrite?: boolean;
}

/** The exported run, as the server names it. */
export interface IExportedRun {
  id: string;
  number: number;
  name: string | null;
  experiment: string;
}

/** Answer of a successful export. Paths are relative to the server root. */
export interface IExportResult {
  notebook: string;
  directory: string;
  files: string[];
  pipeline: string;
  selection: 'run' | 'targets' | 'latest_run';
  run: IExportedRun | null;
  targets: string[];
  statements: number;
  executions: number;
  parameters: string[];
  requirements: string[];
  start_cwd: string | null;
  summary: string;
}

/** What the server answered: the result, or its error object. */
export type ExportOutcome =
  | { ok: true; result: IExportResult }
  | {
      ok: false;
      /** HTTP status; 0 when the server could not be reached. */
      status: number;
      message: string;
      /** `targets_required`, `files_exist`, `no_session`, `export_failed`… */
      reason?: string;
      /** With `files_exist`: the files in the way. */
      existing?: string[];
    };

/** What the client does next. */
export type ExportStep =
  | {
      kind: 'done';
      result: IExportResult;
      /** The file to open (relative to the server root). */
      open: string;
      /** A short message for a notification (at most 140 characters). */
      notice: string;
      /** Whether files were replaced (an open pipeline.py must be reloaded). */
      replaced: boolean;
    }
  | {
      kind: 'confirm-overwrite';
      title: string;
      question: string;
      /** The request to send once the user agreed. */
      retry: IExportRequest;
    }
  | {
      kind: 'ask-targets';
      title: string;
      question: string;
      /** The request to complete with `withTargets`. */
      request: IExportRequest;
    }
  | { kind: 'error'; title: string; message: string };

/** Title of every dialog of the export. */
export const EXPORT_TITLE = 'Export to Pipeline';

/** Longest notification JupyterLab shows whole. */
const MAX_NOTICE = 140;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The variable names a user typed: separated by commas (or spaces), trimmed,
 * each once, in the order typed.
 */
export function parseTargets(text: string): string[] {
  const names: string[] = [];
  for (const part of text.split(/[,\s]+/)) {
    const name = part.trim();
    if (name && !names.includes(name)) {
      names.push(name);
    }
  }
  return names;
}

/**
 * `request` with the variables typed in `text`, or a message saying what is
 * wrong with them (the server checks again: this only saves a round trip).
 */
export function withTargets(
  request: IExportRequest,
  text: string
): { request: IExportRequest } | { error: string } {
  const targets = parseTargets(text);
  if (targets.length === 0) {
    return { error: 'Name at least one variable to export.' };
  }
  const invalid = targets.filter(name => !IDENTIFIER.test(name));
  if (invalid.length > 0) {
    const list = invalid.map(name => `"${name}"`).join(', ');
    return {
      error: `${list} ${invalid.length === 1 ? 'is not a variable name' : 'are not variable names'}: give names separated by commas, e.g. "model, score".`
    };
  }
  return { request: { ...request, targets } };
}

/** The file name of a path. */
function baseName(path: string): string {
  return path.split('/').pop() || path;
}

/** "a", "a and b", "a, b and c". */
export function listText(items: string[]): string {
  if (items.length <= 1) {
    return items.join('');
  }
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A short line saying what was exported and where. */
export function exportNotice(result: IExportResult): string {
  const where = result.directory ? `${result.directory}/` : 'the server root';
  let what: string;
  if (result.run) {
    const name = result.run.name ? ` "${result.run.name}"` : '';
    what = `run #${result.run.number}${name}`;
  } else {
    what = listText(result.targets);
  }
  const plural = result.statements === 1 ? 'statement' : 'statements';
  const text = `Exported ${what} to ${baseName(result.pipeline)} in ${where} (${result.statements} ${plural})`;
  if (text.length <= MAX_NOTICE) {
    return text;
  }
  const short = `Exported to ${result.pipeline}`;
  return short.length <= MAX_NOTICE
    ? short
    : `${short.slice(0, MAX_NOTICE - 1)}\u2026`;
}

/** What to do after `request` was answered with `outcome`. */
export function nextExportStep(
  request: IExportRequest,
  outcome: ExportOutcome
): ExportStep {
  if (outcome.ok) {
    return {
      kind: 'done',
      result: outcome.result,
      open: outcome.result.pipeline,
      notice: exportNotice(outcome.result),
      replaced: !!request.overwrite
    };
  }
  if (
    outcome.status === 409 &&
    outcome.reason === 'files_exist' &&
    !request.overwrite
  ) {
    const existing = (outcome.existing ?? []).map(baseName);
    const folder = folderOf(outcome.existing?.[0] ?? request.notebook ?? '');
    const where = folder ? `in ${folder}` : 'beside the notebook';
    const files = existing.length ? listText(existing) : 'Some of the files';
    const verb = existing.length === 1 ? 'exists' : 'exist';
    return {
      kind: 'confirm-overwrite',
      title: 'Overwrite?',
      question: `${files} already ${verb} ${where}. Overwrite ${existing.length === 1 ? 'it' : 'them'} with the exported pipeline?`,
      retry: { ...request, overwrite: true }
    };
  }
  if (
    outcome.status === 400 &&
    outcome.reason === 'targets_required' &&
    !(request.targets && request.targets.length)
  ) {
    return {
      kind: 'ask-targets',
      title: EXPORT_TITLE,
      question:
        'No tracked run in the latest session of this notebook. Which variables should the pipeline compute? (comma-separated names)',
      request
    };
  }
  return {
    kind: 'error',
    title: 'Cannot export to pipeline',
    message:
      outcome.status === 0
        ? `The server cannot be reached: ${outcome.message}`
        : outcome.message
  };
}

/** The folder of a path relative to the server root ("" for the root). */
function folderOf(path: string): string {
  const parts = path.split('/');
  parts.pop();
  return parts.join('/');
}
