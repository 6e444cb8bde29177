/**
 * Requests to the model registry. Every change made through here is
 * announced on `registryChanged`, so the Models section and the open run
 * details show it without being told by whoever made it.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../handler';
import {
  aliasEndpoint,
  lineageEndpoint,
  modelDeleteEndpoint,
  modelEndpoint,
  normalizeVersion,
  parseModelDetail,
  parseModelList,
  versionEndpoint
} from './format';
import {
  ILineage,
  IModelDetail,
  IModelListItem,
  IRegisteredVersion,
  IRegistryUpdate
} from './types';

/** A change to the registry: which model, and the run of a new version. */
export interface IRegistryChange {
  model: string;
  runId?: string;
}

class RegistryEvents {
  readonly changed = new Signal<this, IRegistryChange>(this);
}

const events = new RegistryEvents();

/** Emitted after this page changed the registry. */
export const registryChanged: ISignal<RegistryEvents, IRegistryChange> =
  events.changed;

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** `GET models`. */
export async function listModels(): Promise<IModelListItem[]> {
  return parseModelList(await requestAPI<unknown>('models'));
}

/** `GET models/{name}`: its versions, newest first. */
export async function getModel(name: string): Promise<IModelDetail> {
  return parseModelDetail(await requestAPI<IModelDetail>(modelEndpoint(name)));
}

/**
 * `PATCH` of a model or a version: the same body for both, so a description
 * and tags change alike wherever they are.
 */
function patch<T>(endpoint: string, update: IRegistryUpdate): Promise<T> {
  return requestAPI<T>(endpoint, {
    method: 'PATCH',
    body: JSON.stringify(update),
    headers: JSON_HEADERS
  });
}

/**
 * `PATCH models/{name}`: its description and tags (a `null` tag deleted,
 * those not named kept); the model after.
 */
export async function updateModel(
  name: string,
  update: IRegistryUpdate
): Promise<IModelDetail> {
  const detail = await patch<IModelDetail>(modelEndpoint(name), update);
  events.changed.emit({ model: name });
  return parseModelDetail(detail);
}

/**
 * `PATCH models/{name}/versions/{version}`: its description and tags (a
 * `null` tag deleted, those not named kept); the version after, without
 * its run's fields.
 */
export async function updateModelVersion(
  name: string,
  version: number,
  update: IRegistryUpdate
): Promise<IRegisteredVersion> {
  const updated = await patch<IRegisteredVersion>(
    versionEndpoint(name, version),
    update
  );
  events.changed.emit({ model: name, runId: updated.run_id });
  return normalizeVersion(updated);
}

/** `POST models`: register a model artifact of a run as the next version. */
export async function registerModel(
  name: string,
  runId: string,
  artifact: string
): Promise<IRegisteredVersion> {
  const version = await requestAPI<IRegisteredVersion>('models', {
    method: 'POST',
    body: JSON.stringify({ name, run: runId, artifact }),
    headers: JSON_HEADERS
  });
  events.changed.emit({ model: name, runId });
  return normalizeVersion(version);
}

/** `PUT models/{name}/aliases/{alias}`: point (or move) an alias; the model after. */
export async function setAlias(
  name: string,
  alias: string,
  version: number
): Promise<IModelDetail> {
  const detail = await requestAPI<IModelDetail>(aliasEndpoint(name, alias), {
    method: 'PUT',
    body: JSON.stringify({ version }),
    headers: JSON_HEADERS
  });
  events.changed.emit({ model: name });
  return parseModelDetail(detail);
}

/** `DELETE models/{name}/aliases/{alias}`. */
export async function deleteAlias(name: string, alias: string): Promise<void> {
  await requestAPI<void>(aliasEndpoint(name, alias), { method: 'DELETE' });
  events.changed.emit({ model: name });
}

/**
 * `DELETE models/{name}`: the model with its versions (the runs keep their
 * models); `force` deletes its aliases too, which the server otherwise refuses.
 */
export async function deleteModel(name: string, force: boolean): Promise<void> {
  await requestAPI<void>(modelDeleteEndpoint(name, force), {
    method: 'DELETE'
  });
  events.changed.emit({ model: name });
}

/** `GET models/{name}/lineage?version=N&figure=1`: with its graph and figure. */
export function getLineage(name: string, version: number): Promise<ILineage> {
  return requestAPI<ILineage>(lineageEndpoint(name, version));
}
