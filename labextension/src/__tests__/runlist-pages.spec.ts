import { IRunsPage } from '../runlist/api';
import { PagedRuns } from '../runlist/pages';
import { manyRuns } from './runs';

const RUNS = manyRuns(1234);

/** The server's answer for a page of RUNS. */
function page(offset: number, revision = '1', total = RUNS.length): IRunsPage {
  return {
    runs: RUNS.slice(offset, offset + 100),
    total,
    limit: 100,
    offset,
    revision
  };
}

/**
 * The answer for a page asked for with `count=0`, of a list of `length`
 * runs: no total, a `next` cursor unless it is the last page.
 */
function uncounted(
  offset: number,
  revision = '1',
  length = RUNS.length
): IRunsPage {
  return {
    runs: RUNS.slice(offset, Math.min(length, offset + 100)),
    total: null,
    limit: 100,
    offset,
    next: offset + 100 < length ? `after-${offset + 100}` : null,
    revision
  };
}

describe('PagedRuns', () => {
  it('needs page 0 alone before the total is known', () => {
    const cache = new PagedRuns('k');
    expect(cache.total).toBeNull();
    expect(cache.pagesFor(0, 5000)).toEqual([0]);
  });

  it('maps a row range to the pages it falls in, clipped to the list', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, page(0));
    expect(cache.total).toBe(1234);
    expect(cache.pagesFor(150, 420)).toEqual([1, 2, 3, 4]);
    expect(cache.pagesFor(-50, 99)).toEqual([0]);
    expect(cache.pagesFor(1100, 99999)).toEqual([11, 12]);
    // Page 0 is loaded: only the others are missing.
    expect(cache.missing(0, 250)).toEqual([1, 2]);
  });

  it('asks for a page once at a time', () => {
    const cache = new PagedRuns('k');
    const ticket = cache.begin(3);
    expect(ticket).toEqual({ page: 3, offset: 300, generation: 0 });
    expect(cache.begin(3)).toBeNull();
    expect(cache.isPending(3)).toBe(true);
    cache.fail(ticket!);
    expect(cache.isPending(3)).toBe(false);
    expect(cache.begin(3)).not.toBeNull();
  });

  it('holds the runs of accepted pages by row', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(2)!, page(200));
    expect(cache.run(250)?.id).toBe(RUNS[250].id);
    expect(cache.run(10)).toBeUndefined();
    expect(Array.from(cache.loaded()).map(([i]) => i)[0]).toBe(200);
  });

  it('drops answers to requests made before a new revision', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, page(0, '1'));
    const inFlight = cache.begin(1)!;
    cache.invalidate('2');
    expect(cache.revision).toBe('2');
    expect(cache.accept(inFlight, page(100, '1'))).toBe(false);
    expect(cache.run(150)).toBeUndefined();
    // Stale pages are still shown, and asked for again when in view.
    expect(cache.run(5)?.id).toBe(RUNS[5].id);
    expect(cache.isFresh(0)).toBe(false);
    expect(cache.missing(0, 150)).toEqual([0, 1]);
    expect(cache.accept(cache.begin(0)!, page(0, '2'))).toBe(true);
    expect(cache.isFresh(0)).toBe(true);
    expect(cache.missing(0, 150)).toEqual([1]);
  });

  it('keeps the revision of its first answer until invalidated', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, page(0, '1'));
    cache.accept(cache.begin(1)!, page(100, '7'));
    // Page 1 may be newer; the poll still asks since 1 and catches up.
    expect(cache.revision).toBe('1');
  });

  it('forgets pages past a list that shrank', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, page(0));
    cache.accept(cache.begin(5)!, page(500));
    cache.accept(cache.begin(0)!, page(0, '1', 120));
    expect(cache.loadedPages()).toEqual([0]);
  });

  it('evicts the least recently used pages, never the kept ones', () => {
    const cache = new PagedRuns('k', 100, 3);
    for (const n of [0, 1, 2, 3, 4]) {
      cache.accept(cache.begin(n)!, page(n * 100));
    }
    cache.touch([0]);
    expect(cache.evict([4])).toEqual([1, 2]);
    expect(cache.loadedPages()).toEqual([0, 3, 4]);
  });

  it('is complete when page 0 holds every run', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, page(0));
    expect(cache.complete()).toBeNull();
    cache.accept(cache.begin(0)!, page(0, '1', 100));
    expect(cache.complete()).toHaveLength(100);
    cache.invalidate('2');
    expect(cache.complete()).toBeNull();
  });

  it('takes a page without its total, the total apart', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0));
    // Not counted: the list is page 0, and more rows follow it.
    expect(cache.total).toBeNull();
    expect(cache.length).toBe(100);
    expect(cache.partial).toBe(true);
    expect(cache.needsCount).toBe(true);
    expect(cache.pagesFor(0, 500)).toEqual([0]);
    expect(cache.setTotal(cache.generation, 1234, '1')).toBe(true);
    expect(cache.total).toBe(1234);
    expect(cache.length).toBe(1234);
    expect(cache.partial).toBe(false);
    expect(cache.needsCount).toBe(false);
    expect(cache.pagesFor(0, 250)).toEqual([0, 1, 2]);
    // A later page without its total leaves it.
    cache.accept(cache.begin(1)!, uncounted(100));
    expect(cache.total).toBe(1234);
  });

  it('tells a short list from page 0 alone: no cursor, nothing follows', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0, '1', 7));
    expect(cache.total).toBeNull();
    expect(cache.length).toBe(7);
    expect(cache.partial).toBe(false);
    // A server that sends no cursor: a full page may have more after it.
    const full = new PagedRuns('k');
    full.accept(full.begin(0)!, { ...uncounted(0), next: undefined });
    expect(full.partial).toBe(true);
  });

  it('drops a total counted before the store changed, keeps the last one shown', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0));
    const asked = cache.generation;
    cache.setTotal(asked, 1234, '1');
    cache.invalidate('2');
    // The last count stays (the scrollbar does not jump) but is stale.
    expect(cache.total).toBe(1234);
    expect(cache.needsCount).toBe(true);
    expect(cache.setTotal(asked, 1300, '1')).toBe(false);
    expect(cache.total).toBe(1234);
    expect(cache.setTotal(cache.generation, 1235, '2')).toBe(true);
    expect(cache.total).toBe(1235);
    expect(cache.needsCount).toBe(false);
  });

  it('counts again a total taken at another revision than the pages', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0, '5'));
    // Counted just before a run was added, the page just after: the poll,
    // asking since 5, would never see a change to correct it by.
    cache.setTotal(cache.generation, 1233, '4');
    expect(cache.total).toBe(1233);
    expect(cache.needsCount).toBe(true);
    cache.setTotal(cache.generation, 1234, '5');
    expect(cache.needsCount).toBe(false);
  });

  it('forgets pages past a count that shrank', () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0));
    cache.setTotal(cache.generation, 1234, '1');
    cache.accept(cache.begin(5)!, uncounted(500));
    cache.setTotal(cache.generation, 120, '1');
    expect(cache.loadedPages()).toEqual([0]);
  });

  it("is complete only by a total counted at page 0's revision", () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0, '1', 40));
    // Page 0 alone, even with no cursor, proves no deletion.
    expect(cache.complete()).toBeNull();
    cache.setTotal(cache.generation, 40, '1');
    expect(cache.complete()).toHaveLength(40);
    // After a change: page 0 again, the old count does not tell.
    cache.invalidate('2');
    cache.accept(cache.begin(0)!, uncounted(0, '2', 39));
    expect(cache.complete()).toBeNull();
    // Nor one taken at another revision than page 0.
    cache.setTotal(cache.generation, 39, '3');
    expect(cache.complete()).toBeNull();
    cache.setTotal(cache.generation, 39, '2');
    expect(cache.complete()).toHaveLength(39);
  });

  it("takes a short list's length from a fresh page 0 with nothing after it", () => {
    const cache = new PagedRuns('k');
    cache.accept(cache.begin(0)!, uncounted(0, '1', 40));
    cache.setTotal(cache.generation, 40, '1');
    cache.invalidate('2');
    // A run added: the old count stands until page 0 answers again.
    expect(cache.length).toBe(40);
    cache.accept(cache.begin(0)!, uncounted(0, '2', 41));
    expect(cache.total).toBe(40);
    expect(cache.length).toBe(41);
    expect(cache.pagesFor(0, 500)).toEqual([0]);
    // A long list's page 0 does not tell: the count does.
    cache.invalidate('3');
    cache.accept(cache.begin(0)!, uncounted(0, '3'));
    expect(cache.length).toBe(40);
  });
});
