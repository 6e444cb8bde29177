import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ExportOutcome, IExportRequest, IExportResult } from './pipeline';

/** The error object of an API answer (`{"error": {…}}`). */
export interface IAPIErrorBody {
  status: number;
  message: string;
  /** A stable word on refusals a client acts on, e.g. `files_exist`. */
  reason?: string;
  /** With `files_exist`: the files in the way. */
  existing?: string[];
}

/** A refused request, with the server's error object when it sent one. */
export class APIError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    message: string,
    readonly error: IAPIErrorBody | null
  ) {
    super(response, message);
  }
}

/**
 * Call the jupyter_mltrack REST API (`<base_url>/mltrack/api/<endPoint>`).
 *
 * @param endPoint API path with its query string, e.g. `runs?limit=10`
 * @param init Initial values for the request
 * @param settings Server connection settings (default: from the page)
 * @returns The decoded JSON answer (`undefined` for an empty body, e.g. 204)
 * @throws ServerConnection.NetworkError when the server cannot be reached
 * @throws APIError (a ServerConnection.ResponseError) with the server's
 *   `error.message`, and its whole error object
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const response = await fetchAPI(endPoint, init, settings);
  return parseBody(await response.text()) as T;
}

/**
 * The bytes of an API answer (a download: `runs/{id}/artifacts/{name}/raw`),
 * fetched with the page's token as every request is, which a plain link
 * cannot carry. Refusals throw as `requestAPI`'s do.
 */
export async function requestBlob(
  endPoint: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Blob> {
  const response = await fetchAPI(endPoint, {}, settings);
  return response.blob();
}

/** The response of a request that succeeded, else the APIError it makes. */
async function fetchAPI(
  endPoint: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
): Promise<Response> {
  const requestUrl = URLExt.join(settings.baseUrl, 'mltrack', 'api', endPoint);

  // ServerConnection appends a bare timestamp to the query string of
  // `no-store` requests (its default) to bust caches; `no-cache` makes the
  // browser revalidate every time instead and keeps the query string clean.
  const requestInit: RequestInit = { cache: 'no-cache', ...init };

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      requestUrl,
      requestInit,
      settings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  if (response.ok) {
    return response;
  }

  const data = parseBody(await response.text());
  let message: string | undefined;
  if (data && typeof data === 'object') {
    message = data.error?.message ?? data.message;
  } else if (typeof data === 'string' && data) {
    message = data;
  }
  const error =
    data &&
    typeof data === 'object' &&
    data.error &&
    typeof data.error === 'object'
      ? (data.error as IAPIErrorBody)
      : null;
  throw new APIError(
    response,
    message || `${response.status} ${response.statusText}`,
    error
  );
}

/** A body as JSON when it is JSON, else its text (`undefined` when empty). */
function parseBody(text: string): any {
  if (text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Body of a `PATCH /mltrack/api/runs/{id}`. */
export interface IRunPatch {
  name?: string;
  tags?: { [key: string]: string };
  note?: string;
}

/** `PATCH` a run's editable fields; answers the updated detail. */
export function patchRun<T>(id: string, patch: IRunPatch): Promise<T> {
  return requestAPI<T>(`runs/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: JSON.stringify(patch),
    headers: { 'Content-Type': 'application/json' }
  });
}

/** `DELETE` a run and everything recorded with it. */
export async function deleteRun(id: string): Promise<void> {
  await requestAPI<void>(`runs/${encodeURIComponent(id)}`, {
    method: 'DELETE'
  });
}

/**
 * `POST export`: write pipeline.py, params.yaml and requirements.txt beside a
 * notebook. Never throws: a refusal is an outcome the caller acts on.
 */
export async function exportPipeline(
  request: IExportRequest
): Promise<ExportOutcome> {
  try {
    const result = await requestAPI<IExportResult>('export', {
      method: 'POST',
      body: JSON.stringify(request),
      headers: { 'Content-Type': 'application/json' }
    });
    return { ok: true, result };
  } catch (reason) {
    if (reason instanceof APIError) {
      return {
        ok: false,
        status: reason.response.status,
        message: reason.message,
        reason: reason.error?.reason,
        existing: reason.error?.existing
      };
    }
    const message = reason instanceof Error ? reason.message : String(reason);
    return { ok: false, status: 0, message };
  }
}
