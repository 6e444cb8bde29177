/**
 * The lineage of a model version in the main area: how it was built, read
 * top to bottom as the chain goes: the model, its lineage graph (drawn by
 * JupyterLab's plotly renderer, a node opening its run), the run that
 * logged it (with a link to its detail), its code, the data it read, its
 * parameters and metrics, and the environment.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { unsafeBadge } from '../artifacts/modelcard';
import { clearPanel } from '../artifacts/render';
import { usedBySection, usedSection } from '../artifacts/usedsections';
import { drawFigure, noPlotlyMessage } from '../compare/charts';
import { errorMessage } from '../compare/format';
import { clear, h } from '../dom';
import { modelIcon } from '../icons';
import { PLOTLY_MIME, formatShape } from '../model';
import { factList, keyValueTable, section } from '../sections';
import { getLineage } from './api';
import {
  clickedRunId,
  lineageEnvironmentFacts,
  lineageModelFacts,
  lineageRunFacts
} from './format';
import { ILineage } from './types';

/** The div plotly draws in, with the `on` plotly.js gives it. */
interface IPlotlyElement extends HTMLElement {
  on?: (event: string, listener: (data: unknown) => void) => void;
}

/**
 * The lineage's Graph section: the server's figure of the lineage graph,
 * rendered by rendermime's plotly renderer as the compare view's charts are
 * (plotly.js is never bundled here). Clicking a node opens its run.
 */
class LineageGraphSection extends Panel {
  constructor(rendermime: IRenderMimeRegistry, openRun: (id: string) => void) {
    super();
    this._rendermime = rendermime;
    this._openRun = openRun;
    this.addClass('jp-mltrack-section');
    this.addClass('jp-mltrack-lineage-graph');
    this._message = new Widget();
    this._message.addClass('jp-mltrack-lineage-graph-message');
    this._message.hide();
    this._chart = new Panel();
    this._chart.addClass('jp-mltrack-lineage-chart');
    this._note = new Widget({
      node: h('div', {
        class: 'jp-mltrack-muted jp-mltrack-lineage-graph-truncated',
        text: 'Runs further up are left out.'
      })
    });
    this._note.hide();
    this.addWidget(
      new Widget({
        node: h('h3', { class: 'jp-mltrack-section-title', text: 'Graph' })
      })
    );
    this.addWidget(this._message);
    this.addWidget(this._chart);
    this.addWidget(this._note);
  }

