/**
 * *Compare runs*: the entry point the sidebar's Compare button and the
 * `jupyter-mltrack:compare-runs` command call.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { CompareModel } from './model';
import { CompareView } from './view';

export * from './model';
export { CompareView } from './view';
export type { CompareTabName } from './view';
export { PLOTLY_MIME } from '../model';

/**
 * The open comparisons. Give it to the layout restorer to reopen them after
 * a reload, e.g. `restorer.restore(compareTracker, {command:
 * 'jupyter-mltrack:compare-runs', args: w => ({runs: w.runIds, baseline:
 * w.model.baseline}), name: w => w.runIds.join(',')})`.
 */
export const compareTracker = new WidgetTracker<CompareView>({
  namespace: 'jupyter-mltrack-compare'
});

/** Options of `openCompare`. */
export interface IOpenCompareOptions {
  /** The baseline run (default: the first of `runIds`). */
  baseline?: string;
  /** Experiment in which run numbers are resolved. */
  experiment?: string;
}

/**
 * Open a comparison of runs in the main area (or bring the open one of the
 * same runs to the front) and load it. The promise resolves once the first
 * answer (or error, shown in the view) has arrived; the view then keeps
 * polling while a compared run is running, until it is closed.
 *
 * @param runIds ids (or numbers, id prefixes) of 2–100 runs
 * @throws Error when fewer than two runs are given
 */
export async function openCompare(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  runIds: string[],
  options: IOpenCompareOptions = {}
): Promise<CompareView> {
  const runs = Array.from(new Set(runIds.filter(id => !!id)));
  const existing = compareTracker.find(view => sameRuns(view.runIds, runs));
  if (existing) {
    app.shell.activateById(existing.id);
    if (options.baseline && options.baseline !== existing.model.baselineId) {
      await existing.model.setBaseline(options.baseline);
    } else {
      await existing.model.refresh();
    }
    return existing;
  }
  const model = new CompareModel({
    runs,
    baseline: options.baseline ?? null,
    experiment: options.experiment ?? null
  });
  const view = new CompareView({ model, rendermime });
  app.shell.add(view, 'main');
  app.shell.activateById(view.id);
  void compareTracker.add(view);
  // Opened while the saved layout is being restored (not by the restorer
  // itself), the view is dropped by the restoration: add it again after.
  // (Awaiting `app.restored` here would deadlock the restorer's own call.)
  void app.restored.then(() => {
    if (!view.isDisposed && !view.isAttached) {
      app.shell.add(view, 'main');
      app.shell.activateById(view.id);
    }
  });
  model.startPolling();
  await model.refresh();
  return view;
}

/** Whether two lists name the same runs (in any order). */
export function sameRuns(a: string[], b: string[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  const set = new Set(a);
  return b.every(id => set.has(id));
}
