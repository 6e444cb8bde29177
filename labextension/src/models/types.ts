/**
 * Wire types of the model registry (`/mltrack/api/models…`).
 */

import {
  IArtifactUse,
  IArtifactUsers,
  IModelSummary,
  IRunModelVersion
} from '../artifacts/types';
import { IFigure } from '../compare/types';
import { IRunDataItem, IRunSummary, JSONValue } from '../model';

/** What `GET models` and `GET models/{name}` both say of a registered model. */
interface IRegisteredModel {
  name: string;
  description: string;
  /** ISO-8601, as the run's times. */
  created_at: string | null;
  updated_at: string | null;
  latest: number | null;
  /** alias -> version. */
  aliases: { [alias: string]: number };
  /** key -> text, as a version's (`{}` from a server before model tags). */
  tags: { [key: string]: string };
}

/** A registered model in `GET models`. */
export interface IModelListItem extends IRegisteredModel {
  /** How many versions it has. */
  versions: number;
}

/** A version in `GET models/{name}`, with its run. */
export interface IModelVersion extends IRunModelVersion {
  /** `null` when the run cannot be read any more. */
  run_number: number | null;
  run_name: string | null;
  experiment: string | null;
  status: string | null;
  metrics: { [key: string]: number | null };
  params: { [key: string]: JSONValue };
}

/** `GET models/{name}`: versions newest first. */
export interface IModelDetail extends IRegisteredModel {
  versions: IModelVersion[];
}

/** `POST models`: the version registered (or the one already holding it). */
export type IRegisteredVersion = IRunModelVersion;

/**
 * `PATCH models/{name}` and `PATCH models/{name}/versions/{version}`, which
 * take the same body: a new description, and tags to set (text) or delete
 * (`null`); keys not named keep their values.
 */
export interface IRegistryUpdate {
  description?: string;
  tags?: { [key: string]: string | null };
}

/** A registered version as the lineage names it. */
export interface ILineageVersion {
  name: string;
  version: number;
  aliases: string[];
  /** ISO-8601. */
  created_at: string;
  ref: string;
}

/** A node of a lineage graph. */
export interface ILineageNode {
  id: string;
  kind: 'model' | 'run' | 'artifact' | 'data' | 'more';
  label: string;
  detail: string;
  /** Left to right as things flowed: the model at 0. */
  column: number;
  /** The run to open for it: the run, or the run that logged the artifact. */
  run_id: string | null;
}

/** An edge of a lineage graph: a run read data, used an artifact, logged one. */
export interface ILineageEdge {
  source: string;
  target: string;
  label: 'read' | 'used' | 'logged';
}

/**
 * What went into a model (its run, the data the run read, the artifacts it
 * loaded and the runs that logged them, three runs up) and the runs that
 * loaded it since.
 */
export interface ILineageGraph {
  ref: string;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
  /** Runs further up were left out. */
  truncated: boolean;
}

/** `GET models/{name}/lineage`: how a version was built. */
export interface ILineage {
  ref: string;
  /** The version asked for (`null` only for a run's unregistered artifact). */
  model: ILineageVersion | null;
  /** Every version the same artifact is registered as, by model name then version. */
  models: ILineageVersion[];
  artifact: IModelSummary;
  /** The run that logged it, its fields as the run JSON's (ISO times). */
  run: Pick<
    IRunSummary,
    | 'id'
    | 'number'
    | 'experiment'
    | 'name'
    | 'status'
    | 'start_time'
    | 'end_time'
    | 'duration'
    | 'notebook_path'
    | 'cell_id'
    | 'execution_count'
  > & { source: string | null; parent_run_id: string | null };
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
  /** What the model's run loaded from other runs (a base model, features). */
  used: IArtifactUse[];
  /** The runs that loaded this model since (its evaluations), newest first. */
  used_by: IArtifactUsers;
  params: { [key: string]: JSONValue };
  metrics: { [key: string]: number | null };
  environment: {
    python: string | null;
    platform: string | null;
    packages: { [name: string]: string };
    all_packages: number | null;
    git: { commit: string | null; dirty: boolean | null };
  };
  /** The lineage graph (`&figure=1` only). */
  graph?: ILineageGraph;
  /**
   * The graph drawn as a plotly figure (`&figure=1` only): each point's
   * `customdata` is the run its node opens, or `null`.
   */
  figure?: IFigure;
}
