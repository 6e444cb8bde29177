/**
 * Wire types of the compare endpoints (`GET /mltrack/api/compare`,
 * `compare/explain`, `compare/charts`), as /work/coord/CONTRACT.md and
 * docs/rest-api.md describe them.
 */
import { IArtifactFile, IArtifactPreview } from '../artifacts/types';
import { JSONValue } from '../model';

/** A run of a comparison, baseline first. */
export interface ICompareRun {
  id: string;
  number: number;
  name: string | null;
  experiment: string;
  status: string;
  /** `#3`, or `exp #3` when the runs span several experiments. */
  label: string;
}

/** A parameter row: one value per run (`null` where a run lacks it). */
export interface IParamRow {
  key: string;
  values: JSONValue[];
  differs: boolean;
  /** Numeric change against the baseline (`null` for the baseline). */
  changes: (number | null)[];
}

/**
 * A reduced metric value: `null` where the run did not log the metric,
 * `'nan'` for NaN (a diverged run), `'inf'` / `'-inf'` for infinities.
 */
export type MetricValue = number | 'nan' | 'inf' | '-inf' | null;

/** What a metric change means given its goal. */
export type Verdict = 'better' | 'worse' | 'same';

/** A metric row: one reduced value per run. */
export interface IMetricRow {
  key: string;
  /** The reducer the server applied, e.g. `last`, `step=9`. */
  reducer: string;
  goal: 'min' | 'max';
  values: MetricValue[];
  /**
   * Step of the chosen point (`null` if none). A `step=N` reducer on a series
   * that stops before N keeps its last point: the step says which (`@29`).
   */
  steps: (number | null)[];
  changes: (number | null)[];
  pct_changes: (number | null)[];
  verdicts: (Verdict | null)[];
  differs: boolean;
  has_series: boolean;
  max_step: number | null;
}

/** status, duration, start_time, notebook, … */
export interface IAttributeRow {
  key: string;
  values: JSONValue[];
  /** Never true for start_time, which differs between any two runs. */
  differs: boolean;
  /**
   * Per run: not recorded (yet), e.g. python of a run still running; an
   * unknown value is no difference.
   */
  unknown?: boolean[];
}

export interface IPackageRow {
  name: string;
  values: (string | null)[];
  differs: boolean;
}

/** How far a package version moved. */
export type PackageGrade = 'major' | 'minor' | 'patch' | 'other';

/** The packages of a run against the baseline's. */
export interface IPackageDiff {
  /** This run or the baseline has not recorded its environment (yet). */
  unknown?: boolean;
  added: { name: string; version: string }[];
  removed: { name: string; version: string }[];
  changed: { name: string; from: string; to: string; grade: PackageGrade }[];
}

/** A unified diff hunk. */
export interface IHunk {
  header: string;
  old_start: number;
  old_lines: number;
  new_start: number;
  new_lines: number;
  /** Lines prefixed with ` `, `-` or `+`. */
  lines: string[];
}

export interface ITextDiff {
  same: boolean;
  hunks: IHunk[];
}

export interface ICodeSection {
  runs: { cell: string; dependencies: string | null }[];
  diffs: ({ cell: ITextDiff; dependencies: ITextDiff } | null)[];
}

/** A dataset in one run. */
export interface IDataEntry {
  digest: string;
  short: string;
  kind: string;
  rows: number | null;
  columns: number | null;
}

export type DataState = 'same' | 'changed' | 'added' | 'missing';

/** Summary of a dataset's change against the baseline's. */
export interface IDataDiff {
  rows: [number | null, number | null] | null;
  schema_changed: boolean;
  changed_columns: string[];
  added_columns: string[];
  removed_columns: string[];
  drift: { column: string; psi: number }[];
}

export interface IDataRow {
  role: 'input' | 'output';
  name: string;
  path: string | null;
  entries: (IDataEntry | null)[];
  states: (DataState | null)[];
  diffs: (IDataDiff | null)[];
}

/** What one run used under a key of `used` (an `ArtifactUse`, less who used it). */
export interface IUsedEntry {
  ref: string;
  how: string;
  kind: string;
  name: string;
  source_run_id: string;
  /** `null` when the run that logged it was deleted since. */
  source_number: number | null;
  source_experiment: string | null;
  source_exists: boolean;
  model: string | null;
  version: number | null;
  digest: string;
}

/**
 * A model or artifact of other runs the compared runs used, matched by
 * `key`: the registered model's name when used through the registry, else
 * the artifact's name. States as a data row's, by the bytes used.
 */
export interface IUsedRow {
  key: string;
  entries: (IUsedEntry | null)[];
  states: (DataState | null)[];
}

/**
 * What the comparison left out of a large output: a stream is cut to its
 * first characters (`chars` in all, `shown` kept), a rich output replaced
 * by a note (`bytes` in all, per MIME type in `mimes`).
 */
export interface IOutputCut {
  chars?: number;
  shown?: number;
  bytes?: number;
  mimes?: { [mime: string]: number };
}

export interface IOutputRow {
  index: number;
  /**
   * nbformat v4 output dicts (`null` where a run has no output there); a cut
   * one carries `mltrack_cut` (an `IOutputCut`).
   */
  items: ({ [key: string]: any } | null)[];
  same: boolean;
  text_diffs: (ITextDiff | null)[];
}

