/**
 * A paged cache of one runs list (one scope, filter and order): the server
 * holds up to 100,000 runs, the sidebar only the pages around its viewport.
 *
 * Pages are fixed windows of `pageSize` rows by offset. A page is asked for
 * once at a time (requests de-duplicated); each request carries the cache's
 * generation, and an answer for an older generation is dropped: after a new
 * revision (`invalidate`) an answer still in flight may hold runs from before
 * the change. Pages of an older generation are kept, marked stale, so that
 * scrolling back shows rows at once; a stale page is asked for again when it
 * comes into view.
 *
 * A list with another scope, filter or order is another cache: an answer
 * for an old list never reaches the new one.
 *
 * The total is kept apart from the pages: they are asked for without it
 * (`count=0`) and it comes from `runs/count` (`setTotal`), under the same
 * generation rule. Before it is known the list is page 0 alone, and page 0
 * tells whether more rows follow; after a change the last total stays
 * (the scrollbar does not jump) until the list is counted again. A fresh
 * page 0 that says nothing follows it is the list's length at once (a
 * short list, the common case, never waits for its count to show a run
 * added or deleted), though only a count proves it whole (`complete`).
 */

import { IRunSummary } from '../model';
import { IRunsPage } from './api';

/** A request for a page, as handed out by `begin` and given back to `accept`. */
export interface IPageTicket {
  page: number;
  offset: number;
  generation: number;
}

/** A page in the cache. */
interface IPage {
  runs: IRunSummary[];
  /** The store's revision the page was read at. */
  revision: string;
  /** Fetched in an older generation: shown, but asked for again in view. */
  stale: boolean;
  /** When it was last shown or loaded, to evict the longest unused first. */
  used: number;
}

export class PagedRuns {
  /**
   * @param key the list's identity (see `listKey`)
   * @param pageSize rows per page
   * @param maxPages pages kept at most; the least recently used go first
   */
  constructor(
    readonly key: string,
    readonly pageSize = 100,
    readonly maxPages = 40
  ) {}

  /**
   * Rows of the list as counted (`setTotal`, or a page that carried its
   * total), `null` until then; after a change, the last count until the list
   * is counted again (see `needsCount`).
   */
  get total(): number | null {
    return this._total;
  }

  /**
   * Rows of the list as far as known: those of a fresh page 0 that says
   * nothing follows it, else the total, or before it is counted the rows of
   * page 0 (0 before it answers).
   */
  get length(): number {
    return this._knownLength() ?? this._pages.get(0)?.runs.length ?? 0;
  }

  /**
   * Whether the list is cut short: the total is not counted yet and page 0
   * says more rows follow it (a `next` cursor, or, from a server that sends
   * none, a full page).
   */
  get partial(): boolean {
    return this._total === null && this._more;
  }

  /**
   * Whether the total is to be asked for: never counted, counted before the
   * last change (`invalidate`), or at another revision than the pages' (a
   * count and a page taken on either side of a change: the poll would see
   * no change to correct it by).
   */
  get needsCount(): boolean {
    return (
      this._total === null ||
      this._totalGeneration !== this._generation ||
      (this._totalRevision !== null && this._totalRevision !== this._revision)
    );
  }

  /**
   * The revision the loaded pages are at least as new as: the poll asks
   * `since` it. `null` before the first answer.
   */
  get revision(): string | null {
    return this._revision;
  }

  /** Bumped by `invalidate`: answers to older requests are dropped. */
  get generation(): number {
    return this._generation;
  }

  /** The run at a row, if its page is loaded (fresh or stale). */
  run(index: number): IRunSummary | undefined {
    const page = this._pages.get(Math.floor(index / this.pageSize));
    return page?.runs[index % this.pageSize];
  }

  /** Whether a page is loaded and fresh. */
  isFresh(page: number): boolean {
    const entry = this._pages.get(page);
    return entry !== undefined && !entry.stale;
  }

  /** Whether a page is being asked for. */
  isPending(page: number): boolean {
    return this._pending.has(page);
  }

  /**
   * The pages that rows `first` to `last` (both included) fall in, clipped
   * to the list; page 0 alone before the total is known.
   */
  pagesFor(first: number, last: number): number[] {
    const length = this._knownLength();
    if (length === null) {
      return [0];
    }
    const lo = Math.max(0, Math.floor(first));
    const hi = Math.min(length - 1, Math.floor(last));
    const pages: number[] = [];
    for (
      let page = Math.floor(lo / this.pageSize);
      page <= Math.floor(hi / this.pageSize);
      page++
    ) {
      pages.push(page);
    }
    return pages;
  }

  /** The pages of rows `first`..`last` to ask for: not fresh, not pending. */
  missing(first: number, last: number): number[] {
    return this.pagesFor(first, last).filter(
      page => !this.isFresh(page) && !this._pending.has(page)
    );
  }

  /**
   * Start asking for a page: its ticket, or `null` when it is already being
   * asked for (one request per page at a time).
   */
  begin(page: number): IPageTicket | null {
    if (this._pending.has(page)) {
      return null;
    }
    this._pending.add(page);
    return this.ticket(page);
  }

