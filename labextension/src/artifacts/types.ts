/**
 * Wire types of a run's artifacts and the registered versions of its models
 * (`GET /mltrack/api/runs/{id}`, `…/artifacts/{name}/preview`).
 */

import { JSONValue } from '../model';

/** What an artifact holds: one file, a folder, a logged text/dict/figure/model. */
export type ArtifactKind =
  'file' | 'folder' | 'text' | 'dict' | 'figure' | 'model';

/** One file of an artifact: its path inside it, its blob and size. */
export interface IArtifactFile {
  path: string;
  digest: string;
  size: number;
}

/** What a model artifact is (the listing's view: no example rows). */
export interface IModelSummary {
  name: string;
  format: string | null;
  flavor: string | null;
  library_version: string | null;
  python: string | null;
  /** Loading it can run code (pickle). */
  unsafe: boolean;
  /** skops types off the default trusted list. */
  untrusted_types: string[];
  size: number;
  files: string[];
  /** The signature's inputs and outputs, when one was taken. */
  inputs?: JSONValue | null;
  outputs?: JSONValue | null;
  /** The `mltrack.load_model` call that loads it by its run, `trusted=` included. */
  load?: string;
}

/** An artifact of a run. */
export interface IArtifact {
  run_id: string;
  name: string;
  kind: ArtifactKind | string;
  /** Total bytes of its files. */
  size: number;
  file_count: number;
  /** Media type of its primary file. */
  media_type: string | null;
  meta: { [key: string]: JSONValue };
  /** ISO-8601, as the run's times. */
  created_at: string;
  /** `pending` while it is being written. */
  status?: string;
  files: IArtifactFile[];
  /** A model artifact's summary. */
  model?: IModelSummary;
}

/** A registered version of a model artifact of the run. */
export interface IRunModelVersion {
  model: string;
  version: number;
  run_id: string;
  artifact: string;
  /** ISO-8601. */
  created_at: string;
  description: string;
  aliases: string[];
  /** key -> text, set in the Models section or from Python (`{}` from a server before tags). */
  tags: { [key: string]: string };
  /** `models:/NAME/VERSION`. */
  ref: string;
  /** The `mltrack.load_model` call that loads it by the registry (by its first alias). */
  load?: string;
}

/** A mime bundle, as a notebook output's `data`. */
export interface IMimeBundle {
  [mime: string]: JSONValue;
}

/** `GET runs/{id}/artifacts/{name}/preview?path=P`: one file, renderable. */
export interface IArtifactPreview {
  name: string;
  path: string;
  media_type: string;
  size: number;
  /** `null` when the file cannot be shown (binary, too big): see `reason`. */
  bundle: IMimeBundle | null;
  /** Only the start of a long text is in the bundle. */
  truncated: boolean;
  reason: string | null;
}

/**
 * `ArtifactUse`: a run's use of another run's artifact (it loaded it with
 * `load_model`, `load_table`…, downloaded it, or said so with
 * `use_artifact`), one per run and artifact.
 */
export interface IArtifactUse {
  /** The run that used it. */
  run_id: string;
  run_number: number | null;
  run_experiment: string | null;
  /** The run that logged it. */
  source_run_id: string;
  /** `null` when that run was deleted since. */
  source_number: number | null;
  source_experiment: string | null;
  /** The artifact is still there under its name. */
  source_exists: boolean;
  /** The artifact's name in its run. */
  name: string;
  kind: ArtifactKind | string;
  /** What its bytes were: two uses of the same bytes have the same. */
  digest: string;
  /** The reference as the user wrote it: `models:/churn@production`, `3/model`. */
  ref: string;
  /** The function: `load_model`, `load_table`, …, `download_artifact`, `use_artifact`. */
  how: string;
  /** The registered model (and its version) a `models:/` reference resolved to then. */
  model: string | null;
  version: number | null;
  /** ISO-8601. */
  used_at: string;
  /** In `used_by` lists only: the using run's status and latest metrics. */
  status?: string | null;
  metrics?: { [key: string]: number | string | null };
}

/**
 * `ArtifactUsers`: the runs that used a run's artifacts (a model's
 * evaluations), newest first; at most 100 listed, `count` in all.
 */
export interface IArtifactUsers {
  count: number;
  runs: IArtifactUse[];
}
