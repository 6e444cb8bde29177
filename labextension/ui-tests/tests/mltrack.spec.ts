import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

/**
 * End to end: a %%track cell becomes a run that shows up in the Runs
 * sidebar within seconds, opens in a detail panel and renders a run card.
 */

const NOTEBOOK = 'mltrack-demo.ipynb';

const TRACKED_CELL =
  '%%track demo\nalpha = 0.5\nmltrack.log_metric("acc", 0.9)';

/** A notebook with one empty code cell and the default Python kernel. */
const EMPTY_NOTEBOOK = JSON.stringify({
  cells: [
    {
      cell_type: 'code',
      execution_count: null,
      id: 'load-ext',
      metadata: {},
      outputs: [],
      source: []
    }
  ],
  metadata: {
    kernelspec: {
      display_name: 'Python 3 (ipykernel)',
      language: 'python',
      name: 'python3'
    },
    language_info: { name: 'python' }
  },
  nbformat: 4,
  nbformat_minor: 5
});

/** Load the extension and run the tracked cell in the active notebook. */
async function runTrackedCell(page: IJupyterLabPageFixture): Promise<void> {
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_mltrack');
  await page.notebook.addCell('code', TRACKED_CELL);
  await page.notebook.runCell(0);
  await page.notebook.runCell(1);
}

async function openSidebar(page: IJupyterLabPageFixture) {
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('mltrack:open-sidebar');
  });
  const sidebar = page.locator('#jp-mltrack-sidebar');
  await expect(sidebar).toBeVisible();
  return sidebar;
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
    await page.contents.uploadContent(EMPTY_NOTEBOOK, 'text', path);
    await page.notebook.openByPath(path);
    await page.notebook.activate(NOTEBOOK);

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
