/**
 * The runs sidebar's virtualised table: one scrolling element whose table
 * holds the sticky header, a spacer row standing for the rows above the
 * view, the rows in view (and a few around), and a spacer for the rows
 * below. The list itself, most of it never fetched, is the model's.
 *
 * Clicks and keys are handled once on the table body (rows come and go as
 * the list scrolls): a checkbox selects, the triangle expands a parent,
 * Enter/Space open a run, →/← expand and collapse, ↑/↓ move between rows.
 */

import { clear } from './dom';
import { Reducer } from './runlist/columns';
import { RunsListModel } from './runlist/list';
import { ListRow } from './runlist/tree';
import { scrollToReveal, virtualWindow } from './runlist/virtual';
import {
  IColumn,
  headerRow,
  listRow,
  spacerRow,
  tableColumns
} from './runrows';
import { IClickModifiers } from './selection';

/** Height of a row until one is measured, in pixels. */
const ROW_HEIGHT = 24;

/** Rows drawn past each edge of the view. */
const OVERSCAN = 8;

/** What the table tells its owner. */
export interface IRunsTableOptions {
  model: RunsListModel;
  /** The "select all loaded runs" box, drawn in the header. */
  selectAll: HTMLInputElement;
  /** A run was opened (click, Enter, Space). */
  onOpen: (id: string) => void;
  /** A checkbox click, or a shift/ctrl/cmd-click on a row. */
  onSelect: (id: string, modifiers: IClickModifiers) => void;
  /** A header was clicked: sort by its field. */
  onSort: (field: string) => void;
  /** Rows were drawn (to show the selection on them). */
  onDrawn: () => void;
  /** A sweep row's chart button was clicked. */
  onSweepCharts?: (id: string) => void;
}

export class RunsTable {
  constructor(private readonly _options: IRunsTableOptions) {
    this._thead = document.createElement('thead');
    this._thead.addEventListener('click', event => this._onHeaderClick(event));
    this._tbody = document.createElement('tbody');
    this._tbody.addEventListener('click', event => this._onRowClick(event));
    this._tbody.addEventListener('keydown', event => this._onRowKey(event));
    // Shift-click must not select the table's text.
    this._tbody.addEventListener('mousedown', event => {
      if (event.shiftKey) {
        event.preventDefault();
      }
    });
    this._table = document.createElement('table');
    this._table.className = 'jp-mltrack-runs-table';
    this._table.append(this._thead, this._tbody);
    this.node = document.createElement('div');
    this.node.className = 'jp-mltrack-table-wrapper';
    this.node.appendChild(this._table);
    this.node.addEventListener('scroll', () => this.scheduleRender(), {
      passive: true
    });
  }

  /** The scrolling element. */
  readonly node: HTMLDivElement;

  /** The metric columns, each with its reducer. */
  metrics: { key: string; reducer: Reducer }[] = [];

  /** The order the header shows (`null`: the default order). */
  order: string | null = null;

  /** The run opened last, highlighted. */
  get highlighted(): string | null {
    return this._highlighted;
  }

  set highlighted(id: string | null) {
    this._highlighted = id;
    for (const row of this.runRows()) {
      row.classList.toggle('jp-mod-selected', row.dataset.runId === id);
    }
  }

  /** The drawn run rows. */
  runRows(): HTMLElement[] {
    return Array.from(
      this._tbody.querySelectorAll<HTMLElement>('.jp-mltrack-run-row')
    );
  }

  /** Back to the first row (another list). */
  scrollToTop(): void {
    this.node.scrollTop = 0;
  }

  /** Render on the next frame (scrolling, resizing). */
  scheduleRender(): void {
    if (this._frame === null) {
      this._frame = requestAnimationFrame(() => {
        this._frame = null;
        this.render(false);
      });
    }
  }

