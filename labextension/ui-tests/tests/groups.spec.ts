import { expect, test } from '@jupyterlab/galata';

import { seedStore } from './notebooks';
import { collectErrors, openSidebar, shot } from './sidebar';

/**
 * The sidebar's "Group by" view (issue 13 §2): two models × three seeds
 * collapse into two rows, each metric as mean ± std with an error bar; the
 * groups chart is the server's plotly figure rendered by JupyterLab; a
 * click on a group lists its runs with the group's condition in the filter
 * box; "None" brings the runs list back as it was.
 */

/**
 * acc of a run: the model sets the level, the seed some noise (rf's evenly
 * around its mean, svm's with one seed far above: its max lies past its
 * mean + std).
 */
const SEED = [
  'import time',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'from jupyter_mltrack.store.entities import MetricPoint',
  'store, nb, kid, now = get_store(), notebook_path(), kernel_id(), time.time()',
  'for m, model in enumerate(["rf", "svm"]):',
  '    for seed in range(3):',
  '        run = store.create_run("groups", name=f"{model}-{seed}", notebook_path=nb, kernel_id=kid,',
  '                               params={"model": model, "seed": seed}, start_time=now - 100 + 3 * m + seed)',
  '        acc = 0.8 + 0.1 * m + ((0.01, 0.03, 0.02), (0.0, 0.01, 0.06))[m][seed]',
  '        store.finish_run(run.id, "finished", metrics=[MetricPoint("acc", acc, 0, now),',
  '                                                      MetricPoint("loss", 1 - acc, 0, now)])',
  'print("seeded", nb)'
].join('\n');

/** One more rf run, recorded while the groups are on screen. */
const ONE_MORE = [
  'run = store.create_run("groups", name="rf-3", notebook_path=nb, kernel_id=kid,',
  '                       params={"model": "rf", "seed": 3}, start_time=time.time())',
  'store.finish_run(run.id, "finished", metrics=[MetricPoint("acc", 0.84, 0, now),',
  '                                              MetricPoint("loss", 0.16, 0, now)])',
  'print("one more")'
].join('\n');

