import { expect, test } from '@jupyterlab/galata';

import { seedStore } from './notebooks';
import { collectErrors, openSidebar, shot } from './sidebar';

/**
 * A sweep in JupyterLab (issue 15 §2): a sweep is a parent run (source
 * `sweep`) with a child run per trial, written here straight through the
 * store API as the sweep driver records them. Its row in the Runs sidebar
 * says it is a sweep, its trials by how they ended and its best value; it
 * expands into its trials (pruned ones badged so), which compare as any
 * runs; its charts button opens the optimisation history and the parameter
 * importance, drawn by JupyterLab's plotly renderer.
 */

const SEED = [
  'import time',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'from jupyter_mltrack.store.entities import MetricPoint',
  'store, nb, kid, now = get_store(), notebook_path(), kernel_id(), time.time() - 600',
  'base = store.create_run("demo", name="baseline", notebook_path=nb, kernel_id=kid, params={"lr": 0.01, "depth": 3}, start_time=now - 60)',
  'store.finish_run(base.id, "finished", metrics=[MetricPoint("acc", 0.8, 0, now)])',
  'space = {"space.lr": "loguniform(0.0001, 0.1)", "space.depth": "int(2, 10)"}',
  'sweep = store.create_run("demo", name="lr-search", source="sweep", notebook_path=nb, kernel_id=kid,',
  '    tags={"mltrack.sweep": "lr-search"}, start_time=now,',
  '    params={"metric": "acc", "goal": "max", "sampler": "tpe", "trials": 8, "jobs": 2, **space})',
  'PLAN = [("finished", 0.01, 3, [0.6, 0.7, 0.72]), ("finished", 0.05, 8, [0.7, 0.8, 0.85]),',
  '        ("failed", 0.09, 2, [0.5]), ("pruned", 0.0003, 4, [0.3, 0.35]),',
  '        ("finished", 0.02, 6, [0.75, 0.88, 0.91]), ("pruned", 0.0001, 9, [0.2]),',
  '        ("finished", 0.03, 5, [0.8, 0.86, 0.89]), ("finished", 0.002, 7, [0.5, 0.6, 0.66])]',
  'for n, (status, lr, depth, values) in enumerate(PLAN):',
  '    t = store.create_run("demo", source="sweep", parent_run_id=sweep.id, start_time=now + 10 * n,',
  '        tags={"mltrack.sweep": "lr-search", "mltrack.trial": str(n)},',
  '        params={"lr": lr, "depth": depth, "n_estimators": 100})',
  '    error = {"ename": "ValueError", "evalue": "lr too high", "traceback": []} if status == "failed" else None',
  '    store.finish_run(t.id, status, error=error,',
  '        metrics=[MetricPoint("acc", v, s, now + 10 * n + s) for s, v in enumerate(values)])',
  'store.finish_run(sweep.id, "finished", metrics=[MetricPoint("best.acc", 0.91, 0, now)])',
  'print("seeded", sweep.id)'
].join('\n');

