import { refreshIcon } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { clear, h } from './dom';
import { FilterBox } from './filterbox';
import { IGroupsChartRequest } from './groups/chart';
import { GroupsModel } from './groups/model';
import { GroupBy } from './groups/panel';
import { narrowFilter } from './groups/query';
import { requestAPI } from './handler';
import { IExperimentsResponse, formatTimestamp } from './model';
import { RunsTable } from './runtable';
import {
  Reducer,
  chooseMetricColumns,
  metricHints,
  reducerFor
} from './runlist/columns';
import { IListChange, RunsListModel } from './runlist/list';
import {
  DEFAULT_ORDER,
  IRunsFilter,
  effectiveScope,
  nextOrder
} from './runlist/query';
import { emptyText, footerText, hiddenSelected } from './runlist/status';
import { IClickModifiers, RunSelection } from './selection';

/** Settings of the sidebar (see schema/plugin.json). */
export interface ISidebarSettings {
  refreshInterval: number;
  showAllExperiments: boolean;
  keyMetrics: string[];
  /** Reducer of a metric's column, by metric: `{"loss": "min"}`. */
  metricReducers: { [key: string]: string };
  /** Reducer of the metric columns not in `metricReducers`. */
  defaultMetricReducer: string;
}

export const DEFAULT_SETTINGS: ISidebarSettings = {
  refreshInterval: 1000,
  showAllExperiments: false,
  keyMetrics: [],
  metricReducers: {},
  defaultMetricReducer: 'last'
};

/** Metric columns chosen when the settings name none. */
const MAX_METRIC_COLUMNS = 3;

/**
 * The left-panel list of runs: a virtualised table (only the rows in view,
 * and a few around, are in the DOM) over a list the server filters, sorts
 * and pages (see src/runlist/).
 *
 * "Group by" swaps the table for the groups of the same runs (src/groups/):
 * the list stays as it was underneath (filter, order, scroll, selection) and
 * keeps polling, so its revision tells when the groups are to be asked for
 * again.
 */
