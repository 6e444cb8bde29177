/**
 * The Runs sidebar's Group by: its menu and Chart button, the groups of the
 * listed runs shown in place of the list, and the requests of their chart.
 *
 * Kept apart from the sidebar, which owns the runs list, the filter box and
 * the selection: the sidebar tells it the list's filter, metric columns and
 * keys through `IGroupByHost`, and hears back when a group is opened or the
 * groups changed.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { clear, h } from '../dom';
import { Fetch } from '../runlist/api';
import { IRefusedQuery } from '../runlist/list';
import { IRunsFilter, filterText } from '../runlist/query';
import { groupsFooterText } from './bars';
import { IGroupsChartRequest } from './chart';
import { GroupsModel } from './model';
import {
  IGroupMetric,
  groupByChoices,
  groupCondition,
  groupableMetrics,
  groupsQuery
} from './query';
import { GroupsTable } from './view';

/** What the Group by needs of the sidebar it sits in. */
export interface IGroupByHost {
  /** The runs list's filter: its scope, the filter box's text, its order. */
  filter(): IRunsFilter;
  /** The list's metric columns, each with its reducer. */
  metricColumns(): IGroupMetric[];
  /** The scope's param and tag keys (what can be grouped by). */
  keys(): { params: string[] | null; tags: string[] | null };
  /** The menu chose a field (`null`: None). */
  choose(field: string | null): void;
  /** A group was clicked: the condition that selects its runs. */
  openGroup(condition: string): void;
  /** The groups, their errors or their loading state changed. */
  changed(): void;
}

export class GroupBy {
  constructor(options: GroupBy.IOptions) {
    this._host = options.host;
    this.model = new GroupsModel({ fetch: options.fetch });
    this.model.changed.connect(this._onChanged, this);
    this._select = h(
      'select',
      {
        class: 'jp-mltrack-group-select',
        title:
          "Group the runs by a parameter, a tag or an attribute: a row per value with each metric column's mean \u00b1 std",
        'aria-label': 'Group by'
      },
      h('option', { value: '', text: 'None' })
    );
    this._select.addEventListener('change', () => {
      this._host.choose(this._select.value || null);
    });
    this._chartButton = h('button', {
      type: 'button',
      class: 'jp-mltrack-groups-chart-button jp-mod-styled',
      text: 'Chart',
      title:
        'Open the chart of the groups: a bar per group at its mean, \u00b1 std, min and max'
    });
    this._chartButton.hidden = true;
    this._chartButton.addEventListener('click', () => this.requestChart());
    this._table = new GroupsTable(group => {
      if (this._field !== null) {
        this._host.openGroup(groupCondition(this._field, group.value));
      }
    });
    this._table.node.hidden = true;
    this.controls = h(
      'div',
      { class: 'jp-mltrack-controls jp-mltrack-group-controls' },
      h('span', { class: 'jp-mltrack-group-label', text: 'Group by' }),
      this._select,
      this._chartButton
    );
  }

  /** The groups shown and their requests. */
  readonly model: GroupsModel;

  /** The row of the menu and the Chart button. */
  readonly controls: HTMLElement;

  /** The groups table, shown in place of the runs list in group mode. */
  get node(): HTMLElement {
    return this._table.node;
  }

  /** The field grouped by, `null` out of group mode. */
  get field(): string | null {
    return this._field;
  }

  /** Emitted when the user asks for the chart of the groups. */
  get chartRequested(): ISignal<this, IGroupsChartRequest> {
    return this._chartRequested;
  }

  /**
   * Emitted with the chart's request (`figure=1`) when the groups shown
   * changed, so an open chart of them can be drawn again.
   */
  get groupsChanged(): ISignal<this, string> {
    return this._groupsChanged;
  }

  /** The filter the server refused for the groups, in group mode. */
  get queryError(): IRefusedQuery | null {
    return this._field !== null ? this.model.queryError : null;
  }

  /** Why the groups could not be loaded, in group mode (`null`: they could). */
  get error(): unknown {
    return this._field !== null ? this.model.error : null;
  }

