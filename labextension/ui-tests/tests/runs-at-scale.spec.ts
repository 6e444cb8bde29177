import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { seedStore } from './notebooks';
import { collectErrors, openSidebar, shot } from './sidebar';

/**
 * The runs sidebar at scale (issue 13): 2,000 runs and a sweep with three
 * trials, written straight through the store API by the notebook's kernel.
 * The filter box takes plain words and queries (the server filters), shows
 * a refused query inline, a metric column sorts on the server, a parent run
 * expands into its children, and the list is virtualised: however far it
 * scrolls, only a window of rows is in the DOM. Its first page shows before
 * the list is counted (the page is asked for with `count=0`, the total from
 * `runs/count` beside it).
 */

const RUNS = 2000;

/** acc of run i (1/2000 … 1, each once): its last value; its first is half. */
function acc(i: number): number {
  return (((i * 7919) % RUNS) + 1) / RUNS;
}

/** The run whose last acc is the highest. */
const BEST = Array.from({ length: RUNS }, (_, i) => i).find(i => acc(i) === 1)!;

const SEED = [
  'import time',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'from jupyter_mltrack.store.entities import MetricPoint',
  'store, nb, kid, now = get_store(), notebook_path(), kernel_id(), time.time()',
  `for i in range(${RUNS}):`,
  `    acc = ((i * 7919) % ${RUNS} + 1) / ${RUNS}`,
  '    run = store.create_run("scale", name=f"scale-{i:04d}", notebook_path=nb, kernel_id=kid,',
  '                           params={"seed": i, "lr": 10 ** -(1 + i % 3)}, start_time=now - 4000 + i)',
  '    store.finish_run(run.id, "finished", metrics=[MetricPoint("acc", acc / 2, 0, now),',
  '        MetricPoint("acc", acc, 1, now), MetricPoint("loss", 1 - acc, 0, now)])',
  'parent = store.create_run("scale", name="sweep", notebook_path=nb, kernel_id=kid, start_time=now - 100)',
  'for k in range(3):',
  '    child = store.create_run("scale", name=f"sweep-trial-{k + 1}", notebook_path=nb, kernel_id=kid,',
  '                             parent_run_id=parent.id, params={"trial": k}, start_time=now - 90 + k)',
  '    store.finish_run(child.id, "finished", metrics=[MetricPoint("acc", 0.5 + k / 10, 0, now)])',
  'store.finish_run(parent.id, "finished")',
  'print("seeded", nb)'
].join('\n');

