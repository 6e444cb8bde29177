/**
 * The lineage of a model version in the main area: how it was built, read
 * top to bottom as the chain goes: the model, the run that logged it (with
 * a link to its detail), its code, the data it read, its parameters and
 * metrics, and the environment.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

import { unsafeBadge } from '../artifacts/modelcard';
import { usedBySection, usedSection } from '../artifacts/usedsections';
import { clear, h } from '../dom';
import { modelIcon } from '../icons';
import { formatShape } from '../model';
import { factList, keyValueTable, section } from '../sections';
import { getLineage } from './api';
import {
  lineageEnvironmentFacts,
  lineageModelFacts,
  lineageRunFacts
} from './format';
import { ILineage } from './types';

export class LineageView extends Widget {
  constructor(options: LineageView.IOptions) {
    super();
    this.model = options.model;
    this.version = options.version;
    this._openRun = options.openRun;
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
    clear(this.node);
    this.node.appendChild(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading lineage\u2026' })
    );
    try {
      const lineage = await getLineage(this.model, this.version);
      clear(this.node);
      this.node.appendChild(this._render(lineage));
    } catch (reason) {
      clear(this.node);
      this.node.appendChild(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot load the lineage of ${this.model} v${this.version}: ${(reason as Error).message ?? reason}`
        })
      );
    }
  }

  private _render(lineage: ILineage): HTMLElement {
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
    const inputs = lineage.inputs ?? [];
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
      ),
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
}

export namespace LineageView {
  export interface IOptions {
    model: string;
    version: number;
    openRun: (id: string) => void;
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
  const view = new LineageView({ model, version, openRun });
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
