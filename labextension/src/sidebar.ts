import { refreshIcon } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { clear, h } from './dom';
import { requestAPI } from './handler';
import {
  IExperimentsResponse,
  IRunSummary,
  IRunsFilter,
  IRunsResponse,
  RunsListModel,
  effectiveScope,
  filterKey,
  formatDuration,
  formatTimestamp,
  formatValue,
  matchesSearch,
  pickKeyMetrics,
  runsQuery,
  sortRuns,
  statusClass
} from './model';
import { IClickModifiers, RunSelection } from './selection';

/** Settings of the sidebar (see schema/plugin.json). */
export interface ISidebarSettings {
  refreshInterval: number;
  showAllExperiments: boolean;
  keyMetrics: string[];
}

export const DEFAULT_SETTINGS: ISidebarSettings = {
  refreshInterval: 1000,
  showAllExperiments: false,
  keyMetrics: []
};

/**
 * The left-panel list of runs.
 */
export class RunsSidebar extends Widget {
  constructor(options: RunsSidebar.IOptions) {
    super();
    this.id = 'jp-mltrack-sidebar';
    this.addClass('jp-mltrack-sidebar');
    this._getNotebookPath = options.getNotebookPath;
    this._getKernelId = options.getKernelId ?? (() => null);
    this._settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this._allExperiments = this._settings.showAllExperiments;

    this._buildChrome();

    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: {
        interval: this._settings.refreshInterval,
        backoff: true,
        max: 30 * 1000
      },
      name: 'jupyter-mltrack:runs',
      standby: () => (this.isVisible ? 'when-hidden' : true)
    });
  }

  /** Emitted after a new revision of the runs list was rendered. */
  get runsChanged(): ISignal<this, RunsListModel> {
    return this._runsChanged;
  }

  /** The runs list model. */
  get model(): RunsListModel {
    return this._model;
  }

  /** Whether every experiment is listed. */
  get allExperiments(): boolean {
    return this._allExperiments;
  }

  set allExperiments(value: boolean) {
    if (value === this._allExperiments) {
      return;
    }
    this._allExperiments = value;
    this._allToggle.checked = value;
    this._experimentSelect.disabled = !value;
    void this.refresh();
  }

  /** The id of the highlighted run. */
  get selected(): string | null {
    return this._selected;
  }

  set selected(id: string | null) {
    this._selected = id;
    for (const row of Array.from(
      this._tbody.querySelectorAll<HTMLTableRowElement>('tr')
    )) {
      row.classList.toggle('jp-mod-selected', row.dataset.runId === id);
    }
  }

  /**
   * The runs checked for comparison. It lives in the model, so it outlives
   * every refresh; call `updateSelection()` after changing it from outside.
   */
  get selection(): RunSelection {
    return this._model.selection;
  }

  /** Emitted when the runs checked for comparison change. */
  get selectionChanged(): ISignal<this, RunSelection> {
    return this._selectionChanged;
  }

  /** Emitted when the user asks to compare the checked runs. */
  get compareRequested(): ISignal<this, void> {
    return this._compareRequested;
  }

  /** Re-draw the checkboxes and the Compare button after a change. */
  updateSelection(): void {
    this._syncSelection();
    this._selectionChanged.emit(this.selection);
  }

  /** Apply new settings. */
  configure(settings: Partial<ISidebarSettings>): void {
    const previous = this._settings;
    this._settings = { ...previous, ...settings };
    if (this._settings.refreshInterval !== previous.refreshInterval) {
      this._poll.frequency = {
        ...this._poll.frequency,
        interval: Math.max(250, this._settings.refreshInterval)
      };
    }
    if (this._settings.showAllExperiments !== previous.showAllExperiments) {
      this.allExperiments = this._settings.showAllExperiments;
    }
    if (
      JSON.stringify(this._settings.keyMetrics) !==
      JSON.stringify(previous.keyMetrics)
    ) {
      this._renderRows();
    }
  }

  /** Poll the server now; resolves once the list is up to date. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /** Called when the active notebook changed. */
  notebookChanged(): void {
    this._updateScopeLabel();
    if (this.isVisible) {
      void this.refresh();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll.start();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._updateScopeLabel();
    void this.refresh();
  }

  /** The current filter. */
  filter(): IRunsFilter {
    return {
      allExperiments: this._allExperiments,
      experiment: this._experimentSelect.value || null,
      notebook: this._getNotebookPath(),
      kernel: this._getKernelId()
    };
  }

  private async _tick(): Promise<void> {
    const filter = this.filter();
    const key = filterKey(filter);
    try {
      const response = await requestAPI<IRunsResponse>(runsQuery(filter));
      const before = this.selection.size;
      const changed = this._model.update(response, key, {
        listsEverything: effectiveScope(filter).kind === 'all'
      });
      this._setError(null);
      if (changed) {
        this._renderRows();
        this._runsChanged.emit(this._model);
        if (this.selection.size !== before) {
          this._selectionChanged.emit(this.selection);
        }
        void this._loadExperiments();
      }
      this._updatedAt = formatTimestamp(new Date().toISOString());
      this._renderStatus();
    } catch (reason) {
      this._setError(reason);
      throw reason;
    }
  }

  private async _loadExperiments(): Promise<void> {
    try {
      const { experiments } =
        await requestAPI<IExperimentsResponse>('experiments');
      const names = experiments.map(e => e.name);
      const current = this._experimentSelect.value;
      const existing = Array.from(this._experimentSelect.options).map(
        o => o.value
      );
      const wanted = ['', ...names];
      if (JSON.stringify(existing) === JSON.stringify(wanted)) {
        return;
      }
      clear(this._experimentSelect);
      this._experimentSelect.appendChild(
        h('option', { value: '', text: 'All experiments' })
      );
      for (const experiment of experiments) {
        this._experimentSelect.appendChild(
          h('option', {
            value: experiment.name,
            text: `${experiment.name} (${experiment.run_count})`
          })
        );
      }
      this._experimentSelect.value = names.includes(current) ? current : '';
    } catch (reason) {
      console.warn('mltrack: cannot list experiments', reason);
    }
  }

  private _statusText(): string {
    const shown = this._visibleRuns().length;
    const total = this._model.total;
    const noun = (n: number) => (n === 1 ? 'run' : 'runs');
    const listed =
      total > shown
        ? `${shown} of ${total} ${noun(total)}`
        : `${shown} ${noun(shown)}`;
    const selected = this.selection.size;
    return selected > 0 ? `${listed} \u00b7 ${selected} selected` : listed;
  }

  private _setError(reason: unknown): void {
    if (reason === null) {
      this._error.textContent = '';
      this._error.hidden = true;
      return;
    }
    const message =
      reason instanceof Error ? reason.message : String(reason ?? '');
    this._error.textContent = `Cannot load runs: ${message}`;
    this._error.hidden = false;
  }

  private _buildChrome(): void {
    const refresh = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-refresh',
      title: 'Refresh',
      'aria-label': 'Refresh runs'
    });
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.addEventListener('click', () => void this.refresh());

    this._allToggle = h('input', {
      type: 'checkbox',
      class: 'jp-mltrack-all-toggle'
    });
    this._allToggle.checked = this._allExperiments;
    this._allToggle.addEventListener('change', () => {
      this.allExperiments = this._allToggle.checked;
    });

    this._experimentSelect = h(
      'select',
      {
        class: 'jp-mltrack-experiment-select',
        title: 'Experiment',
        'aria-label': 'Experiment'
      },
      h('option', { value: '', text: 'All experiments' })
    );
    this._experimentSelect.disabled = !this._allExperiments;
    this._experimentSelect.addEventListener('change', () => {
      void this.refresh();
    });

    this._search = h('input', {
      type: 'search',
      class: 'jp-mltrack-search',
      placeholder: 'Filter by name, #, tag…',
      'aria-label': 'Filter runs'
    });
    this._search.addEventListener('input', () => this._renderRows());

    this._compareButton = h('button', {
      type: 'button',
      class: 'jp-mltrack-compare-button jp-mod-styled jp-mod-accept',
      text: 'Compare (0)'
    });
    this._compareButton.addEventListener('click', () => {
      if (this.selection.buttonState().enabled) {
        this._compareRequested.emit();
      }
    });
    this._clearButton = h('button', {
      type: 'button',
      class: 'jp-mltrack-clear-selection jp-mod-styled jp-mod-reject',
      text: 'Clear',
      title: 'Deselect every run'
    });
    this._clearButton.addEventListener('click', () => {
      this.selection.clear();
      this.updateSelection();
    });
    this._hiddenNote = h('span', { class: 'jp-mltrack-selection-hidden' });

    this._scope = h('div', { class: 'jp-mltrack-scope' });
    this._status = h('div', { class: 'jp-mltrack-footer' });
    this._error = h('div', { class: 'jp-mltrack-error' });
    this._error.hidden = true;
    this._thead = h('thead');
    this._tbody = h('tbody');
    this._empty = h('div', { class: 'jp-mltrack-empty' });

    this.node.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-sidebar-inner' },
        h(
          'div',
          { class: 'jp-mltrack-header' },
          h('h2', { class: 'jp-mltrack-title', text: 'Runs' }),
          refresh
        ),
        this._scope,
        h(
          'div',
          { class: 'jp-mltrack-controls' },
          h(
            'label',
            { class: 'jp-mltrack-all-label' },
            this._allToggle,
            'All experiments'
          ),
          this._experimentSelect
        ),
        h('div', { class: 'jp-mltrack-controls' }, this._search),
        h(
          'div',
          { class: 'jp-mltrack-controls jp-mltrack-selection-bar' },
          this._compareButton,
          this._clearButton,
          this._hiddenNote
        ),
        this._error,
        h(
          'div',
          { class: 'jp-mltrack-table-wrapper' },
          h(
            'table',
            { class: 'jp-mltrack-runs-table' },
            this._thead,
            this._tbody
          ),
          this._empty
        ),
        this._status
      )
    );
    this._updateScopeLabel();
    this._syncSelection();
  }

  private _updateScopeLabel(): void {
    const scope = effectiveScope(this.filter());
    clear(this._scope);
    if (scope.kind === 'notebook') {
      this._scope.appendChild(document.createTextNode('Notebook: '));
      this._scope.appendChild(
        h('span', {
          class: 'jp-mltrack-scope-value',
          title: scope.notebook,
          text: scope.notebook.split('/').pop() || scope.notebook
        })
      );
    } else if (scope.kind === 'experiment') {
      this._scope.appendChild(document.createTextNode('Experiment: '));
      this._scope.appendChild(
        h('span', { class: 'jp-mltrack-scope-value', text: scope.experiment })
      );
    } else {
      this._scope.appendChild(
        h('span', {
          class: 'jp-mltrack-scope-value',
          text: this._allExperiments
            ? 'All experiments'
            : 'No active notebook: all experiments'
        })
      );
    }
  }

  private _visibleRuns(): IRunSummary[] {
    const search = this._search.value;
    const runs = this._model.runs.filter(run => matchesSearch(run, search));
    return this._sort ? sortRuns(runs, this._sort) : runs;
  }

  private _renderRows(): void {
    this._updateScopeLabel();
    const runs = this._visibleRuns();
    const metrics = pickKeyMetrics(
      this._model.runs,
      this._settings.keyMetrics,
      3
    );

    // Header: "select all visible", then the sortable columns.
    clear(this._thead);
    this._visibleIds = runs.map(run => run.id);
    this._selectAll = h('input', {
      type: 'checkbox',
      class: 'jp-mltrack-select-all',
      title: 'Select all visible runs',
      'aria-label': 'Select all visible runs'
    });
    this._selectAll.addEventListener('click', () => {
      this.selection.toggleAllVisible(this._visibleIds);
      this.updateSelection();
    });
    const columns: { key: string; label: string; title?: string }[] = [
      { key: 'number', label: '#' },
      { key: 'name', label: 'Name' },
      { key: 'status', label: 'Status' },
      { key: 'start_time', label: 'Start' },
      { key: 'duration', label: 'Duration' },
      ...metrics.map(m => ({ key: `metrics.${m}`, label: m, title: m }))
    ];
    const headRow = h(
      'tr',
      {},
      h('th', { class: 'jp-mltrack-col-select' }, this._selectAll)
    );
    for (const column of columns) {
      const active = this._sort?.replace(/^-/, '') === column.key;
      const arrow = active
        ? this._sort!.startsWith('-')
          ? ' \u25bc'
          : ' \u25b2'
        : '';
      const th = h('th', {
        class: column.key.startsWith('metrics.')
          ? 'jp-mltrack-col-metric'
          : `jp-mltrack-col-${column.key.replace('_', '-')}`,
        title: `Sort by ${column.title ?? column.label}`,
        text: `${column.label}${arrow}`
      });
      th.addEventListener('click', () => {
        if (this._sort === column.key) {
          this._sort = `-${column.key}`;
        } else if (this._sort === `-${column.key}`) {
          this._sort = null;
        } else {
          this._sort = column.key;
        }
        this._renderRows();
      });
      headRow.appendChild(th);
    }
    this._thead.appendChild(headRow);

    // Rows
    clear(this._tbody);
    for (const run of runs) {
      const checkbox = h('input', {
        type: 'checkbox',
        class: 'jp-mltrack-select',
        title: 'Select for comparison (shift: a range)',
        'aria-label': `Select run #${run.number} for comparison`
      });
      const row = h(
        'tr',
        {
          class: 'jp-mltrack-run-row',
          'data-run-id': run.id,
          'data-run-number': run.number,
          tabindex: 0,
          title: `${run.experiment} \u00b7 ${run.notebook_path ?? ''}`
        },
        h('td', { class: 'jp-mltrack-col-select' }, checkbox),
        h('td', { class: 'jp-mltrack-col-number', text: run.number }),
        h('td', { class: 'jp-mltrack-col-name', text: run.name ?? '' }),
        h(
          'td',
          { class: 'jp-mltrack-col-status' },
          h('span', {
            class: `jp-mltrack-status ${statusClass(run.status)}`,
            text: run.status
          })
        ),
        h('td', {
          class: 'jp-mltrack-col-start',
          title: run.start_time ?? '',
          text: formatTimestamp(run.start_time)
        }),
        h('td', {
          class: 'jp-mltrack-col-duration',
          text: formatDuration(run.duration)
        }),
        metrics.map(m =>
          h('td', {
            class: 'jp-mltrack-col-metric',
            'data-metric': m,
            text: m in (run.metrics || {}) ? formatValue(run.metrics[m]) : ''
          })
        )
      );
      if (run.id === this._selected) {
        row.classList.add('jp-mod-selected');
      }
      const open = () => {
        this.selected = run.id;
        // A later shift-click extends from the run opened last.
        this.selection.setAnchor(run.id);
        this._runSelected.emit(run.id);
      };
      checkbox.addEventListener('click', event => {
        // The box toggles itself; the selection decides, then redraws it.
        event.stopPropagation();
        this._clickSelect(run.id, { shift: event.shiftKey });
      });
      // Shift-click must not select the table's text.
      row.addEventListener('mousedown', event => {
        if (event.shiftKey) {
          event.preventDefault();
        }
      });
      row.addEventListener('click', event => {
        if (event.shiftKey || event.ctrlKey || event.metaKey) {
          this._clickSelect(run.id, {
            shift: event.shiftKey,
            toggle: event.ctrlKey || event.metaKey
          });
          return;
        }
        open();
      });
      row.addEventListener('keydown', event => {
        if (event.target === checkbox) {
          return;
        }
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          open();
        }
      });
      this._tbody.appendChild(row);
    }

    if (runs.length === 0) {
      const scope = effectiveScope(this.filter());
      this._empty.textContent =
        this._model.runs.length > 0
          ? 'No run matches the filter.'
          : scope.kind === 'notebook'
            ? 'No run recorded by this notebook yet. Run %load_ext jupyter_mltrack, then a cell starting with %%track.'
            : 'No run recorded yet.';
      this._empty.hidden = false;
    } else {
      this._empty.hidden = true;
    }
    this._syncSelection();
  }

  /** A checkbox click, or a shift/ctrl/cmd-click on a row. */
  private _clickSelect(id: string, modifiers: IClickModifiers): void {
    this.selection.click(this._visibleIds, id, modifiers);
    this.updateSelection();
  }

  /** Make the checkboxes, the header box and the button show the selection. */
  private _syncSelection(): void {
    const selection = this.selection;
    for (const row of Array.from(
      this._tbody.querySelectorAll<HTMLTableRowElement>('tr')
    )) {
      const checked = selection.has(row.dataset.runId ?? '');
      row.classList.toggle('jp-mltrack-checked', checked);
      row.setAttribute('aria-selected', String(checked));
      const box = row.querySelector<HTMLInputElement>('.jp-mltrack-select');
      if (box) {
        box.checked = checked;
      }
    }
    if (this._selectAll) {
      const state = selection.allVisibleState(this._visibleIds);
      this._selectAll.checked = state === 'all';
      this._selectAll.indeterminate = state === 'some';
      this._selectAll.disabled = this._visibleIds.length === 0;
    }
    const button = selection.buttonState();
    this._compareButton.textContent = button.label;
    this._compareButton.disabled = !button.enabled;
    this._compareButton.title = button.title;
    this._clearButton.disabled = selection.size === 0;
    const visible = new Set(this._visibleIds);
    const hidden = selection.ids.filter(id => !visible.has(id)).length;
    this._hiddenNote.textContent = hidden > 0 ? `${hidden} not shown` : '';
    this._hiddenNote.title =
      hidden > 0
        ? 'Selected runs hidden by the scope or the filter are compared too'
        : '';
    this._renderStatus();
  }

  /** The footer: how many runs, how many selected, when last updated. */
  private _renderStatus(): void {
    const updated = this._updatedAt ? ` \u00b7 updated ${this._updatedAt}` : '';
    this._status.textContent = `${this._statusText()}${updated}`;
  }

  /** Emitted with a run id when the user opens a run. */
  get runSelected(): ISignal<this, string> {
    return this._runSelected;
  }

  private _getNotebookPath: () => string | null;
  private _getKernelId: () => string | null;
  private _settings: ISidebarSettings;
  private _allExperiments: boolean;
  private _model = new RunsListModel();
  private _poll: Poll;
  private _sort: string | null = null;
  private _selected: string | null = null;
  private _runsChanged = new Signal<this, RunsListModel>(this);
  private _runSelected = new Signal<this, string>(this);
  private _selectionChanged = new Signal<this, RunSelection>(this);
  private _compareRequested = new Signal<this, void>(this);
  private _visibleIds: string[] = [];
  private _updatedAt = '';
  private _selectAll: HTMLInputElement | null = null;
  private _compareButton!: HTMLButtonElement;
  private _clearButton!: HTMLButtonElement;
  private _hiddenNote!: HTMLSpanElement;
  private _allToggle!: HTMLInputElement;
  private _experimentSelect!: HTMLSelectElement;
  private _search!: HTMLInputElement;
  private _scope!: HTMLDivElement;
  private _status!: HTMLDivElement;
  private _error!: HTMLDivElement;
  private _thead!: HTMLTableSectionElement;
  private _tbody!: HTMLTableSectionElement;
  private _empty!: HTMLDivElement;
}

export namespace RunsSidebar {
  export interface IOptions {
    /** Path of the active notebook relative to the server root, if any. */
    getNotebookPath: () => string | null;
    /** Id of the active notebook's kernel, if it has one. */
    getKernelId?: () => string | null;
    settings?: Partial<ISidebarSettings>;
  }
}
