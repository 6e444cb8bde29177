/**
 * The runs list as the rows the sidebar draws: top-level runs (pages of a
 * `roots=1` list, most of them not loaded) with the children of expanded
 * parents inserted under them, at any depth.
 *
 * Row indexes map to runs without walking the list: only expanded parents
 * move rows, and there are few of them, so a row is found by a binary search
 * over the expanded top-level runs. A row whose page is not loaded is a
 * placeholder; a parent whose children are being fetched gets one `loading`
 * row under it.
 */

import { IRunSummary } from '../model';

/** A row of the list. */
export type ListRow = IRunRow | IPlaceholderRow | ILoadingRow;

/** A run. */
export interface IRunRow {
  kind: 'run';
  /** Row index in the list. */
  index: number;
  run: IRunSummary;
  /** 0 for a top-level run, 1 for its children, … */
  depth: number;
  /** Row of the top-level run this row belongs to. */
  rootIndex: number;
  /** The run this one is listed under (`null` at depth 0). */
  parentId: string | null;
  /** How many children the run has (per the server). */
  childCount: number;
  /** Whether its children are shown under it. */
  expanded: boolean;
}

/** A row whose page is not loaded yet. */
export interface IPlaceholderRow {
  kind: 'placeholder';
  index: number;
  depth: 0;
  rootIndex: number;
}

/** Stands for the children of `parentId` while they are fetched. */
export interface ILoadingRow {
  kind: 'loading';
  index: number;
  depth: number;
  rootIndex: number;
  parentId: string;
}

/** What the tree is built from. */
export interface ITreeSource {
  /** Number of top-level rows. */
  total: number;
  /** The top-level run at a row, if its page is loaded. */
  root(index: number): IRunSummary | undefined;
  /** Loaded top-level runs with their row, in row order. */
  loadedRoots(): Iterable<[number, IRunSummary]>;
  /** Whether the user expanded a run. */
  isExpanded(id: string): boolean;
  /**
   * A run's children: `undefined` when not asked for, `null` while they are
   * fetched.
   */
  children(id: string): IRunSummary[] | null | undefined;
}

/** The number of children a run has, per its summary. */
export function childCount(run: IRunSummary): number {
  const count = run.children?.count;
  return typeof count === 'number' && count > 0 ? count : 0;
}

/** Whether a run can be expanded. */
export function hasChildren(run: IRunSummary): boolean {
  return childCount(run) > 0;
}

/** A top-level run shown with rows under it. */
interface IExpansion {
  rootIndex: number;
  /** Row of the top-level run in the list. */
  start: number;
  /** The rows under it, in order (indexes relative to `start + 1`). */
  rows: DescendantRow[];
}

type DescendantRow =
  | Omit<IRunRow, 'index' | 'rootIndex'>
  | Omit<ILoadingRow, 'index' | 'rootIndex'>;

/** Deepest nesting shown: a guard against a cycle in bad data. */
const MAX_DEPTH = 32;

export class FlatTree {
  constructor(private readonly _source: ITreeSource) {
    let extra = 0;
    for (const [rootIndex, run] of _source.loadedRoots()) {
      if (!this._showsChildren(run)) {
        continue;
      }
      const rows: DescendantRow[] = [];
      this._descend(run, 1, new Set([run.id]), rows);
      if (rows.length > 0) {
        this._expansions.push({ rootIndex, start: rootIndex + extra, rows });
        extra += rows.length;
      }
    }
    this._count = Math.max(0, _source.total) + extra;
  }

  /** Number of rows. */
  get count(): number {
    return this._count;
  }

  /** The row at an index (a placeholder where nothing is loaded). */
  row(index: number): ListRow {
    const at = this._expansionAt(index);
    if (at !== null) {
      const expansion = this._expansions[at];
      const offset = index - expansion.start;
      if (offset === 0) {
        return this._rootRow(index, expansion.rootIndex);
      }
      if (offset <= expansion.rows.length) {
        return {
          ...expansion.rows[offset - 1],
          index,
          rootIndex: expansion.rootIndex
        } as ListRow;
      }
      const rootIndex = expansion.rootIndex + (offset - expansion.rows.length);
      return this._rootRow(index, rootIndex);
    }
    return this._rootRow(index, index);
  }