  /** Draw the figure of `lineage`; the graph drawn stays until it is. */
  async draw(lineage: ILineage): Promise<void> {
    const token = ++this._token;
    const stale = () => token !== this._token || this.isDisposed;
    this._note.setHidden(!lineage.graph?.truncated);
    if (!this._rendermime.mimeTypes.includes(PLOTLY_MIME)) {
      clearPanel(this._chart);
      this._setMessage(noPlotlyMessage());
      return;
    }
    const figure = lineage.figure;
    if (!figure) {
      clearPanel(this._chart);
      this._setMessage(
        h('div', {
          class: 'jp-mltrack-muted',
          text: 'The server sent no graph of this lineage.'
        })
      );
      return;
    }
    if (!this._chart.widgets.length) {
      this._setMessage(
        h('div', { class: 'jp-mltrack-loading', text: 'Drawing\u2026' })
      );
    }
    try {
      const drawn = await drawFigure(
        this._rendermime,
        this._chart,
        figure,
        'jp-mltrack-lineage-plot',
        stale
      );
      if (!drawn) {
        return;
      }
      this._setMessage(null);
      this._listen();
    } catch (reason) {
      if (stale()) {
        return;
      }
      clearPanel(this._chart);
      this._setMessage(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot draw the graph: ${errorMessage(reason)}`
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

  /**
   * A click on a node opens its run (a node without one, data, does
   * nothing), and the pointer says which nodes do. Each draw renders a new
   * plot div, so the listeners are never added twice.
   */
  private _listen(): void {
    const plot =
      this._chart.node.querySelector<IPlotlyElement>('.js-plotly-plot');
    if (!plot || typeof plot.on !== 'function') {
      return;
    }
    plot.on('plotly_click', event => {
      const id = clickedRunId(event);
      if (id) {
        this._openRun(id);
      }
    });
    const pointer = (cursor: string) => {
      const drag = plot.querySelector<HTMLElement>('.nsewdrag');
      if (drag) {
        drag.style.cursor = cursor;
      }
    };
    plot.on('plotly_hover', event =>
      pointer(clickedRunId(event) ? 'pointer' : '')
    );
    plot.on('plotly_unhover', () => pointer(''));
  }

  private _setMessage(content: HTMLElement | null): void {
    clear(this._message.node);
    if (content) {
      this._message.node.appendChild(content);
    }
    this._message.setHidden(!content);
  }

  private _rendermime: IRenderMimeRegistry;
  private _openRun: (id: string) => void;
  private _message: Widget;
  private _chart: Panel;
  private _note: Widget;
  private _token = 0;
}

export class LineageView extends Panel {
  constructor(options: LineageView.IOptions) {
    super();
    this.model = options.model;
    this.version = options.version;
    this._openRun = options.openRun;
    // The model above the graph, the rest below: the graph is a widget of
    // its own (the plotly renderer), so it hears when the view is resized.
    this._head = new Widget();
    this._head.addClass('jp-mltrack-lineage-head');
    this._graph = new LineageGraphSection(options.rendermime, options.openRun);
    this._body = new Widget();
    this._body.addClass('jp-mltrack-lineage-body');
    this.addWidget(this._head);
    this.addWidget(this._graph);
    this.addWidget(this._body);
    this.id = LineageView.idOf(options.model, options.version);
    this.addClass('jp-mltrack-lineage');
    this.title.icon = modelIcon;
    this.title.label = `${options.model} v${options.version} lineage`;
    this.title.caption = `How models:/${options.model}/${options.version} was built`;
    this.title.closable = true;
    this.node.tabIndex = -1;
  }

  readonly model: string;
  readonly version: number;

  /** Read the lineage and show it (or the server's refusal). */
  async load(): Promise<void> {
    const token = ++this._token;
    const stale = () => token !== this._token || this.isDisposed;
    this._show(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading lineage\u2026' })
    );
    let lineage: ILineage;
    try {
      lineage = await getLineage(this.model, this.version);
      if (stale()) {
        return;
      }
      this._show(this._renderHead(lineage), this._renderBody(lineage));
    } catch (reason) {
      if (!stale()) {
        this._show(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot load the lineage of ${this.model} v${this.version}: ${(reason as Error).message ?? reason}`
          })
        );
      }
      return;
    }
    // Drawn once the view shows it, so the figure takes its width.
    await this._graph.draw(lineage);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._token++;
    super.dispose();
  }

  /** Show `head` alone (a message), or the whole lineage with its graph. */
  private _show(head: HTMLElement, body: HTMLElement | null = null): void {
    clear(this._head.node);
    this._head.node.appendChild(head);
    clear(this._body.node);
    if (body) {
      this._body.node.appendChild(body);
    }
    this._graph.setHidden(!body);
    this._body.setHidden(!body);
  }

  /** The title and the Model section. */
  private _renderHead(lineage: ILineage): HTMLElement {
    const openRun = h('button', {
      class: 'jp-mltrack-button jp-mltrack-lineage-open-run',
      text: `Open run #${lineage.run.number}`
    });
    openRun.addEventListener('click', () => this._openRun(lineage.run.id));
    const reload = h('button', {
      class: 'jp-mltrack-button jp-mltrack-reload',
      text: 'Reload'
    });
    reload.addEventListener('click', () => void this.load());
    return h(
      'div',
      {},
      h(
        'div',
        { class: 'jp-mltrack-detail-title' },
        h('span', {
          class: 'jp-mltrack-detail-name',
          text: `${this.model} v${this.version}`
        }),
        h('span', { class: 'jp-mltrack-detail-number', text: 'lineage' }),
        lineage.artifact?.unsafe ? unsafeBadge() : null,
        h('span', { class: 'jp-mltrack-spacer' }),
        openRun,
        reload
      ),
      section(
        'Model',
        'jp-mltrack-lineage-model',
        factList(lineageModelFacts(lineage))
      )
    );
  }

  /** What follows the graph: who used it, its run and what went in. */
  private _renderBody(lineage: ILineage): HTMLElement {
    const inputs = lineage.inputs ?? [];
    return h(
      'div',
      {},
      // The runs that loaded this version since: its evaluations.
      usedBySection(lineage.used_by, {
        openRun: this._openRun,
        emptyText: 'No run has loaded this model yet.'
      }),
      section(
        'Run',
        'jp-mltrack-lineage-run',
        factList(lineageRunFacts(lineage))
      ),
      section(
        'Code',
        'jp-mltrack-lineage-code',
        lineage.code
          ? h('pre', { class: 'jp-mltrack-code-text', text: lineage.code })
          : h('div', { class: 'jp-mltrack-muted', text: 'No code captured.' })
      ),
      section(
        'Input data',
        'jp-mltrack-lineage-inputs',
        inputs.length === 0
          ? h('div', { class: 'jp-mltrack-muted', text: 'No datasets read.' })
          : h(
              'table',
              { class: 'jp-mltrack-kv' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Name', 'Kind', 'Shape', 'Snapshot'].map(text =>
                    h('th', { text })
                  )
                )
              ),
              h(
                'tbody',
                {},
                inputs.map(item =>
                  h(
                    'tr',
                    { 'data-name': item.name },
                    h('td', { text: item.name, title: item.path ?? item.name }),
                    h('td', { text: item.kind }),
                    h('td', { text: formatShape(item) }),
                    h('td', { text: item.short, title: item.digest })
                  )
                )
              )
            )
      ),
      // What its run loaded from other runs (a base model, features).
      usedSection(lineage.used, { openRun: this._openRun }),
      section(
        'Parameters',
        'jp-mltrack-lineage-params',
        keyValueTable(lineage.params, 'No parameters captured.')
      ),
      section(
        'Metrics',
        'jp-mltrack-lineage-metrics',
        keyValueTable(lineage.metrics, 'No metrics logged.', 'NaN')
      ),
      section(
        'Environment',
        'jp-mltrack-lineage-env',
        h(
          'div',
          {},
          factList(lineageEnvironmentFacts(lineage)),
          h(
            'details',
            { class: 'jp-mltrack-packages', open: true },
            h('summary', { text: 'Packages of the model' }),
            keyValueTable(lineage.environment?.packages, 'None recorded.')
          )
        )
      )
    );
  }

  private _openRun: (id: string) => void;
  private _head: Widget;
  private _graph: LineageGraphSection;
  private _body: Widget;
  private _token = 0;
}

