/**
 * The runs list behind the sidebar: which pages of which list to fetch, what
 * the poll asks, and which rows there are, without a DOM.
 *
 * - A list is one scope, filter and order (`listKey`), cached by pages
 *   (`PagedRuns`). A new filter is fetched beside the list on screen, which
 *   stays until the new one answers: typing never blanks the sidebar, and a
 *   query the server refuses leaves the last good list with the error.
 * - With an empty filter the list holds top-level runs (`roots=1`); an
 *   expanded parent's children are fetched at once (`parent=ID`).
 * - Pages are asked for without their total (`count=0`): counting every
 *   match of a broad filter costs the server many times a page. The total is
 *   asked for apart (`runs/count`), beside the first page: the first rows
 *   show at once, the scrollbar takes the list's length when the count comes.
 * - The poll asks for the first page in view `since` the known revision:
 *   `{"unchanged": true}` costs nothing; a new revision makes every page
 *   stale and refetches only those in view (and expanded children), and the
 *   list is counted again. A count that failed is asked for at the next tick.
 * - The selection keeps ids across pages and lists; a run leaves it only when
 *   a complete answer shows it was deleted.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IRunSummary } from '../model';
import { RunSelection } from '../selection';
import {
  Fetch,
  IQueryError,
  IRunKeys,
  IRunsCount,
  IRunsPage,
  isUnchanged
} from './api';
import { queryErrorOf } from './filter';
import { IPageTicket, PagedRuns } from './pages';
import {
  IRunsFilter,
  countQuery,
  filterText,
  isTreeMode,
  keysQuery,
  listKey,
  runsQuery
} from './query';
import { FlatTree, ListRow } from './tree';

/** How the model reaches the server and how much it keeps. */
export interface IRunsListOptions {
  fetch: Fetch;
  /** Rows per page asked for (1-1000). */
  pageSize?: number;
  /** Rows past each edge of the view whose pages are fetched ahead. */
  prefetch?: number;
  /** Pages kept per list at most. */
  maxPages?: number;
}

/** What changed, for the view. */
export interface IListChange {
  /** Another list replaced the one shown: the view goes back to the top. */
  reset: boolean;
}

/** A query the server refused, with the text it refused. */
export interface IRefusedQuery {
  text: string;
  error: IQueryError;
}

/** Most children listed under one parent. */
export const MAX_CHILDREN = 1000;

/** Most keys of one kind `runs/keys` lists (the server's `MAX_KEYS`). */
export const MAX_KEYS = 1000;

/** One list: a filter, its pages and the children fetched for it. */
interface IList {
  filter: IRunsFilter;
  key: string;
  tree: boolean;
  pages: PagedRuns;
  /** Children of a parent, and the generation they were fetched in. */
  children: Map<string, { runs: IRunSummary[]; generation: number }>;
  /** Parents whose children are being fetched, with the generation asked in. */
  pendingChildren: Map<string, number>;
  /** The generation a count in flight was asked in. */
  counting: number | null;
  /** The last complete answer (every run on page 0), to see deletions. */
  complete: IRunSummary[] | null;
  /** Rows as drawn, rebuilt after any change. */
  flat: FlatTree | null;
  /** While it is the list being set up: its first fetches. */
  ready: Promise<void> | null;
}

export class RunsListModel {
  constructor(options: IRunsListOptions) {
    this._fetch = options.fetch;
    this._pageSize = Math.min(1000, Math.max(1, options.pageSize ?? 100));
    this._prefetch = Math.max(0, options.prefetch ?? 50);
    this._maxPages = Math.max(1, options.maxPages ?? 40);
  }

  /** Emitted after anything shown changed. */
  get changed(): ISignal<this, IListChange> {
    return this._changed;
  }

  /** The runs checked for comparison; kept across pages and lists. */
  get selection(): RunSelection {
    return this._selection;
  }

