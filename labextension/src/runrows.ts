/**
 * The rows and header of the runs sidebar's table, as DOM. Which rows, which
 * columns and what each cell holds is decided in src/runlist/; this file only
 * draws it (text always through textContent).
 */

import { h } from './dom';
import {
  formatDuration,
  formatStart,
  formatTimestamp,
  formatValue,
  fullTimestamp,
  statusClass
} from './model';
import {
  Reducer,
  childrenBest,
  metricLabel,
  metricOrder,
  metricTitle,
  metricValue
} from './runlist/columns';
import { orderDirection } from './runlist/query';
import { ILoadingRow, IRunRow, ListRow } from './runlist/tree';
import { sweepIcon } from './icons';
import {
  bestText,
  sweepSummary,
  sweepTitle,
  trialCountsText,
  trialNumber
} from './sweeps/sweep';

/** Indentation of one level of nesting, in pixels. */
export const INDENT = 14;

/** A column of the table after the checkbox. */
export interface IColumn {
  /** `number`, `name`, … or `metrics.KEY`. */
  key: string;
  label: string;
  title: string;
  /** The server's order field a click sorts by. */
  order: string;
  /** CSS class of its cells. */
  className: string;
  /** For a metric column: the metric and its reducer. */
  metric?: { key: string; reducer: Reducer };
}

/** The columns: the run's attributes, then a column per metric. */
export function tableColumns(
  metrics: { key: string; reducer: Reducer }[]
): IColumn[] {
  const attribute = (key: string, label: string): IColumn => ({
    key,
    label,
    title: `Sort by ${label === '#' ? 'number' : label.toLowerCase()} (on the server)`,
    order: key,
    className: `jp-mltrack-col-${key.replace('_', '-')}`
  });
  return [
    attribute('number', '#'),
    attribute('name', 'Name'),
    attribute('status', 'Status'),
    attribute('start_time', 'Start'),
    attribute('duration', 'Duration'),
    ...metrics.map(({ key, reducer }) => ({
      key: `metrics.${key}`,
      label: metricLabel(key, reducer),
      title: metricTitle(key, reducer),
      order: metricOrder(key, reducer),
      className: 'jp-mltrack-col-metric',
      metric: { key, reducer }
    }))
  ];
}

/** The header row: the "select all" box, then a sortable cell per column. */
export function headerRow(
  columns: IColumn[],
  order: string | null,
  selectAll: HTMLInputElement
): HTMLTableRowElement {
  const row = h(
    'tr',
    { 'aria-rowindex': 1 },
    h('th', { class: 'jp-mltrack-col-select', scope: 'col' }, selectAll)
  );
  for (const column of columns) {
    const direction = orderDirection(order, column.order);
    const th = h('th', {
      class: column.className,
      scope: 'col',
      title: column.title,
      'data-order': column.order,
      'data-metric': column.metric?.key,
      'aria-sort':
        direction === 'asc'
          ? 'ascending'
          : direction === 'desc'
            ? 'descending'
            : undefined,
      text: `${column.label}${direction === 'asc' ? ' \u25b2' : direction === 'desc' ? ' \u25bc' : ''}`
    });
    row.appendChild(th);
  }
  return row;
}

/** What drawing a row needs beyond the row itself. */
export interface IRowContext {
  columns: IColumn[];
  /** Whether the list is a tree (a disclosure column in the name cell). */
  tree: boolean;
  rowHeight: number;
  /** The run opened last. */
  highlighted: string | null;
  isChecked: (id: string) => boolean;
}

/** Draw a row of the list. */
export function listRow(row: ListRow, ctx: IRowContext): HTMLTableRowElement {
  if (row.kind === 'run') {
    return runRow(row, ctx);
  }
  return fillerRow(row, ctx);
}