  /** Rows `first` (included) to `end` (excluded), clipped to the list. */
  rows(first: number, end: number): ListRow[] {
    const rows: ListRow[] = [];
    for (let i = Math.max(0, first); i < Math.min(end, this._count); i++) {
      rows.push(this.row(i));
    }
    return rows;
  }

  /** The top-level row a list row belongs to. */
  rootIndexOf(index: number): number {
    const at = this._expansionAt(index);
    if (at === null) {
      return index;
    }
    const expansion = this._expansions[at];
    const offset = index - expansion.start;
    return offset <= expansion.rows.length
      ? expansion.rootIndex
      : expansion.rootIndex + (offset - expansion.rows.length);
  }

  /** The list row of a top-level row. */
  indexOfRoot(rootIndex: number): number {
    let extra = 0;
    for (const expansion of this._expansions) {
      if (expansion.rootIndex >= rootIndex) {
        break;
      }
      extra += expansion.rows.length;
    }
    return rootIndex + extra;
  }

  /** The row of a loaded run (the first one if listed twice), or -1. */
  indexOf(id: string): number {
    for (const [rootIndex, run] of this._source.loadedRoots()) {
      const start = this.indexOfRoot(rootIndex);
      if (run.id === id) {
        return start;
      }
      const expansion = this._expansions.find(e => e.rootIndex === rootIndex);
      const offset = expansion?.rows.findIndex(
        row => row.kind === 'run' && row.run.id === id
      );
      if (offset !== undefined && offset >= 0) {
        return start + 1 + offset;
      }
    }
    return -1;
  }

  /**
   * Ids of the loaded runs in list order: what "select all" selects and a
   * shift-click ranges over.
   */
  loadedIds(): string[] {
    const ids: string[] = [];
    let next = 0;
    const roots = Array.from(this._source.loadedRoots());
    for (const [rootIndex, run] of roots) {
      ids.push(run.id);
      while (
        next < this._expansions.length &&
        this._expansions[next].rootIndex < rootIndex
      ) {
        next++;
      }
      const expansion = this._expansions[next];
      if (expansion && expansion.rootIndex === rootIndex) {
        for (const row of expansion.rows) {
          if (row.kind === 'run') {
            ids.push(row.run.id);
          }
        }
      }
    }
    return ids;
  }

  /** Index in `_expansions` of the last one starting at or before `index`. */
  private _expansionAt(index: number): number | null {
    let lo = 0;
    let hi = this._expansions.length - 1;
    let found: number | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this._expansions[mid].start <= index) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  private _rootRow(index: number, rootIndex: number): ListRow {
    const run = this._source.root(rootIndex);
    if (!run) {
      return { kind: 'placeholder', index, depth: 0, rootIndex };
    }
    return {
      kind: 'run',
      index,
      run,
      depth: 0,
      rootIndex,
      parentId: null,
      childCount: childCount(run),
      expanded: this._showsChildren(run)
    };
  }

  private _showsChildren(run: IRunSummary): boolean {
    return (
      this._source.isExpanded(run.id) &&
      (hasChildren(run) || (this._source.children(run.id)?.length ?? 0) > 0)
    );
  }

  /** Append the rows under an expanded run. */
  private _descend(
    parent: IRunSummary,
    depth: number,
    seen: Set<string>,
    out: DescendantRow[]
  ): void {
    const children = this._source.children(parent.id);
    if (!children) {
      out.push({ kind: 'loading', depth, parentId: parent.id });
      return;
    }
    for (const child of children) {
      if (seen.has(child.id) || depth > MAX_DEPTH) {
        continue;
      }
      const expanded = this._showsChildren(child);
      out.push({
        kind: 'run',
        run: child,
        depth,
        parentId: parent.id,
        childCount: childCount(child),
        expanded
      });
      if (expanded) {
        seen.add(child.id);
        this._descend(child, depth + 1, seen, out);
        seen.delete(child.id);
      }
    }
  }

  private _expansions: IExpansion[] = [];
  private _count: number;
}
