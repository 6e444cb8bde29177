import { expect, test } from '@jupyterlab/galata';

import { seedStore } from './notebooks';
import { collectErrors, openSidebar, shot } from './sidebar';

/**
 * Named, versioned datasets in JupyterLab (issue 16 §1): the Datasets view
 * opened from the foot of the Runs sidebar lists the datasets, a dataset's
 * versions with their tags, message, author and the runs that read them; a
 * version shows its manifest and a preview of its rows; two checked
 * versions show what changed; @gold moves from one version to another in
 * one confirmed action; a run that read a version by name shows it among
 * its inputs.
 */

/**
 * Seeded straight into the test server's store, as a notebook would:
 * team/churn v1 (12 rows, "march", @v1) then v2 (15 rows, "april", @gold,
 * latest); team/scores, a CSV file; run #1 of "train" read v1 by name.
 */
const SEED = [
  'import os, time',
  'import pandas as pd',
  'import jupyter_mltrack as mltrack',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'store, nb, kid, now = get_store(), notebook_path(), kernel_id(), time.time()',
  'frame = pd.DataFrame({"customer": [f"c{i:02d}" for i in range(15)],',
  '                      "tenure": [3 * i + 1 for i in range(15)],',
  '                      "churned": [i % 4 == 0 for i in range(15)]})',
  'os.environ["MLTRACK_AUTHOR"] = "ann"',
  'v1 = mltrack.datasets.push(frame.iloc[:12], "team/churn", message="march export",',
  '                           meta={"source": "crm"}, tag="v1")',
  'os.environ["MLTRACK_AUTHOR"] = "bo"',
  'v2 = mltrack.datasets.push(frame, "team/churn", message="april export",',
  '                           meta={"source": "crm", "month": 4}, tag="gold")',
  'open("scores.csv", "w").write("id,score\\n1,0.5\\n2,0.7\\n")',
  'mltrack.datasets.push("scores.csv", "team/scores", message="raw scores")',
  'run = store.create_run("train", name="fit", notebook_path=nb, kernel_id=kid,',
  '                       data=[("input", "team/churn", v1.snapshot_digest, None, v1.ref)])',
  'store.finish_run(run.id, "finished")',
  'print("seeded", v1.short, v2.short)'
].join('\n');