/** A run: checkbox, attributes, metric cells. */
function runRow(row: IRunRow, ctx: IRowContext): HTMLTableRowElement {
  const { run } = row;
  const checked = ctx.isChecked(run.id);
  const parent = row.childCount > 0;
  const sweep = sweepSummary(run) !== null;
  const tr = h(
    'tr',
    {
      class: [
        'jp-mltrack-run-row',
        row.depth > 0 ? 'jp-mltrack-child-row' : '',
        parent ? 'jp-mltrack-parent-row' : '',
        sweep ? 'jp-mltrack-sweep-row' : '',
        trialNumber(run) !== null ? 'jp-mltrack-trial-row' : '',
        checked ? 'jp-mltrack-checked' : '',
        run.id === ctx.highlighted ? 'jp-mod-selected' : ''
      ]
        .filter(Boolean)
        .join(' '),
      'data-run-id': run.id,
      'data-run-number': run.number,
      'data-depth': row.depth,
      'data-index': row.index,
      'aria-rowindex': row.index + 2,
      'aria-level': ctx.tree ? row.depth + 1 : undefined,
      'aria-expanded': parent && ctx.tree ? String(row.expanded) : undefined,
      'aria-selected': String(checked),
      tabindex: 0,
      title: `${run.experiment} \u00b7 ${run.notebook_path ?? run.source ?? ''}`
    },
    h(
      'td',
      { class: 'jp-mltrack-col-select' },
      h('input', {
        type: 'checkbox',
        class: 'jp-mltrack-select',
        title: 'Select for comparison (shift: a range)',
        'aria-label': `Select run #${run.number} for comparison`,
        checked
      })
    )
  );
  tr.style.height = `${ctx.rowHeight}px`;
  const sweepSpan = sweep
    ? SWEEP_SPANS.filter(key => ctx.columns.some(c => c.key === key)).length
    : 0;
  for (const column of ctx.columns) {
    if (sweepSpan > 0 && SWEEP_SPANS.includes(column.key)) {
      // A sweep's name cell spans its attributes: it has more to say.
      if (column.key === 'name') {
        tr.appendChild(sweepCell(row, ctx, sweepSpan));
      }
      continue;
    }
    tr.appendChild(cell(row, column, ctx));
  }
  return tr;
}

function cell(row: IRunRow, column: IColumn, ctx: IRowContext): HTMLElement {
  const { run } = row;
  switch (column.key) {
    case 'number':
      return h('td', { class: column.className, text: run.number });
    case 'name':
      return nameCell(row, ctx);
    case 'status':
      return h(
        'td',
        { class: column.className },
        h('span', {
          class: `jp-mltrack-status ${statusClass(run.status)}`,
          text: run.status
        })
      );
    case 'start_time':
      return h('td', {
        class: column.className,
        title: run.start_time ? fullTimestamp(run.start_time) : '',
        text: formatStart(run.start_time)
      });
    case 'duration':
      return h('td', {
        class: column.className,
        text: formatDuration(run.duration)
      });
  }
  const metric = column.metric!;
  const value = metricValue(run, metric.key, metric.reducer);
  const td = h('td', {
    class: column.className,
    'data-metric': metric.key,
    text: value === undefined ? '' : formatValue(value)
  });
  const best =
    row.childCount > 0
      ? childrenBest(run, metric.key, metric.reducer)
      : undefined;
  if (best !== undefined) {
    td.appendChild(
      h('span', {
        class: 'jp-mltrack-child-best',
        title: `Best of its ${row.childCount} child run${row.childCount === 1 ? '' : 's'} (by the metric's goal)`,
        text: formatValue(best)
      })
    );
  }
  return td;
}

/**
 * The name, indented by depth, after the disclosure triangle of a parent; a
 * trial without a name is called by its number.
 */
function nameCell(row: IRunRow, ctx: IRowContext): HTMLElement {
  const { run } = row;
  const trial = trialNumber(run);
  const name = (run.name ?? '') || (trial !== null ? `trial ${trial}` : '');
  const td = h('td', { class: 'jp-mltrack-col-name', title: name });
  indent(td, row, ctx);
  td.appendChild(
    h('span', {
      class: `jp-mltrack-name-text${!run.name && trial !== null ? ' jp-mltrack-trial-name' : ''}`,
      text: name
    })
  );
  if (row.childCount > 0) {
    td.appendChild(
      h('span', {
        class: 'jp-mltrack-child-count',
        title: `${row.childCount} child run${row.childCount === 1 ? '' : 's'}`,
        text: row.childCount
      })
    );
  }
  return td;
}

/**
 * Indent a row's name cell by its depth, and add the disclosure triangle of
 * a parent (a space under it otherwise) to `into` (the cell by default).
 */