test.describe('sweeps', () => {
  test.use({ viewport: { width: 1400, height: 950 } });

  test('shows a sweep, its trials and its charts', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);

    await seedStore(page, `${tmpPath}/mltrack-sweeps.ipynb`, [SEED]);

    const sidebar = await openSidebar(page);
    await page.sidebar.setWidth(640, 'left');
    const runRows = sidebar.locator('.jp-mltrack-run-row');
    await expect(runRows).toHaveCount(2, { timeout: 10000 });

    // The sweep's row: a badge, its name, its trials by status, its best.
    const sweepRow = sidebar.locator('.jp-mltrack-sweep-row');
    await expect(sweepRow).toHaveCount(1);
    const name = sweepRow.locator('.jp-mltrack-col-name');
    await expect(name.locator('.jp-mltrack-sweep-badge')).toHaveText('sweep');
    await expect(name.locator('.jp-mltrack-name-text')).toHaveText('lr-search');
    await expect(name.locator('.jp-mltrack-sweep-counts')).toHaveText(
      '8 trials \u00b7 1 failed \u00b7 2 pruned'
    );
    await expect(name.locator('.jp-mltrack-sweep-best')).toHaveText(
      'best acc 0.91'
    );
    await expect(name).toHaveAttribute(
      'title',
      /^Sweep lr-search: maximise acc; 8 trials: 5 finished, 2 pruned, 1 failed; best acc 0.91 \(started /
    );
    // The cell spans the attribute columns: all of it shows, nothing cut; a
    // finished sweep shows no status (a running one would).
    await expect(name).toHaveAttribute('colspan', '4');
    const cutOff = () =>
      name.evaluate(td => {
        const right = td.getBoundingClientRect().right;
        return Array.from(td.querySelectorAll('.jp-mltrack-sweep-line > *'))
          .filter(
            el =>
              el.scrollWidth > el.clientWidth + 1 ||
              el.getBoundingClientRect().right > right + 1
          )
          .map(el => el.className);
      });
    expect(await cutOff()).toEqual([]);
    await expect(name.locator('.jp-mltrack-status')).toHaveCount(0);
    // the plain run is no sweep
    await expect(
      runRows.filter({ hasText: 'baseline' }).locator('.jp-mltrack-sweep-badge')
    ).toHaveCount(0);
    await shot(sidebar, testInfo, 'sweep-row');
    // In a narrower sidebar the texts give way, the last first; the charts
    // button stays in view.
    await page.sidebar.setWidth(440, 'left');
    await expect
      .poll(cutOff)
      .toEqual(['jp-mltrack-sweep-counts', 'jp-mltrack-sweep-best']);
    await shot(sidebar, testInfo, 'sweep-row-narrow');
    await page.sidebar.setWidth(640, 'left');

    // It expands into its trials, named by number; the pruned ones say so.
    await sweepRow.locator('.jp-mltrack-expand').click();
    const trials = sidebar.locator('.jp-mltrack-trial-row');
    await expect(trials).toHaveCount(8);
    await expect(trials.locator('.jp-mltrack-name-text')).toContainText([
      'trial 7',
      'trial 6',
      'trial 5'
    ]);
    await expect(trials.locator('.jp-mltrack-status-pruned')).toHaveCount(2);
    await expect(trials.locator('.jp-mltrack-status-failed')).toHaveCount(1);
    await shot(sidebar, testInfo, 'sweep-expanded');

    // Only a sweep's row has "Sweep Charts" in its context menu.
    const menu = page.locator('.lm-Menu');
    await trials.first().click({ button: 'right' });
    await expect(menu.locator('.lm-Menu-item').first()).toBeVisible();
    await expect(
      menu.locator('.lm-Menu-item', { hasText: 'Sweep Charts' })
    ).toHaveCount(0);
    await page.keyboard.press('Escape');
    await sweepRow.click({ button: 'right' });
    await expect(
      menu.locator('.lm-Menu-item', { hasText: 'Sweep Charts' })
    ).toBeVisible();
    await page.keyboard.press('Escape');

    // Trials are runs: two of them compare like any two runs.
    const trial = (n: number) => trials.filter({ hasText: `trial ${n}` });
    await trial(4).locator('.jp-mltrack-select').click();
    await trial(3).locator('.jp-mltrack-select').click();
    const compare = sidebar.locator('.jp-mltrack-compare-button');
    await expect(compare).toHaveText('Compare (2)');
    await compare.click();
    const view = page.locator('.jp-mltrack-compare');
    await expect(view).toBeVisible();
    const lrRow = view.locator(
      '[data-section="params"] .jp-mltrack-compare-row[data-key="lr"]'
    );
    await expect(lrRow).toHaveClass(/jp-mltrack-compare-row-differs/);

    // Its charts button: the history and the importance, drawn by plotly.
    await sweepRow.locator('.jp-mltrack-sweep-charts').click();
    const panel = page.locator('.jp-mltrack-sweep-charts-view');
    await expect(panel).toBeVisible();
    await expect(
      page.locator('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current')
    ).toContainText('Sweep lr-search');
    const history = panel.locator(
      '.jp-mltrack-sweep-chart[data-kind="sweep_history"] .js-plotly-plot'
    );
    const importance = panel.locator(
      '.jp-mltrack-sweep-chart[data-kind="sweep_importance"] .js-plotly-plot'
    );
    await expect(history).toBeVisible({ timeout: 30000 });
    await expect(importance).toBeVisible({ timeout: 30000 });
    await expect(history.locator('.main-svg').first()).toBeVisible();
    await expect(importance.locator('.main-svg').first()).toBeVisible();
    await expect(history.locator('.gtitle')).toContainText(
      'Optimization history of lr-search: acc (max)'
    );
    await expect(history.locator('.legendtext')).toHaveText([
      'finished',
      'pruned',
      'best acc',
      'failed'
    ]);
    // a point per trial with a value: 5 finished, 2 pruned
    await expect(
      history.locator('.scatterlayer .trace').first().locator('path.point')
    ).toHaveCount(5);
    await expect(importance.locator('.gtitle')).toContainText(
      'What acc depends on in lr-search (5 finished trials)'
    );
    await expect
      .poll(async () =>
        (await importance.locator('.ytick').allTextContents()).sort()
      )
      .toEqual(['depth', 'lr']);
    await expect(panel.locator('.jp-mltrack-error')).toHaveCount(0);
    await shot(page, testInfo, 'sweep-charts');

    expect(errors).toEqual([]);
  });
});
