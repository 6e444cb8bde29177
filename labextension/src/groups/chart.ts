/**
 * The groups chart in the main area: the server's figure of the sidebar's
 * groups (`runs/groups?…&figure=1`: a panel per metric, a bar per group at
 * its mean, ± one standard deviation, min and max ticks), rendered by
 * JupyterLab's plotly renderer as the compare view's charts are. plotly.js
 * is never bundled here; without the renderer the panel says how to get it.
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
import { runsIcon } from '../icons';
import { PLOTLY_MIME } from '../model';
import { Fetch } from '../runlist/api';
import { IGroupsAnswer } from './bars';

/** What the sidebar's Chart button asks to draw. */
export interface IGroupsChartRequest {
  /** `runs/groups?…&figure=1`. */
  query: string;
  /** The field grouped by, for the tab's title. */
  groupBy: string;
}

export class GroupsChart extends MainAreaWidget<Panel> {
  constructor(options: GroupsChart.IOptions) {
    const content = new Panel();
    content.addClass('jp-mltrack-groups-chart-panel');
    super({ content });
    this.id = 'jp-mltrack-groups-chart';
    this.addClass('jp-mltrack-groups-chart-view');
    this.title.icon = runsIcon;
    this.title.closable = true;
    this.title.label = 'Groups';
    this._rendermime = options.rendermime;
    this._fetch = options.fetch ?? (endPoint => requestAPI<unknown>(endPoint));
    this._message = new Widget();
    this._message.addClass('jp-mltrack-groups-chart-message');
    this._chart = new Panel();
    this._chart.addClass('jp-mltrack-groups-chart');
    content.addWidget(this._message);
    content.addWidget(this._chart);
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Draw again',
        onClick: () => void this.redraw()
      })
    );
  }

  /** The request drawn, `null` before the first. */
  get query(): string | null {
    return this._request?.query ?? null;
  }

  /** Whether JupyterLab can render plotly figures. */
  get canRender(): boolean {
    return this._rendermime.mimeTypes.includes(PLOTLY_MIME);
  }

  /** Draw the chart of a request. */
  draw(request: IGroupsChartRequest): Promise<void> {
    this._request = request;
    this.title.label = `Groups by ${request.groupBy}`;
    this.title.caption = `Runs grouped by ${request.groupBy} (${request.query})`;
    return this.redraw();
  }

  /**
   * Ask the server for the figure and draw it; the chart drawn stays until
   * the new one is rendered.
   */
  async redraw(): Promise<void> {
    const request = this._request;
    if (!request) {
      return;
    }
    const token = ++this._token;
    if (!this.canRender) {
      this._clearChart();
      this._setMessage(noPlotlyMessage());
      return;
    }
    if (!this._chart.widgets.length) {
      this._setMessage(
        h('div', { class: 'jp-mltrack-loading', text: 'Drawing\u2026' })
      );
    }
    try {
      const answer = (await this._fetch(request.query)) as IGroupsAnswer;
      if (token !== this._token || this.isDisposed) {
        return;
      }
      const figure = answer.figure;
      if (!figure) {
        throw new Error('the server sent no figure (figure=1)');
      }
      const stale = () => token !== this._token || this.isDisposed;
      const drawn = await drawFigure(
        this._rendermime,
        this._chart,
        figure,
        'jp-mltrack-groups-plot',
        stale
      );
      if (!drawn) {
        return;
      }
      this._setMessage(null);
    } catch (reason) {
      if (token !== this._token || this.isDisposed) {
        return;
      }
      this._clearChart();
      this._setMessage(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot draw the chart: ${errorMessage(reason)}`
        })
      );
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._token++;
    super.dispose();
  }

  private _clearChart(): void {
    for (const widget of this._chart.widgets.slice()) {
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
  private _request: IGroupsChartRequest | null = null;
  private _message: Widget;
  private _chart: Panel;
  private _token = 0;
}

export namespace GroupsChart {
  export interface IOptions {
    rendermime: IRenderMimeRegistry;
    /** How to reach the REST API (default: `requestAPI`). */
    fetch?: Fetch;
  }
}

/** The groups chart open in the main area, if any: there is one at most. */
let openChart: GroupsChart | null = null;

/**
 * Show the chart of a request: in the open groups chart (brought to the
 * front), or in a new one in the main area.
 */
export async function openGroupsChart(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  request: IGroupsChartRequest
): Promise<GroupsChart> {
  let chart = openChart;
  if (!chart || chart.isDisposed) {
    chart = new GroupsChart({ rendermime });
    openChart = chart;
  }
  if (!chart.isAttached) {
    app.shell.add(chart, 'main');
  }
  app.shell.activateById(chart.id);
  await chart.draw(request);
  return chart;
}

/**
 * Draw the open groups chart again when it shows `query` (the sidebar's
 * groups changed: a run was recorded, a metric logged).
 */
export function refreshGroupsChart(query: string): void {
  const chart = openChart;
  if (chart && !chart.isDisposed && chart.query === query) {
    void chart.redraw();
  }
}
