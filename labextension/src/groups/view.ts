/**
 * The sidebar's groups table: a row per group (its value, its run count and
 * each metric column's `mean ± std` with a small error bar drawn in CSS),
 * shown in place of the runs list in group mode. A click (or Enter) on a
 * row opens the group: the sidebar narrows the filter to it.
 *
 * The groups are few (one per value) and drawn whole: no virtualisation.
 * What a cell says and where its bar goes is decided in bars.ts.
 */

import { clear, h } from '../dom';
import { metricLabel } from '../runlist/columns';
import {
  IBar,
  IGroup,
  IGroupsAnswer,
  aggregateText,
  aggregateTitle,
  groupLabel,
  scaleBars
} from './bars';
import { IGroupMetric, groupCondition, metricSpec } from './query';

/** What the table draws. */
export interface IGroupsTableState {
  /** The groups, `null` while the first answer is on its way. */
  answer: IGroupsAnswer | null;
  /** The field grouped by (`params.model`), as the filter writes it. */
  groupBy: string;
  /** Its name in the header (`model`). */
  label: string;
  /** The metric columns (the list's, with their reducers). */
  metrics: IGroupMetric[];
  /** What to say when there is no group (`null`: the default). */
  emptyText?: string | null;
}

export class GroupsTable {
  /** @param onOpen called with the group whose row was clicked or entered */
  constructor(onOpen: (group: IGroup) => void) {
    this._onOpen = onOpen;
    this._thead = document.createElement('thead');
    this._tbody = document.createElement('tbody');
    this._tbody.addEventListener('click', event => {
      const row = (event.target as HTMLElement).closest<HTMLElement>(
        '.jp-mltrack-group-row'
      );
      if (row) {
        this._open(row);
      }
    });
    this._tbody.addEventListener('keydown', event => this._onKey(event));
    const table = h('table', {
      class: 'jp-mltrack-groups-table',
      role: 'grid',
      'aria-label': 'Groups of runs'
    });
    table.append(this._thead, this._tbody);
    this._empty = h('div', { class: 'jp-mltrack-empty' });
    this.node = h(
      'div',
      { class: 'jp-mltrack-groups-wrapper' },
      table,
      this._empty
    );
  }

  /** The scrolling element. */
  readonly node: HTMLDivElement;

  /** Draw the groups (nothing happens when they are what is drawn). */
  render(state: IGroupsTableState): void {
    const key = JSON.stringify([
      state.groupBy,
      state.label,
      state.metrics,
      state.emptyText ?? null,
      state.answer?.groups ?? null
    ]);
    if (key === this._key) {
      return;
    }
    this._key = key;
    this._state = state;
    clear(this._thead);
    this._thead.appendChild(this._headerRow(state));
    const groups = state.answer?.groups ?? [];
    const specs = state.metrics.map(m => metricSpec(m.key, m.reducer));
    const bars = specs.map(spec => scaleBars(groups.map(g => g.metrics[spec])));
    const focused = (
      document.activeElement as HTMLElement | null
    )?.closest<HTMLElement>('.jp-mltrack-group-row')?.dataset.index;
    clear(this._tbody);
    groups.forEach((group, index) => {
      const row = h(
        'tr',
        {
          class: 'jp-mltrack-group-row',
          tabindex: 0,
          'data-index': index,
          'aria-rowindex': index + 2,
          title: `Show the ${group.count === 1 ? 'run' : `${group.count} runs`} of this group: adds ${groupCondition(state.groupBy, group.value)} to the filter`
        },
        h('td', {
          class: `jp-mltrack-group-value${group.value === null ? ' jp-mltrack-group-none' : ''}`,
          text: groupLabel(group.value)
        }),
        h('td', {
          class: 'jp-mltrack-group-count',
          text: group.count.toLocaleString('en-US')
        })
      );
      state.metrics.forEach((metric, column) => {
        const aggregate = group.metrics[specs[column]];
        row.appendChild(
          h(
            'td',
            {
              class: 'jp-mltrack-group-metric',
              'data-metric': metric.key,
              title: aggregateTitle(
                metricLabel(metric.key, metric.reducer),
                aggregate,
                group.count
              )
            },
            h('div', {
              class: 'jp-mltrack-group-stat',
              text: aggregateText(aggregate)
            }),
            errorBar(bars[column][index])
          )
        );
      });
      this._tbody.appendChild(row);
    });
    if (focused !== undefined) {
      this._tbody
        .querySelector<HTMLElement>(
          `.jp-mltrack-group-row[data-index="${focused}"]`
        )
        ?.focus({ preventScroll: true });
    }
    const empty =
      state.answer === null
        ? 'Grouping runs\u2026'
        : groups.length === 0
          ? (state.emptyText ?? 'No run to group.')
          : null;
    this._empty.textContent = empty ?? '';
    this._empty.hidden = empty === null;
  }

