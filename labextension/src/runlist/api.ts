/**
 * Wire types of the runs list endpoints (`GET runs`, `GET runs/count`,
 * `GET runs/keys`) as the sidebar reads them, and the one function every list model is given to
 * reach the server: injected, so the models are tested without a server.
 */

import { IRunSummary } from '../model';

/** A page of `GET /mltrack/api/runs`. */
export interface IRunsPage {
  runs: IRunSummary[];
  /**
   * Runs matching the query, all pages together; `null` when asked with
   * `count=0` (the sidebar's pages: counting every match of a broad filter
   * costs far more than a page, so the total comes from `runs/count`).
   */
  total: number | null;
  limit: number;
  offset: number;
  /**
   * Keyset cursor of the next page, `null` on the last one. The sidebar pages
   * by offset; before the total is counted, page 0's cursor tells whether
   * more rows follow it.
   */
  next?: string | null;
  /** Changes whenever any run is created, updated or deleted. */
  revision: string;
}

/** The answer to `since=R` while the store's revision is still `R`. */
export interface IRunsUnchanged {
  unchanged: true;
  revision: string;
}

/** Whether an answer of `GET runs` is the cheap "nothing changed". */
export function isUnchanged(answer: unknown): answer is IRunsUnchanged {
  return (
    typeof answer === 'object' &&
    answer !== null &&
    (answer as IRunsUnchanged).unchanged === true
  );
}

/** `GET /mltrack/api/runs/count`: the total of a listing, apart from its pages. */
export interface IRunsCount {
  total: number;
  /** The store's revision the count was taken at. */
  revision: string;
}

/** `GET /mltrack/api/runs/keys`: the keys present in a scope, sorted. */
export interface IRunKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

/**
 * Where a filter (or order) failed to parse: `column` is 1-based,
 * `position` 0-based, both into the text sent.
 */
export interface IQueryError {
  message: string;
  column: number;
  position: number;
}

/**
 * Reach the REST API: `endPoint` relative to `/mltrack/api/`, the decoded
 * JSON answer; rejects on an error answer (with the server's error object
 * as `error`, see handler.ts `APIError`) or a network failure.
 */
export type Fetch = (endPoint: string) => Promise<unknown>;
