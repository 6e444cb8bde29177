/**
 * Requests for a run's artifacts: a file's preview, and its bytes saved as a
 * download.
 */

import { requestAPI, requestBlob } from '../handler';
import { normalizeVersion } from '../models/format';
import { artifactEndpoint, downloadName, pathSegment } from './format';
import { IArtifact, IArtifactPreview, IRunModelVersion } from './types';

/** `GET runs/{id}/artifacts`: what a run logged, and its registered versions. */
export interface IRunArtifacts {
  artifacts: IArtifact[];
  models: IRunModelVersion[];
}

/** A run's artifacts as they are now (a live run's detail asks again). */
export async function fetchArtifacts(runId: string): Promise<IRunArtifacts> {
  const listing = await requestAPI<IRunArtifacts>(
    `runs/${pathSegment(runId)}/artifacts`
  );
  return { ...listing, models: (listing.models ?? []).map(normalizeVersion) };
}

/** The preview of one file of an artifact (its primary file without `path`). */
export function fetchPreview(
  runId: string,
  name: string,
  path?: string | null
): Promise<IArtifactPreview> {
  return requestAPI<IArtifactPreview>(
    artifactEndpoint(runId, name, 'preview', path)
  );
}

/**
 * Save one file of an artifact as the browser saves a download. The bytes
 * come through the authenticated API (a link to the URL would carry no
 * token), then leave through a blob URL.
 */
export async function downloadFile(
  runId: string,
  name: string,
  path: string
): Promise<void> {
  const blob = await requestBlob(artifactEndpoint(runId, name, 'raw', path));
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = downloadName(path);
  link.style.display = 'none';
  document.body.appendChild(link);
  try {
    link.click();
  } finally {
    link.remove();
    // The download has its bytes once it starts; the URL can go after that.
    window.setTimeout(() => URL.revokeObjectURL(url), 30 * 1000);
  }
}
