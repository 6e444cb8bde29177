import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { notebookWithCells, openUploaded } from './notebooks';
import { collectErrors, openSidebar, shot } from './sidebar';

/**
 * Compare runs end to end: runs are selected in the Runs sidebar (checkbox,
 * shift-click range, ctrl-click toggle, select all visible), the selection
 * survives the sidebar's refreshes, Compare (N) opens the comparison in the
 * main area: the differing parameter is highlighted, a plotly chart renders,
 * the code diff shows the changed line, Artifacts diffs a text artifact and
 * shows two runs' figures side by side, and Why? names the planted cause.
 * Also: how long the comparison of 10 runs takes to show (reported), and the
 * notebook widget of `mltrack.compare(...)` shown once in JupyterLab.
 */

/**
 * A tracked cell: `lr` is its one parameter; the loss curve gives the
 * charts a series, `acc` depends on `lr` (and on the planted line).
 */
function trainingCell(lr: string, planted = false): string {
  return [
    '%%track',
    `lr = ${lr}`,
    'for step in range(20):',
    '    mltrack.log_metric("loss", round(1.0 / (1.0 + step * lr * 10), 5), step=step)',
    planted ? 'acc = round(0.8 + lr + 0.05, 5)' : 'acc = round(0.8 + lr, 5)',
    'mltrack.log_metric("acc", acc)'
  ].join('\n');
}

/**
 * Artifacts for runs #1 and #2 (lr 0.1 and 0.01), logged after the fact
 * (`run=`) so the tracked cells' code stays as it is: a text, a matplotlib
 * figure and a plotly figure each, a table of predictions (differing in one
 * row), and a series of images at steps (#1 every 5 steps up to 15, #2 every
 * 10 up to 10).
 */
const ARTIFACTS_CELL = [
  'from matplotlib.figure import Figure',
  'import plotly.graph_objects as go',
  'for number, lr in ((1, 0.1), (2, 0.01)):',
  '    loss = [1.0 / (1.0 + s * lr * 10) for s in range(20)]',
  '    fig = Figure(figsize=(4, 3))',
  '    fig.add_subplot().plot(range(20), loss)',
  '    mltrack.log_figure(fig, "loss-curve", run=number)',
  '    mltrack.log_figure(go.Figure(go.Scatter(y=loss)), "loss-plotly", run=number)',
  '    mltrack.log_text(f"lr = {lr}\\nsteps = 20\\n", "report.txt", run=number)',
  '    mltrack.log_table({"id": [1, 2, 3], "pred": [int(lr > 0.05), 1, 0]}, "predictions", run=number)',
  'import numpy as np',
  'for number, every in ((1, 5), (2, 10)):',
  '    for step in range(0, 16, every):',
  '        sample = np.linspace(0, 1, 40 * 40).reshape(40, 40) ** (1 + step / every)',
  '        mltrack.log_image(sample, "samples", step=step, run=number)'
].join('\n');

/** The line the fourth run changed: the planted cause of its better acc. */
const PLANTED_LINE = 'acc = round(0.8 + lr + 0.05, 5)';

/** Ctrl on Linux and Windows, Cmd on macOS: the "toggle" modifier. */
const TOGGLE = process.platform === 'darwin' ? 'Meta' : 'Control';

/** Upload a notebook with these cells and open it (nothing run yet). */
async function openNotebook(
  page: IJupyterLabPageFixture,
  path: string,
  cells: string[]
): Promise<string> {
  return openUploaded(page, path, notebookWithCells(cells));
}

/** Run cells `from` to `to` (included), each to its end. */
async function runCells(
  page: IJupyterLabPageFixture,
  from: number,
  to: number
): Promise<void> {
  for (let i = from; i <= to; i++) {
    await page.notebook.runCell(i);
  }
}

/** The tab of the compare view called `label`, clicked. */
async function showTab(view: Locator, label: string): Promise<void> {
  await view.locator('.lm-TabBar-tab', { hasText: label }).first().click();
}

