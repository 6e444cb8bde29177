import { readFileSync } from 'fs';

import { expect, test } from '@jupyterlab/galata';

import { seedStore } from './notebooks';
import {
  closeNotifications,
  collectErrors,
  openSidebar,
  shot
} from './sidebar';

/**
 * Artifacts and the model registry in JupyterLab (issue 14 §5): a run's
 * detail lists what it logged, previews a text and a matplotlib figure
 * through JupyterLab's renderers and downloads a file; its model is
 * registered from the detail; a plotly figure is drawn by the plotly
 * package's renderer; the sidebar's Models section moves
 * @production from v1 to v2 in one confirmed action, and the detail and the
 * lineage show the move.
 */

/**
 * Three runs of the notebook, seeded straight into the test server's store.
 * "baseline" has a pickled model (unsafe) registered as churn v1, at
 * @production; "eval-prod" (#3) loads models:/churn@production, which
 * records its use of v1; "rf-big"
 * logged a text (named with a '/'), a matplotlib figure and a model, not
 * registered yet, a table of 150 rows, and a series of three images logged
 * at steps 0, 10 and 20. The model artifacts are written directly (a skops file's
 * record), so the test needs no model-format code.
 */
const SEED = [
  'import pickle',
  'import time',
  'import matplotlib',
  'matplotlib.use("Agg")',
  'import matplotlib.pyplot as plt',
  'import jupyter_mltrack as mltrack',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'from jupyter_mltrack.models.artifacts import Source, write_artifact',
  'from jupyter_mltrack.store.entities import MetricPoint',
  'store, nb, kid, now = get_store(), notebook_path(), kernel_id(), time.time()',
  'SKOPS = {"format": "skops", "flavor": "sklearn", "library_version": "1.5", "unsafe": False,',
  '         "untrusted_types": [], "signature": None}',
  'old = store.create_run("models", name="baseline", notebook_path=nb, kernel_id=kid, start_time=now - 100)',
  'PICKLE = {**SKOPS, "format": "pickle", "flavor": "builtins", "library_version": None, "unsafe": True}',
  'write_artifact(store, old.id, "model", "model", [Source("model.pkl", data=pickle.dumps({"coef": 0.5}))], meta=PICKLE)',
  'store.finish_run(old.id, "finished", metrics=[MetricPoint("acc", 0.8, 0, now)])',
  'store.register_model_version("churn", old.id, "model")',
  'store.set_model_alias("churn", "production", 1)',
  'run = store.create_run("models", name="rf-big", notebook_path=nb, kernel_id=kid, start_time=now - 50)',
  'mltrack.log_text("accuracy went up by 4 points\\n", "notes/summary.txt", run=run.id)',
  'fig, ax = plt.subplots(figsize=(3, 2))',
  'ax.plot([0, 0.2, 1], [0, 0.8, 1])',
  'ax.set_title("ROC")',
  'mltrack.log_figure(fig, "roc", run=run.id)',
  'import plotly.graph_objects as go',
  'mltrack.log_figure(go.Figure(go.Bar(x=["a", "b"], y=[3, 1])), "bars", run=run.id)',
  'write_artifact(store, run.id, "model", "model", [Source("model.skops", data=b"rf-big model")], meta=SKOPS)',
  'import numpy as np',
  'ramp = np.linspace(0, 1, 48 * 64).reshape(48, 64)',
  'import pandas as pd',
  'table = pd.DataFrame({"id": range(150), "pred": [i % 3 for i in range(150)], "note": ["<b>x</b>"] * 150})',
  'mltrack.log_table(table, "predictions", run=run.id)',
  'for step in (0, 10, 20):',
  '    mltrack.log_image(ramp ** (1 + step / 5), "samples", step=step, run=run.id)',
  'store.finish_run(run.id, "finished", metrics=[MetricPoint("acc", 0.84, 0, now)])',
  'with mltrack.start_run("eval-prod", experiment="models", notebook_path=nb):',
  '    assert mltrack.load_model("models:/churn@production", trusted=True) == {"coef": 0.5}',
  '    mltrack.log_metric("auc", 0.77)',
  'print("seeded", run.id)'
].join('\n');

