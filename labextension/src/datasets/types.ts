/**
 * The answers of the datasets routes (`GET /mltrack/api/datasets…`, see
 * docs/rest-api.md), as the Datasets view reads them.
 */

import { ISnapshotRows, JSONValue, SnapshotKind } from '../model';

/** A run that read a version: by name (`dataset` set) or the same data. */
export interface IDatasetUse {
  run_id: string;
  experiment: string;
  number: number;
  /** The input's name in the run (a variable, a file, the dataset). */
  name: string;
  dataset: string | null;
}

/** An immutable version of a dataset, named by its hash. */
export interface IDatasetVersion {
  dataset: string;
  /** `xxh3-128:<32 hex>`. */
  hash: string;
  /** The hash's first 12 hex digits. */
  short: string;
  /** `team/churn@<hex>`. */
  ref: string;
  /** The digest of the snapshot holding its data. */
  snapshot: string;
  kind: SnapshotKind | string;
  message: string;
  meta: { [key: string]: JSONValue };
  author: string;
  created_at: string;
  nbytes: number;
  rows: number | null;
  columns: number | null;
  tags: string[];
  latest: boolean;
  /** The runs that read it; absent where the server did not look them up. */
  runs?: IDatasetUse[];
}

/** An entry of `GET datasets`. */
export interface IDatasetSummary {
  name: string;
  created_at: string | null;
  updated_at: string | null;
  /** How many versions it has. */
  versions: number;
  latest: IDatasetVersion | null;
  /** Each tag and the hash of the version it names. */
  tags: { [tag: string]: string };
  nbytes: number | null;
}

/** `GET datasets/{dataset}`. */
export interface IDatasetDetail {
  dataset: IDatasetSummary;
  /** Newest first, each with its runs. */
  versions: IDatasetVersion[];
  total: number;
}

/** `GET datasets/{dataset}/versions/{selector}`. */
export interface IDatasetVersionDetail {
  version: IDatasetVersion;
  /** What the hash is taken of: format, algorithm, snapshot, meta. */
  manifest: { [key: string]: JSONValue };
  /** The snapshot's fields, its schema and statistics. */
  snapshot: {
    digest: string;
    kind: string;
    shape: (number | null)[];
    schema: { [key: string]: any };
    stats: { [key: string]: any } | null;
    [key: string]: any;
  };
  /** A file or folder version's files, sorted by path (absent for a table). */
  files?: IDatasetFile[];
}

/** One file of a file or folder version, from its record. */
export interface IDatasetFile {
  path: string;
  size: number;
  digest: string | null;
}

/** `GET datasets/{dataset}/diff?from=A&to=B`. */
export interface IDatasetDiff {
  dataset: string;
  from: IDatasetVersion;
  to: IDatasetVersion;
  meta: {
    from: { [key: string]: JSONValue };
    to: { [key: string]: JSONValue };
  } | null;
  /** The snapshot diff of the two versions' data. */
  diff: { [key: string]: any };
}

/** `POST datasets/{dataset}/tags/{tag}`. */
export interface ITagResult {
  dataset: string;
  tag: string;
  previous: string | null;
  moved: boolean;
  version: IDatasetVersion;
}

/** A page of a version's rows: the snapshot preview's own answer. */
export type IDatasetRows = ISnapshotRows;