  /** The filter of the list shown, `null` before the first answer. */
  get filter(): IRunsFilter | null {
    return this._current?.filter ?? null;
  }

  /** Whether the list shown is a tree (no filter typed). */
  get treeMode(): boolean {
    return this._current?.tree ?? true;
  }

  /** Whether a new list is being fetched (the old one still shown). */
  get loading(): boolean {
    return this._next !== null;
  }

  /**
   * Top-level rows of the list shown (runs matching a filter) as counted,
   * `null` until the count answers.
   */
  get total(): number | null {
    return this._current?.pages.total ?? null;
  }

  /**
   * How many top-level rows the list shown has as far as known (the rows
   * drawn), `null` before it answers: the count, or the rows of a first page
   * that said nothing follows it; not `exact` while the list is not counted
   * and its first page said more follow (the footer's `100+`).
   */
  get extent(): { rows: number; exact: boolean } | null {
    // A list is shown once its first page answered.
    const pages = this._current?.pages;
    return pages ? { rows: pages.length, exact: !pages.partial } : null;
  }

  /** Whether the list shown is being counted and its total is not known yet. */
  get counting(): boolean {
    const list = this._current;
    return list !== null && list.pages.total === null && list.counting !== null;
  }

  /** The revision the list shown is up to date with. */
  get revision(): string | null {
    return this._current?.pages.revision ?? null;
  }

  /** The query the server refused last, until another filter is set. */
  get queryError(): IRefusedQuery | null {
    return this._queryError;
  }

  /** The last failure other than a refused query; `null` once a request succeeds. */
  get error(): unknown {
    return this._error;
  }

  /**
   * The metrics present in the list's scope (`runs/keys`), `null` until
   * known or when the server cannot tell.
   */
  get metricKeys(): string[] | null {
    return this._keys?.found?.metrics ?? null;
  }

  /**
   * The param keys of the list's scope (`runs/keys`), `null` until known
   * or when the server cannot tell: what the sidebar can group by.
   */
  get paramKeys(): string[] | null {
    return this._keys?.found?.params ?? null;
  }

  /** The tag keys of the list's scope, as `paramKeys`. */
  get tagKeys(): string[] | null {
    return this._keys?.found?.tags ?? null;
  }

  /** Rows of the list shown. */
  get count(): number {
    return this._current ? this._flat(this._current).count : 0;
  }

  /** The row at an index (a placeholder before any answer). */
  row(index: number): ListRow {
    if (!this._current) {
      return { kind: 'placeholder', index, depth: 0, rootIndex: index };
    }
    return this._flat(this._current).row(index);
  }

  /** Rows `first` (included) to `end` (excluded). */
  rows(first: number, end: number): ListRow[] {
    return this._current ? this._flat(this._current).rows(first, end) : [];
  }

  /** The row of a loaded run, or -1. */
  indexOf(id: string): number {
    return this._current ? this._flat(this._current).indexOf(id) : -1;
  }

  /** Ids of the loaded runs, in list order. */
  loadedIds(): string[] {
    return this._current ? this._flat(this._current).loadedIds() : [];
  }

  /** The loaded top-level runs (every match of a filter), in list order. */
  *loadedRuns(): IterableIterator<IRunSummary> {
    if (this._current) {
      for (const [, run] of this._current.pages.loaded()) {
        yield run;
      }
    }
  }

  /** A loaded run (top-level or child) by id. */
  find(id: string): IRunSummary | undefined {
    const list = this._current;
    if (!list) {
      return undefined;
    }
    for (const [, run] of list.pages.loaded()) {
      if (run.id === id) {
        return run;
      }
    }
    for (const { runs } of list.children.values()) {
      const run = runs.find(r => r.id === id);
      if (run) {
        return run;
      }
    }
    return undefined;
  }

  /** Whether a run's children are shown (in a tree). */
  isExpanded(id: string): boolean {
    return this._expanded.has(id);
  }