/** One run whose model is registered as churn v1, with no description or tags. */
const TAGS_SEED = [
  'import time',
  'from jupyter_mltrack.capture.api import get_store',
  'from jupyter_mltrack.capture.kernelinfo import kernel_id, notebook_path',
  'from jupyter_mltrack.models.artifacts import Source, write_artifact',
  'from jupyter_mltrack.store.entities import MetricPoint',
  'store, now = get_store(), time.time()',
  'run = store.create_run("models", name="rf-tagged", notebook_path=notebook_path(), kernel_id=kernel_id(), start_time=now - 10)',
  'META = {"format": "skops", "flavor": "sklearn", "library_version": "1.5", "unsafe": False,',
  '        "untrusted_types": [], "signature": None}',
  'write_artifact(store, run.id, "model", "model", [Source("model.skops", data=b"rf model")], meta=META)',
  'store.finish_run(run.id, "finished", metrics=[MetricPoint("acc", 0.9, 0, now)])',
  'store.register_model_version("churn", run.id, "model")',
  'print("seeded", run.id)'
].join('\n');

test.describe('artifacts and models', () => {
  test.use({ viewport: { width: 1400, height: 950 } });

  test('previews artifacts, registers a model and moves an alias', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);

    await seedStore(page, `${tmpPath}/mltrack-models.ipynb`, [SEED]);

    const sidebar = await openSidebar(page);
    await page.sidebar.setWidth(480, 'left');
    const runRows = sidebar.locator('.jp-mltrack-run-row');
    await expect(runRows).toHaveCount(3, { timeout: 10000 });

    // The Start column shows its time whole, beside a metric column.
    const start = runRows.first().locator('td.jp-mltrack-col-start-time');
    await expect(start).toHaveText(
      /^(\d\d:\d\d:\d\d|[A-Z][a-z]{2} \d+ \d\d:\d\d)$/
    );
    expect(await start.evaluate(td => td.scrollWidth <= td.clientWidth)).toBe(
      true
    );

    // The run's detail lists its four artifacts and its series of images.
    await runRows.filter({ hasText: 'rf-big' }).click();
    const detail = page.locator('.jp-mltrack-detail');
    await expect(detail.locator('.jp-mltrack-detail-name')).toHaveText(
      'rf-big'
    );
    const section = detail.locator('.jp-mltrack-artifacts');
    const rows = section.locator('.jp-mltrack-artifact-row');
    await expect(rows).toHaveCount(6);
    const row = (name: string) =>
      section.locator(`.jp-mltrack-artifact-row[data-name="${name}"]`);
    await expect(
      row('notes/summary.txt').locator('.jp-mltrack-artifact-kind')
    ).toHaveText('Text');
    await expect(
      row('notes/summary.txt').locator('.jp-mltrack-artifact-size')
    ).toHaveText('29 B');
    await expect(row('roc').locator('.jp-mltrack-artifact-kind')).toHaveText(
      'Figure'
    );
    await expect(row('roc').locator('.jp-mltrack-artifact-count')).toHaveText(
      '2 files'
    );
    await expect(
      row('model').locator('.jp-mltrack-artifact-registered')
    ).toHaveText('');

    // The text, shown by JupyterLab's text renderer (its name holds a '/').
    const preview = section.locator('.jp-mltrack-artifact-preview');
    const rendered = preview.locator('.jp-mltrack-artifact-rendered');
    await row('notes/summary.txt').click();
    await expect(row('notes/summary.txt')).toHaveClass(/jp-mod-selected/);
    await expect(rendered).toHaveAttribute('data-mime', 'text/plain');
    await expect(rendered).toHaveText('accuracy went up by 4 points');
    await shot(section, testInfo, 'artifact-text');

    // The figure: its PNG first, then its SVG from the file picker.
    await row('roc').click();
    await expect(rendered).toHaveAttribute('data-mime', 'image/png');
    const image = rendered.locator('img');
    await expect(image).toBeVisible();
    await expect
      .poll(() => image.evaluate(img => (img as HTMLImageElement).naturalWidth))
      .toBeGreaterThan(100);
    await shot(section, testInfo, 'artifact-figure-png');
    const picker = preview.locator('.jp-mltrack-artifact-file-select');
    await expect(picker.locator('option')).toHaveText(['roc.png', 'roc.svg']);

    // Download goes through the authenticated API, saved from a blob URL.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      preview
        .locator('.jp-mltrack-artifact-filebar .jp-mltrack-download')
        .click()
    ]);
    expect(download.suggestedFilename()).toBe('roc.png');
    const saved = readFileSync(await download.path());
    expect(saved.subarray(1, 4).toString('latin1')).toBe('PNG');

    await picker.selectOption('roc.svg');
    await expect(rendered).toHaveAttribute('data-mime', 'image/svg+xml');
    await expect(rendered.locator('img')).toBeVisible();
    await expect
      .poll(() =>
        rendered
          .locator('img')
          .evaluate(img => (img as HTMLImageElement).naturalWidth)
      )
      .toBeGreaterThan(100);
    await shot(section, testInfo, 'artifact-figure-svg');

    // A plotly figure, drawn live by the plotly package's renderer.
    await row('bars').click();
    await expect(rendered).toHaveAttribute(
      'data-mime',
      'application/vnd.plotly.v1+json'
    );
    await expect(rendered.locator('.bars path')).toHaveCount(2, {
      timeout: 30000
    });
    await shot(section, testInfo, 'artifact-plotly');

    // A table (log_table): its first 100 rows, every cell escaped.
    await expect(
      row('predictions').locator('.jp-mltrack-artifact-kind')
    ).toHaveText('Table');
    await row('predictions').click();
    await expect(rendered).toHaveAttribute('data-mime', 'text/html');
    await expect(rendered.locator('tbody tr')).toHaveCount(100);
    await expect(rendered.locator('thead th')).toContainText([
      'id',
      'pred',
      'note'
    ]);
    await expect(rendered.locator('td b')).toHaveCount(0);
    await expect(rendered.locator('tbody tr').first()).toContainText(
      '<b>x</b>'
    );
    await expect(preview.locator('.jp-mltrack-artifact-note')).toHaveText(
      'The first 100 of 150 rows shown; load_table or Download has all.'
    );
    await shot(section, testInfo, 'artifact-table');

    // The series: one row; opened at its last step, the slider walks back.
    const series = row('samples');
    await expect(series).toHaveAttribute('data-series', 'true');
    await expect(section.locator('.jp-mltrack-section-title')).toHaveText(
      'Artifacts (6)'
    );
    await expect(series.locator('.jp-mltrack-artifact-kind')).toHaveText(
      'Images'
    );
    await expect(series.locator('.jp-mltrack-artifact-count')).toHaveText(
      '3 steps'
    );
    await series.click();
    const stepBar = preview.locator('.jp-mltrack-artifact-stepbar');
    await expect(stepBar).toHaveAttribute('data-step', '20');
    await expect(stepBar.locator('.jp-mltrack-artifact-step')).toHaveText(
      'step 20 of 0\u201320'
    );
    await expect(preview.locator('.jp-mltrack-artifact-file-name')).toHaveText(
      'step_000020.png'
    );
    await expect(rendered).toHaveAttribute('data-mime', 'image/png');
    const stepImage = rendered.locator('img');
    await expect
      .poll(() =>
        stepImage.evaluate(img => (img as HTMLImageElement).naturalWidth)
      )
      .toBe(64);
    // 64 x 48 pixels: drawn twice as large, its pixels kept sharp
    await expect(stepImage).toHaveClass(/jp-mltrack-enlarged/);
    expect((await stepImage.boundingBox())!.width).toBeCloseTo(128, 0);
    const last = await stepImage.getAttribute('src');
    const slider = stepBar.locator('input[type="range"]');
    await slider.focus();
    await page.keyboard.press('ArrowLeft');
    await expect(stepBar).toHaveAttribute('data-step', '10');
    await expect(preview.locator('.jp-mltrack-artifact-file-name')).toHaveText(
      'step_000010.png'
    );
    await expect
      .poll(() => rendered.locator('img').getAttribute('src'))
      .not.toBe(last);
    await expect(slider).toBeFocused(); // moved in place, not rebuilt
    await page.keyboard.press('Home');
    await expect(stepBar).toHaveAttribute('data-step', '0');
    await expect(series).toHaveClass(/jp-mod-selected/);
    await shot(section, testInfo, 'artifact-series');

    // The model: its card, then Register… into churn (offered, as it exists).
    await row('model').click();
    const card = preview.locator('.jp-mltrack-model-card');
    await expect(card.locator('dd[data-fact="Format"]')).toHaveText('skops');
    await expect(card.locator('dd[data-fact="Library"]')).toHaveText('sklearn');
    await expect(card.locator('.jp-mltrack-badge-unsafe')).toHaveCount(0);
    await expect(preview.locator('.jp-mltrack-artifact-note')).toContainText(
      'download it'
    );
    // The code that loads it, by its run until it is registered.
    const load = card.locator('.jp-mltrack-model-load pre');
    await expect(load).toHaveText(
      /^import jupyter_mltrack as mltrack\s+model = mltrack\.load_model\('[0-9a-f]{32}\/model'\)$/
    );
    await card.locator('.jp-mltrack-register').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('input')).toHaveValue('churn');
    await dialog.locator('.jp-mod-accept').click();
    await expect(row('model').locator('.jp-mltrack-version-chip')).toHaveText(
      'churn v2'
    );
    await expect(card.locator('.jp-mltrack-version-chip')).toHaveText(
      'churn v2'
    );
    await expect(row('model')).toHaveClass(/jp-mod-selected/); // still open
    await expect(load).toContainText(
      "model = mltrack.load_model('models:/churn/2')"
    );
    await expect(page.locator('.jp-Notification-Toast-success')).toContainText(
      'Registered model as churn v2 (models:/churn/2)'
    );
    await closeNotifications(page);

    // A refusal is shown with the server's message.
    await card.locator('.jp-mltrack-register').click();
    await dialog.locator('input').fill('churn/bad');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toContainText('Cannot register model');
    await expect(dialog).toContainText('use letters, digits and -_.');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);

    // The Models section: churn, two versions, @production on v1.
    const models = sidebar.locator('.jp-mltrack-models');
    await expect(models.locator('.jp-mltrack-models-title')).toHaveText(
      'Models (1)'
    );
    await models.locator('.jp-mltrack-models-toggle').click();
    const churn = models.locator('.jp-mltrack-model[data-model="churn"]');
    await expect(churn.locator('.jp-mltrack-model-summary')).toHaveText(
      '2 versions \u00b7 latest v2'
    );
    await expect(churn.locator('.jp-mltrack-model-aliases')).toHaveText(
      '@production v1'
    );
    await churn.locator('.jp-mltrack-model-row').click();
    const versions = churn.locator('.jp-mltrack-model-version');
    await expect(versions).toHaveCount(2);
    const v1 = churn.locator('.jp-mltrack-model-version[data-version="1"]');
    const v2 = churn.locator('.jp-mltrack-model-version[data-version="2"]');
    await expect(versions.first()).toHaveAttribute('data-version', '2');
    await expect(v2.locator('.jp-mltrack-model-version-run')).toContainText(
      'run #2 rf-big \u00b7 models \u00b7 acc 0.84'
    );
    await expect(v1.locator('.jp-mltrack-alias')).toHaveText([
      '@production\u00d7'
    ]);
    await expect(v2.locator('.jp-mltrack-alias')).toHaveCount(0);
    await shot(sidebar, testInfo, 'models-before');

    // Moving @production to v2: one action, confirmed.
    await v2.locator('.jp-mltrack-set-alias').click();
    await expect(dialog.locator('input')).toHaveValue('production');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Move @production from v1 to v2?'
    );
    await expect(dialog).toContainText(
      'models:/churn@production will load version 2 (run #2 rf-big) instead of version 1 (run #1 baseline).'
    );
    await shot(page, testInfo, 'alias-confirm');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    await expect(v2.locator('.jp-mltrack-alias')).toHaveText([
      '@production\u00d7'
    ]);
    await expect(v1.locator('.jp-mltrack-alias')).toHaveCount(0);
    await expect(churn.locator('.jp-mltrack-model-aliases')).toHaveText(
      '@production v2'
    );
    // The open detail follows: its model is now churn v2 @production.
    await expect(row('model').locator('.jp-mltrack-version-chip')).toHaveText(
      'churn v2@production'
    );
    // its code now loads it by the alias, so it follows the next move too
    await expect(load).toContainText(
      "model = mltrack.load_model('models:/churn@production')"
    );
    await shot(page, testInfo, 'alias-moved');

    // The lineage of v2: the version, its run, and the way back to the run.
    await v2.locator('.jp-mltrack-lineage-button').click();
    const lineage = page.locator('.jp-mltrack-lineage');
    await expect(lineage.locator('dd[data-fact="Registered as"]')).toHaveText(
      'churn v2'
    );
    await expect(lineage.locator('dd[data-fact="Aliases"]')).toHaveText(
      '@production'
    );
    await expect(lineage.locator('dd[data-fact="Run"]')).toHaveText(
      '#2 rf-big'
    );
    // the lineage's ISO times, shown as the run detail shows its own
    await expect(lineage.locator('dd[data-fact="Started"]')).toHaveText(
      /^\d\d:\d\d:\d\d$|^\d{4}-\d\d-\d\d \d\d:\d\d$/
    );
    await expect(lineage.locator('dd[data-fact="Duration"]')).toHaveText(/\d/);
    await expect(
      lineage.locator('.jp-mltrack-lineage-metrics tr[data-key="acc"]')
    ).toContainText('0.84');
    // eval-prod loaded v1 (@production then), not this one
    await expect(lineage.locator('.jp-mltrack-used-by')).toContainText(
      'No run has loaded this model yet.'
    );
    // Its graph, after the Model section: the server's figure drawn by
    // JupyterLab's plotly renderer, the model and the run that logged it.
    const graph = lineage.locator('.jp-mltrack-lineage-graph');
    await expect(
      lineage.locator('.jp-mltrack-section-title').nth(1)
    ).toHaveText('Graph');
    await expect(graph.locator('.js-plotly-plot')).toHaveCount(1);
    await expect(graph.locator('.scatterlayer .point')).toHaveCount(2);
    await expect(graph.locator('.scatterlayer .textpoint')).toHaveText([
      'churn v2 @production',
      '#2 models'
    ]);
    await expect(
      graph.locator('.jp-mltrack-lineage-graph-truncated')
    ).toBeHidden();
    await shot(page, testInfo, 'lineage');
    await lineage.locator('.jp-mltrack-lineage-open-run').click();
    await expect(detail).toBeVisible();

    // A version's run opens that run's detail.
    await v1.locator('.jp-mltrack-model-run').click();
    await expect(
      page.locator('.jp-mltrack-detail .jp-mltrack-detail-name')
    ).toHaveText(['rf-big', 'baseline']);
    // Its pickled model carries the unsafe badge.
    const baseline = page.locator('.jp-mltrack-detail:visible');
    await expect(baseline.locator('.jp-mltrack-detail-name')).toHaveText(
      'baseline'
    );
    await baseline
      .locator('.jp-mltrack-artifact-row[data-name="model"]')
      .click();
    const unsafe = baseline.locator('.jp-mltrack-model-card');
    await expect(unsafe.locator('dd[data-fact="Format"]')).toHaveText('pickle');
    await expect(unsafe.locator('.jp-mltrack-badge-unsafe')).toBeVisible();
    await shot(
      baseline.locator('.jp-mltrack-artifacts'),
      testInfo,
      'artifact-unsafe-model'
    );

    // Its model was loaded by eval-prod (#3): "Used by" names that run, its
    // status and metrics, and the version @production meant then.
    const usedBy = baseline.locator('.jp-mltrack-used-by');
    await expect(usedBy.locator('.jp-mltrack-section-title')).toHaveText(
      'Used by (1)'
    );
    const user = usedBy.locator('.jp-mltrack-user');
    await expect(user.locator('.jp-mltrack-user-link')).toHaveText(
      '#3 of models'
    );
    await expect(user.locator('.jp-mltrack-status')).toHaveText('finished');
    await expect(user.locator('.jp-mltrack-use-ref')).toHaveText(
      'models:/churn@production'
    );
    await expect(user.locator('.jp-mltrack-use-version')).toHaveText(
      'churn v1'
    );
    await expect(user.locator('.jp-mltrack-user-metrics')).toHaveText(
      'auc 0.77'
    );
    await shot(usedBy, testInfo, 'used-by');

    // v1's lineage lists it too, and opens it: run #3's "Used" names what it
    // loaded, and the run that logged it.
    await v1.locator('.jp-mltrack-lineage-button').click();
    const lineage1 = page.locator('#jp-mltrack-lineage-churn-1');
    const users1 = lineage1.locator('.jp-mltrack-used-by .jp-mltrack-user');
    await expect(users1.locator('.jp-mltrack-user-link')).toHaveText(
      '#3 of models'
    );
    await expect(users1.locator('.jp-mltrack-use-version')).toHaveText(
      'churn v1'
    );
    await shot(page, testInfo, 'lineage-used-by');
    // Its graph has the run that loaded it too, right of the model.
    const graph1 = lineage1.locator('.jp-mltrack-lineage-graph');
    await expect(graph1.locator('.js-plotly-plot')).toHaveCount(1);
    await expect(graph1.locator('.scatterlayer .point')).toHaveCount(3);
    await shot(graph1, testInfo, 'lineage-graph');
    // Clicking a run's node opens that run: plotly takes the click on its
    // drag layer, over the marker (the point's customdata is the run id).
    const runs = graph1.locator('.scatterlayer .trace', {
      has: page.locator('.textpoint', { hasText: '#3 models' })
    });
    const labels = await runs.locator('.textpoint').allTextContents();
    const marker = await runs
      .locator('.point')
      .nth(labels.indexOf('#3 models'))
      .boundingBox();
    expect(marker).not.toBeNull();
    await page.mouse.click(
      marker!.x + marker!.width / 2,
      marker!.y + marker!.height / 2
    );
    await expect(
      page.locator('.jp-mltrack-detail:visible .jp-mltrack-detail-name')
    ).toHaveText('eval-prod');
    // back to the lineage: its "Used by" link opens the same run
    await page.getByRole('tab', { name: 'churn v1 lineage' }).click();
    await expect(page.locator('.jp-mltrack-detail:visible')).toHaveCount(0);
    await users1.locator('.jp-mltrack-user-link').click();
    const evaluation = page.locator('.jp-mltrack-detail:visible');
    await expect(evaluation.locator('.jp-mltrack-detail-name')).toHaveText(
      'eval-prod'
    );
    const used = evaluation.locator('.jp-mltrack-used .jp-mltrack-use');
    await expect(used).toHaveCount(1);
    await expect(used.locator('.jp-mltrack-use-ref')).toHaveText(
      'models:/churn@production'
    );
    await expect(used.locator('.jp-mltrack-use-version')).toHaveText(
      'churn v1'
    );
    await expect(used.locator('.jp-mltrack-use-source-run')).toHaveText(
      "model 'model' of #1 of models"
    );
    await expect(used.locator('.jp-mltrack-use-how')).toHaveText('load_model');
    await expect(used.locator('.jp-mltrack-use-gone')).toHaveCount(0);
    await expect(evaluation.locator('.jp-mltrack-used-by')).toHaveCount(0);
    await shot(page, testInfo, 'used');
    // The run that logged it, one click away.
    await used.locator('.jp-mltrack-use-source-run').click();
    await expect(baseline.locator('.jp-mltrack-detail-name')).toHaveText(
      'baseline'
    );

    // Deleting the alias, confirmed.
    await v2.locator('.jp-mltrack-alias-delete').click();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Delete @production?'
    );
    await dialog.locator('.jp-mod-warn').click();
    await expect(v2.locator('.jp-mltrack-alias')).toHaveCount(0);
    await expect(churn.locator('.jp-mltrack-model-aliases')).toHaveText('');

    // Deleting the whole model, confirmed: the question names what goes; the
    // model leaves the section, its runs keep their models.
    await churn.locator('.jp-mltrack-model-delete').click();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Delete model churn?'
    );
    await expect(dialog.locator('.jp-Dialog-body')).toContainText(
      'its 2 versions will be deleted from the registry'
    );
    await shot(page, testInfo, 'model-delete-confirm');
    await dialog.locator('.jp-mod-warn').click();
    await expect(churn).toHaveCount(0);
    await expect(
      baseline.locator('.jp-mltrack-artifact-row[data-name="model"]')
    ).toBeVisible();

    // Compared with the baseline (#1, which loaded nothing), eval-prod's use
    // of churn v1 is a row of its own under the Data tab, as it was then.
    const box = (n: number) =>
      sidebar.locator(
        `.jp-mltrack-run-row[data-run-number="${n}"] .jp-mltrack-select`
      );
    await box(1).click();
    await box(3).click();
    await sidebar.locator('.jp-mltrack-compare-button').click();
    const compare = page.locator('.jp-mltrack-compare');
    await expect(compare).toBeVisible();
    // the comparison alone in the main area: its tabs all in view
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('application:set-mode', {
        mode: 'single-document'
      });
    });
    await compare
      .locator('.lm-TabBar-tab', { hasText: 'Data' })
      .first()
      .click();
    const data = compare.locator('.jp-mltrack-compare-data');
    await expect(data.locator('.jp-mltrack-muted').first()).toHaveText(
      'No datasets recorded.'
    );
    const usedRow = data.locator(
      '.jp-mltrack-compare-used-table tr[data-key="churn"]'
    );
    await expect(usedRow.locator('td')).toHaveCount(3);
    await expect(usedRow.locator('td').nth(1)).toHaveText('\u2014');
    await expect(
      usedRow.locator('td').nth(2).locator('.jp-mltrack-compare-used-label')
    ).toHaveText('churn v1 \u00b7 #1');
    await expect(
      usedRow.locator('td').nth(2).locator('.jp-mltrack-compare-state')
    ).toHaveText('added');
    await shot(page, testInfo, 'compare-used');

    expect(errors).toEqual([]);
  });

  test('describes and tags a version and the model', async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);
    await seedStore(page, `${tmpPath}/mltrack-model-tags.ipynb`, [TAGS_SEED]);

    const sidebar = await openSidebar(page);
    await page.sidebar.setWidth(480, 'left');
    const models = sidebar.locator('.jp-mltrack-models');
    await models.locator('.jp-mltrack-models-toggle').click();
    const churn = models.locator('.jp-mltrack-model[data-model="churn"]');
    await churn.locator('.jp-mltrack-model-row').click();
    const v1 = churn.locator('.jp-mltrack-model-version[data-version="1"]');
    await expect(v1).toBeVisible();
    // Neither description nor tags yet: nothing shown for them.
    await expect(v1.locator('.jp-mltrack-version-tags')).toHaveCount(0);
    await expect(v1.locator('.jp-mltrack-version-description')).toHaveCount(0);

    // Tags…: typed on one line, shown as chips (by key).
    const dialog = page.locator('.jp-Dialog');
    await v1.locator('.jp-mltrack-tag-version').click();
    await expect(dialog.locator('input')).toHaveValue('');
    await dialog.locator('input').fill('validation=passed, owner=ana');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    const chips = v1.locator('.jp-mltrack-version-tag');
    await expect(chips).toHaveText(['owner=ana', 'validation=passed']);

    // A typo is shown, and nothing is sent.
    await v1.locator('.jp-mltrack-tag-version').click();
    await expect(dialog.locator('input')).toHaveValue(
      'owner=ana, validation=passed'
    );
    await dialog.locator('input').fill('owner=ana, validation');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toContainText('Cannot tag churn v1');
    await expect(dialog).toContainText('"validation" is not key=value');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(chips).toHaveText(['owner=ana', 'validation=passed']);

    // Describe…: the version's description, one line under its run.
    const described =
      'Random forest, 400 trees, class weights balanced; validated on the ' +
      'March holdout against the logistic baseline, recall up 6 points';
    await v1.locator('.jp-mltrack-describe-version').click();
    await expect(dialog.locator('input')).toHaveValue('');
    await dialog.locator('input').fill(described);
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    const description = v1.locator('.jp-mltrack-version-description');
    await expect(description).toHaveText(described);
    await expect(description).toHaveAttribute('title', described);
    await expect(chips).toHaveText(['owner=ana', 'validation=passed']);
    // Ellipsised within the sidebar, not running past its edge.
    expect(
      await v1.evaluate(node => node.scrollWidth <= node.clientWidth)
    ).toBe(true);

    // The model's own description, under its row.
    await churn.locator('.jp-mltrack-describe-model').click();
    await dialog.locator('input').fill('Predicts which customers leave');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    await expect(churn.locator('.jp-mltrack-model-description')).toHaveText(
      'Predicts which customers leave'
    );
    await expect(churn.locator('.jp-mltrack-model-row')).toHaveAttribute(
      'title',
      'Predicts which customers leave'
    );

    // The model's own tags: the same Tags… dialog, chips under its
    // description, apart from its versions'.
    const modelChips = churn.locator('.jp-mltrack-model-tag');
    await expect(churn.locator('.jp-mltrack-model-tags')).toHaveCount(0);
    await churn.locator('.jp-mltrack-tag-model').click();
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText(
      'Tags of churn'
    );
    await expect(dialog.locator('input')).toHaveValue('');
    await dialog.locator('input').fill('team=growth, task=classification');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);
    await expect(modelChips).toHaveText(['task=classification', 'team=growth']);
    await expect(chips).toHaveText(['owner=ana', 'validation=passed']);
    // a typo in the model's tags: shown, nothing sent
    await churn.locator('.jp-mltrack-tag-model').click();
    await expect(dialog.locator('input')).toHaveValue(
      'task=classification, team=growth'
    );
    await dialog.locator('input').fill('team=growth, classification');
    await dialog.locator('.jp-mod-accept').click();
    await expect(dialog).toContainText('Cannot tag churn');
    await expect(dialog).toContainText('"classification" is not key=value');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(modelChips).toHaveText(['task=classification', 'team=growth']);
    await shot(sidebar, testInfo, 'model-tags');

    // The registry holds what the section shows.
    const read = async () => {
      const response = await page.request.get('/mltrack/api/models/churn');
      expect(response.ok()).toBe(true);
      return response.json();
    };
    let detail = await read();
    expect(detail.description).toBe('Predicts which customers leave');
    expect(detail.tags).toEqual({ team: 'growth', task: 'classification' });
    expect(detail.versions[0].tags).toEqual({
      validation: 'passed',
      owner: 'ana'
    });
    expect(detail.versions[0].description).toBe(described);

    // A key left out of the text is deleted; the others kept or changed.
    await v1.locator('.jp-mltrack-tag-version').click();
    await dialog
      .locator('input')
      .fill('validation=passed, stage=candidate=2026-03');
    await dialog.locator('.jp-mod-accept').click();
    await expect(chips).toHaveText([
      'stage=candidate=2026-03',
      'validation=passed'
    ]);
    detail = await read();
    expect(detail.versions[0].tags).toEqual({
      validation: 'passed',
      stage: 'candidate=2026-03'
    });

    // The model's: a key changed, one left out deleted, the versions' kept.
    await churn.locator('.jp-mltrack-tag-model').click();
    await dialog.locator('input').fill('team=retention');
    await dialog.locator('.jp-mod-accept').click();
    await expect(modelChips).toHaveText(['team=retention']);
    detail = await read();
    expect(detail.tags).toEqual({ team: 'retention' });
    expect(detail.versions[0].tags).toEqual({
      validation: 'passed',
      stage: 'candidate=2026-03'
    });
    const listed = await page.request.get('/mltrack/api/models');
    expect(listed.ok()).toBe(true);
    const [model] = (await listed.json()).models;
    expect(model.tags).toEqual({ team: 'retention' });

    expect(errors).toEqual([]);
  });

  test("a live run's series grows under the open slider", async ({
    page,
    tmpPath
  }, testInfo) => {
    const errors = collectErrors(page);
    // A tracked cell logging only images (no metric: the detail itself has
    // nothing to reload for) while its run's detail is open.
    await seedStore(page, `${tmpPath}/mltrack-live.ipynb`, [
      '%load_ext jupyter_mltrack\nprint("seeded")',
      [
        '%%track live-frames',
        'import time',
        'import numpy as np',
        'for step in range(14):',
        '    mltrack.log_image(np.full((20, 20), step / 14), "frames", step=step)',
        '    time.sleep(0.8)'
      ].join('\n')
    ]);
    await page.notebook.selectCells(1);
    await page.keyboard.press('Control+Enter');

    const sidebar = await openSidebar(page);
    await page.sidebar.setWidth(480, 'left');
    await sidebar
      .locator('.jp-mltrack-run-row', { hasText: 'live-frames' })
      .click({ timeout: 20000 });
    const section = page.locator('.jp-mltrack-detail .jp-mltrack-artifacts');
    const series = section.locator(
      '.jp-mltrack-artifact-row[data-name="frames"]'
    );
    await series.click({ timeout: 20000 });
    const stepBar = section.locator('.jp-mltrack-artifact-stepbar');
    const stepOf = async () => Number(await stepBar.getAttribute('data-step'));
    const opened = await stepOf();
    // Opened at its last step, the slider follows the steps logged since.
    await expect
      .poll(stepOf, { timeout: 15000 })
      .toBeGreaterThanOrEqual(opened + 2);
    // Moved back, it stays where it was put while the series grows.
    await stepBar.locator('input').focus();
    await page.keyboard.press('Home');
    await expect(stepBar).toHaveAttribute('data-step', '0');
    const count = series.locator('.jp-mltrack-artifact-count');
    const countOf = async () => parseInt((await count.textContent()) ?? '0');
    const before = await countOf();
    await expect.poll(countOf, { timeout: 15000 }).toBeGreaterThan(before);
    await expect(stepBar).toHaveAttribute('data-step', '0');
    await expect(stepBar.locator('input')).toBeFocused();
    await shot(section, testInfo, 'artifact-series-live');
    expect(errors).toEqual([]);
  });
});
