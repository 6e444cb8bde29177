/**
 * A sweep's charts in the main area: its optimisation history and what its
 * metric depends on, built by the server (`compare/charts?kind=sweep_history`
 * and `sweep_importance`) and rendered by JupyterLab's plotly renderer as
 * the compare view's charts are (plotly.js is never bundled here). One panel
 * per sweep; it draws itself again when the sweep's trials change (a trial
 * ended, the sweep finished), as the runs sidebar sees them.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { drawFigure, noPlotlyMessage } from '../compare/charts';
import { errorMessage } from '../compare/format';
import { clear, h } from '../dom';
import { requestAPI } from '../handler';
import { sweepIcon } from '../icons';
import { IRunSummary, PLOTLY_MIME } from '../model';
import { Fetch } from '../runlist/api';
import { sweepChartQuery, sweepSummary, trialCountsText } from './sweep';

/** The charts a sweep panel draws, in order. */
export const SWEEP_CHARTS = ['sweep_history', 'sweep_importance'] as const;
export type SweepChart = (typeof SWEEP_CHARTS)[number];

export class SweepCharts extends MainAreaWidget<Panel> {
  constructor(options: SweepCharts.IOptions) {
    const content = new Panel();
    content.addClass('jp-mltrack-sweep-charts-panel');
    super({ content });
    this.sweepId = options.sweepId;
    this.id = `jp-mltrack-sweep-charts-${options.sweepId}`;
    this.addClass('jp-mltrack-sweep-charts-view');
    this.title.icon = sweepIcon;
    this.title.closable = true;
    this._rendermime = options.rendermime;
    this._fetch = options.fetch ?? (endPoint => requestAPI<unknown>(endPoint));
    this._message = new Widget();
    this._message.addClass('jp-mltrack-sweep-charts-message');
    content.addWidget(this._message);
    for (const kind of SWEEP_CHARTS) {
      const chart = new Panel();
      chart.addClass('jp-mltrack-sweep-chart');
      chart.node.dataset.kind = kind;
      content.addWidget(chart);
      this._charts.set(kind, chart);
    }
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Draw again',
        onClick: () => void this.redraw()
      })
    );
    this.setRun(options.run ?? null);
  }

  /** The sweep's run id. */
  readonly sweepId: string;

  /** Whether JupyterLab can render plotly figures. */
  get canRender(): boolean {
    return this._rendermime.mimeTypes.includes(PLOTLY_MIME);
  }

  /**
   * The sweep's run as the sidebar lists it: names the tab, and says
   * whether the charts are out of date (`true`: they are, draw again).
   */
  setRun(run: IRunSummary | null): boolean {
    const summary = run ? sweepSummary(run) : null;
    this.title.label = `Sweep ${summary?.name ?? this.sweepId.slice(0, 8)}`;
    this.title.caption = summary
      ? `Charts of sweep ${summary.name} (${trialCountsText(summary)})`
      : 'Charts of a sweep';
    const state = run
      ? JSON.stringify([run.status, run.children ?? null, run.metrics ?? null])
      : null;
    const changed =
      state !== null && this._state !== null && state !== this._state;
    if (state !== null) {
      this._state = state;
    }
    return changed;
  }

  /**
   * Ask the server for both figures and draw them; a chart drawn stays
   * until its new one is rendered.
   */
  async redraw(): Promise<void> {
    const token = ++this._token;
    if (!this.canRender) {
      for (const chart of this._charts.values()) {
        this._clear(chart);
      }
      this._setMessage(noPlotlyMessage());
      return;
    }
    if (Array.from(this._charts.values()).every(c => !c.widgets.length)) {
      this._setMessage(
        h('div', { class: 'jp-mltrack-loading', text: 'Drawing\u2026' })
      );
    }
    const stale = () => token !== this._token || this.isDisposed;
    const errors: string[] = [];
    await Promise.all(
      SWEEP_CHARTS.map(async kind => {
        const chart = this._charts.get(kind)!;
        try {
          const figure = (await this._fetch(
            sweepChartQuery(kind, this.sweepId)
          )) as { [key: string]: any };
          if (!stale()) {
            await drawFigure(
              this._rendermime,
              chart,
              figure,
              'jp-mltrack-sweep-plot',
              stale
            );
          }
        } catch (reason) {
          if (!stale()) {
            this._clear(chart);
            errors.push(errorMessage(reason));
          }
        }
      })
    );
    if (stale()) {
      return;
    }
    this._setMessage(
      errors.length
        ? h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot draw the sweep's charts: ${Array.from(new Set(errors)).join('; ')}`
          })
        : null
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._token++;
    super.dispose();
  }

  private _clear(chart: Panel): void {
    for (const widget of chart.widgets.slice()) {
      widget.dispose();
    }
  }

  private _setMessage(content: HTMLElement | null): void {
    clear(this._message.node);
    if (content) {
      this._message.node.appendChild(content);
    }
    this._message.setHidden(!content);
  }

  private _rendermime: IRenderMimeRegistry;
  private _fetch: Fetch;
  private _message: Widget;
  private _charts = new Map<SweepChart, Panel>();
  private _state: string | null = null;
  private _token = 0;
}

export namespace SweepCharts {
  export interface IOptions {
    sweepId: string;
    rendermime: IRenderMimeRegistry;
    /** The sweep's run as listed, if it is (names the tab). */
    run?: IRunSummary | null;
    /** How to reach the REST API (default: `requestAPI`). */
    fetch?: Fetch;
  }
}

/** The open sweep panels, by sweep run id. */
const openPanels = new Map<string, SweepCharts>();

/**
 * Show a sweep's charts: in its open panel (brought to the front, drawn
 * again), or in a new one in the main area.
 */
export async function openSweepCharts(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  sweepId: string,
  run: IRunSummary | null
): Promise<SweepCharts> {
  let panel = openPanels.get(sweepId);
  if (!panel || panel.isDisposed) {
    panel = new SweepCharts({ sweepId, rendermime, run });
    openPanels.set(sweepId, panel);
    panel.disposed.connect(() => openPanels.delete(sweepId));
  } else {
    panel.setRun(run);
  }
  if (!panel.isAttached) {
    app.shell.add(panel, 'main');
  }
  app.shell.activateById(panel.id);
  await panel.redraw();
  return panel;
}

/**
 * Draw again the open sweep panels whose sweep changed in the runs list (a
 * trial ended, the sweep finished): `find` gives a run as listed.
 */
export function refreshSweepCharts(
  find: (id: string) => IRunSummary | undefined
): void {
  for (const [id, panel] of openPanels) {
    const run = find(id);
    if (run && panel.setRun(run)) {
      void panel.redraw();
    }
  }
}