test.describe('runs at scale', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('filters, sorts on the server, expands a parent and scrolls 2,000 runs', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);

    await seedStore(page, `${tmpPath}/mltrack-scale.ipynb`, [SEED]);

    // The list's count is held back until the first page's rows are seen:
    // they never wait for it.
    let releaseCount = (): void => undefined;
    const countHeld = new Promise<void>(resolve => {
      releaseCount = resolve;
    });
    await page.route(/\/mltrack\/api\/runs\/count(\?|$)/, async route => {
      await countHeld;
      await route.continue();
    });
    const firstPage = page.waitForRequest(
      r =>
        /\/mltrack\/api\/runs\?/.test(r.url()) &&
        /[?&]roots=1(&|$)/.test(r.url()) &&
        /[?&]count=0(&|$)/.test(r.url())
    );
    const firstCount = page.waitForRequest(
      r =>
        /\/mltrack\/api\/runs\/count\?/.test(r.url()) &&
        /[?&]roots=1(&|$)/.test(r.url()) &&
        !/[?&](order|limit|offset|count)=/.test(r.url())
    );

    const sidebar = await openSidebar(page);
    // Wide enough for the metric columns.
    await page.sidebar.setWidth(640, 'left');
    const rows = sidebar.locator('.jp-mltrack-run-row');
    const names = rows.locator('.jp-mltrack-name-text');
    const footer = sidebar.locator('.jp-mltrack-footer');
    const search = sidebar.locator('.jp-mltrack-search');
    const wrapper = sidebar.locator('.jp-mltrack-table-wrapper');

    // The first page, asked for without its total, and the count beside it.
    await firstPage;
    await firstCount;
    // Top-level runs, newest first: the sweep, then the last seeded run,
    // shown while the count is still held; the list is its first page.
    await expect(names.first()).toHaveText('sweep', { timeout: 10000 });
    await expect(names.nth(1)).toHaveText(`scale-${RUNS - 1}`);
    await expect(footer).toContainText('100+ runs \u00b7 counting\u2026');
    const uncounted = await wrapper.evaluate(el => el.scrollHeight);
    expect(uncounted).toBeLessThan((RUNS * 15) / 4);
    await shot(sidebar, testInfo, 'scale-sidebar-uncounted');

    // The count comes: the total, and the scrollbar takes the list's length.
    releaseCount();
    await expect(footer).toContainText('2,001 runs');
    await expect(footer).not.toContainText('counting');
    await expect(names.first()).toHaveText('sweep');
    await expect
      .poll(() => wrapper.evaluate(el => el.scrollHeight))
      .toBeGreaterThan(Math.max(RUNS * 15, uncounted * 10));
    // A window of rows, not 2,001.
    expect(await rows.count()).toBeLessThan(100);
    await shot(sidebar, testInfo, 'scale-sidebar');

    // A parent: a triangle, its child count and its best child's acc.
    const parent = rows.filter({ hasText: 'sweep' }).first();
    const expand = parent.locator('.jp-mltrack-expand');
    await expect(expand).toHaveAttribute('aria-expanded', 'false');
    await expect(parent.locator('.jp-mltrack-child-count')).toHaveText('3');
    await expect(
      parent.locator('td[data-metric="acc"] .jp-mltrack-child-best')
    ).toHaveText('0.7');
    await expand.click();
    const children = sidebar.locator('.jp-mltrack-child-row');
    await expect(children).toHaveCount(3);
    await expect(children.locator('.jp-mltrack-name-text')).toHaveText([
      'sweep-trial-3',
      'sweep-trial-2',
      'sweep-trial-1'
    ]);
    await expect(children.first()).toHaveAttribute('data-depth', '1');
    await expect(expand).toHaveAttribute('aria-expanded', 'true');
    await expect(names.nth(4)).toHaveText(`scale-${RUNS - 1}`);
    await shot(sidebar, testInfo, 'scale-expanded');
    // The keyboard: ← collapses, → expands.
    await parent.focus();
    await page.keyboard.press('ArrowLeft');
    await expect(children).toHaveCount(0);
    await page.keyboard.press('ArrowRight');
    await expect(children).toHaveCount(3);

    // Plain words: name contains; the trials come flat.
    await search.fill('trial');
    await expect(names).toHaveText([
      'sweep-trial-3',
      'sweep-trial-2',
      'sweep-trial-1'
    ]);
    await expect(sidebar.locator('.jp-mltrack-expand')).toHaveCount(0);
    await expect(footer).toContainText('3 runs');

    // A query: parameters compare as numbers.
    await search.fill('params.seed < 5 and params.lr >= 0.01');
    await expect(names).toHaveText([
      'scale-0004',
      'scale-0003',
      'scale-0001',
      'scale-0000'
    ]);
    await shot(sidebar, testInfo, 'scale-query');

    // A query the server cannot parse: the error under the box, a caret
    // under the column; the last list stays.
    await search.fill('params.seed < 5 and');
    const error = sidebar.locator('.jp-mltrack-query-error');
    await expect(error).toBeVisible();
    await expect(error).toContainText('column');
    await expect(error.locator('.jp-mltrack-query-error-echo')).toContainText(
      '^'
    );
    await expect(search).toHaveAttribute('aria-invalid', 'true');
    await expect(names).toHaveCount(4);
    await shot(sidebar, testInfo, 'scale-query-error');

    // Cleared: the tree is back, the error gone.
    await search.fill('');
    await expect(error).toBeHidden();
    await expect(footer).toContainText('2,001 runs');

    // Sorting by acc is the server's: the lowest and highest of 2,000 runs
    // come first though only a window of them was ever loaded.
    const accHeader = sidebar.locator(
      'th.jp-mltrack-col-metric[data-metric="acc"]'
    );
    const ascending = page.waitForRequest(r =>
      /[?&]order=metrics\.acc\.last(&|$)/.test(r.url())
    );
    await accHeader.click();
    await ascending;
    await expect(names.first()).toHaveText('scale-0000');
    await expect(rows.first().locator('td[data-metric="acc"]')).toHaveText(
      '5e-4'
    );
    await expect(accHeader).toHaveAttribute('aria-sort', 'ascending');
    const descending = page.waitForRequest(r =>
      /[?&]order=-metrics\.acc\.last(&|$)/.test(r.url())
    );
    await accHeader.click();
    await descending;
    await expect(names.first()).toHaveText(
      `scale-${String(BEST).padStart(4, '0')}`
    );
    await expect(rows.first().locator('td[data-metric="acc"]')).toHaveText('1');
    await shot(sidebar, testInfo, 'scale-sorted');
    // Back to the default order.
    await accHeader.click();
    await expect(names.first()).toHaveText('sweep');

    // Scrolling: to the middle, then to the end. Only a window is drawn.
    const height = await wrapper.evaluate(el => el.scrollHeight);
    expect(height).toBeGreaterThan(RUNS * 15);
    await wrapper.evaluate(el => {
      el.scrollTop = el.scrollHeight / 2;
    });
    // Row 1000: the sweep and its 3 trials come first, then scale-1999…
    await expect(
      sidebar.locator(
        '.jp-mltrack-run-row[data-index="1000"] .jp-mltrack-name-text'
      )
    ).toHaveText('scale-1003');
    expect(await rows.count()).toBeLessThan(100);
    await wrapper.evaluate(el => {
      el.scrollTop = el.scrollHeight;
    });
    const oldest = rows.filter({ hasText: 'scale-0000' });
    await expect(oldest).toBeVisible();
    expect(await rows.count()).toBeLessThan(100);
    await expect(sidebar.locator('.jp-mltrack-placeholder-row')).toHaveCount(0);
    await shot(sidebar, testInfo, 'scale-scrolled');

    // Selection across pages: select the oldest run, scroll back to the top
    // and select the newest: both count.
    await oldest.locator('.jp-mltrack-select').click();
    await wrapper.evaluate(el => {
      el.scrollTop = 0;
    });
    await expect(names.first()).toHaveText('sweep');
    await rows.first().locator('.jp-mltrack-select').click();
    await expect(sidebar.locator('.jp-mltrack-compare-button')).toHaveText(
      'Compare (2)'
    );
    await expect(footer).toContainText('2 selected');

    expect(errors).toEqual([]);
  });
});