export class RunsSidebar extends Widget {
  constructor(options: RunsSidebar.IOptions) {
    super();
    this.id = 'jp-mltrack-sidebar';
    this.addClass('jp-mltrack-sidebar');
    this._getNotebookPath = options.getNotebookPath;
    this._getKernelId = options.getKernelId ?? (() => null);
    this._settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this._bottom = options.bottom ?? null;
    this._allExperiments = this._settings.showAllExperiments;
    const fetch =
      options.fetch ?? ((endPoint: string) => requestAPI<unknown>(endPoint));
    this._model = new RunsListModel({ fetch });
    this._model.changed.connect(this._onModelChanged, this);
    this._grouping = new GroupBy({
      fetch,
      host: {
        filter: () => this.filter(),
        metricColumns: () => this._metricColumns(),
        keys: () => ({
          params: this._model.paramKeys,
          tags: this._model.tagKeys
        }),
        choose: field => this._setGroupBy(field),
        openGroup: condition => this._openGroup(condition),
        changed: () => {
          this._showQueryError();
          this._renderError();
          this._renderStatus();
        }
      }
    });
    this._filterBox = new FilterBox(text => {
      this._filterText = text;
      this._applyFilter();
    });

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

  /** Emitted after the runs list changed (a page, children, a new list). */
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
    this._table.highlighted = id;
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

  /** Emitted with a run id when the user opens a run. */
  get runSelected(): ISignal<this, string> {
    return this._runSelected;
  }

  /** Emitted with a sweep's run id when the user asks for its charts. */
  get sweepChartsRequested(): ISignal<this, string> {
    return this._sweepChartsRequested;
  }

  /** The groups shown in group mode. */
  get groups(): GroupsModel {
    return this._grouping.model;
  }

  /**
   * The field the runs are grouped by (`params.model`, `status`), `null`
   * for the runs list.
   */
  get groupBy(): string | null {
    return this._grouping.field;
  }

  set groupBy(field: string | null) {
    this._setGroupBy(field || null);
  }

  /** Emitted when the user asks for the chart of the groups. */
  get groupsChartRequested(): ISignal<GroupBy, IGroupsChartRequest> {
    return this._grouping.chartRequested;
  }

  /**
   * Emitted with the groups chart's request (`figure=1`) when the groups
   * shown changed, so an open chart of them can be drawn again.
   */
  get groupsChanged(): ISignal<GroupBy, string> {
    return this._grouping.groupsChanged;
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
    const columnsBefore = JSON.stringify(this._metricColumns());
    this._chooseColumns();
    if (JSON.stringify(this._metricColumns()) !== columnsBefore) {
      // A sort by a column's old reducer would no longer match its header.
      if (this._order?.replace(/^-/, '').startsWith('metrics.')) {
        this._order = null;
        this._applyFilter();
      }
      this._render(true);
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

  /** The current filter: scope, the filter box's text and the order. */
  filter(): IRunsFilter {
    return {
      allExperiments: this._allExperiments,
      experiment: this._experimentSelect.value || null,
      notebook: this._getNotebookPath(),
      kernel: this._getKernelId(),
      filter: this._filterText,
      order: this._order ?? DEFAULT_ORDER
    };
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._filterBox.dispose();
    this._table.dispose();
    Signal.clearData(this);
    Signal.clearData(this._model);
    this._grouping.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll.start();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._updateScopeLabel();
    this._render(true);
    void this.refresh();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._table.scheduleRender();
  }

  private async _tick(): Promise<void> {
    this._applyFilter();
    try {
      await this._model.poll();
      this._updatedAt = formatTimestamp(new Date().toISOString());
    } finally {
      this._renderError();
      this._renderStatus();
    }
  }

  /** Hand the current filter to the model (nothing happens when unchanged). */
  private _applyFilter(): void {
    this._updateScopeLabel();
    void this._model.setFilter(this.filter());
    this._grouping.sync();
    this._renderStatus();
  }

  private _onModelChanged(_: RunsListModel, change: IListChange): void {
    // An answer may have shown selected runs deleted.
    const selectionChanged = this.selection.size !== this._selectionSize;
    if (change.reset) {
      this._table.scrollToTop();
      // Another list: back in the runs list, it opens at the top.
      this._listScroll = 0;
    }
    const revision = this._model.revision;
    const storeChanged = revision !== this._seenRevision;
    if (storeChanged) {
      this._seenRevision = revision;
      void this._loadExperiments();
    }
    this._chooseColumns();
    const query = this._grouping.model.request?.query;
    this._render(change.reset);
    if (storeChanged && this._grouping.model.request?.query === query) {
      // The same groups of a changed store (a new request asks anyway).
      this._grouping.refresh();
    }
    this._grouping.updateChoices();
    this._showQueryError();
    this._renderError();
    if (selectionChanged) {
      this._selectionChanged.emit(this.selection);
    }
    this._runsChanged.emit(this._model);
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

  /** The metric columns with the reducer each shows. */
  private _metricColumns(): { key: string; reducer: Reducer }[] {
    return this._metrics.map(key => ({
      key,
      reducer: reducerFor(
        key,
        this._settings.metricReducers,
        this._settings.defaultMetricReducer
      )
    }));
  }

  /** Pick the metric columns (kept while they exist, see chooseMetricColumns). */
  private _chooseColumns(): void {
    this._metrics = chooseMetricColumns({
      configured: this._settings.keyMetrics,
      available: this._model.metricKeys,
      hints: metricHints(take(this._model.loadedRuns(), 100)),
      previous: this._metrics,
      max: MAX_METRIC_COLUMNS
    });
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

    this._selectAll = h('input', {
      type: 'checkbox',
      class: 'jp-mltrack-select-all',
      title: 'Select all loaded runs',
      'aria-label': 'Select all loaded runs'
    });
    this._selectAll.addEventListener('click', event => {
      event.stopPropagation();
      this.selection.toggleAllVisible(this._model.loadedIds());
      this.updateSelection();
    });

    this._scope = h('div', { class: 'jp-mltrack-scope' });
    this._status = h('div', { class: 'jp-mltrack-footer' });
    this._error = h('div', { class: 'jp-mltrack-error' });
    this._error.hidden = true;
    this._table = new RunsTable({
      model: this._model,
      selectAll: this._selectAll,
      onOpen: id => this._open(id),
      onSelect: (id, modifiers) => this._clickSelect(id, modifiers),
      onSort: field => this._sortBy(field),
      onSweepCharts: id => this._sweepChartsRequested.emit(id),
      onDrawn: () => {
        this._renderEmpty();
        this._syncSelection();
      }
    });
    this._empty = h('div', { class: 'jp-mltrack-empty' });
    this._table.node.appendChild(this._empty);

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
        h('div', { class: 'jp-mltrack-controls' }, this._filterBox.input),
        this._filterBox.error,
        this._grouping.controls,
        h(
          'div',
          { class: 'jp-mltrack-controls jp-mltrack-selection-bar' },
          this._compareButton,
          this._clearButton,
          this._hiddenNote
        ),
        this._error,
        this._table.node,
        this._grouping.node,
        this._status,
        this._bottom
      )
    );
    this._updateScopeLabel();
    this._render(true);
  }

  private _updateScopeLabel(): void {
    const scope = effectiveScope(this.filter());
    const text =
      scope.kind === 'notebook'
        ? `notebook:${scope.notebook}`
        : scope.kind === 'experiment'
          ? `experiment:${scope.experiment}`
          : `all:${this._allExperiments}`;
    if (text === this._scopeText) {
      return;
    }
    this._scopeText = text;
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

  /**
   * Show the list: the table, what an empty list says, the selection. In
   * group mode the groups instead: the hidden table is left as it is.
   */
  private _render(force: boolean): void {
    if (this._grouping.field !== null) {
      this._grouping.sync();
      this._grouping.render();
      this._syncSelection();
      return;
    }
    this._table.metrics = this._metricColumns();
    this._table.order = this._order;
    this._table.render(force);
  }

  /**
   * Group by a field (`null`: back to the runs list). The list's scroll
   * position is kept while the groups are shown: back in the list, it is
   * where it was, unless another filter made it another list.
   */
  private _setGroupBy(field: string | null): void {
    if (field === this._grouping.field) {
      return;
    }
    if (this._grouping.field === null) {
      this._listScroll = this._table.node.scrollTop;
    }
    this._grouping.setField(field);
    const grouped = field !== null;
    this._table.node.hidden = grouped;
    this.node.classList.toggle('jp-mltrack-grouped', grouped);
    if (!grouped) {
      this._table.node.scrollTop = this._listScroll;
    }
    this._render(true);
    this._showQueryError();
    this._renderError();
    this._renderStatus();
  }

  /**
   * A group was clicked: its runs, in the list. The filter box gets the
   * group's condition (`<filter> and params.model = "rf"`), shown as text so
   * it can be read and edited like any filter.
   */
  private _openGroup(condition: string): void {
    const text = narrowFilter(this._filterText, condition);
    this._filterBox.setText(text);
    this._filterText = text;
    this._setGroupBy(null);
    this._applyFilter();
  }

  /** The refused query under the filter box: the groups' in group mode. */
  private _showQueryError(): void {
    this._filterBox.showError(
      this._grouping.queryError ?? this._model.queryError
    );
  }

  private _renderEmpty(): void {
    // The first page tells an empty list: the count is not waited for.
    const extent = this._model.extent;
    const text =
      extent === null
        ? this._model.error === null
          ? 'Loading runs\u2026'
          : null
        : emptyText({
            total: extent.rows,
            filtered: !this._model.treeMode,
            scope: effectiveScope(this.filter()).kind
          });
    this._empty.textContent = text ?? '';
    this._empty.hidden = text === null;
  }

  private _renderError(): void {
    const groupsError = this._grouping.error;
    const grouped = groupsError !== null && groupsError !== undefined;
    const reason = grouped ? groupsError : this._model.error;
    if (reason === null || reason === undefined) {
      this._error.textContent = '';
      this._error.hidden = true;
      return;
    }
    const message =
      reason instanceof Error ? reason.message : String(reason ?? '');
    this._error.textContent = `Cannot load ${grouped ? 'groups' : 'runs'}: ${message}`;
    this._error.hidden = false;
  }

  /** A header was clicked: ascending, descending, then the default order. */
  private _sortBy(field: string): void {
    this._order = nextOrder(this._order, field);
    this._applyFilter();
    this._render(true);
  }

  private _open(id: string): void {
    this.selected = id;
    // A later shift-click extends from the run opened last.
    this.selection.setAnchor(id);
    this._runSelected.emit(id);
  }

  /** A checkbox click, or a shift/ctrl/cmd-click on a row. */
  private _clickSelect(id: string, modifiers: IClickModifiers): void {
    this.selection.click(this._model.loadedIds(), id, modifiers);
    this.updateSelection();
  }

  /** Make the checkboxes, the header box and the button show the selection. */
  private _syncSelection(): void {
    const selection = this.selection;
    this._selectionSize = selection.size;
    for (const row of this._table.runRows()) {
      const checked = selection.has(row.dataset.runId ?? '');
      row.classList.toggle('jp-mltrack-checked', checked);
      row.setAttribute('aria-selected', String(checked));
      const box = row.querySelector<HTMLInputElement>('.jp-mltrack-select');
      if (box) {
        box.checked = checked;
      }
    }
    const loaded = this._model.loadedIds();
    const state = selection.allVisibleState(loaded);
    this._selectAll.checked = state === 'all';
    this._selectAll.indeterminate = state === 'some';
    this._selectAll.disabled = loaded.length === 0;
    const button = selection.buttonState();
    this._compareButton.textContent = button.label;
    this._compareButton.disabled = !button.enabled;
    this._compareButton.title = button.title;
    this._clearButton.disabled = selection.size === 0;
    const hidden = hiddenSelected(selection.ids, loaded);
    this._hiddenNote.textContent = hidden > 0 ? `${hidden} not shown` : '';
    this._hiddenNote.title =
      hidden > 0
        ? 'Selected runs not in the list here (another scope, the filter, a collapsed parent or a page not loaded) are compared too'
        : '';
    this._renderStatus();
  }

  /**
   * The footer: how many runs (`100+` until a long list is counted), how
   * many selected, when last updated.
   */
  private _renderStatus(): void {
    if (this._grouping.field !== null) {
      this._status.textContent = this._grouping.footer(
        this.selection.size,
        this._updatedAt
      );
      return;
    }
    const extent = this._model.extent;
    this._status.textContent = footerText({
      total: extent?.rows ?? null,
      more: extent !== null && !extent.exact,
      counting: this._model.counting,
      loading: this._model.loading,
      selected: this.selection.size,
      updatedAt: this._updatedAt
    });
  }

  private _bottom: HTMLElement | null;
  private _getNotebookPath: () => string | null;
  private _getKernelId: () => string | null;
  private _settings: ISidebarSettings;
  private _allExperiments: boolean;
  private _model: RunsListModel;
  private _poll: Poll;
  private _filterBox: FilterBox;
  private _filterText = '';
  private _grouping: GroupBy;
  private _order: string | null = null;
  /** The runs list's scroll position while the groups are shown. */
  private _listScroll = 0;
  private _metrics: string[] = [];
  private _scopeText = '';
  private _seenRevision: string | null = null;
  private _selectionSize = 0;
  private _selected: string | null = null;
  private _runsChanged = new Signal<this, RunsListModel>(this);
  private _runSelected = new Signal<this, string>(this);
  private _selectionChanged = new Signal<this, RunSelection>(this);
  private _compareRequested = new Signal<this, void>(this);
  private _sweepChartsRequested = new Signal<this, string>(this);
  private _updatedAt = '';
  private _selectAll!: HTMLInputElement;
  private _compareButton!: HTMLButtonElement;
  private _clearButton!: HTMLButtonElement;
  private _hiddenNote!: HTMLSpanElement;
  private _allToggle!: HTMLInputElement;
  private _experimentSelect!: HTMLSelectElement;
  private _scope!: HTMLDivElement;
  private _status!: HTMLDivElement;
  private _error!: HTMLDivElement;
  private _table!: RunsTable;
  private _empty!: HTMLDivElement;
}

/** The first `n` items of an iterable. */
function* take<T>(items: Iterable<T>, n: number): IterableIterator<T> {
  if (n <= 0) {
    return;
  }
  let i = 0;
  for (const item of items) {
    yield item;
    if (++i >= n) {
      return;
    }
  }
}

export namespace RunsSidebar {
  export interface IOptions {
    /** Path of the active notebook relative to the server root, if any. */
    getNotebookPath: () => string | null;
    /** Id of the active notebook's kernel, if it has one. */
    getKernelId?: () => string | null;
    settings?: Partial<ISidebarSettings>;
    /** How to reach the REST API (default: `requestAPI`). */
    fetch?: (endPoint: string) => Promise<unknown>;
    /** A section under the list and its footer (the Models section). */
    bottom?: HTMLElement;
  }
}
