import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { emptyNotebook, openUploaded } from './notebooks';
import { openSidebar, shot } from './sidebar';

/**
 * End to end: a %%track cell becomes a run that shows up in the Runs
 * sidebar within seconds, opens in a detail panel and renders a run card.
 */

const NOTEBOOK = 'mltrack-demo.ipynb';

const TRACKED_CELL =
  '%%track demo\nalpha = 0.5\nmltrack.log_metric("acc", 0.9)';

const EMPTY_NOTEBOOK = emptyNotebook('load-ext');

/** Load the extension and run the tracked cell in the active notebook. */
async function runTrackedCell(page: IJupyterLabPageFixture): Promise<void> {
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_mltrack');
  await page.notebook.addCell('code', TRACKED_CELL);
  await page.notebook.runCell(0);
  await page.notebook.runCell(1);
}

test.describe('jupyter-mltrack', () => {
  test('tracks a cell, lists it in the sidebar and shows its detail', async ({
    page,
    tmpPath
  }, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', error => pageErrors.push(error.message));
    const consoleErrors: string[] = [];
    page.on('console', message => {
      if (message.type() === 'error' && /mltrack/i.test(message.text())) {
        consoleErrors.push(message.text());
      }
    });

    // A notebook that has its final name before its kernel starts.
    const path = `${tmpPath}/${NOTEBOOK}`;
    await openUploaded(page, path, EMPTY_NOTEBOOK);

    await runTrackedCell(page);

    // The run card under the tracked cell, rendered by our mime renderer.
    const card = page.locator('.jp-mltrack-card');
    await expect(card).toHaveCount(1);
    await expect(card.locator('.jp-mltrack-card-name')).toHaveText('demo');
    await expect(card.locator('.jp-mltrack-status')).toHaveText('finished');
    await expect(
      card.locator(
        '.jp-mltrack-card-metric[data-metric="acc"] .jp-mltrack-card-metric-value'
      )
    ).toHaveText('0.9');
    await card.screenshot({ path: testInfo.outputPath('run-card.png') });

    // The sidebar lists the run of the active notebook within a few seconds.
    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.jp-mltrack-scope-value')).toHaveText(
      NOTEBOOK
    );
    const row = sidebar.locator('.jp-mltrack-run-row');
    await expect(row).toHaveCount(1, { timeout: 5000 });
    await expect(row.locator('.jp-mltrack-col-name')).toHaveText('demo');
    await expect(row.locator('.jp-mltrack-status')).toHaveText('finished');
    await expect(row.locator('td[data-metric="acc"]')).toHaveText('0.9');
    await page.screenshot({ path: testInfo.outputPath('sidebar.png') });

    // Its detail: params, metrics and code.
    await row.click();
    const detail = page.locator('.jp-mltrack-detail');
    await expect(detail).toBeVisible();
    await expect(detail.locator('.jp-mltrack-detail-name')).toHaveText('demo');
    await expect(
      detail.locator(
        '.jp-mltrack-params tr[data-key="alpha"] .jp-mltrack-value'
      )
    ).toHaveText('0.5');
    await expect(
      detail.locator(
        '.jp-mltrack-metrics tr[data-metric="acc"] .jp-mltrack-value'
      )
    ).toHaveText('0.9');
    await expect(detail.locator('.jp-mltrack-code-text')).toContainText(
      'alpha = 0.5'
    );
    await page.screenshot({ path: testInfo.outputPath('detail.png') });

    // A second tracked cell appears in the open sidebar without any click,
    // and its card shows the delta against the best earlier run.
    await page.notebook.activate(NOTEBOOK);
    await page.notebook.addCell(
      'code',
      '%%track second\nmltrack.log_metric("acc", 0.95)'
    );
    const last = (await page.notebook.getCellCount()) - 1;
    await page.notebook.runCell(last);
    // The promise: listed within 2 s of the cell finishing.
    await expect(row).toHaveCount(2, { timeout: 2000 });
    await expect(row.first().locator('.jp-mltrack-col-name')).toHaveText(
      'second'
    );
    await expect(
      page.locator('.jp-mltrack-card').nth(1).locator('.jp-mltrack-delta')
    ).toHaveText('\u25b2 +0.05');

    // Clicking a card's run number opens that run's detail.
    await page
      .locator('.jp-mltrack-card')
      .nth(1)
      .locator('.jp-mltrack-card-number')
      .click();
    await expect(
      page.locator('.jp-mltrack-detail .jp-mltrack-detail-name')
    ).toHaveText(['demo', 'second']);
    await page.screenshot({ path: testInfo.outputPath('second.png') });

    // Notes and tags are saved with PATCH; the sidebar follows.
    const secondId = await page
      .locator('.jp-mltrack-detail:visible')
      .getAttribute('data-run-id');
    const second = page.locator(
      `.jp-mltrack-detail[data-run-id="${secondId}"]`
    );
    await second.locator('.jp-mltrack-note-input').fill('better acc');
    await second.locator('.jp-mltrack-tags-input').fill('candidate, lr=0.1');
    await second.locator('.jp-mltrack-save').click();
    await expect(second.locator('.jp-mltrack-tag')).toHaveText([
      'candidate',
      'lr=0.1'
    ]);
    await expect(second.locator('.jp-mltrack-note-input')).toHaveValue(
      'better acc'
    );

    // Delete asks for confirmation, then the run leaves the list.
    await second.locator('.jp-mltrack-delete').click();
    await page.locator('.jp-Dialog .jp-mod-warn').click();
    await expect(second).toHaveCount(0);
    await expect(row).toHaveCount(1, { timeout: 5000 });
    await expect(row.locator('.jp-mltrack-col-name')).toHaveText('demo');

    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  test('a run card says when the store cannot be written', async ({
    page,
    tmpPath
  }, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', error => pageErrors.push(error.message));

    await openUploaded(
      page,
      `${tmpPath}/mltrack-spooled.ipynb`,
      EMPTY_NOTEBOOK
    );
    // a team store nobody answers for (nothing listens on port 9): the cell still runs,
    // its run is kept in the local spool, and the card says so
    await page.notebook.setCell(
      0,
      'code',
      [
        '%load_ext jupyter_mltrack',
        '%mltrack store postgresql://mltrack@127.0.0.1:9/away'
      ].join('\n')
    );
    await page.notebook.addCell('code', '%%track offline\nacc = 0.75\nacc');
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);

    const card = page.locator('.jp-mltrack-card');
    await expect(card).toHaveCount(1);
    await expect(card.locator('.jp-mltrack-card-number')).toHaveText('#?');
    await expect(card.locator('.jp-mltrack-card-spooled')).toContainText(
      'Not in the store yet'
    );
    await expect(card.locator('.jp-mltrack-card-spooled')).toContainText(
      'mltrack sync'
    );
    // the cell's own result is there as without tracking
    await expect(
      page.locator('.jp-OutputArea-executeResult').first()
    ).toContainText('0.75');
    await card.screenshot({
      path: testInfo.outputPath('run-card-spooled.png')
    });
    expect(pageErrors).toEqual([]);
  });

  test('lists the data a run read and previews its first rows', async ({
    page,
    tmpPath
  }, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', error => pageErrors.push(error.message));

    await openUploaded(page, `${tmpPath}/mltrack-data.ipynb`, EMPTY_NOTEBOOK);
    await page.notebook.setCell(
      0,
      'code',
      [
        '%load_ext jupyter_mltrack',
        'import pandas as pd',
        'df = pd.DataFrame({"city": ["Paris", "Oslo", None, "Lima"],',
        '                   "temp": [21.5, float("nan"), -3.0, 18.25]})',
        'with open("notes.txt", "w") as f:',
        '    f.write("hello mltrack\\n")'
      ].join('\n')
    );
    await page.notebook.addCell(
      'code',
      [
        '%%track weather',
        'mltrack.log_metric("mean_temp", df["temp"].mean())',
        'with open("notes.txt") as f:',
        '    notes = f.read()'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);
    await expect(page.locator('.jp-mltrack-card')).toHaveCount(1);

    const sidebar = await openSidebar(page);
    const row = sidebar.locator('.jp-mltrack-run-row');
    await expect(row).toHaveCount(1, { timeout: 5000 });
    await expect(row.locator('.jp-mltrack-status')).toHaveText('finished');
    await row.click();

    // The run detail lists df as the run's input: kind, shape, digest, status.
    const detail = page.locator('.jp-mltrack-detail');
    await expect(detail.locator('.jp-mltrack-detail-name')).toHaveText(
      'weather'
    );
    const inputs = detail.locator('.jp-mltrack-inputs .jp-mltrack-data-row');
    // The variable, read before the cell ran, then the file the cell opened.
    await expect(inputs.locator('.jp-mltrack-data-name')).toHaveText([
      'df',
      'notes.txt'
    ]);
    const input = inputs.first();
    await expect(input.locator('.jp-mltrack-data-name')).toHaveText('df');
    await expect(input.locator('.jp-mltrack-data-kind')).toHaveText(
      'dataframe'
    );
    await expect(input.locator('.jp-mltrack-data-shape')).toHaveText(
      '4 \u00d7 2'
    );
    await expect(input.locator('.jp-mltrack-snapshot-status')).toHaveText(
      'complete'
    );
    const digest = (await input.getAttribute('data-digest')) ?? '';
    expect(digest).toMatch(/^xxh3-128:[0-9a-f]{32}$/);
    await expect(input.locator('.jp-mltrack-data-digest')).toHaveText(
      digest.slice('xxh3-128:'.length, 'xxh3-128:'.length + 12)
    );
    await expect(
      detail.locator('.jp-mltrack-data-outputs .jp-mltrack-muted')
    ).toHaveText('No datasets written.');

    // Clicking it previews its rows, fetched from the rows endpoint.
    await input.click();
    const preview = detail.locator('.jp-mltrack-data-preview');
    await expect(preview).toHaveCount(1);
    await expect(preview.locator('.jp-mltrack-preview-caption')).toHaveText(
      'Rows 1\u20134 of 4'
    );
    const table = preview.locator('.jp-mltrack-preview-table');
    await expect(table.locator('thead th')).toHaveText(['', 'city', 'temp']);
    const cells = table.locator('tbody tr');
    await expect(cells).toHaveCount(4);
    await expect(cells.nth(0).locator('th, td')).toHaveText([
      '0',
      'Paris',
      '21.5'
    ]);
    await expect(cells.nth(1).locator('th, td')).toHaveText([
      '1',
      'Oslo',
      'NA'
    ]);
    await expect(cells.nth(2).locator('th, td')).toHaveText([
      '2',
      'NA',
      '-3.0'
    ]);
    await expect(cells.nth(3).locator('td')).toHaveText(['Lima', '18.25']);
    await expect(cells.nth(1).locator('td.jp-mltrack-cell-null')).toHaveCount(
      1
    );
    await expect(preview.locator('.jp-mltrack-preview-next')).toBeDisabled();
    await preview.scrollIntoViewIfNeeded();
    await page.screenshot({ path: testInfo.outputPath('data-preview.png') });

    // Clicking it again closes the preview.
    await input.click();
    await expect(preview).toHaveCount(0);

    // A file has no rows: its preview names it and gives its size.
    const file = inputs.nth(1);
    await expect(file.locator('.jp-mltrack-data-kind')).toHaveText('file');
    await expect(file.locator('.jp-mltrack-data-shape')).toHaveText('14 B');
    await file.click();
    const described = preview.locator('.jp-mltrack-data-file');
    await expect(described.locator('div').first()).toHaveText(
      'File notes.txt \u00b7 14 B'
    );
    // ...and where it was read from.
    await expect(described.locator('.jp-mltrack-data-file-path')).toHaveText(
      /^\/.+\/notes\.txt$/
    );
    expect(pageErrors).toEqual([]);
  });

  test('lists the runs of a notebook renamed after its kernel started', async ({
    page
  }, testInfo) => {
    // createNew makes "Untitled.ipynb", starts its kernel, then renames it.
    await page.notebook.createNew(NOTEBOOK);
    await runTrackedCell(page);
    await expect(page.locator('.jp-mltrack-card')).toHaveCount(1);

    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.jp-mltrack-scope-value')).toHaveText(
      NOTEBOOK
    );
    await expect(sidebar.locator('.jp-mltrack-run-row')).toHaveCount(1, {
      timeout: 5000
    });
    await page.screenshot({ path: testInfo.outputPath('renamed.png') });
  });
});
