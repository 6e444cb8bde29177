import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { emptyNotebook, openUploaded } from './notebooks';
import { closeNotifications } from './sidebar';

/**
 * "Export to pipeline" end to end: the notebook toolbar button, the File
 * menu and a run's context menu in the sidebar write pipeline.py,
 * params.yaml and requirements.txt beside the notebook (asking before
 * overwriting them) and open pipeline.py.
 */

/** Two tracked runs with nothing in common: each export shows which one it is. */
const FIRST_RUN =
  '%%track first\nalpha = 0.5\nmltrack.log_metric("acc", alpha * 2)';
const SECOND_RUN =
  '%%track second\nbeta = 3\nmltrack.log_metric("loss", beta + 1)';

const EMPTY_NOTEBOOK = emptyNotebook('first');

const EXPORT_BUTTON =
  '.jp-NotebookPanel-toolbar [data-command="mltrack:export-notebook"]';

/** Upload a notebook, open it and run `cells` (the first one fills cell 0). */
async function openAndRun(
  page: IJupyterLabPageFixture,
  path: string,
  cells: string[]
): Promise<string> {
  const name = await openUploaded(page, path, EMPTY_NOTEBOOK);
  await page.notebook.setCell(0, 'code', cells[0]);
  for (const source of cells.slice(1)) {
    await page.notebook.addCell('code', source);
  }
  for (let i = 0; i < cells.length; i++) {
    await page.notebook.runCell(i);
  }
  return name;
}

/** pipeline.py is open in front, showing the generated script. */
async function expectPipelineOpen(
  page: IJupyterLabPageFixture,
  text: string,
  absent: string[] = []
): Promise<void> {
  const tab = page.activity.getTabLocator('pipeline.py');
  await expect(tab).toBeVisible();
  await expect(tab).toHaveClass(/jp-mod-current/);
  const editor = page.locator('.jp-FileEditor:visible .cm-content');
  await expect(editor).toContainText('def run(');
  await expect(editor).toContainText(text);
  for (const other of absent) {
    await expect(editor).not.toContainText(other);
  }
}

/** A text file's content, through the contents API. */
async function readFile(
  page: IJupyterLabPageFixture,
  path: string
): Promise<string> {
  const response = await page.request.get(
    `/api/contents/${path}?type=file&format=text&content=1`
  );
  expect(response.ok()).toBe(true);
  return (await response.json()).content as string;
}

/** The success notification says what was exported. */
async function expectNotice(page: IJupyterLabPageFixture, text: string) {
  await expect(
    page.locator('.jp-Notification-Toast-success').first()
  ).toContainText(text);
}

/** Answer the overwrite dialog with Overwrite. */
async function confirmOverwrite(page: IJupyterLabPageFixture) {
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-Dialog-header')).toHaveText('Overwrite?');
  await dialog.locator('.jp-mod-warn').click();
  await expect(dialog).toHaveCount(0);
}