  /** Drop the rows drawn (out of group mode: nothing stale stays in the DOM). */
  clear(): void {
    this._key = '';
    this._state = null;
    clear(this._thead);
    clear(this._tbody);
    this._empty.hidden = true;
  }

  private _headerRow(state: IGroupsTableState): HTMLTableRowElement {
    return h(
      'tr',
      { 'aria-rowindex': 1 },
      h('th', {
        class: 'jp-mltrack-group-value',
        scope: 'col',
        title: `Grouped by ${state.groupBy}; (none): the runs without a value`,
        text: state.label
      }),
      h('th', {
        class: 'jp-mltrack-group-count',
        scope: 'col',
        title: 'Runs in the group',
        text: 'Runs'
      }),
      state.metrics.map(({ key, reducer }) =>
        h('th', {
          class: 'jp-mltrack-group-metric',
          scope: 'col',
          'data-metric': key,
          title:
            `${metricLabel(key, reducer)} over each group's runs: ` +
            'mean \u00b1 std. The bar: the mean (mark), \u00b1 std (band), min to max (line), ' +
            'on a scale shared by the column',
          text: metricLabel(key, reducer)
        })
      )
    );
  }

  private _open(row: HTMLElement): void {
    const group = this._state?.answer?.groups[Number(row.dataset.index)];
    if (group) {
      this._onOpen(group);
    }
  }

  /** Enter/Space open a group; ↑/↓ move between rows. */
  private _onKey(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>(
      '.jp-mltrack-group-row'
    );
    if (!row) {
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this._open(row);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next =
        event.key === 'ArrowDown'
          ? row.nextElementSibling
          : row.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    }
  }

  private _onOpen: (group: IGroup) => void;
  private _thead: HTMLTableSectionElement;
  private _tbody: HTMLTableSectionElement;
  private _empty: HTMLDivElement;
  private _state: IGroupsTableState | null = null;
  private _key = '';
}

/**
 * A cell's error bar: a track, the ± std band, the min-to-max line and the
 * mean's mark, placed in percent of the column's scale. Nothing for a group
 * without a value.
 */
function errorBar(bar: IBar | null): HTMLElement | null {
  if (!bar) {
    return null;
  }
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const track = h('div', {
    class: 'jp-mltrack-group-bar',
    'aria-hidden': 'true'
  });
  const band = h('span', { class: 'jp-mltrack-group-bar-std' });
  band.style.left = pct(bar.low);
  band.style.width = pct(Math.max(0, bar.high - bar.low));
  track.appendChild(band);
  // The min-to-max line over the band, as a box plot's whiskers cross it.
  if (bar.min !== null && bar.max !== null) {
    const range = h('span', { class: 'jp-mltrack-group-bar-range' });
    range.style.left = pct(bar.min);
    range.style.width = pct(Math.max(0, bar.max - bar.min));
    track.appendChild(range);
  }
  const mean = h('span', { class: 'jp-mltrack-group-bar-mean' });
  mean.style.left = pct(bar.mean);
  track.appendChild(mean);
  return track;
}
