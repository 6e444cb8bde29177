/**
 * Wire types of the model registry (`/mltrack/api/models…`).
 */

import { IModelSummary } from '../artifacts/types';
import { IRunDataItem, JSONValue } from '../model';

/** A registered model in `GET models`. */
export interface IModelListItem {
  name: string;
  description: string;
  created_at: number | null;
  updated_at: number | null;
  /** How many versions it has. */
  versions: number;
  latest: number | null;
  /** alias -> version. */
  aliases: { [alias: string]: number };
}

/** A version in `GET models/{name}`, with its run. */
export interface IModelVersion {
  model: string;
  version: number;
  run_id: string;
  artifact: string;
  created_at: number;
  description: string;
  aliases: string[];
  ref: string;
  /** `null` when the run cannot be read any more. */
  run_number: number | null;
  run_name: string | null;
  experiment: string | null;
  status: string | null;
  metrics: { [key: string]: number | null };
  params: { [key: string]: JSONValue };
}

/** `GET models/{name}`: versions newest first. */
export interface IModelDetail {
  name: string;
  description: string;
  created_at: number | null;
  updated_at: number | null;
  latest: number | null;
  aliases: { [alias: string]: number };
  versions: IModelVersion[];
}

/** `POST models`: the version registered (or the one already holding it). */
export interface IRegisteredVersion {
  model: string;
  version: number;
  run_id: string;
  artifact: string;
  ref: string;
  aliases: string[];
}

/** `GET models/{name}/lineage`: how a version was built. */
export interface ILineage {
  ref: string;
  model: {
    name: string;
    version: number;
    aliases: string[];
    created_at: number;
    ref: string;
  } | null;
  artifact: IModelSummary;
  run: {
    id: string;
    number: number;
    experiment: string;
    name: string;
    status: string;
    /** Seconds since the epoch (runs elsewhere in the API send ISO text). */
    start_time: number | string | null;
    end_time: number | string | null;
    notebook_path: string | null;
    cell_id: string | null;
    execution_count: number | null;
    source: string | null;
    parent_run_id: string | null;
  };
  code: string;
  pipeline: {
    reproduces: string | null;
    reproduced_by: {
      id: string;
      number: number;
      status: string;
      metrics: { [key: string]: number | null };
    }[];
  };
  inputs: IRunDataItem[];
  outputs: IRunDataItem[];
  params: { [key: string]: JSONValue };
  metrics: { [key: string]: number | null };
  environment: {
    python: string | null;
    platform: string | null;
    packages: { [name: string]: string };
    all_packages: number | null;
    git: { commit: string | null; dirty: boolean | null };
  };
}