  /**
   * Show the list of a filter. Nothing happens when it is the list shown or
   * being fetched, or the query the server just refused; otherwise its
   * first pages are fetched, its total asked for beside them, and it
   * replaces the list shown once its first page comes (the count need not
   * have answered).
   */
  setFilter(filter: IRunsFilter): Promise<void> {
    const normalized = { ...filter, limit: this._pageSize };
    const key = listKey(normalized);
    if (this._current?.key === key) {
      this._current.filter = normalized;
      if (this._next || this._queryError) {
        this._next = null;
        this._queryError = null;
        this._rejected = null;
        this._emit(false);
      }
      return Promise.resolve();
    }
    if (this._next?.key === key || this._rejected === key) {
      return Promise.resolve();
    }
    this._rejected = null;
    const next = this._newList(normalized, key);
    this._next = next;
    next.ready = this._loadViewAndCount(next, false);
    return next.ready;
  }

  /**
   * The rows on screen (`first` included, `end` excluded): their pages, and
   * `prefetch` rows' more on each side, are fetched if missing or stale.
   */
  setView(first: number, end: number): Promise<void> {
    this._view = { first: Math.max(0, first), end: Math.max(first, end) };
    if (!this._current) {
      return Promise.resolve();
    }
    this._current.pages.touch(this._viewPages(this._current));
    return this._loadView(this._current, false);
  }

  /** Show or hide a run's children; they are fetched when first shown. */
  toggle(id: string, expand = !this._expanded.has(id)): Promise<void> {
    if (expand === this._expanded.has(id)) {
      return Promise.resolve();
    }
    if (expand) {
      this._expanded.add(id);
    } else {
      this._expanded.delete(id);
    }
    const list = this._current;
    if (!list) {
      return Promise.resolve();
    }
    list.flat = null;
    this._emit(false);
    const known = list.children.get(id);
    return expand &&
      list.tree &&
      (!known || known.generation !== list.pages.generation)
      ? this._loadChildren(list, id, false)
      : Promise.resolve();
  }

  /**
   * One tick of the poll: fetch what the list being set up misses, or ask
   * whether the store changed since the list's revision and, when it did,
   * refetch what is in view and count the list again; a count that failed
   * (or raced a change) is asked for again. Rejects when the server cannot
   * be reached (the poll backs off).
   */
  async poll(): Promise<void> {
    const list = this._next ?? this._current;
    if (!list) {
      return;
    }
    if (list === this._next || list.pages.revision === null) {
      await list.ready;
      return this._loadViewAndCount(list, true);
    }
    const flat = this._flat(list);
    const root = flat.count > 0 ? flat.rootIndexOf(this._view.first) : 0;
    const page = Math.floor(
      Math.min(root, Math.max(0, list.pages.length - 1)) / this._pageSize
    );
    const ticket = list.pages.ticket(page);
    const since = list.pages.revision;
    let answer: unknown;
    try {
      answer = await this._fetch(
        runsQuery(list.filter, {
          offset: ticket.offset,
          roots: list.tree,
          since,
          count: false
        })
      );
    } catch (reason) {
      this._fail(list, reason);
      throw reason;
    }
    if (list !== this._current || ticket.generation !== list.pages.generation) {
      return;
    }
    this._error = null;
    if (!isUnchanged(answer)) {
      const page = answer as IRunsPage;
      list.pages.invalidate(page.revision);
      this._accept(list, list.pages.ticket(ticket.page), page);
    }
    await this._loadViewAndCount(list, true);
  }

  /** Pages of the view, with the prefetch margin, as top-level rows. */
  private _viewPages(list: IList): number[] {
    const [first, last] = this._viewRoots(list);
    return list.pages.pagesFor(first, last);
  }

