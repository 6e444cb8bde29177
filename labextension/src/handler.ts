import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * Call the jupyter_mltrack REST API (`<base_url>/mltrack/api/<endPoint>`).
 *
 * @param endPoint API path with its query string, e.g. `runs?limit=10`
 * @param init Initial values for the request
 * @param settings Server connection settings (default: from the page)
 * @returns The decoded JSON answer (`undefined` for an empty body, e.g. 204)
 * @throws ServerConnection.NetworkError when the server cannot be reached
 * @throws ServerConnection.ResponseError with the server's `error.message`
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
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

  const text = await response.text();
  let data: any = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }

  if (!response.ok) {
    let message: string | undefined;
    if (data && typeof data === 'object') {
      message = data.error?.message ?? data.message;
    } else if (typeof data === 'string' && data) {
      message = data;
    }
    throw new ServerConnection.ResponseError(
      response,
      message || `${response.status} ${response.statusText}`
    );
  }

  return data as T;
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
