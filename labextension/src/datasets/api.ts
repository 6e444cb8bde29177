/**
 * Requests to the datasets routes. A tag moved or deleted through here is
 * announced on `datasetsChanged`, so every open Datasets view shows it.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../handler';
import {
  datasetEndpoint,
  diffQuery,
  parseDatasetList,
  tagEndpoint,
  versionEndpoint,
  versionRowsQuery
} from './format';
import {
  IDatasetDetail,
  IDatasetDiff,
  IDatasetRows,
  IDatasetSummary,
  IDatasetVersionDetail,
  ITagResult
} from './types';

class DatasetEvents {
  readonly changed = new Signal<this, string>(this);
}

const events = new DatasetEvents();

/** Emitted (with the dataset's name) after this page changed its tags. */
export const datasetsChanged: ISignal<DatasetEvents, string> = events.changed;

/** `GET datasets`. */
export async function listDatasets(): Promise<IDatasetSummary[]> {
  return parseDatasetList(await requestAPI<unknown>('datasets'));
}

/** `GET datasets/{name}`: its versions, newest first, with their runs. */
export function getDataset(name: string): Promise<IDatasetDetail> {
  return requestAPI<IDatasetDetail>(datasetEndpoint(name));
}

/** `GET datasets/{name}/versions/{selector}`: manifest, meta, schema. */
export function getVersion(
  name: string,
  selector: string
): Promise<IDatasetVersionDetail> {
  return requestAPI<IDatasetVersionDetail>(versionEndpoint(name, selector));
}

/** A page of a version's rows (the snapshot preview). */
export function getVersionRows(
  name: string,
  selector: string,
  offset: number,
  limit: number
): Promise<IDatasetRows> {
  return requestAPI<IDatasetRows>(
    versionRowsQuery(name, selector, offset, limit)
  );
}

/** What changed from version `from` to version `to`. */
export function getDiff(
  name: string,
  from: string,
  to: string
): Promise<IDatasetDiff> {
  return requestAPI<IDatasetDiff>(diffQuery(name, from, to));
}

/** `POST datasets/{name}/tags/{tag}`: point (or move) a tag at a version. */
export async function setTag(
  name: string,
  tag: string,
  version: string
): Promise<ITagResult> {
  const result = await requestAPI<ITagResult>(tagEndpoint(name, tag), {
    method: 'POST',
    body: JSON.stringify({ version }),
    headers: { 'Content-Type': 'application/json' }
  });
  events.changed.emit(name);
  return result;
}

/** `DELETE datasets/{name}/tags/{tag}`. */
export async function deleteTag(name: string, tag: string): Promise<void> {
  await requestAPI<void>(tagEndpoint(name, tag), { method: 'DELETE' });
  events.changed.emit(name);
}