  /** The top-level rows of the view, with the prefetch margin. */
  private _viewRoots(list: IList): [number, number] {
    const flat = this._flat(list);
    const { first, end } = this._view;
    if (flat.count === 0 || list !== this._current) {
      // Not shown yet: it will open at the top.
      return [0, Math.max(0, end - first - 1) + this._prefetch];
    }
    const lo = flat.rootIndexOf(Math.min(first, flat.count - 1));
    const hi = flat.rootIndexOf(
      Math.min(Math.max(first, end - 1), flat.count - 1)
    );
    return [Math.max(0, lo - this._prefetch), hi + this._prefetch];
  }

  /**
   * `_loadView`, and the list's total beside it when it is to be asked for:
   * what a new list and each poll tick do (not a scroll, so a count that
   * keeps failing is asked for once a tick).
   */
  private async _loadViewAndCount(
    list: IList,
    rethrow: boolean
  ): Promise<void> {
    await Promise.all([this._loadView(list, rethrow), this._loadCount(list)]);
  }

  /** Fetch the missing pages of the view and the children of expanded parents. */
  private async _loadView(list: IList, rethrow: boolean): Promise<void> {
    const [first, last] = this._viewRoots(list);
    const loads = list.pages
      .missing(first, last)
      .map(page => this._loadPage(list, page, rethrow));
    if (list.tree) {
      for (const id of this._expanded) {
        const entry = list.children.get(id);
        if (
          (!entry || entry.generation !== list.pages.generation) &&
          this._isListed(list, id)
        ) {
          loads.push(this._loadChildren(list, id, rethrow));
        }
      }
    }
    await Promise.all(loads);
  }

  /** Whether a run is among the loaded rows of a list. */
  private _isListed(list: IList, id: string): boolean {
    for (const [, run] of list.pages.loaded()) {
      if (run.id === id) {
        return true;
      }
    }
    for (const { runs } of list.children.values()) {
      if (runs.some(run => run.id === id)) {
        return true;
      }
    }
    return false;
  }

  private async _loadPage(
    list: IList,
    page: number,
    rethrow: boolean
  ): Promise<void> {
    const ticket = list.pages.begin(page);
    if (!ticket) {
      return;
    }
    let answer: IRunsPage;
    try {
      answer = (await this._fetch(
        runsQuery(list.filter, {
          offset: ticket.offset,
          roots: list.tree,
          count: false
        })
      )) as IRunsPage;
    } catch (reason) {
      list.pages.fail(ticket);
      this._fail(list, reason);
      if (rethrow && !queryErrorOf(reason)) {
        throw reason;
      }
      return;
    }
    if (list !== this._current && list !== this._next) {
      return; // an answer for a list nobody shows any more
    }
    if (!this._accept(list, ticket, answer)) {
      return;
    }
    if (list === this._next) {
      // A new list's first answer: it replaces the one shown.
      this._current = list;
      this._next = null;
      this._queryError = null;
      this._view = { first: 0, end: this._view.end - this._view.first };
      this._emit(true);
      void this._loadKeys(list);
      await this._loadView(list, rethrow);
    }
  }

  /** Take a page; `false` when it answers an older generation. */
  private _accept(
    list: IList,
    ticket: IPageTicket,
    answer: IRunsPage
  ): boolean {
    if (!list.pages.accept(ticket, answer)) {
      return false;
    }
    this._error = null;
    list.flat = null;
    if (ticket.page === 0) {
      this._forgetDeleted(list);
    }
    list.pages.evict([...this._viewPages(list), ...this._expandedPages(list)]);
    if (list === this._current) {
      this._emit(false);
      if (this._keys && this._keys.query === keysQuery(list.filter)) {
        this._checkKeys(list, answer.runs);
      }
    }
    return true;
  }

  /** Pages holding an expanded top-level run: never evicted. */
  private _expandedPages(list: IList): number[] {
    const pages: number[] = [];
    if (list.tree && this._expanded.size > 0) {
      for (const [index, run] of list.pages.loaded()) {
        if (this._expanded.has(run.id)) {
          pages.push(Math.floor(index / this._pageSize));
        }
      }
    }
    return pages;
  }