  /**
   * Draw the header when its columns or order changed, and the rows of the
   * window in view (spacers for the others) when the window or the rows
   * changed; tell the model which rows are in view so it fetches them.
   */
  render(force: boolean): void {
    const columns = tableColumns(this.metrics);
    const headerKey = JSON.stringify([
      columns.map(c => [c.label, c.order]),
      this.order
    ]);
    if (force || headerKey !== this._headerKey) {
      this._headerKey = headerKey;
      this._columns = columns;
      clear(this._thead);
      this._thead.appendChild(
        headerRow(columns, this.order, this._options.selectAll)
      );
      // The name column takes what the fixed ones leave, and no less than its
      // minimum: the table's min-width counts the metric columns (CSS).
      this._table.style.setProperty(
        '--jp-mltrack-metric-columns',
        String(columns.filter(c => c.metric).length)
      );
      force = true;
    }
    const model = this._options.model;
    const count = model.count;
    const win = virtualWindow({
      scrollTop: this.node.scrollTop,
      height: this.node.clientHeight || 600,
      rowHeight: this._rowHeight,
      count,
      overscan: OVERSCAN,
      headerHeight: this._thead.offsetHeight
    });
    void model.setView(
      win.visibleFirst,
      Math.max(win.visibleEnd, win.visibleFirst + 1)
    );
    const rows = model.rows(win.first, win.end);
    const tree = model.treeMode;
    this._table.classList.toggle('jp-mltrack-tree', tree);
    this._table.setAttribute('role', tree ? 'treegrid' : 'grid');
    this._table.setAttribute('aria-rowcount', String(count + 1));
    // The count too: the rows in view stay when the list takes its length
    // (its total counted after its first page), the spacer below does not.
    const key = JSON.stringify([
      count,
      win.first,
      win.end,
      this._rowHeight,
      this._highlighted,
      rowsKey(rows)
    ]);
    if (force || key !== this._rowsKey) {
      this._rowsKey = key;
      this._drawRows(rows, win.topSpace, win.bottomSpace, tree);
    }
    this._options.onDrawn();
  }