export namespace LineageView {
  export interface IOptions {
    model: string;
    version: number;
    openRun: (id: string) => void;
    /** Draws the lineage graph (its plotly renderer). */
    rendermime: IRenderMimeRegistry;
  }

  /** The widget id of a version's lineage (one view per version). */
  export function idOf(model: string, version: number): string {
    return `jp-mltrack-lineage-${encodeURIComponent(model)}-${version}`;
  }
}

/**
 * Show the lineage of `model` v`version` in the main area (the view already
 * open for it comes to the front, read again).
 */
export async function openLineage(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  model: string,
  version: number,
  openRun: (id: string) => void
): Promise<LineageView> {
  const id = LineageView.idOf(model, version);
  for (const widget of app.shell.widgets('main')) {
    if (widget.id === id && widget instanceof LineageView) {
      app.shell.activateById(id);
      await widget.load();
      return widget;
    }
  }
  const view = new LineageView({ model, version, openRun, rendermime });
  // A tab beside the run details (and other lineages) when one is open.
  let beside: Widget | null = null;
  for (const widget of app.shell.widgets('main')) {
    if (
      widget.hasClass('jp-mltrack-detail') ||
      widget.hasClass('jp-mltrack-lineage')
    ) {
      beside = widget;
    }
  }
  app.shell.add(
    view,
    'main',
    beside && beside.isAttached
      ? { ref: beside.id, mode: 'tab-after' }
      : { mode: 'split-right' }
  );
  app.shell.activateById(view.id);
  await view.load();
  return view;
}