  private async _loadChildren(
    list: IList,
    id: string,
    rethrow: boolean
  ): Promise<void> {
    const generation = list.pages.generation;
    if (list.pendingChildren.get(id) === generation) {
      return;
    }
    list.pendingChildren.set(id, generation);
    let answer: IRunsPage;
    try {
      // Without their total, which nothing reads: the runs are all there is.
      answer = (await this._fetch(
        runsQuery(
          { ...list.filter, limit: MAX_CHILDREN },
          { parent: id, count: false }
        )
      )) as IRunsPage;
    } catch (reason) {
      if (list.pendingChildren.get(id) === generation) {
        list.pendingChildren.delete(id);
      }
      this._fail(list, reason);
      if (rethrow) {
        throw reason;
      }
      return;
    }
    if (generation !== list.pages.generation) {
      return; // the store changed meanwhile: asked again in the new generation
    }
    list.pendingChildren.delete(id);
    list.children.set(id, { runs: answer.runs.slice(), generation });
    list.flat = null;
    this._error = null;
    if (list === this._current) {
      this._emit(false);
    }
  }

  /**
   * Ask for the list's total (`runs/count`) when it is not known for the
   * current generation, once at a time. The answer is dropped when the store
   * changed since (the count is asked for again in the new generation) or
   * the list is no longer shown or coming. A failure is left for the next
   * poll tick to ask again: the pages never wait for the count, nor show its
   * error (the rows are right without it; the footer says the list is not
   * counted, and a server out of reach fails the poll's own request).
   */
  private async _loadCount(list: IList): Promise<void> {
    const generation = list.pages.generation;
    if (!list.pages.needsCount || list.counting === generation) {
      return;
    }
    list.counting = generation;
    let answer: IRunsCount;
    try {
      answer = (await this._fetch(
        countQuery(list.filter, { roots: list.tree })
      )) as IRunsCount;
    } catch {
      return;
    } finally {
      if (list.counting === generation) {
        list.counting = null;
      }
    }
    if (list !== this._current && list !== this._next) {
      return; // a count for a list nobody shows any more
    }
    if (!list.pages.setTotal(generation, answer.total, answer.revision)) {
      return;
    }
    list.flat = null;
    this._forgetDeleted(list);
    if (list === this._current) {
      this._emit(false);
      // The list took its length: pages past the first may be in view.
      await this._loadView(list, false);
    }
  }

  /** Fetch the metric, param and tag keys of a list's scope, once per scope. */
  private async _loadKeys(list: IList): Promise<void> {
    const query = keysQuery(list.filter);
    if (this._keys?.query === query && !this._keys.stale) {
      return;
    }
    this._keys = {
      query,
      found: this._keys?.query === query ? this._keys.found : null,
      stale: false
    };
    const keys = this._keys;
    try {
      const answer = (await this._fetch(query)) as IRunKeys;
      keys.found = Array.isArray(answer?.metrics)
        ? {
            metrics: answer.metrics,
            params: Array.isArray(answer.params) ? answer.params : null,
            tags: Array.isArray(answer.tags) ? answer.tags : null
          }
        : null;
    } catch {
      // A server without runs/keys: the columns come from the loaded runs.
      keys.found = null;
    }
    if (this._keys === keys && list === this._current) {
      this._emit(false);
    }
  }

  /**
   * A metric, param or tag the keys do not know appeared: fetch them again.
   * A kind with `MAX_KEYS` keys may have been cut by the server: its
   * unknown keys prove nothing (else every page would ask again).
   */
  private _checkKeys(list: IList, runs: IRunSummary[]): void {
    const found = this._keys?.found;
    if (!found || this._keys!.stale) {
      return;
    }
    const misses = (
      known: string[] | null,
      keys: (run: IRunSummary) => object | null | undefined
    ) =>
      known !== null &&
      known.length < MAX_KEYS &&
      runs.some(run =>
        Object.keys(keys(run) || {}).some(key => !known.includes(key))
      );
    const unknown =
      misses(found.metrics, run => run.metrics) ||
      misses(found.params, run => run.params) ||
      misses(found.tags, run => run.tags);
    if (unknown) {
      this._keys!.stale = true;
      void this._loadKeys(list);
    }
  }