test.describe('group by', () => {
  test.use({ viewport: { width: 1280, height: 900 } });

  test('groups seeds into rows with error bars, charts them and opens a group', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);

    await seedStore(page, `${tmpPath}/mltrack-groups.ipynb`, [SEED, ONE_MORE]);

    const sidebar = await openSidebar(page);
    await page.sidebar.setWidth(560, 'left');
    const runRows = sidebar.locator('.jp-mltrack-run-row');
    const names = runRows.locator('.jp-mltrack-name-text');
    const search = sidebar.locator('.jp-mltrack-search');
    const groupBy = sidebar.locator('.jp-mltrack-group-select');
    const footer = sidebar.locator('.jp-mltrack-footer');
    await expect(runRows).toHaveCount(6, { timeout: 10000 });

    // The runs list as the user left it: sorted by acc, a run selected.
    const accHeader = sidebar.locator(
      'th.jp-mltrack-col-metric[data-metric="acc"]'
    );
    await accHeader.click();
    await expect(names.first()).toHaveText('rf-0');
    await runRows.nth(1).locator('.jp-mltrack-select').click();
    await expect(footer).toContainText('1 selected');

    // Group by the model param (the scope's keys fill the menu).
    await expect(groupBy.locator('option[value="params.model"]')).toHaveCount(
      1
    );
    await expect(groupBy.locator('optgroup')).toHaveCount(2); // attributes, params
    await groupBy.selectOption('params.model');
    const groups = sidebar.locator('.jp-mltrack-group-row');
    await expect(groups).toHaveCount(2);
    await expect(sidebar.locator('.jp-mltrack-table-wrapper')).toBeHidden();
    await expect(groups.locator('.jp-mltrack-group-value')).toHaveText([
      'rf',
      'svm'
    ]);
    await expect(groups.locator('.jp-mltrack-group-count')).toHaveText([
      '3',
      '3'
    ]);
    const rfAcc = groups
      .first()
      .locator('td[data-metric="acc"] .jp-mltrack-group-stat');
    await expect(rfAcc).toContainText('\u00b1');
    await expect(rfAcc).toHaveText('0.82 \u00b1 0.01');
    await expect(
      groups.first().locator('td[data-metric="acc"]')
    ).toHaveAttribute('title', /min 0\.81 \u00b7 max 0\.83\n3 of 3 runs/);
    await expect(
      groups.locator('td[data-metric="acc"] .jp-mltrack-group-bar-mean')
    ).toHaveCount(2);
    await expect(footer).toContainText('2 groups \u00b7 6 runs');
    await shot(sidebar, testInfo, 'groups-sidebar');

    // The chart: the server's figure, drawn by JupyterLab's plotly renderer.
    await sidebar.locator('.jp-mltrack-groups-chart-button').click();
    const chart = page.locator('.jp-mltrack-groups-chart-view');
    await expect(chart).toBeVisible();
    await expect(chart.locator('.js-plotly-plot')).toBeVisible({
      timeout: 30000
    });
    await expect(chart.locator('.jp-mltrack-groups-plot')).toHaveCount(1);
    await expect(chart.locator('.js-plotly-plot .bars path')).not.toHaveCount(
      0
    );
    await shot(page, testInfo, 'groups-chart');
    await expect(chart.locator('.gtitle')).toContainText('6 runs, 2 groups');

    // The store changes: the groups follow the list's revision, and the
    // open chart of them is drawn again.
    await page.notebook.activate('mltrack-groups.ipynb');
    await page.notebook.runCell(1);
    await expect(
      page.locator('.jp-OutputArea-output').filter({ hasText: 'one more' })
    ).toHaveCount(1);
    await expect(groups.locator('.jp-mltrack-group-count')).toHaveText([
      '4',
      '3'
    ]);
    await expect(footer).toContainText('2 groups \u00b7 7 runs');
    await page.locator('.lm-TabBar-tab', { hasText: 'Groups by' }).click();
    await expect(chart.locator('.gtitle')).toContainText('7 runs, 2 groups');

    // A filter the server refuses: its error under the box, the groups stay.
    await search.fill('params.seed <');
    const error = sidebar.locator('.jp-mltrack-query-error');
    await expect(error).toBeVisible();
    await expect(error).toContainText('column');
    await expect(groups).toHaveCount(2);
    await shot(sidebar, testInfo, 'groups-query-error');
    await search.fill('');
    await expect(error).toBeHidden();

    // None: the runs list as it was, order and selection kept.
    await groupBy.selectOption('');
    await expect(groups).toHaveCount(0);
    await expect(runRows).toHaveCount(7);
    await expect(names.first()).toHaveText('rf-0');
    await expect(accHeader).toHaveAttribute('aria-sort', 'ascending');
    await expect(runRows.nth(1)).toHaveAttribute('aria-selected', 'true');
    await expect(footer).toContainText('7 runs');

    // A group opened: its runs, and the condition in the filter box.
    await groupBy.selectOption('params.model');
    await groups.filter({ hasText: 'svm' }).click();
    await expect(search).toHaveValue('params.model = "svm"');
    await expect(groupBy).toHaveValue('');
    await expect(runRows).toHaveCount(3);
    await expect(names).toHaveText(['svm-0', 'svm-1', 'svm-2']);
    await expect(footer).toContainText('3 runs');
    await shot(sidebar, testInfo, 'groups-opened');

    // Narrower still: a filter with `or` is parenthesised.
    await search.fill('params.seed = 0 or params.seed = 1');
    await expect(runRows).toHaveCount(4);
    await groupBy.selectOption('params.model');
    await expect(groups.locator('.jp-mltrack-group-count')).toHaveText([
      '2',
      '2'
    ]);
    await groups.filter({ hasText: 'rf' }).click();
    await expect(search).toHaveValue(
      '(params.seed = 0 or params.seed = 1) and params.model = "rf"'
    );
    await expect(names).toHaveText(['rf-0', 'rf-1']);

    expect(errors).toEqual([]);
  });
});
