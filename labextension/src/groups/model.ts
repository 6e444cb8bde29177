/**
 * The groups the sidebar shows in group mode, without a DOM: which request
 * is shown, its last answer, and the errors, as the runs list keeps them.
 *
 * - A new request (another field, filter, scope or metric column) is
 *   fetched while the groups on screen stay, unless it groups by another
 *   field: groups of `status` never stand for groups of `params.model`.
 * - A filter the server refuses leaves the last good groups with the error
 *   (shown under the filter box, as the list does), and is not asked for
 *   again until something changes.
 * - `refresh` (the store changed) asks again; while an answer is on its
 *   way, once more after it, so a store that changes every second still
 *   gets its groups from a server slower than that.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { Fetch } from '../runlist/api';
import { queryErrorOf } from '../runlist/filter';
import { IRefusedQuery } from '../runlist/list';
import { IGroupsAnswer } from './bars';

/** What the sidebar asks to show. */
export interface IGroupsRequest {
  /** The field grouped by. */
  groupBy: string;
  /** The `runs/groups` endpoint with its query string (see `groupsQuery`). */
  query: string;
  /** The filter box's text in it: what a refused query echoes. */
  filterText: string;
}

export class GroupsModel {
  constructor(options: { fetch: Fetch }) {
    this._fetch = options.fetch;
  }

  /** Emitted after anything shown changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The request shown, `null` out of group mode. */
  get request(): IGroupsRequest | null {
    return this._request;
  }

  /**
   * The groups on screen: the last answer of the request, or of the one
   * before it (same field) until it answers; `null` before any.
   */
  get answer(): IGroupsAnswer | null {
    return this._answer;
  }

  /** Whether the request shown has not answered yet (older groups on screen). */
  get loading(): boolean {
    return (
      this._request !== null &&
      this._answerQuery !== this._request.query &&
      this._queryError === null &&
      this._error === null
    );
  }

  /** The filter the server refused for the request, `null` when none. */
  get queryError(): IRefusedQuery | null {
    return this._queryError;
  }

  /** The last failure other than a refused query; `null` once an answer comes. */
  get error(): unknown {
    return this._error;
  }

  /**
   * Show the groups of a request (`null`: leave group mode, forget them).
   * Nothing happens when it is the request shown.
   */
  setRequest(request: IGroupsRequest | null): Promise<void> {
    if (request === null) {
      if (this._request === null) {
        return Promise.resolve();
      }
      this._token++;
      this._request = null;
      this._answer = null;
      this._answerQuery = null;
      this._queryError = null;
      this._error = null;
      this._inFlight = false;
      this._again = false;
      this._emit();
      return Promise.resolve();
    }
    if (this._request?.query === request.query) {
      this._request = request;
      return Promise.resolve();
    }
    if (this._request?.groupBy !== request.groupBy) {
      this._answer = null;
      this._answerQuery = null;
    }
    this._request = request;
    this._queryError = null;
    this._error = null;
    const loaded = this._load();
    this._emit();
    return loaded;
  }

  /** Ask for the groups again (the store changed). */
  refresh(): Promise<void> {
    if (this._request === null) {
      return Promise.resolve();
    }
    if (this._inFlight) {
      this._again = true;
      return Promise.resolve();
    }
    return this._load();
  }

  private async _load(): Promise<void> {
    const request = this._request!;
    const token = ++this._token;
    this._inFlight = true;
    this._again = false;
    let answer: IGroupsAnswer;
    try {
      answer = (await this._fetch(request.query)) as IGroupsAnswer;
    } catch (reason) {
      if (token !== this._token) {
        return; // a newer request (or none) since
      }
      this._inFlight = false;
      const refused = queryErrorOf(reason);
      if (refused) {
        this._queryError = { text: request.filterText, error: refused };
        this._error = null;
      } else {
        this._error = reason;
      }
      this._emit();
      this._askAgainIfChanged();
      return;
    }
    if (token !== this._token) {
      return;
    }
    this._inFlight = false;
    this._answer = answer;
    this._answerQuery = request.query;
    this._queryError = null;
    this._error = null;
    this._emit();
    this._askAgainIfChanged();
  }

  /** The store changed while the answer was on its way: ask again (not awaited). */
  private _askAgainIfChanged(): void {
    if (this._again) {
      void this._load();
    }
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _fetch: Fetch;
  private _request: IGroupsRequest | null = null;
  private _answer: IGroupsAnswer | null = null;
  private _answerQuery: string | null = null;
  private _queryError: IRefusedQuery | null = null;
  private _error: unknown = null;
  private _token = 0;
  private _inFlight = false;
  private _again = false;
  private _changed = new Signal<this, void>(this);
}