test.describe('compare runs', () => {
  // Wide enough for four runs side by side.
  test.use({ viewport: { width: 1440, height: 900 } });

  test('select runs in the sidebar and compare them', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);
    const notebook = await openNotebook(
      page,
      `${tmpPath}/mltrack-compare.ipynb`,
      [
        '%load_ext jupyter_mltrack',
        trainingCell('0.1'),
        trainingCell('0.01'),
        trainingCell('0.001'),
        trainingCell('0.01', true),
        ARTIFACTS_CELL
      ]
    );
    await runCells(page, 0, 3);
    await expect(page.locator('.jp-mltrack-card')).toHaveCount(3);

    const sidebar = await openSidebar(page);
    const rows = sidebar.locator('.jp-mltrack-run-row');
    await expect(rows).toHaveCount(3, { timeout: 5000 });
    const row = (n: number) =>
      sidebar.locator(`.jp-mltrack-run-row[data-run-number="${n}"]`);
    const box = (n: number) => row(n).locator('.jp-mltrack-select');
    const button = sidebar.locator('.jp-mltrack-compare-button');
    const selectAll = sidebar.locator('.jp-mltrack-select-all');

    // Nothing selected: the button cannot compare.
    await expect(button).toHaveText('Compare (0)');
    await expect(button).toBeDisabled();

    // Select all visible, then none.
    await selectAll.click();
    await expect(sidebar.locator('.jp-mltrack-select:checked')).toHaveCount(3);
    await expect(button).toHaveText('Compare (3)');
    await selectAll.click();
    await expect(sidebar.locator('.jp-mltrack-select:checked')).toHaveCount(0);

    // One run: still disabled. The first one checked is the baseline: #2.
    await box(2).click();
    await expect(box(2)).toBeChecked();
    await expect(button).toHaveText('Compare (1)');
    await expect(button).toBeDisabled();
    // Shift-click: the range from #2 to #1.
    await box(1).click({ modifiers: ['Shift'] });
    await expect(box(1)).toBeChecked();
    await expect(box(3)).not.toBeChecked();
    await expect(button).toHaveText('Compare (2)');
    await expect(button).toBeEnabled();
    // The header box shows a partial selection.
    expect(
      await selectAll.evaluate(el => (el as HTMLInputElement).indeterminate)
    ).toBe(true);
    // Ctrl/cmd-click on a row toggles it without opening it.
    await row(3).click({ modifiers: [TOGGLE] });
    await expect(box(3)).toBeChecked();
    await expect(row(3)).toHaveClass(/jp-mltrack-checked/);
    await expect(page.locator('.jp-mltrack-detail')).toHaveCount(0);
    await expect(selectAll).toBeChecked();

    // A new run arrives: the list refreshes, the selection stays.
    await page.notebook.activate(notebook);
    await runCells(page, 4, 5);
    await expect(rows).toHaveCount(4, { timeout: 5000 });
    for (const n of [1, 2, 3]) {
      await expect(box(n)).toBeChecked();
    }
    await expect(box(4)).not.toBeChecked();
    await expect(button).toHaveText('Compare (3)');
    // ...and through more polls (one a second): two answers of the list's
    // cheap poll, which asks what changed `since` its revision.
    for (let i = 0; i < 2; i++) {
      await page.waitForResponse(response =>
        /\/mltrack\/api\/runs\?(.*&)?since=/.test(response.url())
      );
    }
    await expect(sidebar.locator('.jp-mltrack-select:checked')).toHaveCount(3);

    // The context menu of a run that is not selected compares it with the
    // selection.
    const menu = page.locator('.lm-Menu-content');
    await row(4).click({ button: 'right' });
    await expect(
      menu.locator('.lm-Menu-item:not(.lm-mod-disabled)', {
        hasText: 'Compare Run #4 with Selected Runs (4)'
      })
    ).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(menu).toHaveCount(0);

    await row(4).click({ modifiers: [TOGGLE] });
    await expect(button).toHaveText('Compare (4)');
    await expect(sidebar.locator('.jp-mltrack-footer')).toContainText(
      '4 selected'
    );
    await shot(sidebar, testInfo, 'compare-sidebar-selection');

    // A selected run's context menu compares the selection; so does the
    // command palette's entry.
    await row(4).click({ button: 'right' });
    await expect(
      menu.locator('.lm-Menu-item', { hasText: 'Compare Selected Runs (4)' })
    ).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(menu).toHaveCount(0);
    expect(
      await page.evaluate(() => {
        const { commands } = window.jupyterapp;
        const id = 'jupyter-mltrack:compare-runs';
        return [commands.label(id), commands.isEnabled(id)];
      })
    ).toEqual(['Compare Selected Runs (4)', true]);

    // Compare.
    await button.click();
    const view = page.locator('.jp-mltrack-compare');
    await expect(view).toBeVisible();
    // One tab per comparison, titled with the run numbers, baseline first.
    await expect(
      page.locator('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current')
    ).toContainText(/#2.*#1.*#3.*#4/);

    // Overview: the parameter that differs is highlighted.
    const table = view.locator('.jp-mltrack-compare-table');
    await expect(table).toBeVisible();
    const lrRow = table.locator(
      '[data-section="params"] .jp-mltrack-compare-row[data-key="lr"]'
    );
    await expect(lrRow).toHaveClass(/jp-mltrack-compare-row-differs/);
    await expect(lrRow.locator('.jp-mltrack-compare-differs')).toHaveCount(2);
    await shot(page, testInfo, 'compare-overview');

    // Charts: plotly draws them through rendermime.
    await showTab(view, 'Charts');
    const plot = view.locator('.js-plotly-plot').first();
    await expect(plot).toBeVisible({ timeout: 30000 });
    await expect(plot.locator('.main-svg').first()).toBeVisible();
    await shot(page, testInfo, 'compare-charts');

    // Code: the merge view shows the planted line against the baseline.
    await showTab(view, 'Code');
    const plantedId = await row(4).getAttribute('data-run-id');
    const planted = view.locator(
      `.jp-mltrack-compare-code-run[data-run-id="${plantedId}"] .jp-mltrack-compare-code-block[data-part="cell"]`
    );
    await expect(planted.locator('.cm-mergeView')).toBeVisible();
    // The baseline's line on one side, the planted one on the other.
    await expect(
      planted.locator('.cm-changedLine', { hasText: PLANTED_LINE })
    ).toHaveCount(1);
    await expect(
      planted.locator('.cm-changedLine', {
        hasText: 'acc = round(0.8 + lr, 5)'
      })
    ).toHaveCount(1);
    await planted.scrollIntoViewIfNeeded();
    await shot(page, testInfo, 'compare-code');

    // Artifacts: the text diffed against the baseline's, the figures of #2
    // (the baseline) and #1 side by side, #3 and #4 logged none.
    await showTab(view, 'Artifacts');
    const artifacts = view.locator('.jp-mltrack-compare-artifacts');
    await expect(
      artifacts.locator('tr[data-name="report.txt"][data-status="missing"]')
    ).toBeVisible();
    const report = artifacts.locator(
      '.jp-mltrack-compare-artifact[data-name="report.txt"]'
    );
    await expect(
      report.locator('.jp-mltrack-compare-line-removed', {
        hasText: 'lr = 0.01'
      })
    ).toHaveCount(1);
    await expect(
      report.locator('.jp-mltrack-compare-line-added', { hasText: 'lr = 0.1' })
    ).toHaveCount(1);
    // A table says which cells differ from the baseline's, not only that it
    // does.
    await expect(
      artifacts.locator(
        'tr[data-name="predictions"] .jp-mltrack-compare-table-changes'
      )
    ).toHaveText('1 of 3 rows differ: pred 1');
    const figures = artifacts.locator(
      '.jp-mltrack-compare-artifact[data-name="loss-curve"] .jp-mltrack-compare-artifact-image'
    );
    await expect(figures).toHaveCount(4);
    const baselineId = await row(2).getAttribute('data-run-id');
    await expect(figures.first()).toHaveAttribute('data-run-id', baselineId!);
    const images = figures.locator('img');
    await expect(images).toHaveCount(2);
    const boxes = [];
    for (const image of [images.nth(0), images.nth(1)]) {
      await expect(image).toBeVisible();
      await expect
        .poll(() => image.evaluate(el => (el as HTMLImageElement).naturalWidth))
        .toBeGreaterThan(0);
      boxes.push((await image.boundingBox())!);
    }
    // Side by side: level with each other, the baseline's on the left.
    expect(Math.abs(boxes[0].y - boxes[1].y)).toBeLessThan(2);
    expect(boxes[1].x).toBeGreaterThanOrEqual(boxes[0].x + boxes[0].width);
    // A plotly figure is drawn by the plotly renderer, side by side too.
    await expect(
      artifacts.locator(
        '.jp-mltrack-compare-artifact[data-name="loss-plotly"] .jp-mltrack-compare-artifact-image .js-plotly-plot'
      )
    ).toHaveCount(2, { timeout: 30000 });
    await figures.first().scrollIntoViewIfNeeded();
    await shot(page, testInfo, 'compare-artifacts');

    // The series: one row, the runs' images side by side at the slider's
    // step; #2 (every 10 steps) shows its latest step before 15.
    const series = artifacts.locator(
      '.jp-mltrack-compare-artifact[data-name="samples"]'
    );
    await expect(series).toHaveAttribute('data-view', 'series');
    await expect(series).toHaveAttribute('data-step', '15');
    const cells = series.locator('.jp-mltrack-compare-artifact-image');
    await expect(cells).toHaveCount(4);
    const captions = cells.locator('.jp-mltrack-compare-artifact-caption');
    await expect(captions).toHaveText([
      'step 10 (latest before 15)',
      'step 15',
      'not logged',
      'not logged'
    ]);
    const samples = cells.locator('img');
    await expect(samples).toHaveCount(2);
    await expect
      .poll(() =>
        samples.nth(1).evaluate(el => (el as HTMLImageElement).naturalWidth)
      )
      .toBe(40);
    const seriesSlider = series.locator(
      'input.jp-mltrack-compare-series-slider'
    );
    await seriesSlider.focus();
    await page.keyboard.press('Home');
    await expect(series).toHaveAttribute('data-step', '0');
    await expect(captions).toHaveText([
      'step 0',
      'step 0',
      'not logged',
      'not logged'
    ]);
    await expect(cells.nth(1)).toHaveAttribute('data-step', '0');
    await series.scrollIntoViewIfNeeded();
    await shot(page, testInfo, 'compare-series');

    // Why?: acc between the baseline #2 and the planted #4 is explained by
    // the changed line.
    await showTab(view, 'Why?');
    const why = view.locator('.jp-mltrack-compare-why');
    await expect(why).toBeVisible();
    await why.locator('.jp-mltrack-compare-why-metric').selectOption('acc');
    await why
      .locator('.jp-mltrack-compare-why-a')
      .selectOption({ label: '#2' });
    await why
      .locator('.jp-mltrack-compare-why-b')
      .selectOption({ label: '#4' });
    await why.locator('.jp-mltrack-compare-why-explain').click();
    await expect(why.locator('.jp-mltrack-compare-why-headline')).toContainText(
      'from #2 to #4'
    );
    const first = why.locator('.jp-mltrack-compare-factor').first();
    await expect(first).toBeVisible({ timeout: 30000 });
    await expect(first).toHaveAttribute('data-kind', 'code');
    await expect(first).toContainText('0.05');
    await shot(page, testInfo, 'compare-why');

    expect(errors).toEqual([]);
  });

  test('opens a comparison of 10 runs (time reported)', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);
    // Ten runs, each with two parameters and two metrics of 200 steps.
    await openNotebook(page, `${tmpPath}/mltrack-compare-ten.ipynb`, [
      [
        '%load_ext jupyter_mltrack',
        'import math',
        'for i in range(10):',
        '    lr = 10 ** -(1 + i / 3)',
        '    with mltrack.start_run(f"ten-{i}", params={"lr": lr, "depth": 2 + i % 3}):',
        '        for step in range(200):',
        '            decay = math.exp(-step * lr)',
        '            mltrack.log_metrics({"loss": decay, "acc": 1 - decay / 2}, step=step)'
      ].join('\n')
    ]);
    await runCells(page, 0, 0);

    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.jp-mltrack-run-row')).toHaveCount(10, {
      timeout: 10000
    });
    await sidebar.locator('.jp-mltrack-select-all').click();
    const button = sidebar.locator('.jp-mltrack-compare-button');
    await expect(button).toHaveText('Compare (10)');

    // Timed in the page: from the click to the overview table on screen
    // (in the DOM, then the next frame painted). Three times: the first
    // open, then two more after closing the tab.
    const table = page.locator('.jp-mltrack-compare .jp-mltrack-compare-table');
    const times: { shown: number; inserted: number }[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) {
        await page.evaluate(async () => {
          await window.jupyterapp.commands.execute('application:close');
        });
        await expect(page.locator('.jp-mltrack-compare')).toHaveCount(0);
      }
      await page.evaluate(() => {
        const timing: { [key: string]: number } = {};
        (window as any).__mltrackCompareTiming = timing;
        const button = document.querySelector('.jp-mltrack-compare-button')!;
        button.addEventListener(
          'click',
          () => {
            timing.click = performance.now();
          },
          { capture: true, once: true }
        );
        const observer = new MutationObserver(() => {
          const found = document.querySelector<HTMLElement>(
            '.jp-mltrack-compare .jp-mltrack-compare-table'
          );
          if (timing.click !== undefined && found && found.offsetParent) {
            observer.disconnect();
            timing.inserted = performance.now();
            requestAnimationFrame(() => {
              timing.painted = performance.now();
            });
          }
        });
        observer.observe(document.body, { childList: true, subtree: true });
      });
      await button.click();
      await expect(table).toBeVisible();
      await expect(
        table.locator('thead .jp-mltrack-compare-run-header')
      ).toHaveCount(10);
      await page.waitForFunction(
        () => (window as any).__mltrackCompareTiming.painted !== undefined
      );
      const timing = await page.evaluate(
        () => (window as any).__mltrackCompareTiming
      );
      times.push({
        shown: Math.round(timing.painted - timing.click),
        inserted: Math.round(timing.inserted - timing.click)
      });
    }
    const shown = times.map(t => t.shown);
    const median = [...shown].sort((a, b) => a - b)[1];
    const report =
      `compare tab with 10 runs: overview table shown ${shown.join(' / ')} ms ` +
      `after clicking Compare (median ${median} ms; in the DOM after ` +
      `${times.map(t => t.inserted).join(' / ')} ms)`;
    console.log(report);
    testInfo.annotations.push({ type: 'timing', description: report });
    await shot(page, testInfo, 'compare-ten-runs');
    expect(errors).toEqual([]);
  });

  test('shows the notebook widget of mltrack.compare once', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);
    await openNotebook(page, `${tmpPath}/mltrack-compare-widget.ipynb`, [
      '%load_ext jupyter_mltrack',
      trainingCell('0.1'),
      trainingCell('0.01', true),
      'mltrack.compare(1, 2, metric="acc")'
    ]);
    await runCells(page, 0, 3);

    // The notebook is windowed: ask Galata for the cell rather than the DOM.
    const cell = (await page.notebook.getCellLocator(3))!;
    const output = cell.locator('.jp-OutputArea-output');
    const widget = output.locator('.jp-mltrack-compare-widget');
    await expect(widget).toHaveCount(1, { timeout: 30000 });
    await expect(widget).toBeVisible();
    // Shown once: the widget, not also its static HTML fallback.
    await expect(output).toHaveCount(1);
    await expect(output.locator('.jp-mltrack-compare-static')).toHaveCount(0);
    await expect(widget.locator('.jupyter-widgets').first()).toBeVisible();
    await expect(widget).toContainText('lr');
    await widget.scrollIntoViewIfNeeded();
    await shot(page, testInfo, 'compare-widget');
    // Its Charts tab draws plotly's FigureWidget.
    await widget.getByRole('tab', { name: 'Charts' }).click();
    await expect(widget.locator('.js-plotly-plot').first()).toBeVisible({
      timeout: 30000
    });
    await shot(page, testInfo, 'compare-widget-charts');
    expect(errors).toEqual([]);
  });
});