  /**
   * Group by `field` (`null`: back to the list): the menu, the table and the
   * Chart button follow; `false` when it is the field already.
   */
  setField(field: string | null): boolean {
    if (field === this._field) {
      return false;
    }
    this._field = field;
    this.updateChoices();
    this._select.value = field ?? '';
    const grouped = field !== null;
    this._table.node.hidden = !grouped;
    this._chartButton.hidden = !grouped;
    if (!grouped) {
      void this.model.setRequest(null);
      this._table.clear();
    }
    return true;
  }

  /** Ask for the groups of the list's runs (nothing happens when unchanged). */
  sync(): void {
    if (this._field === null) {
      return;
    }
    const filter = this._host.filter();
    void this.model.setRequest({
      groupBy: this._field,
      query: groupsQuery(filter, this._field, this._host.metricColumns()),
      filterText: filterText(filter)
    });
  }

  /** The store changed: the same groups are asked for again. */
  refresh(): void {
    if (this._field !== null) {
      void this.model.refresh();
    }
  }

  /** Draw the groups of the field grouped by. */
  render(): void {
    const field = this._field;
    if (field === null) {
      return;
    }
    const choice = groupByChoices(this._host.keys(), field).find(
      c => c.value === field
    );
    this._table.render({
      answer: this.model.answer,
      groupBy: field,
      label: choice?.label ?? field,
      metrics: groupableMetrics(this._host.metricColumns()),
      emptyText: filterText(this._host.filter())
        ? 'No run matches the filter.'
        : null
    });
  }

  /**
   * The menu: None, then the attributes, the scope's params and its tags
   * (rebuilt only when they change).
   */
  updateChoices(): void {
    const choices = groupByChoices(this._host.keys(), this._field);
    const key = JSON.stringify(choices);
    if (key === this._choicesKey) {
      return;
    }
    this._choicesKey = key;
    const select = this._select;
    clear(select);
    select.appendChild(h('option', { value: '', text: 'None' }));
    const sections: [string, string][] = [
      ['attribute', 'Attributes'],
      ['param', 'Parameters'],
      ['tag', 'Tags']
    ];
    for (const [kind, label] of sections) {
      const options = choices.filter(c => c.kind === kind);
      if (options.length > 0) {
        select.appendChild(
          h(
            'optgroup',
            { label },
            options.map(c => h('option', { value: c.value, text: c.label }))
          )
        );
      }
    }
    select.value = this._field ?? '';
  }

  /** The footer in group mode: groups, runs, selected, when updated. */
  footer(selected: number, updatedAt: string): string {
    const answer = this.model.answer;
    return groupsFooterText({
      groups: answer?.groups.length ?? null,
      runs: answer?.total ?? null,
      loading: this.model.loading,
      selected,
      updatedAt
    });
  }

  /** The chart of the groups shown: the same request, with its figure. */
  chartRequest(): IGroupsChartRequest {
    const field = this._field ?? '';
    return {
      query: groupsQuery(
        this._host.filter(),
        field,
        this._host.metricColumns(),
        {
          figure: true
        }
      ),
      groupBy: field
    };
  }

  /** Ask for the chart of the groups shown. */
  requestChart(): void {
    if (this._field !== null) {
      this._chartRequested.emit(this.chartRequest());
    }
  }

  dispose(): void {
    Signal.clearData(this);
    Signal.clearData(this.model);
    // An answer on its way is dropped.
    void this.model.setRequest(null);
  }

  private _onChanged(): void {
    this.render();
    this._host.changed();
    const request = this.model.request;
    const answer = this.model.answer;
    if (request === null || this._field === null || answer === null) {
      return;
    }
    const key = JSON.stringify([request.query, answer.groups]);
    if (key !== this._groupsKey) {
      this._groupsKey = key;
      this._groupsChanged.emit(this.chartRequest().query);
    }
  }

  private _host: IGroupByHost;
  private _field: string | null = null;
  private _select: HTMLSelectElement;
  private _chartButton: HTMLButtonElement;
  private _table: GroupsTable;
  private _choicesKey = '';
  private _groupsKey = '';
  private _chartRequested = new Signal<this, IGroupsChartRequest>(this);
  private _groupsChanged = new Signal<this, string>(this);
}

export namespace GroupBy {
  export interface IOptions {
    /** Reach the REST API (as the runs list does). */
    fetch: Fetch;
    host: IGroupByHost;
  }
}
