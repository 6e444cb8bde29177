/**
 * Which runs of the sidebar are selected for comparison.
 *
 * Pure logic (no DOM) so that the rules users feel — shift-click selects a
 * range, ctrl/cmd-click toggles, "select all" acts on what is visible, the
 * selection outlives the sidebar's one-second refreshes — are unit-tested
 * with plain jest rather than only through a browser.
 */

/** Fewest runs a comparison takes. */
export const MIN_COMPARE = 2;

/** Most runs a comparison takes (the server's `MAX_RUNS`). */
export const MAX_COMPARE = 100;

/** Modifier keys of a click, as far as selection cares. */
export interface IClickModifiers {
  /** Shift: extend from the anchor to the clicked run. */
  shift?: boolean;
  /** Ctrl (or Cmd on macOS): toggle the clicked run. */
  toggle?: boolean;
}

/** State of the header's "select all visible" checkbox. */
export type AllVisibleState = 'none' | 'some' | 'all';

/** What the Compare button shows. */
export interface ICompareButtonState {
  /** Number of selected runs. */
  count: number;
  /** Whether a comparison can be opened. */
  enabled: boolean;
  /** Button text, e.g. `Compare (3)`. */
  label: string;
  /** Tooltip: what the button does, or what to change to enable it. */
  title: string;
}

/**
 * An ordered set of selected run ids plus the anchor of range selection.
 *
 * Ids are kept in the order they were selected: the first selected run is
 * the natural baseline of a comparison. Ids of runs that are not listed at
 * the moment (another notebook's scope, a filter, a page beyond the first)
 * stay selected: hiding a run is not deleting it. Only `forgetDeleted`
 * drops ids, for runs the server no longer has.
 */
export class RunSelection {
  /** Selected ids, in the order they were selected. */
  get ids(): string[] {
    return Array.from(this._ids);
  }

  /** Number of selected runs. */
  get size(): number {
    return this._ids.size;
  }

  /** The run a shift-click extends from: the last run clicked. */
  get anchor(): string | null {
    return this._anchor;
  }

  /** Whether a run is selected. */
  has(id: string): boolean {
    return this._ids.has(id);
  }

  /** Select or deselect one run; returns whether anything changed. */
  set(id: string, selected: boolean): boolean {
    if (selected === this._ids.has(id)) {
      return false;
    }
    if (selected) {
      this._ids.add(id);
    } else {
      this._ids.delete(id);
    }
    return true;
  }

  /** Toggle one run and make it the anchor. */
  toggle(id: string): void {
    this.set(id, !this._ids.has(id));
    this._anchor = id;
  }

  /** Make a run the anchor of the next shift-click without selecting it. */
  setAnchor(id: string | null): void {
    this._anchor = id;
  }

  /**
   * Select every run between the anchor and `id` in `visible` order
   * (both ends included), keeping what was already selected.
   *
   * Without an anchor, or when the anchor is not visible (it was filtered
   * away or deleted), only `id` is selected. The anchor stays where it is,
   * so consecutive shift-clicks re-extend from the same run.
   */
  selectRange(visible: readonly string[], id: string): void {
    const to = visible.indexOf(id);
    const from = this._anchor === null ? -1 : visible.indexOf(this._anchor);
    if (to < 0) {
      return;
    }
    if (from < 0) {
      this.set(id, true);
      this._anchor = id;
      return;
    }
    const [lo, hi] = from <= to ? [from, to] : [to, from];
    for (let i = lo; i <= hi; i++) {
      this._ids.add(visible[i]);
    }
  }

  /**
   * A click on a run's checkbox (or a modified click on its row):
   * shift extends a range, anything else toggles the run.
   */
  click(
    visible: readonly string[],
    id: string,
    modifiers: IClickModifiers = {}
  ): void {
    if (modifiers.shift) {
      this.selectRange(visible, id);
    } else {
      this.toggle(id);
    }
  }

  /** What the "select all visible" checkbox shows for these rows. */
  allVisibleState(visible: readonly string[]): AllVisibleState {
    const selected = visible.filter(id => this._ids.has(id)).length;
    if (selected === 0) {
      return 'none';
    }
    return selected === visible.length ? 'all' : 'some';
  }

  /**
   * The header checkbox: when every visible run is selected, deselect them
   * all; otherwise select them all. Hidden selected runs are left alone.
   */
  toggleAllVisible(visible: readonly string[]): void {
    const select = this.allVisibleState(visible) !== 'all';
    for (const id of visible) {
      this.set(id, select);
    }
  }

  /** Deselect everything. */
  clear(): void {
    this._ids.clear();
    this._anchor = null;
  }

  /**
   * Drop the ids of deleted runs; returns the ids dropped.
   *
   * `deleted` says whether an id's run is gone: only the caller knows what
   * the server answered (see `RunsListModel` in runlist/list.ts).
   */
  forgetDeleted(deleted: (id: string) => boolean): string[] {
    const dropped = this.ids.filter(deleted);
    for (const id of dropped) {
      this._ids.delete(id);
    }
    if (this._anchor !== null && deleted(this._anchor)) {
      this._anchor = null;
    }
    return dropped;
  }

  /**
   * What a comparison of the selection would compare.
   *
   * From a run's context menu (`clicked`) the clicked run is the baseline
   * and is compared with the selection, whether or not it is selected
   * itself; otherwise the selection is compared, baseline first selected.
   */
  compareTarget(clicked: string | null = null): {
    runs: string[];
    baseline: string | null;
  } {
    const ids = this.ids;
    if (clicked === null) {
      return { runs: ids, baseline: ids[0] ?? null };
    }
    return {
      runs: [clicked, ...ids.filter(id => id !== clicked)],
      baseline: clicked
    };
  }

  /** The Compare button for this selection (or a context-menu target). */
  buttonState(clicked: string | null = null): ICompareButtonState {
    const count = this.compareTarget(clicked).runs.length;
    const label = `Compare (${count})`;
    if (count < MIN_COMPARE) {
      return {
        count,
        enabled: false,
        label,
        title: `Select at least ${MIN_COMPARE} runs to compare (shift-click for a range)`
      };
    }
    if (count > MAX_COMPARE) {
      return {
        count,
        enabled: false,
        label,
        title: `At most ${MAX_COMPARE} runs can be compared: deselect ${
          count - MAX_COMPARE
        }`
      };
    }
    return {
      count,
      enabled: true,
      label,
      title: `Compare the ${count} selected runs side by side`
    };
  }

  private _ids = new Set<string>();
  private _anchor: string | null = null;
}