  /** Drop from the selection the runs a complete answer shows deleted. */
  private _forgetDeleted(list: IList): void {
    const complete = list.pages.complete();
    // A run leaves a filtered list when it changes (its status, a metric):
    // only a scope's top-level runs leave by being deleted.
    if (!complete || !list.tree || list.filter.status) {
      return;
    }
    const deleted = deletedRuns(
      { key: list.complete ? list.key : null, runs: list.complete ?? [] },
      { key: list.key, runs: complete, total: list.pages.total ?? 0 }
    );
    list.complete = complete;
    this._selection.forgetDeleted(id => deleted.has(id));
  }

  private _fail(list: IList, reason: unknown): void {
    const refused = queryErrorOf(reason);
    if (refused && list === this._next) {
      this._queryError = { text: filterText(list.filter), error: refused };
      this._rejected = list.key;
      this._next = null;
    } else if (list === this._current || list === this._next) {
      this._error = reason;
    } else {
      return;
    }
    this._emit(false);
  }

  private _newList(filter: IRunsFilter, key: string): IList {
    return {
      filter,
      key,
      tree: isTreeMode(filter),
      pages: new PagedRuns(key, this._pageSize, this._maxPages),
      children: new Map(),
      pendingChildren: new Map(),
      counting: null,
      complete: null,
      flat: null,
      ready: null
    };
  }

  private _flat(list: IList): FlatTree {
    if (!list.flat) {
      const pending = list.pendingChildren;
      list.flat = new FlatTree({
        total: list.pages.length,
        root: index => list.pages.run(index),
        loadedRoots: () => list.pages.loaded(),
        isExpanded: id => list.tree && this._expanded.has(id),
        children: id =>
          pending.has(id) && !list.children.has(id)
            ? null
            : list.children.get(id)?.runs
      });
    }
    return list.flat;
  }

  private _emit(reset: boolean): void {
    this._changed.emit({ reset });
  }

  private _fetch: Fetch;
  private _pageSize: number;
  private _prefetch: number;
  private _maxPages: number;
  private _current: IList | null = null;
  private _next: IList | null = null;
  private _rejected: string | null = null;
  private _queryError: IRefusedQuery | null = null;
  private _error: unknown = null;
  private _keys: {
    query: string;
    /** The keys the server listed, `null` until known or without `runs/keys`. */
    found: {
      metrics: string[];
      params: string[] | null;
      tags: string[] | null;
    } | null;
    stale: boolean;
  } | null = null;
  private _view = { first: 0, end: 50 };
  private _expanded = new Set<string>();
  private _selection = new RunSelection();
  private _changed = new Signal<this, IListChange>(this);
}

/**
 * Selected-or-not, which runs an answer proves deleted.
 *
 * Only a complete answer (`total` runs, no page cut off) proves anything: a
 * run listed in the previous answer for the same list and missing from this
 * one is gone (a scope's top-level runs never leave it any other way). A run
 * merely hidden by another scope or a filter is never reported.
 */
export function deletedRuns(
  previous: { key: string | null; runs: { id: string }[] },
  next: { key: string; runs: { id: string }[]; total: number }
): Set<string> {
  const deleted = new Set<string>();
  if (next.total > next.runs.length || previous.key !== next.key) {
    return deleted;
  }
  const listed = new Set(next.runs.map(run => run.id));
  for (const run of previous.runs) {
    if (!listed.has(run.id)) {
      deleted.add(run.id);
    }
  }
  return deleted;
}