test.describe('datasets', () => {
  test.use({ viewport: { width: 1400, height: 950 } });

  test('lists versions, previews rows, diffs two and moves a tag', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);

    await seedStore(page, `${tmpPath}/mltrack-datasets.ipynb`, [SEED]);
    const seeded = await page
      .locator('.jp-OutputArea-output')
      .first()
      .textContent();
    const [, v1, v2] = (seeded ?? '').trim().split(/\s+/);
    expect(v1).toMatch(/^[0-9a-f]{12}$/);

    // The Datasets view, from the foot of the Runs sidebar.
    const sidebar = await openSidebar(page);
    await sidebar.locator('.jp-mltrack-datasets-open').click();
    const view = page.locator('#jp-mltrack-datasets');
    await expect(view).toBeVisible();
    await expect(view.locator('.jp-mltrack-datasets-count')).toHaveText(
      '2 datasets'
    );
    const datasets = view.locator('.jp-mltrack-dataset-row');
    await expect(datasets).toHaveCount(2);
    const churnRow = view.locator(
      '.jp-mltrack-dataset-row[data-dataset="team/churn"]'
    );
    await expect(churnRow).toHaveClass(/jp-mod-selected/);
    await expect(churnRow.locator('.jp-mltrack-dataset-row-tags')).toHaveText(
      '@gold @v1'
    );

    // Its versions, newest first.
    const versions = view.locator('.jp-mltrack-dataset-version-row');
    await expect(versions).toHaveCount(2);
    const first = versions.nth(0);
    const older = versions.nth(1);
    await expect(first.locator('.jp-mltrack-dataset-hash')).toHaveText(v2);
    await expect(first.locator('.jp-mltrack-dataset-tags')).toHaveText(
      '@gold\u00d7latest'
    );
    await expect(first.locator('.jp-mltrack-dataset-message')).toHaveText(
      'april export'
    );
    await expect(first.locator('.jp-mltrack-dataset-pushed')).toContainText(
      'by bo'
    );
    await expect(first.locator('.jp-mltrack-dataset-shape')).toHaveText(
      '15 \u00d7 3'
    );
    await expect(first.locator('.jp-mltrack-dataset-runs')).toHaveText(
      'no runs'
    );
    await expect(older.locator('.jp-mltrack-dataset-hash')).toHaveText(v1);
    await expect(older.locator('.jp-mltrack-dataset-runs')).toHaveText(
      '#1 (train)'
    );

    // A version: its manifest, meta and the preview of its rows.
    await older.click();
    await expect(older).toHaveClass(/jp-mod-selected/);
    const version = view.locator('.jp-mltrack-dataset-version');
    await expect(
      version.locator('.jp-mltrack-dataset-manifest .jp-mltrack-section-title')
    ).toHaveText(`Version ${v1}`);
    await expect(version.locator('dd[data-fact="Tags"]')).toHaveText('@v1');
    await expect(version.locator('dd[data-fact="Message"]')).toHaveText(
      'march export'
    );
    await expect(
      version.locator('.jp-mltrack-dataset-meta tr[data-key="source"]')
    ).toContainText('crm');
    const preview = version.locator('.jp-mltrack-dataset-rows');
    await expect(preview.locator('.jp-mltrack-preview-caption')).toHaveText(
      'Rows 1\u201312 of 12'
    );
    await expect(preview.locator('thead th')).toHaveText([
      '',
      'customer',
      'tenure',
      'churned'
    ]);
    await expect(preview.locator('tbody tr').nth(4)).toHaveText('4c0413True');
    await expect(
      version.locator('.jp-mltrack-dataset-used-by .jp-mltrack-dataset-run')
    ).toHaveText('#1 (train)');

    // Two versions checked: what changed from the older to the newer.
    await first.locator('.jp-mltrack-dataset-diff-check').check();
    await older.locator('.jp-mltrack-dataset-diff-check').check();
    const diff = view.locator('.jp-mltrack-dataset-diff-box');
    await expect(
      diff.locator('.jp-mltrack-compare-snapshot-diff-title')
    ).toHaveText(
      `${v1} (march export) \u2192 ${v2} (april export) \u00b7 dataframe`
    );
    await expect(diff).toContainText('Rows 12 \u2192 15 (+3), 3 appended');
    await expect(diff.locator('.jp-mltrack-dataset-meta-diff')).toContainText(
      '{"source":"crm"} \u2192 {"month":4,"source":"crm"}'
    );
    await shot(view, testInfo, 'datasets-diff');

    // Moving @gold from the newer version to the older: one confirmed action.
    await older.locator('.jp-mltrack-dataset-tag-button').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('input')).toHaveValue('gold');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      `Move @gold from ${v2} to ${v1}?`
    );
    await expect(dialog).toContainText(
      `team/churn@gold will get ${v1} ("march export", by ann) instead of ${v2} ("april export", by bo).`
    );
    await shot(page, testInfo, 'datasets-tag-confirm');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    const moved = view.locator(
      '.jp-mltrack-dataset-version-row:nth-child(2) .jp-mltrack-dataset-tag'
    );
    await expect(moved).toHaveText(['@gold\u00d7', '@v1\u00d7']);
    await expect(
      view.locator(
        '.jp-mltrack-dataset-version-row:nth-child(1) .jp-mltrack-dataset-tag'
      )
    ).toHaveCount(0);
    await expect(churnRow.locator('.jp-mltrack-dataset-row-tags')).toHaveText(
      '@gold @v1'
    );
    // The version shown and the diff stay as they were.
    await expect(preview.locator('.jp-mltrack-preview-caption')).toHaveText(
      'Rows 1\u201312 of 12'
    );
    await expect(diff).toContainText('3 appended');
    await shot(view, testInfo, 'datasets-tag-moved');

    // The run that read v1 names it among its inputs.
    await older
      .locator('.jp-mltrack-dataset-runs .jp-mltrack-dataset-run')
      .click();
    const detail = page.locator('.jp-mltrack-detail');
    await expect(detail.locator('.jp-mltrack-detail-name')).toHaveText('fit');
    await expect(
      detail.locator('.jp-mltrack-inputs .jp-mltrack-data-dataset')
    ).toHaveText(`@${v1}`);
    await shot(
      detail.locator('.jp-mltrack-inputs'),
      testInfo,
      'run-input-dataset'
    );

    // Beside the run's detail, narrower: a file version has no rows.
    await expect(view).toBeVisible();
    await view
      .locator('.jp-mltrack-dataset-row[data-dataset="team/scores"]')
      .click();
    await expect(
      view.locator('.jp-mltrack-dataset-rows .jp-mltrack-muted')
    ).toContainText('it has no rows');
    await expect(view.locator('.jp-mltrack-dataset-version-row')).toHaveCount(
      1
    );
    await shot(view, testInfo, 'datasets-file-narrow');

    // A reload of the page brings the view back, on the dataset it showed.
    await view
      .locator('.jp-mltrack-dataset-row[data-dataset="team/churn"]')
      .click();
    await view
      .locator(`.jp-mltrack-dataset-version-row[data-hash*=":${v1}"]`)
      .first()
      .click();
    await expect(
      view.locator('.jp-mltrack-dataset-version-row.jp-mod-selected')
    ).toHaveCount(1);
    // (not waiting for the launcher: the restored layout has none)
    await page.reload({ waitForIsReady: false });
    const restored = page.locator('#jp-mltrack-datasets');
    await expect(restored).toBeVisible();
    await expect(
      restored.locator('.jp-mltrack-dataset-row[data-dataset="team/churn"]')
    ).toHaveClass(/jp-mod-selected/);
    await expect(
      restored.locator(
        '.jp-mltrack-dataset-version-row.jp-mod-selected .jp-mltrack-dataset-hash'
      )
    ).toHaveText(v1);
    await expect(
      restored.locator('.jp-mltrack-dataset-rows .jp-mltrack-preview-caption')
    ).toHaveText('Rows 1\u201312 of 12');
    await shot(page, testInfo, 'datasets-restored');

    expect(errors).toEqual([]);
  });
});