  /** A ticket that is not counted as pending (the poll's own request). */
  ticket(page: number): IPageTicket {
    return {
      page,
      offset: page * this.pageSize,
      generation: this._generation
    };
  }

  /**
   * Take an answer; `false` (and nothing changes) when it answers a request
   * of an older generation.
   */
  accept(ticket: IPageTicket, answer: IRunsPage): boolean {
    if (ticket.generation !== this._generation) {
      return false;
    }
    this._pending.delete(ticket.page);
    const runs = answer.runs.slice(0, this.pageSize);
    this._pages.set(ticket.page, {
      runs,
      revision: answer.revision,
      stale: false,
      used: ++this._clock
    });
    if (this._revision === null) {
      this._revision = answer.revision;
    }
    if (ticket.page === 0) {
      this._more =
        answer.next !== undefined
          ? answer.next !== null
          : runs.length >= this.pageSize;
    }
    // A page asked for with `count=0` says nothing of the total.
    if (typeof answer.total === 'number') {
      this._setTotal(answer.total, answer.revision);
    }
    this._dropPastEnd();
    return true;
  }

  /**
   * Take the list's total (`runs/count`) asked for in `generation`, at the
   * store's `revision` when the server told it; `false` (and nothing
   * changes) when the store changed since it was asked for.
   */
  setTotal(generation: number, total: number, revision?: string): boolean {
    if (generation !== this._generation) {
      return false;
    }
    this._setTotal(total, revision ?? null);
    return true;
  }

  /** A request failed: the page may be asked for again. */
  fail(ticket: IPageTicket): void {
    if (ticket.generation === this._generation) {
      this._pending.delete(ticket.page);
    }
  }

  /**
   * The store changed (the poll saw revision `revision`): every page is
   * stale, requests in flight are dropped when they answer.
   */
  invalidate(revision: string): void {
    this._generation++;
    this._revision = revision;
    this._pending.clear();
    for (const page of this._pages.values()) {
      page.stale = true;
    }
  }

  /** Mark pages as used now (they are in view), so eviction spares them. */
  touch(pages: number[]): void {
    for (const page of pages) {
      const entry = this._pages.get(page);
      if (entry) {
        entry.used = ++this._clock;
      }
    }
  }

  /**
   * Drop the least recently used pages beyond `maxPages`, never one of
   * `keep` (in view, or holding an expanded parent).
   */
  evict(keep: Iterable<number> = []): number[] {
    const kept = new Set(keep);
    const candidates = Array.from(this._pages.entries())
      .filter(([page]) => !kept.has(page))
      .sort((a, b) => a[1].used - b[1].used);
    const dropped: number[] = [];
    while (this._pages.size > this.maxPages && candidates.length > 0) {
      const [page] = candidates.shift()!;
      this._pages.delete(page);
      dropped.push(page);
    }
    return dropped;
  }

  /** Loaded pages (fresh or stale), in page order. */
  loadedPages(): number[] {
    return Array.from(this._pages.keys()).sort((a, b) => a - b);
  }

  /** Loaded runs with their row, in row order. */
  *loaded(): IterableIterator<[number, IRunSummary]> {
    for (const page of this.loadedPages()) {
      const runs = this._pages.get(page)!.runs;
      for (let i = 0; i < runs.length; i++) {
        yield [page * this.pageSize + i, runs[i]];
      }
    }
  }

  /**
   * The whole list, when page 0 holds every run and is fresh: what proves
   * a run that left it was deleted (see `deletedRuns`). Only a total counted
   * since the last change, at page 0's revision, tells: page 0 alone never
   * does, nor a count from before a change.
   */
  complete(): IRunSummary[] | null {
    const first = this._pages.get(0);
    if (
      !first ||
      first.stale ||
      this._total === null ||
      this._totalGeneration !== this._generation ||
      (this._totalRevision !== null &&
        this._totalRevision !== first.revision) ||
      first.runs.length < this._total
    ) {
      return null;
    }
    return first.runs;
  }

  private _setTotal(total: number, revision: string | null): void {
    this._total = Math.max(0, total);
    this._totalGeneration = this._generation;
    this._totalRevision = revision;
    this._dropPastEnd();
  }

  /**
   * The rows of the list when known: a fresh page 0 that says nothing
   * follows it holds them all; else the total, `null` before it is counted.
   */
  private _knownLength(): number | null {
    const first = this._pages.get(0);
    if (first && !first.stale && !this._more) {
      return first.runs.length;
    }
    return this._total;
  }

  /** Runs removed at the end of the list leave pages past it: drop them. */
  private _dropPastEnd(): void {
    const length = this._knownLength();
    if (length === null) {
      return;
    }
    for (const page of Array.from(this._pages.keys())) {
      if (page * this.pageSize >= length && page > 0) {
        this._pages.delete(page);
      }
    }
  }

  private _pages = new Map<number, IPage>();
  private _pending = new Set<number>();
  private _total: number | null = null;
  /** The generation the total was counted in. */
  private _totalGeneration = -1;
  /** The revision the total was counted at, when the server told it. */
  private _totalRevision: string | null = null;
  /** Whether page 0's answer said more rows follow it. */
  private _more = false;
  private _revision: string | null = null;
  private _generation = 0;
  private _clock = 0;
}
