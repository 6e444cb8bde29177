import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget, TabPanel } from '@lumino/widgets';

import { runsIcon } from '../icons';
import { ArtifactsTab } from './artifacts';
import { ChartsTab } from './charts';
import { CodeTab } from './code';
import { DataTab, EnvironmentTab } from './data';
import { CompareChange, CompareModel } from './model';
import { OutputsTab } from './outputs';
import { OverviewTab } from './overview';
import { CompareTab } from './tab';
import { WhyTab } from './why';

let counter = 0;

/** Names of the tabs, in order. */
export type CompareTabName =
  | 'overview'
  | 'charts'
  | 'code'
  | 'outputs'
  | 'artifacts'
  | 'data'
  | 'environment'
  | 'why';

/**
 * A comparison of runs in the main area: tabs Overview, Charts, Code,
 * Outputs, Artifacts, Data, Environment and Why?, refreshed every two seconds while a
 * compared run is running. Closing it stops the polling.
 */
export class CompareView extends MainAreaWidget<TabPanel> {
  constructor(options: CompareView.IOptions) {
    const content = new TabPanel();
    content.addClass('jp-mltrack-compare-tabs');
    super({ content });
    const model = options.model;
    this.model = model;
    this.id = `jp-mltrack-compare-${++counter}`;
    this.addClass('jp-mltrack-compare');
    this.title.icon = runsIcon;
    this.title.closable = true;
    this.title.label = model.title;
    this.title.caption = `Compare runs ${model.runIds.join(', ')}`;

    this.overview = new OverviewTab(model);
    this.charts = new ChartsTab(model, options.rendermime);
    this.code = new CodeTab(model);
    this.outputs = new OutputsTab(model, options.rendermime);
    this.artifacts = new ArtifactsTab(model, options.rendermime);
    this.data = new DataTab(model);
    this.environment = new EnvironmentTab(model);
    this.why = new WhyTab(model);
    const tabs: [CompareTabName, CompareTab][] = [
      ['overview', this.overview],
      ['charts', this.charts],
      ['code', this.code],
      ['outputs', this.outputs],
      ['artifacts', this.artifacts],
      ['data', this.data],
      ['environment', this.environment],
      ['why', this.why]
    ];
    for (const [name, tab] of tabs) {
      tab.id = `${this.id}-${name}`;
      tab.node.dataset.tab = name;
      content.addWidget(tab);
    }
    this._tabs = new Map(tabs);

    const refresh = new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Compare again',
      onClick: () => void model.refresh()
    });
    this._status = new Widget();
    this._status.addClass('jp-mltrack-compare-status');
    this.toolbar.addItem('refresh', refresh);
    this.toolbar.addItem('status', this._status);

    model.changed.connect(this._onModelChanged, this);
    this._onModelChanged(model, 'loading');
  }

  /** The comparison's state. */
  readonly model: CompareModel;

  readonly overview: OverviewTab;
  readonly charts: ChartsTab;
  readonly code: CodeTab;
  readonly outputs: OutputsTab;
  readonly artifacts: ArtifactsTab;
  readonly data: DataTab;
  readonly environment: EnvironmentTab;
  readonly why: WhyTab;

  /** The run references the view was opened with. */
  get runIds(): string[] {
    return this.model.runIds.slice();
  }

  /** Show a tab. */
  showTab(name: CompareTabName): void {
    const tab = this._tabs.get(name);
    if (tab) {
      this.content.currentWidget = tab;
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    // Closing the tab stops the polling.
    this.model.dispose();
    super.dispose();
  }

  private _onModelChanged(model: CompareModel, change: CompareChange): void {
    this.title.label = model.title;
    const status = this._status.node;
    status.classList.toggle('jp-mltrack-compare-status-error', !!model.error);
    status.classList.toggle('jp-mltrack-compare-status-live', model.live);
    if (model.error) {
      status.textContent = model.error;
      status.title = model.error;
    } else if (!model.comparison) {
      status.textContent = 'Comparing\u2026';
      status.title = '';
    } else if (model.live) {
      status.textContent = 'Live: a run is still running';
      status.title = `Updating every ${Math.round(model.pollInterval / 1000)} s`;
    } else {
      status.textContent = '';
      status.title = '';
    }
  }

  private _status: Widget;
  private _tabs: Map<CompareTabName, CompareTab>;
}

export namespace CompareView {
  export interface IOptions {
    model: CompareModel;
    rendermime: IRenderMimeRegistry;
  }
}