/** How a run's table differs from the baseline's (`compare/tables.py`). */
export interface ITableDiff {
  /** Why it was not compared (too big, unreadable); the rest absent then. */
  skipped?: string;
  /** Rows in the baseline's table and in this run's. */
  rows?: [number, number];
  added?: string[];
  removed?: string[];
  retyped?: { name: string; a: string; b: string }[];
  /**
   * By the key columns the table was logged with (`log_table(..., key=)`), by
   * the tables' own index, by position (as many rows), or not paired.
   */
  paired_by?: 'key' | 'index' | 'position' | null;
  /** Paired by key: the key's columns. */
  key?: string[];
  /** Paired by key or index: rows only this run's table has, only the baseline's. */
  rows_added?: number;
  rows_removed?: number;
  /** Paired rows where a shared column differs; `null` when none paired. */
  rows_changed?: number | null;
  /** Shared column -> paired rows where it differs, most first. */
  columns_changed?: { [column: string]: number } | null;
}

/** What one run holds under an artifact name. */
export interface IArtifactSide {
  kind: string;
  size: number;
  file_count: number;
  media_type: string | null;
  /** The first 50 files (`file_count` says how many there are). */
  files: IArtifactFile[];
  /** A table `log_table` kept: its rows and columns. */
  table?: { rows: number; columns: number };
  /** A model's format and library (null for other kinds). */
  model: {
    format: string | null;
    flavor: string | null;
    library_version: string | null;
  } | null;
  /** A series (view `series`): how many steps the run logged, the first and last. */
  step_count?: number;
  first_step?: number;
  last_step?: number;
}

/** A changed text file of a run's artifact against the baseline's. */
export interface IArtifactFileDiff {
  path: string;
  /** `null` when not diffed (too big, binary, over the limit): see `reason`. */
  diff: ITextDiff | null;
  /** Why there is no diff, or what the diff leaves out. */
  reason: string | null;
}

/** The file a run's image or figure artifact shows (its preview is fetched). */
export interface IArtifactImage extends Pick<
  IArtifactPreview,
  'name' | 'path' | 'media_type' | 'size'
> {
  run_id: string;
}

/**
 * A step of a run's series: the image or figure it logged there, previewed
 * as any image artifact's; equal digests are the same bytes.
 */
export interface IArtifactStep extends IArtifactImage {
  step: number;
  digest: string;
}

/** `same`: the same bytes in every run; `missing`: some run lacks it. */
export type ArtifactStatus = 'same' | 'changed' | 'missing';

/**
 * How an artifact is compared; `series`: images or figures logged at steps,
 * one row for all of a series' steps.
 */
export type ArtifactView = 'text' | 'image' | 'model' | 'files' | 'series';

/**
 * Files added, removed and changed against the baseline's artifact; of a
 * series, its steps.
 */
export interface IFileChanges {
  added: number;
  removed: number;
  changed: number;
}

/** An artifact name some compared run logged: one item per run in each array. */
export interface IArtifactRow {
  name: string;
  kind: string;
  view: ArtifactView;
  status: ArtifactStatus;
  runs: (IArtifactSide | null)[];
  states: (DataState | null)[];
  file_changes: (IFileChanges | null)[];
  /** View `text`: the run's changed text files diffed against the baseline's. */
  text_diffs: (IArtifactFileDiff[] | null)[];
  /**
   * A `log_table` table: how the run's differs from the baseline's, cell by
   * cell (`null` for the baseline, what is no table, and the same bytes).
   * Absent from a server older than this field.
   */
  table_diffs?: (ITableDiff | null)[];
  /** View `image`: the file each run shows, baseline first. */
  images: (IArtifactImage | null)[];
  /**
   * View `series` (`name` is the series): each run's steps in order, at most
   * 500 spread evenly; `null` where a run has no such series.
   */
  steps?: (IArtifactStep[] | null)[];
}

/** `GET /mltrack/api/compare`. */
export interface IComparison {
  baseline: string;
  runs: ICompareRun[];
  params: IParamRow[];
  metrics: IMetricRow[];
  attributes: IAttributeRow[];
  environment: {
    packages: IPackageRow[];
    diffs: (IPackageDiff | null)[];
    /** Per run: whether it recorded its environment (not yet while running). */
    recorded?: boolean[];
  };
  code: ICodeSection;
  data: IDataRow[];
  /** The models and artifacts of other runs the runs used, first seen first. */
  used: IUsedRow[];
  outputs: IOutputRow[];
  /** Every artifact name any of the runs logged, by name. */
  artifacts: IArtifactRow[];
}

export type FactorKind =
  | 'param'
  | 'code'
  | 'data'
  | 'used'
  | 'package'
  | 'seed'
  | 'environment'
  | 'run';

/** `fact`: what happened to a run (still running, failed), not a difference weighed. */
export type FactorStatus =
  'supported' | 'weak' | 'confounded' | 'untested' | 'fact';

/** A ranked reason of a metric change. */
export interface IFactor {
  rank: number;
  kind: FactorKind | string;
  key: string;
  a: JSONValue;
  b: JSONValue;
  detail: string | null;
  status: FactorStatus | string;
  score: number;
  estimate: number | null;
  evidence: {
    pairs?: number;
    pair_mean?: number | null;
    pair_std?: number | null;
    spearman?: number | null;
    rf_importance?: number | null;
    pair_runs?: [string, string][];
  };
  group: number | null;
  sentence: string;
}

/** `GET /mltrack/api/compare/explain`. */
export interface IExplanation {
  metric: string;
  goal: 'min' | 'max';
  a: { id: string; label: string; value: number | null };
  b: { id: string; label: string; value: number | null };
  change: number | null;
  /** Share of the change the evidence accounts for (0..1). */
  explained: number | null;
  sklearn: boolean;
  runs_considered: number;
  factors: IFactor[];
  groups: { factors: string[]; sentence: string }[];
  notes: string[];
}

/** A plotly figure as `compare/charts` answers it. */
export interface IFigure {
  data: any[];
  layout: { [key: string]: any };
  frames?: any[];
  config?: { [key: string]: any };
}