function indent(
  td: HTMLElement,
  row: IRunRow,
  ctx: IRowContext,
  into: HTMLElement = td
): void {
  if (!ctx.tree) {
    return;
  }
  const { run } = row;
  td.style.paddingLeft = `${4 + row.depth * INDENT}px`;
  if (row.childCount > 0) {
    into.appendChild(
      h('span', {
        class: 'jp-mltrack-expand',
        role: 'button',
        'aria-expanded': String(row.expanded),
        'aria-label': `${row.expanded ? 'Hide' : 'Show'} the ${row.childCount} child runs of #${run.number}`,
        title: `${row.expanded ? 'Hide' : 'Show'} its child runs (\u2192/\u2190)`
      })
    );
  } else {
    into.appendChild(h('span', { class: 'jp-mltrack-expand-space' }));
  }
}

/** The columns a sweep's name cell spans (those the table has). */
const SWEEP_SPANS = ['name', 'status', 'start_time', 'duration'];

/**
 * A sweep's name cell, across its attribute columns: a badge, its name, its
 * own status unless it finished, its trials by how they ended, its best
 * value, and a button to its charts (kept in view at the end: the texts
 * before it give way first, the last first). Its start and duration are in
 * the cell's tooltip and in the detail.
 */
function sweepCell(row: IRunRow, ctx: IRowContext, span: number): HTMLElement {
  const { run } = row;
  const sweep = sweepSummary(run)!;
  const when = `started ${formatTimestamp(run.start_time)}, ${formatDuration(run.duration)}`;
  const td = h('td', {
    class: 'jp-mltrack-col-name jp-mltrack-sweep-cell',
    colspan: span,
    title: `${sweepTitle(sweep)} (${when})`
  });
  const line = h('div', { class: 'jp-mltrack-sweep-line' });
  indent(td, row, ctx, line);
  line.append(
    h('span', { class: 'jp-mltrack-sweep-badge', text: 'sweep' }),
    h('span', { class: 'jp-mltrack-name-text', text: sweep.name })
  );
  if (run.status !== 'finished') {
    // running (its trials still come), or how it ended otherwise
    line.appendChild(
      h('span', {
        class: `jp-mltrack-status ${statusClass(run.status)}`,
        text: run.status
      })
    );
  }
  line.append(
    h('span', {
      class: 'jp-mltrack-sweep-counts',
      text: trialCountsText(sweep)
    })
  );
  const best = bestText(sweep);
  if (best) {
    line.appendChild(h('span', { class: 'jp-mltrack-sweep-best', text: best }));
  }
  const button = h('button', {
    type: 'button',
    class: 'jp-mltrack-sweep-charts',
    title: `Sweep charts of ${sweep.name}: optimization history and parameter importance`,
    'aria-label': `Sweep charts of ${sweep.name}`
  });
  button.appendChild(sweepIcon.element({ tag: 'span' }));
  line.appendChild(button);
  td.appendChild(line);
  return td;
}

/** A row not loaded yet, or the children of a parent being fetched. */
function fillerRow(
  row: Exclude<ListRow, IRunRow>,
  ctx: IRowContext
): HTMLTableRowElement {
  const loading = row.kind === 'loading';
  const td = h('td', {
    colspan: ctx.columns.length + 1,
    class: 'jp-mltrack-filler',
    text: loading ? 'Loading child runs\u2026' : ''
  });
  if (loading) {
    td.style.paddingLeft = `${28 + (row as ILoadingRow).depth * INDENT}px`;
  }
  const tr = h(
    'tr',
    {
      class: loading ? 'jp-mltrack-loading-row' : 'jp-mltrack-placeholder-row',
      'data-index': row.index,
      'aria-rowindex': row.index + 2,
      'aria-busy': 'true'
    },
    td
  );
  tr.style.height = `${ctx.rowHeight}px`;
  return tr;
}

/** A spacer standing for rows not drawn. */
export function spacerRow(
  height: number,
  columns: number
): HTMLTableRowElement {
  const td = h('td', { colspan: columns, class: 'jp-mltrack-spacer-cell' });
  const tr = h('tr', { class: 'jp-mltrack-spacer', 'aria-hidden': 'true' }, td);
  td.style.height = `${height}px`;
  tr.hidden = height <= 0;
  return tr;
}