test.describe('export to pipeline', () => {
  test('the toolbar exports the latest run, asks before overwriting; the sidebar exports a given run', async ({
    page,
    tmpPath
  }, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', error => pageErrors.push(error.message));

    const path = `${tmpPath}/export-demo.ipynb`;
    const name = await openAndRun(page, path, [
      '%load_ext jupyter_mltrack',
      FIRST_RUN,
      SECOND_RUN
    ]);
    await expect(page.locator('.jp-mltrack-card')).toHaveCount(2);

    // The toolbar button exports the latest run: the files appear beside
    // the notebook and pipeline.py opens.
    const button = page.locator(EXPORT_BUTTON);
    await expect(button).toBeEnabled();
    await expect(button).toHaveAttribute('title', /^Export to pipeline/);
    await button.click();
    await expectPipelineOpen(page, 'beta', ['alpha']);
    expect(await readFile(page, `${tmpPath}/params.yaml`)).toMatch(
      /^beta: 3$/m
    );
    expect(await page.contents.fileExists(`${tmpPath}/requirements.txt`)).toBe(
      true
    );
    await expectNotice(
      page,
      `Exported run #2 "second" to pipeline.py in ${tmpPath}/`
    );
    await page.screenshot({ path: testInfo.outputPath('exported.png') });
    await closeNotifications(page);

    // Clicking again: the files exist, so the user is asked first.
    await page.notebook.activate(name);
    await page.locator(EXPORT_BUTTON).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText('Overwrite?');
    await expect(dialog.locator('.jp-Dialog-body')).toHaveText(
      `pipeline.py, params.yaml and requirements.txt already exist in ${tmpPath}. Overwrite them with the exported pipeline?`
    );
    await page.screenshot({ path: testInfo.outputPath('overwrite.png') });

    // Cancel leaves everything as it is...
    await page.contents.uploadContent(
      'kept: 1\n',
      'text',
      `${tmpPath}/params.yaml`
    );
    await dialog.locator('.jp-mod-reject').click();
    await expect(dialog).toHaveCount(0);
    await expect(page.locator('.jp-Notification-Toast-success')).toHaveCount(0);
    expect(await readFile(page, `${tmpPath}/params.yaml`)).toBe('kept: 1\n');

    // ...Overwrite writes the files again and shows pipeline.py.
    await page.notebook.activate(name);
    await page.locator(EXPORT_BUTTON).click();
    await confirmOverwrite(page);
    await expectPipelineOpen(page, 'beta', ['alpha']);
    await expectNotice(page, 'Exported run #2 "second"');
    expect(await readFile(page, `${tmpPath}/params.yaml`)).toMatch(
      /^beta: 3$/m
    );
    await closeNotifications(page);

    // A run's context menu in the sidebar exports that run, not the latest;
    // the open pipeline.py shows the new script.
    await page.notebook.activate(name);
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('mltrack:open-sidebar');
    });
    const rows = page.locator('#jp-mltrack-sidebar .jp-mltrack-run-row');
    await expect(rows).toHaveCount(2);
    const first = rows.and(page.locator('[data-run-number="1"]'));
    await first.click({ button: 'right' });
    await page
      .locator('.lm-Menu-itemLabel', { hasText: 'Export Run to Pipeline' })
      .click();
    await confirmOverwrite(page);
    await expectPipelineOpen(page, 'alpha', ['beta']);
    await expectNotice(page, 'Exported run #1 "first"');
    expect(await readFile(page, `${tmpPath}/params.yaml`)).toMatch(
      /^alpha: 0.5$/m
    );
    await closeNotifications(page);

    // The run's detail has an Export button too.
    const second = rows.and(page.locator('[data-run-number="2"]'));
    await second.click();
    const exportButton = page.locator('.jp-mltrack-detail .jp-mltrack-export');
    await expect(exportButton).toBeVisible();
    await exportButton.click();
    await confirmOverwrite(page);
    await expectPipelineOpen(page, 'beta', ['alpha']);
    await expectNotice(page, 'Exported run #2 "second"');

    expect(pageErrors).toEqual([]);
  });

  test('File menu: without a tracked run, asks which variables to export', async ({
    page,
    tmpPath
  }, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', error => pageErrors.push(error.message));

    const path = `${tmpPath}/untracked.ipynb`;
    await openAndRun(page, path, [
      '%load_ext jupyter_mltrack',
      'base = 40\nanswer = base + 2',
      'noise = "not needed"'
    ]);

    await page.menu.clickMenuItem('File>Export to Pipeline');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Export to Pipeline'
    );
    await expect(dialog).toContainText('No tracked run');
    const input = dialog.locator('input');
    await expect(input).toHaveValue('');

    // A name that is not a variable is refused in the dialog itself.
    await input.fill('answer, 2x');
    await dialog.locator('.jp-mod-accept').click();
    await expect(page.locator('.jp-Dialog')).toContainText(
      '"2x" is not a variable name'
    );
    await expect(page.locator('.jp-Dialog input')).toHaveValue('answer, 2x');
    await page.locator('.jp-Dialog input').fill('answer');
    await page.screenshot({ path: testInfo.outputPath('targets.png') });
    await page.locator('.jp-Dialog .jp-mod-accept').click();

    await expectPipelineOpen(page, 'answer = base + 2', ['not needed']);
    await expectNotice(page, `Exported answer to pipeline.py in ${tmpPath}/`);
    expect(pageErrors).toEqual([]);
  });

  test('a notebook that never loaded the extension gets an error dialog', async ({
    page,
    tmpPath
  }) => {
    const path = `${tmpPath}/plain.ipynb`;
    await openAndRun(page, path, ['x = 1']);
    await page.locator(EXPORT_BUTTON).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Cannot export to pipeline'
    );
    await expect(dialog.locator('.jp-Dialog-body')).toContainText(
      "run '%load_ext jupyter_mltrack' in the notebook"
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);
    expect(await page.contents.fileExists(`${tmpPath}/pipeline.py`)).toBe(
      false
    );
  });

  test('command palette: a run the slice refuses gets an error dialog with the line', async ({
    page,
    tmpPath
  }, testInfo) => {
    const path = `${tmpPath}/shell.ipynb`;
    await openAndRun(page, path, [
      '%load_ext jupyter_mltrack',
      'files = !ls',
      '%%track listing\nn = len(files)\nmltrack.log_metric("n", n)'
    ]);
    await expect(page.locator('.jp-mltrack-card')).toHaveCount(1);

    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('.jp-ModalCommandPalette');
    await expect(palette).toBeVisible();
    await palette.locator('input').fill('Export to Pipeline');
    const item = palette.locator('.lm-CommandPalette-item', {
      hasText: 'Export to Pipeline'
    });
    await expect(item).toHaveCount(1);
    await expect(item).toHaveAttribute(
      'data-command',
      'mltrack:export-notebook'
    );
    await item.click();

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Cannot export to pipeline'
    );
    const body = dialog.locator('.jp-Dialog-body');
    await expect(body).toContainText('files = !ls');
    await expect(body).toContainText('shell command');
    await page.screenshot({ path: testInfo.outputPath('refused.png') });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);
    expect(await page.contents.fileExists(`${tmpPath}/pipeline.py`)).toBe(
      false
    );
  });
});