  /** Forget the pending frame. */
  dispose(): void {
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
      this._frame = null;
    }
  }

  /** Replace the drawn rows, keeping the focus on the run that had it. */
  private _drawRows(
    rows: ListRow[],
    topSpace: number,
    bottomSpace: number,
    tree: boolean
  ): void {
    const active = document.activeElement as HTMLElement | null;
    const focusedRow = active?.closest<HTMLElement>('.jp-mltrack-run-row');
    const focused =
      focusedRow && this._tbody.contains(focusedRow)
        ? {
            id: focusedRow.dataset.runId,
            box: active!.classList.contains('jp-mltrack-select')
          }
        : null;
    const span = this._columns.length + 1;
    const fragment = document.createDocumentFragment();
    fragment.appendChild(spacerRow(topSpace, span));
    const selection = this._options.model.selection;
    const ctx = {
      columns: this._columns,
      tree,
      rowHeight: this._rowHeight,
      highlighted: this._highlighted,
      isChecked: (id: string) => selection.has(id)
    };
    for (const row of rows) {
      fragment.appendChild(listRow(row, ctx));
    }
    fragment.appendChild(spacerRow(bottomSpace, span));
    clear(this._tbody);
    this._tbody.appendChild(fragment);
    if (focused?.id) {
      const row = this.runRows().find(r => r.dataset.runId === focused.id);
      const target = focused.box
        ? row?.querySelector<HTMLElement>('.jp-mltrack-select')
        : row;
      target?.focus({ preventScroll: true });
    }
    this._measureRowHeight();
  }

  /** Rows are as tall as the theme makes them: measure one, redraw if it differs. */
  private _measureRowHeight(): void {
    const row = this._tbody.querySelector<HTMLElement>('.jp-mltrack-run-row');
    const height = row?.getBoundingClientRect().height ?? 0;
    if (height > 0 && Math.abs(height - this._rowHeight) > 0.5) {
      this._rowHeight = height;
      this.scheduleRender();
    }
  }

  private _onHeaderClick(event: MouseEvent): void {
    const th = (event.target as HTMLElement).closest<HTMLElement>(
      'th[data-order]'
    );
    if (th) {
      this._options.onSort(th.dataset.order!);
    }
  }

  private _onRowClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const id = target.closest<HTMLElement>('.jp-mltrack-run-row')?.dataset
      .runId;
    if (!id) {
      return;
    }
    if (target.classList.contains('jp-mltrack-select')) {
      // The box toggles itself; the selection decides, then redraws it.
      event.stopPropagation();
      this._options.onSelect(id, { shift: event.shiftKey });
      return;
    }
    if (target.closest('.jp-mltrack-expand')) {
      void this._options.model.toggle(id);
      return;
    }
    if (target.closest('.jp-mltrack-sweep-charts')) {
      this._options.onSweepCharts?.(id);
      return;
    }
    if (event.shiftKey || event.ctrlKey || event.metaKey) {
      this._options.onSelect(id, {
        shift: event.shiftKey,
        toggle: event.ctrlKey || event.metaKey
      });
      return;
    }
    this._options.onOpen(id);
  }

  /** Enter/Space open; →/← expand and collapse; ↑/↓ move between rows. */
  private _onRowKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.jp-mltrack-run-row');
    const id = row?.dataset.runId;
    if (!row || !id || target.classList.contains('jp-mltrack-select')) {
      return;
    }
    const model = this._options.model;
    const index = Number(row.dataset.index);
    const item = model.row(index);
    const parent = item.kind === 'run' && model.treeMode;
    switch (event.key) {
      case 'Enter':
      case ' ':
        event.preventDefault();
        this._options.onOpen(id);
        return;
      case 'ArrowRight':
        if (parent && item.childCount > 0) {
          event.preventDefault();
          if (item.expanded) {
            this._focusIndex(index + 1);
          } else {
            void model.toggle(id, true);
          }
        }
        return;
      case 'ArrowLeft':
        if (!parent) {
          return;
        }
        event.preventDefault();
        if (item.expanded) {
          void model.toggle(id, false);
        } else if (item.parentId) {
          this._focusIndex(model.indexOf(item.parentId));
        }
        return;
      case 'ArrowDown':
      case 'ArrowUp':
        event.preventDefault();
        this._focusIndex(index + (event.key === 'ArrowDown' ? 1 : -1));
        return;
    }
  }

  /** Scroll a row into view, draw it and focus it. */
  private _focusIndex(index: number): void {
    const count = this._options.model.count;
    if (index < 0 || index >= count) {
      return;
    }
    const top = scrollToReveal(index, {
      scrollTop: this.node.scrollTop,
      height: this.node.clientHeight,
      rowHeight: this._rowHeight,
      count,
      headerHeight: this._thead.offsetHeight
    });
    if (top !== null) {
      this.node.scrollTop = top;
      this.render(false);
    }
    this._tbody
      .querySelector<HTMLElement>(`.jp-mltrack-run-row[data-index="${index}"]`)
      ?.focus();
  }

  private _table: HTMLTableElement;
  private _thead: HTMLTableSectionElement;
  private _tbody: HTMLTableSectionElement;
  private _columns: IColumn[] = [];
  private _headerKey = '';
  private _rowsKey = '';
  private _rowHeight = ROW_HEIGHT;
  private _frame: number | null = null;
  private _highlighted: string | null = null;
}

/** A key of drawn rows: what they show, to skip drawing the same rows again. */
function rowsKey(rows: ListRow[]): string {
  return rows
    .map(row =>
      row.kind === 'run'
        ? [
            row.run.id,
            row.depth,
            row.expanded,
            row.childCount,
            row.run.status,
            row.run.end_time,
            row.run.name,
            JSON.stringify(row.run.metric_summary ?? row.run.metrics),
            JSON.stringify(row.run.children?.best ?? null)
          ].join(':')
        : `${row.kind}:${row.index}`
    )
    .join('|');
}
